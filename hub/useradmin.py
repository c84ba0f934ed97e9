"""Administering desk users: one-time password links, queues served, disabling with the work handed back.

An admin never types a new user's password. Creating a user (or resetting one's password) issues a
one-time link: a random token shown once, of which the database keeps only the SHA-256, valid for
`LINK_HOURS`. Opening it lets the user choose their own password; redeeming deletes the link (one
`delete_one` decides, so two tabs racing cannot both use it) and ends every session of the user.

Disabling a user ends their sessions at once (their open desk tab is told live through the change
stream, `hub.accounts.SESSIONS_ENDED`) and puts their active tickets back in their queues, unassigned,
where routing and colleagues pick them up.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from hub.accounts import MIN_PASSWORD, AccountError, AccountService
from hub.hashing import token_digest
from hub.leases import Lease
from hub.models import Role, utcnow
from hub.store import Doc, ObjectId, Store
from hub.tickets import ACTIVE, NotFound, TicketError
from hub.transfers import MovedMeanwhile, Transfers

#: How long a setup or reset link stays valid.
LINK_HOURS = 72
#: Written by `switchboard users disable` (a command with no hub of its own): one running hub process
#: (under a lease) hands the disabled user's active tickets back to their queues.
RELEASE_REQUESTED = "agent.release_requested"
#: Who released them, on the tickets' timelines.
COMMAND_LINE = {"_id": None, "name": "An admin (command line)", "service": True, "by": "cli"}
#: `purpose` of a link: a new user's first password, or an admin's reset.
SETUP, RESET = "setup", "reset"


class LinkInvalid(Exception):
    """The link is unknown, used, expired, or its user is gone or disabled."""


@dataclass(frozen=True)
class PasswordLink:
    token: str
    expires_at: datetime
    purpose: str


def link_key(token: str) -> str:
    return token_digest(token)


class UserAdmin:
    def __init__(self, store: Store, accounts: AccountService, transfers: Transfers) -> None:
        self.store = store
        self.accounts = accounts
        self.transfers = transfers
        self.links = store.db["password_links"]
        self.link_hours = LINK_HOURS

    def check_queues(self, queues: list[str] | None) -> None:
        unknown = sorted(set(queues or []) - set(self.transfers.tickets.queues))
        if unknown:
            raise AccountError(f"no queue named {', '.join(unknown)}")

    async def create(self, username: str, *, name: str | None, roles: list[Role], capacity: int,
                     queues: list[str], password: str | None = None) -> tuple[Doc, PasswordLink | None]:
        """A new user; without `password`, with a one-time setup link (the only way they can log in)."""
        self.check_queues(queues)
        agent = await self.accounts.create(username, password, name=name, roles=roles, capacity=capacity,
                                           queues=queues)
        link = await self.issue(agent["_id"], SETUP) if password is None else None
        if link is not None:
            agent["password_pending"] = SETUP
        return agent, link

    async def issue(self, agent_id: ObjectId, purpose: str) -> PasswordLink:
        """A fresh link for this user; any earlier one of theirs stops working."""
        token = secrets.token_urlsafe(32)
        now = utcnow()
        expires = now + timedelta(hours=self.link_hours)
        await self.links.delete_many({"agent_id": agent_id}, hint=[("agent_id", 1)])
        await self.links.insert_one({"_id": link_key(token), "agent_id": agent_id, "purpose": purpose,
                                     "created_at": now, "expires_at": expires})
        await self.store.agents.update_one({"_id": agent_id}, {"$set": {"password_pending": purpose}})
        return PasswordLink(token, expires, purpose)

    async def reset(self, agent_id: ObjectId) -> PasswordLink | None:
        """An admin's reset: the old password stops working, every session ends, a link is issued.
        None if there is no such user."""
        result = await self.store.agents.update_one({"_id": agent_id}, {"$set": {"password_hash": None}})
        if result.matched_count == 0:
            return None
        await self.accounts.end_sessions(agent_id)
        return await self.issue(agent_id, RESET)

    async def _live(self, token: str) -> tuple[Doc, Doc]:
        link = await self.links.find_one({"_id": link_key(token)}) if token else None
        if link is None or link["expires_at"] < utcnow():
            raise LinkInvalid("this link is unknown, used or expired: ask an admin for a new one")
        agent = await self.accounts.get(link["agent_id"])
        if agent is None or agent.get("disabled"):
            raise LinkInvalid("this account is disabled: ask an admin")
        return link, agent

    async def peek(self, token: str) -> tuple[Doc, Doc]:
        """The link and its user, if the link can be used now (else LinkInvalid)."""
        return await self._live(token)

    async def redeem(self, token: str, password: str) -> Doc:
        """Set the user's password through a link, once. Returns the user."""
        if len(password) < MIN_PASSWORD:
            raise AccountError(f"the password needs at least {MIN_PASSWORD} characters")
        link, agent = await self._live(token)
        hashed = await self.accounts.hashing.hash(password)
        if (await self.links.delete_one({"_id": link["_id"]})).deleted_count != 1:
            raise LinkInvalid("this link was used just now")
        await self.store.agents.update_one({"_id": agent["_id"]}, {"$set": {"password_hash": hashed},
                                                                  "$unset": {"password_pending": ""}})
        await self.accounts.end_sessions(agent["_id"])
        return agent

    async def release_requested(self, event: Doc) -> None:
        """`RELEASE_REQUESTED` reached this process: if the user is still disabled and no other process took
        the job, hand their tickets back."""
        agent_id = event.get("agent_id")
        agent = await self.store.agents.find_one({"_id": agent_id}) if agent_id is not None else None
        if agent is None or not agent.get("disabled"):
            return
        # keyed by the event: a later disable of the same user (after an enable) is its own job
        if await Lease(self.store, f"release:{event.get('_id', agent_id)}", 300).acquire(utcnow()):
            await self.release_tickets(agent, COMMAND_LINE)

    async def release_tickets(self, agent: Doc, by: Doc) -> int:
        """Put the user's active tickets back in their queues, unassigned (a timeline line says so);
        routing then offers the waiting ones to someone else. Returns how many."""
        tickets = await self.store.tickets.find(
            {"keys": f"active.assignee:{agent['_id']}"}, projection={"_id": 1, "status": 1}).to_list()
        released = 0
        for ticket in tickets:
            if ticket.get("status") not in ACTIVE:
                continue
            try:
                await self.transfers.transfer(ticket["_id"], by, any_ticket=True)
            except (MovedMeanwhile, TicketError, NotFound):
                continue  # solved or moved by someone else meanwhile
            released += 1
        return released
