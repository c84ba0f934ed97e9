"""Desk users (agents, trainers, supervisors, admins) and their server-side sessions.

Passwords are hashed with argon2 in a bounded thread pool (`hub.hashing`), logins are
rate-limited per address and username (`hub.login_throttle`), and sessions are stored
under the SHA-256 of their cookie token, so a copy of the database holds no live session.
"""

from __future__ import annotations

import copy
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from hub.freshreads import FreshReads
from hub.hashing import HashingBusy, HashingPool, token_digest
from hub.login_throttle import LoginThrottle, Throttled
from hub.models import AGENTS_CHANGED, Role, utcnow
from hub.names import MAX_COUNT, MAX_NAME, MAX_USERNAME, name_problem
from hub.store import Doc, DuplicateKeyError, ObjectId, Store

SESSION_DAYS = 7
MIN_PASSWORD = 8
#: The event (in `events`, which every hub process's change stream follows) that tells the desk sockets
#: of `agent_id` to re-check their session at once: a disabled user's open desk is logged out live, and so is
#: the tab of a session logged out elsewhere.
SESSIONS_ENDED = "agent.sessions_ended"

__all__ = ["MIN_PASSWORD", "SESSIONS_ENDED", "AccountError", "AccountService", "HashingBusy",
           "SecondFactorRequired", "SessionInfo", "Throttled", "has_role"]


class AccountError(Exception):
    pass


class SecondFactorRequired(Exception):
    """The password was right, but this user signs in with a code too (hub.totp): no session yet."""

    def __init__(self, agent: Doc) -> None:
        super().__init__("a one-time code is required")
        self.agent = agent


def _check_new_account(username: object, name: object, roles: object, capacity: object) -> None:
    """Bounded, displayable names and a sane capacity, whoever creates the account (HTTP, CLI)."""
    problem = name_problem(username, "username", MAX_USERNAME)
    if problem is None and name is not None:
        problem = name_problem(name, "name", MAX_NAME)
    if problem is None and roles is not None and not (
            isinstance(roles, list) and all(isinstance(r, Role) for r in roles)):
        problem = f"roles must be some of {', '.join(r.value for r in Role)}"
    if problem is None and (not isinstance(capacity, int) or isinstance(capacity, bool)
                            or not 0 <= capacity <= MAX_COUNT):
        problem = f"capacity must be an integer from 0 to {MAX_COUNT}"
    if problem is not None:
        raise AccountError(problem)


@dataclass(frozen=True)
class SessionInfo:
    token: str
    csrf: str
    agent: Doc
    expires_at: datetime | None = None  # None: an API token's principal, checked per request


def session_key(token: str) -> str:
    """What the sessions collection is keyed by: a digest, never the cookie value itself."""
    return token_digest(token)


