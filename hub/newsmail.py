"""News by email: an agent away from the desk hears of the tickets that wait for them.

The desk marks an agent's news with a dot and a browser notification (hub.ticketreads, agents_ui/static/attention.js):
a customer's message on one of their tickets, a ticket given to them, the end of a pending time on one of theirs, a
colleague's note mentioning them. None of it reaches an agent who is not at the desk, so each agent may give an
address and choose which of these they want by email (the Account page; `notify_email` on their account), as
Chatwoot's and Zammad's agents do.

A round a minute, once across processes (the lease `news-mail`): the agents who asked and are not online at the desk
(signed out, or "away"), each with their unread news (`TicketReads.unread`) that came since they left the desk and at
least `delay` ago (read in the meantime, on a phone or a colleague's screen: no email), and not emailed before
(`news_mail`, one document per agent: the time of the news emailed, per ticket). One email per agent and round lists
it all, by ticket number, subject and names, with a link to each ticket. Nothing is written on the message path: the
news is what the tickets hold already.

Delivery goes through the mailer the composition root hands over (the email channel's relay: `hub.ports.NewsMailer`);
without one, nothing is sent and the Account page says so. Sent, then recorded: a process dying between the two sends
that email again the next round (at least once), and a relay refusing or down leaves it for the next round.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from hub.contactbook import EMAIL
from hub.display import person
from hub.leases import Lease
from hub.models import SendError, utcnow
from hub.newswords import aware, news_words
from hub.ports import NewsMailer
from hub.presence import ONLINE
from hub.store import Doc, ObjectId, PyMongoError, Store
from hub.ticketreads import TicketReads, Unread

log = logging.getLogger(__name__)

#: The news an agent may want by email, as the desk names them (`hub.ticketreads.Why`).
KINDS = ("message", "assigned", "colleague", "mention", "reminder", "followed")
#: The most tickets one email lists (the rest: "and N more").
MAX_LISTED = 20


class NewsMailError(ValueError):
    """An address or a choice the hub cannot use: the reason, for the person who typed it."""


@dataclass(frozen=True)
class NewsWanted:
    """What an agent asked for: the address, and which news (`KINDS`); no kinds: no email. `refused`: why the last
    email was refused for good (`{reason, at}`), until the choice is saved again."""

    address: str
    kinds: tuple[str, ...]
    refused: Doc | None = None


def wanted(agent: Doc) -> NewsWanted:
    raw = agent.get("notify_email") or {}
    return NewsWanted(str(raw.get("address") or ""), tuple(k for k in raw.get("kinds") or () if k in KINDS),
                      raw.get("refused"))


def checked(address: str, kinds: list[str]) -> NewsWanted:
    """An agent's choice, checked: a real-looking address when any news is chosen, known kinds only."""
    address = address.strip()
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise NewsMailError(f"unknown news {', '.join(unknown)}: choose among {', '.join(KINDS)}")
    if address and not EMAIL.fullmatch(address):  # the shape a contact's address is checked for
        raise NewsMailError(f"{address!r} is not an email address")
    if kinds and not address:
        raise NewsMailError("give the address the news should go to")
    return NewsWanted(address, tuple(k for k in KINDS if k in kinds))