class AccountService:
    def __init__(self, store: Store, hashing: HashingPool | None = None) -> None:
        self.store = store
        self.hashing = hashing or HashingPool()
        self.throttle = LoginThrottle(store)
        self._session_reads: FreshReads[str, Doc | None] = FreshReads()

    async def create(self, username: str, password: str | None, *, name: str | None = None,
                     roles: list[Role] | None = None, capacity: int = 5, queues: list[str] | None = None) -> Doc:
        """A new desk user. `password=None`: none yet, so no login until one is set through a one-time
        link (`hub.useradmin`). `queues`: the queues routing gives them tickets of (empty: every queue)."""
        username = username.strip().lower() if isinstance(username, str) else username
        _check_new_account(username, name, roles, capacity)
        if not username or (password is not None and len(password) < MIN_PASSWORD):
            raise AccountError(f"a username and a password of at least {MIN_PASSWORD} characters are required")
        doc: Doc = {
            "username": username,
            "name": name or username,
            "password_hash": await self.hashing.hash(password) if password is not None else None,
            "roles": [r.value for r in (roles or [Role.AGENT])],
            "capacity": capacity,
            "queues": sorted(set(queues or [])),
            "presence": "offline",
            "created_at": utcnow(),
        }
        try:
            result = await self.store.agents.insert_one(doc)
        except DuplicateKeyError as exc:
            raise AccountError(f"user {username!r} exists") from exc
        doc["_id"] = result.inserted_id
        return doc

    async def ensure_admin(self) -> tuple[str, str] | None:
        """Seed an admin on first start. Returns (username, password) when one was created."""
        if await self.store.agents.find_one({}, projection={"_id": 1}) is not None:
            return None
        password = secrets.token_urlsafe(12)
        await self.create("admin", password, name="Administrator",
                          roles=[Role.ADMIN, Role.SUPERVISOR, Role.TRAINER, Role.AGENT])
        return "admin", password

    async def login(self, username: str, password: str, ip: str = "") -> SessionInfo | None:
        """A new session for valid credentials; None if wrong.

        Raises `Throttled` (too many failures from this address or for this user, see
        `hub.login_throttle`) or `HashingBusy` (the hashing pool is full) before any
        password is checked, and `SecondFactorRequired` for a right password of a user with
        TOTP on (hub.totp: the session comes with the code step).
        """
        username = username.strip().lower()[:200]
        self.hashing.check_room()  # a flood is turned away before it costs database work
        tickets = await self.throttle.admit(username, ip)
        agent = await self.store.agents.find_one({"username": username})
        known = agent is not None and not agent.get("disabled") and bool(agent.get("password_hash"))
        try:
            ok = await self.hashing.verify(agent["password_hash"] if known else self.hashing.dummy_hash, password)
        except HashingBusy:
            await self.throttle.give_back(tickets)  # nothing was tried
            raise
        if not (known and ok):
            await self.throttle.failed(tickets)
            return None
        assert agent is not None
        await self.throttle.succeeded(username, ip, tickets)
        if self.hashing.needs_rehash(agent["password_hash"]):
            await self.store.agents.update_one({"_id": agent["_id"]},
                                               {"$set": {"password_hash": await self.hashing.hash(password)}})
        if agent.get("totp_enabled"):
            raise SecondFactorRequired(agent)
        return await self.open_session(agent)

    async def open_session(self, agent: Doc) -> SessionInfo:
        """A session for a user whose credentials were checked."""
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        await self.store.sessions.insert_one({
            "_id": session_key(token), "agent_id": agent["_id"], "csrf": csrf, "created_at": utcnow(),
            "expires_at": utcnow() + timedelta(days=SESSION_DAYS),
        })
        await self.store.agents.update_one({"_id": agent["_id"]}, {"$set": {"last_login_at": utcnow()}})
        return SessionInfo(token, csrf, agent)

    async def check_password(self, agent_id: ObjectId, password: str) -> bool:
        """Is this the user's password? (Re-authentication for a sensitive change of their own.)"""
        agent = await self.store.agents.find_one({"_id": agent_id}, projection={"password_hash": 1})
        if agent is None or not agent.get("password_hash"):
            return False
        return await self.hashing.verify(agent["password_hash"], password)

    async def session(self, token: str) -> SessionInfo | None:
        """The live session for a cookie value, or None (expired sessions are refused here too).

        Requests of one session that arrive together (a desk reload is three) share a read begun after each of
        them (hub.freshreads): never a session read before the request came, so a logout or a disabled user is
        refused by the next request as before, and three requests cost one or two reads instead of three."""
        if not token:
            return None
        key = session_key(token)
        found = await self._session_reads.get(key, lambda: self._read_session(key))
        if found is None or found["expires_at"] < utcnow():
            return None
        agent = found["_agent"][0] if found["_agent"] else None
        if agent is None or agent.get("disabled"):
            return None
        # each request its own copy of the user: a handler may change what it was given
        return SessionInfo(token, found["csrf"], copy.deepcopy(agent), found["expires_at"])

    async def _read_session(self, key: str) -> Doc | None:
        # Every desk request asks this: the session and its user in one command, a `$lookup` by `_id`
        # (`session_with_agent` in benchmarks/query_cost.py, and flat to 20,000 sessions in a scratch run; two finds
        # before 2026-12-06).
        cursor = await self.store.sessions.aggregate([
            {"$match": {"_id": key}},
            {"$limit": 1},
            {"$lookup": {"from": self.store.agents.name, "localField": "agent_id", "foreignField": "_id",
                         "as": "_agent"}},
        ])
        found = await cursor.to_list(1)
        return found[0] if found else None

    async def change_password(self, agent_id: ObjectId, current: str, new: str, keep_session: str) -> None:
        """Check the current password, store the new hash, end every other session of this user."""
        agent = await self.store.agents.find_one({"_id": agent_id})
        if agent is None or not agent.get("password_hash") or \
                not await self.hashing.verify(agent["password_hash"], current):
            raise AccountError("the current password is wrong")
        if len(new) < MIN_PASSWORD:
            raise AccountError(f"the new password needs at least {MIN_PASSWORD} characters")
        await self.store.agents.update_one({"_id": agent_id}, {"$set": {"password_hash": await self.hashing.hash(new)}})
        await self.end_sessions(agent_id, keep=keep_session)

    async def end_sessions(self, agent_id: ObjectId, keep: str | None = None) -> None:
        """Delete the user's sessions (but `keep`) and tell every hub process's desk sockets of theirs
        to re-check at once (`SESSIONS_ENDED`): an open desk tab of an ended session is logged out live."""
        query: Doc = {"agent_id": agent_id}
        if keep is not None:
            query["_id"] = {"$ne": session_key(keep)}
        await self.store.sessions.delete_many(query, hint=[("agent_id", 1)])
        await self.store.append_event(SESSIONS_ENDED, utcnow(), agent_id=agent_id)

    async def logout(self, token: str) -> None:
        """End this session, and tell the user's desk sockets in every process to re-check theirs
        (`SESSIONS_ENDED`): the socket of the ended session closes before its next change."""
        ended = await self.store.sessions.find_one_and_delete({"_id": session_key(token)},
                                                              projection={"agent_id": 1})
        if ended is not None:
            await self.store.append_event(SESSIONS_ENDED, utcnow(), agent_id=ended["agent_id"])

    async def list(self) -> list[Doc]:
        return await self.store.agents.find({}, projection={"password_hash": 0}, sort=[("username", 1)]).to_list()

    async def get(self, agent_id: ObjectId) -> Doc | None:
        return await self.store.agents.find_one({"_id": agent_id}, projection={"password_hash": 0})

    async def update(self, agent_id: ObjectId, *, name: str | None = None, roles: list[Role] | None = None,
                     capacity: int | None = None, disabled: bool | None = None,
                     queues: list[str] | None = None) -> tuple[Doc, Doc] | None:
        """Change a desk user's name, roles, capacity, queues or disabled flag: (before, after), or None if unknown.

        Disabling ends the user's sessions at once (a leaver must not keep a desk open).
        """
        changes: Doc = {k: v for k, v in (("name", name), ("capacity", capacity), ("disabled", disabled))
                        if v is not None}
        if roles is not None:
            changes["roles"] = [r.value for r in roles]
        if queues is not None:
            changes["queues"] = sorted(set(queues))
        before = await self.store.agents.find_one_and_update({"_id": agent_id}, {"$set": changes},
                                                             projection={"password_hash": 0})
        if before is None:
            return None
        if {"capacity", "disabled", "roles", "queues"} & changes.keys():  # the wait estimates' serving capacity
            await self.store.append_event(AGENTS_CHANGED, utcnow(), agent_id=agent_id)
        if disabled:
            await self.end_sessions(agent_id)
        return before, {**before, **changes}

    async def reset_password(self, agent_id: ObjectId, new: str) -> bool:
        """An admin sets a user's password (no current one needed): every session of theirs ends,
        since a reset usually means the old password is lost or known to someone else. False if unknown."""
        if len(new) < MIN_PASSWORD:
            raise AccountError(f"the password needs at least {MIN_PASSWORD} characters")
        result = await self.store.agents.update_one({"_id": agent_id},
                                                    {"$set": {"password_hash": await self.hashing.hash(new)}})
        if result.matched_count == 0:
            return False
        await self.end_sessions(agent_id)
        return True


def has_role(agent: Doc, *roles: Role) -> bool:
    held = set(agent.get("roles", []))
    return Role.ADMIN.value in held or any(r.value in held for r in roles)