class NewsMail:
    def __init__(self, store: Store, reads: TicketReads, *, delay_seconds: float = 120.0,
                 interval_seconds: float = 60.0) -> None:
        self.store = store
        self.reads = reads
        #: How long news waits unread before it is emailed: a quick look at the desk makes the email needless.
        self.delay = timedelta(seconds=delay_seconds)
        self.interval = interval_seconds
        #: Sends the emails (set by the composition root when the email channel has a relay); None: none sent.
        self.mailer: NewsMailer | None = None
        #: The desk's address, for the links (`hub.public_url` + "/desk", set by the composition root).
        self.desk_url = ""
        self.lease = Lease(store, "news-mail", seconds=max(120.0, 3 * interval_seconds))

    async def get(self, agent_id: ObjectId) -> NewsWanted:
        agent = await self.store.agents.find_one({"_id": agent_id}, projection={"notify_email": 1})
        return wanted(agent or {})

    async def set(self, agent_id: ObjectId, address: str, kinds: list[str]) -> NewsWanted:
        """Keep an agent's choice (`checked` first: a bad one raises `NewsMailError`)."""
        choice = checked(address, kinds)
        before = (await self.store.agents.find_one({"_id": agent_id}, projection={"notify_email": 1}) or {}).get(
            "notify_email") or {}
        # `since`: news from before email was turned on, or before its kinds widened, is not emailed (no pile of old
        # news); a new address, or fewer kinds, keep it
        kept = before.get("since") and before.get("kinds") and set(choice.kinds) <= set(before["kinds"])
        since = before["since"] if kept else utcnow()
        await self.store.agents.update_one({"_id": agent_id}, {"$set": {"notify_email": {
            "address": choice.address, "kinds": list(choice.kinds), "since": since}}})
        return choice

    async def run_once(self, now: datetime | None = None) -> int:
        """One round, if this process holds the lease: the emails sent."""
        now = now or utcnow()
        if self.mailer is None or not await self.lease.acquire(now):
            return 0
        # the desk's users, read whole (a small list an admin keeps, as tests/query_plans.py LISTED_WHOLE says: a
        # filter on a field no index holds would scan it all the same), those who asked for email kept here
        agents = await self.store.agents.find(
            {}, projection={"name": 1, "username": 1, "notify_email": 1, "presence": 1, "presence_at": 1,
                            "disabled": 1}).to_list()
        sent = 0
        for agent in agents:
            if not wanted(agent).kinds or agent.get("disabled") or agent.get("presence") == ONLINE:
                continue
            try:
                sent += await self._tell(agent, now)
            except SendError as exc:  # for now: the next round tries again
                log.warning("news mail to %s not sent: %s", person(agent), exc)
            except PyMongoError:
                raise  # the database, not this agent: the round ends (`run` says so)
            except Exception:  # this agent's email only: the others still get theirs
                log.exception("news mail to %s failed", person(agent))
        return sent

    async def _tell(self, agent: Doc, now: datetime) -> int:
        choice = wanted(agent)
        # news that came while they were away from the desk, and since they asked for it
        since = max(aware(agent.get("presence_at")), aware((agent.get("notify_email") or {}).get("since")))
        due = [(u, t) for u, t in await self.reads.unread_tickets(agent["_id"])
               if u.why in choice.kinds and since <= u.at <= now - self.delay]
        if not due or not choice.address:
            return 0
        record = await self.store.news_mail.find_one({"_id": agent["_id"]}) or {}
        told: dict[str, datetime] = record.get("told") or {}
        fresh = [(u, t) for u, t in due if aware(told.get(str(u.ticket_id))) < u.at]
        if not fresh:
            return 0
        assert self.mailer is not None
        subject, text = await self._email(agent, fresh)
        try:
            await self.mailer.send_notice(choice.address, subject, text)
        except SendError as exc:
            if exc.transient:
                raise  # the next round tries again
            # refused for good (the address, or the relay's settings): trying each minute cannot fix it, so this
            # news counts as told and the Account page says why (until the agent saves their choice again)
            await self.store.agents.update_one({"_id": agent["_id"]}, {"$set": {
                "notify_email.refused": {"reason": exc.reason, "at": now}}})
            log.warning("news mail to %s refused: %s", person(agent), exc.reason)
            sent = 0
        else:
            sent = 1
        # what is due now, emailed: a ticket read since, or no longer theirs, drops out (the record stays small)
        await self.store.news_mail.update_one({"_id": agent["_id"]}, {"$set": {
            "told": {str(u.ticket_id): u.at for u, _ in due}, "sent_at": now}}, upsert=True)
        return sent

    async def _email(self, agent: Doc, news: list[tuple[Unread, Doc]]) -> tuple[str, str]:
        """The subject and plain text: each ticket by number, subject and what happened, named, with its link."""
        items = await news_words(self.store, news)
        if len(items) == 1:
            subject = f"#{news[0][0].number} {items[0]}"
        else:
            subject = f"{len(items)} tickets wait for you"
        subject = " ".join(subject.split())[:200]  # a customer's name is theirs to write: one line, as headers are
        lines = [f"Hello {person(agent)},", "", "while you were away from the desk:", ""]
        for (u, t), said in list(zip(news, items, strict=True))[:MAX_LISTED]:
            lines.append(f"#{u.number} “{t.get('subject') or 'No subject'}”: {said}.")
            if self.desk_url:
                lines.append(f"  {self.desk_url}#/tickets/{u.ticket_id}")
        if len(items) > MAX_LISTED:
            lines.append(f"… and {len(items) - MAX_LISTED} more in the desk.")
        lines += ["", "Answer in the desk, not to this email.",
                  "You get these emails because you asked for them (Account, Email notifications)."]
        return subject, "\n".join(lines) + "\n"

    async def run(self) -> None:
        """Background loop: a round every `interval` (the lease keeps it to one process)."""
        while True:
            try:
                await self.run_once()
            except PyMongoError as exc:
                log.warning("news mail: database unavailable (%s)", exc)
            except Exception:  # one bad round must not end agents' email for the process's life
                log.exception("news mail: the round failed")
            await asyncio.sleep(self.interval)

