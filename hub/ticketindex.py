"""The desk's ticket list: search, filters, sorts and paging, all served by indexes (its counts: hub.desktally).

Why this shape: the embedded database (`secantusd-py`) serves a query from an index only when
every filtered field is in it, seeds a lookup from ONE equality (a `$all` or a hint walks
everything), and sorts every match before it applies a limit. So each ticket carries

* `keys`: one string per facet (`status:open`, `queue:billing`, `assignee:<id>` or `assignee:none`,
  `channel:widget`, `priority:high`, `tag:vip`, `field.product=Kettle`), and the same facets prefixed `active.`
  while the ticket is new/open/pending (those match sets are bounded by the live workload, not by history);
* `words`: the lower-cased words of its number, subject, customer name, email, phone and every
  message but the hub's own notices (`secantusd-py` has no `$text` index). They are not indexed on
  the ticket: the embedded server rewrites every index entry of a document on each write, so a ticket
  of 300 words cost 40 ms of its one core per write, 2,000 words a quarter of a second
  (`benchmarks/ticket_write_cost.py`). The words are indexed in `ticket_words` instead: one document
  per write that brought words (the escalation, each message, a transfer note; a refresh writes one
  with all of them), holding them in `words` and, while the ticket is active, in `live_words` (so the
  default search over the live desk costs the live desk, however long the history). Written once;
  `live_words` is emptied or refilled when the ticket leaves or re-enters the active statuses, and the
  ticket's `words_live` says which it last did (a boolean: a write computed from an older copy finds
  there whether a status change it did not see moved the live copy). A search reads the word
  documents for ticket numbers and then the tickets, whose own `words` decide the match: a word
  document that says more than the ticket (a word truncated away, a status that moved under a stale
  copy) costs a read, not a wrong row. Until 2026-12-04 the ticket held a second copy of its words
  for the live desk (`active_words`, unindexed since the day before), which every write carried:
  the ticket's own size is what a write still grows with (migration 10 removed it);
* `wait_rank` / `sla_rank`: unique sortable integers (milliseconds * 10**6 + number);
* `sla_next`: when the SLA watcher must next look at the ticket (hub.sla; None: nothing due).

Each write to a ticket keeps these fields itself (`index_update`): the keys, ranks and `sla_next` are
functions of the ticket document, computed from the one the write leaves, and a new message's words
are appended; `TicketIndex.record` then indexes the words the write brought (one insert) and
moves their live copy with the status. `TicketIndex.refresh`, which re-reads the ticket, its contact
and every message, is for the rare paths (contact edits, merges).

A list query seeds from the most selective single key and checks the other conditions in
Python. Active tickets are seeded by an `active.` key or a word of `live_words`. Every `oldest waiting`,
`SLA due first` and SLA state query reads all of the seed's matches: that costs the live desk (the fields that
rank and filter them only, `RANKING`, then the page's tickets whole).
Newest-first pages walk back in windows of ticket numbers (doubling until the page is full), so a
page costs the tickets in a window: over the history (solved, closed), never the whole collection
(a rare term costs log2(tickets / 256) window lookups more); over the live desk (the default view,
loaded on every view change), first a window of the page's size + 1, and after `ACTIVE_WINDOWS`
every remaining active match at once (a busy desk's newest tickets fill the page from the first
window; a quiet one costs its few active tickets). Before 2026-12-03 that view read every active
ticket: 95 ms of the embedded server's CPU per 100-ticket page at 400 active, 43 ms now.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession

from hub.display import DISPLAY_FIELDS
from hub.freshreads import FreshReads
from hub.models import AuthorKind, TicketStatus, utcnow
from hub.slaclock import due_of, fired, live_target, next_event_at
from hub.store import MESSAGES_BY_CONVERSATION, Doc, ObjectId, Store

ACTIVE = (TicketStatus.NEW.value, TicketStatus.OPEN.value, TicketStatus.PENDING.value)
PRIORITIES = ("low", "normal", "high", "urgent")
SORTS = ("newest", "oldest_waiting", "sla_due")
SLA_STATES = ("breached", "due_soon", "ok", "paused")
#: "Due soon": the SLA falls due within this long (a new ticket's first-response clock is often 1 h).
DUE_SOON = timedelta(minutes=15)
MAX_PAGE = 100
#: A ticket field's value up to this long is a facet of the list (a choice, a day, an order number).
MAX_FIELD_FACET = 80
MAX_WORDS = 2000
#: Facet order for picking the seed key: the likelier a facet is to be selective, the earlier.
SEED_ORDER = ("tag", "assignee", "queue", "channel", "priority", "status")
FIRST_WINDOW = 256
#: The live desk's newest-first view reads this many windows of ticket numbers (the page's size + 1, then
#: doubling) before it reads every remaining active match at once (bounded by the live workload).
ACTIVE_WINDOWS = 3

_WORD = re.compile(r"[^\W_]+(?:[.'@+-][^\W_]+)*", re.UNICODE)

#: Index keys (kept with the indexes in `hub.store.Store.ensure_indexes`).
BY_KEYS_NEWEST = [("keys", 1), ("number", -1)]
BY_KEYS_WAITING = [("keys", 1), ("wait_rank", 1)]
BY_KEYS_SLA = [("keys", 1), ("sla_rank", 1)]
#: `ticket_words`: its `words` or `live_words`, then the ticket's number (hub.store.Store.ensure_indexes).
BY_WORDS_NEWEST = [("words", 1), ("number", -1)]
BY_LIVE_WORDS_NEWEST = [("live_words", 1), ("number", -1)]
#: The words a search seeds from (all, or the live desk's) -> the `ticket_words` field that indexes them, and its order.
WORD_INDEX = {"words": ("words", BY_WORDS_NEWEST), "live_words": ("live_words", BY_LIVE_WORDS_NEWEST)}
#: The ticket's fields that only the list and its writes use: internal (`keys` names agents by id), never shown.
INDEX_FIELDS = ("keys", "words", "words_live", "wait_rank", "sla_rank", "sla_next")
#: Compared as sets: an incremental write appends where a full refresh sorts.
WORD_FIELDS = ("words",)
#: A list read seeded by a key: the query has no words (a word seeds from `ticket_words`), so the tickets'
#: words, most of a long ticket's size, stay on the server.
WITHOUT_WORDS = {"words": 0}
#: What ordering and filtering the active tickets needs (`keep`, `sla_state`, the ranks): the orders that read
#: every active match read these, then the page's tickets whole. Half the server's time at 1,000 active
#: tickets, with the order left to Python (the server's own sort of every match cost a third more).
RANKING = dict.fromkeys(("number", "keys", "status", "sla", "pending_since", "handoff_at", "created_at",
                         "first_agent_reply_at", "wait_rank", "sla_rank"), 1)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def words_of(text: str | None) -> set[str]:
    """Lower-cased words, plus the parts of e-mail addresses and dotted words, plus phone digits."""
    found: set[str] = set()
    for token in _WORD.findall((text or "").lower()):
        found.add(token)
        parts = [p for p in re.split(r"[.'@+-]", token) if p]
        if len(parts) > 1:
            found.update(parts)
    digits = re.sub(r"\D", "", text or "")
    if len(digits) >= 5 and re.fullmatch(r"[\d\s()+.-]+", (text or "").strip()):
        found.add(digits)  # a phone number as typed in any format
    return found


def query_words(text: str) -> list[str]:
    """The words a search box's text must all match (a phone number is one word, `#12` is 12)."""
    text = text.strip().lstrip("#")
    digits = re.sub(r"\D", "", text)
    if len(digits) >= 5 and re.fullmatch(r"[\d\s()+.-]+", text):
        return [digits]
    return sorted({w for w in _WORD.findall(text.lower())}, key=len, reverse=True)


def rank(at: datetime | None, number: int) -> int | None:
    """A unique, sortable integer: milliseconds since the epoch, then the ticket number.

    Whole milliseconds by integer arithmetic: a time held in memory (with microseconds) and the same
    time read back from the database (milliseconds) give the same rank."""
    if at is None:
        return None
    return (at - EPOCH) // timedelta(milliseconds=1) * 1_000_000 + number % 1_000_000


def sla_due(ticket: Doc) -> datetime | None:
    """The due time that matters now: first response until answered, then resolution (hub.slaclock)."""
    target = live_target(ticket)
    return due_of(ticket, target) if target else None


def sla_state(ticket: Doc, now: datetime) -> str | None:
    """`breached`, `due_soon` (past the warning time, or within DUE_SOON), `ok`, or
    `paused` (pending, on a business-hours clock); None for a ticket that is done."""
    target = live_target(ticket)
    due = due_of(ticket, target) if target else None
    if target is None or due is None:
        return None
    if fired(ticket, target, "breach") or due < now:
        return "breached"
    if ticket.get("status") == TicketStatus.PENDING.value and "calendar" in (ticket.get("sla") or {}):
        return "paused"
    warn = due_of(ticket, target, "warn")
    soon = due < now + DUE_SOON or (warn is not None and warn <= now) or fired(ticket, target, "warning")
    return "due_soon" if soon else "ok"


def field_facets(ticket: Doc) -> list[str]:
    """`field.<key>=<value>` for each ticket field's value the list can filter by (hub.ticketfields): a choice, a
    checkbox (`true`/`false`), a day or a short text; not a long text nor a number."""
    out = []
    for key, value in sorted((ticket.get("fields") or {}).items()):
        if isinstance(value, bool):
            out.append(f"field.{key}={'true' if value else 'false'}")
        elif isinstance(value, str) and len(value) <= MAX_FIELD_FACET:
            out.append(f"field.{key}={value}")
    return out


def facet_keys(ticket: Doc) -> list[str]:
    assignee = ticket.get("assignee_id")
    facets = [f"status:{ticket.get('status')}", f"queue:{ticket.get('queue')}",
              f"assignee:{assignee if assignee is not None else 'none'}", f"channel:{ticket.get('channel')}",
              f"priority:{ticket.get('priority') or 'normal'}"]
    facets += [f"tag:{t}" for t in ticket.get("tags") or []]
    facets += field_facets(ticket)
    if ticket.get("status") in ACTIVE:
        facets += ["active"] + [f"active.{f}" for f in facets if not f.startswith("status:")]
    return facets


def searchable(message: Doc) -> bool:
    """Whether a message's words are a ticket's words: not the hub's own notices (author `system`: the
    ticket number and wait announcements, rating requests, transfer notices), which every ticket has in
    the same words and which are posted without a write to the ticket to fold their words into."""
    return (message.get("author") or {}).get("kind") != AuthorKind.SYSTEM.value


def contact_texts(contact: Doc | None) -> list[str | None]:
    """The customer's searchable texts: name, e-mail addresses, phone numbers, identities' names."""
    contact = contact or {}
    return [contact.get("name"), *(contact.get("emails") or []), *(contact.get("phones") or []),
            *[i.get("display_name") for i in contact.get("identities") or []]]


def derived_fields(ticket: Doc) -> Doc:
    """The index fields that are functions of the ticket document alone (no contact, no messages):
    a write can `$set` them computed from the document it leaves (`index_update`)."""
    due = sla_due(ticket)
    waiting = ticket.get("last_customer_message_at") or ticket.get("created_at")
    return {"keys": facet_keys(ticket), "wait_rank": rank(waiting, ticket["number"]),
            "sla_rank": rank(due, ticket["number"]),
            # when the SLA watcher (hub.sla) must look at this ticket next: its indexed wake-up time
            "sla_next": next_event_at(ticket)}


def index_fields(ticket: Doc, contact: Doc | None, texts: list[str]) -> Doc:
    """The denormalised fields the list queries filter and sort on (all of them, from scratch)."""
    words: set[str] = {str(ticket.get("number"))}
    for text in [ticket.get("subject"), *contact_texts(contact), *texts]:
        words |= words_of(text)
    return {**derived_fields(ticket), "words": sorted(words)[:MAX_WORDS],
            "words_live": ticket.get("status") in ACTIVE}


def word_document(ticket: Doc) -> Doc | None:
    """The `ticket_words` document holding all of a ticket's words (None: it has none): what a refresh writes,
    and what a bulk load of tickets in the current shape writes beside them."""
    words = list(ticket.get("words") or [])
    return words_document(ticket["_id"], ticket["number"], words, ticket.get("status") in ACTIVE) if words else None


def words_document(ticket_id: ObjectId, number: int, words: list[str], live: bool) -> Doc:
    """A `ticket_words` document: `words` of the ticket numbered `number`, in `live_words` too while it is active."""
    return {"ticket_id": ticket_id, "number": number, "words": words, "live_words": words if live else []}


def same_fields(ticket: Doc, fields: Doc) -> bool:
    """Whether the ticket holds these index fields already (words in any order)."""
    return all(sorted(ticket.get(k) or []) == sorted(v) if k in WORD_FIELDS else ticket.get(k) == v
               for k, v in fields.items())


def applied(ticket: Doc, update: Doc) -> Doc:
    """The ticket as `update` (`$set`, `$unset`, `$inc`, `$addToSet`, `$push`; dotted paths) leaves it: what the
    derived fields are computed from, without reading the document back."""
    after = copy.deepcopy(ticket)

    def parent(path: str) -> tuple[Doc, str]:
        *heads, last = path.split(".")
        node = after
        for head in heads:
            node = node.setdefault(head, {})
        return node, last

    for path, value in (update.get("$set") or {}).items():
        node, last = parent(path)
        node[last] = value
    for path in update.get("$unset") or {}:
        node, last = parent(path)
        node.pop(last, None)
    for path, value in (update.get("$inc") or {}).items():
        node, last = parent(path)
        node[last] = (node.get(last) or 0) + value
    for op in ("$addToSet", "$push"):
        for path, value in (update.get(op) or {}).items():
            node, last = parent(path)
            items = list(node.get(last) or [])
            items += [v for v in (value["$each"] if isinstance(value, dict) and "$each" in value else [value])
                      if op == "$push" or v not in items]
            node[last] = items
    return after


def index_update(ticket: Doc, update: Doc, texts: Iterable[str | None] = (), fresh: bool = True) -> Doc:
    """`update` with the ticket's index fields folded in, so the write a path makes anyway keeps them:
    the derived fields as the update leaves the ticket (`$set` where they change), the words of `texts`
    (new messages) that the ticket lacks appended, and `words_live` following the status (the caller's
    `TicketIndex.record` moves the word documents' live copy with it).

    `ticket` must be the document the update applies to, read in the same transaction (`fresh`): the new
    words are then appended with `$push`. A caller holding an older copy says `fresh=False` and they are
    added with `$addToSet` (a write in between may have added some), which the embedded server pays for by
    comparing each new word with every word the ticket has: 87 ms for 20 words on a ticket of 500, against
    9 with `$push` (scratch measurement, 2026-12-04); it checks the written document with
    `TicketIndex.settle`. Past MAX_WORDS the kept words are the alphabetically first ones, as
    `index_fields` keeps them (`$set`, the rare long ticket).
    """
    after = applied(ticket, update)
    out: Doc = {op: dict(fields) for op, fields in update.items()}
    sets: Doc = out.setdefault("$set", {})
    sets.update({k: v for k, v in derived_fields(after).items() if ticket.get(k) != v})
    had = list(ticket.get("words") or [])
    new: set[str] = set()
    for text in texts:
        new |= words_of(text)
    new -= set(had)
    if len(had) + len(new) > MAX_WORDS:
        sets["words"] = sorted(set(had) | new)[:MAX_WORDS]
    elif new:
        out.setdefault("$push" if fresh else "$addToSet", {})["words"] = {"$each": sorted(new)}
    active = after.get("status") in ACTIVE
    if ticket.get("words_live") != active:
        sets["words_live"] = active
    return {op: fields for op, fields in out.items() if fields}


@dataclass
class TicketQuery:
    """What the desk asked for. `assignee`: an agent id, or "none" (unassigned). `follower`: the tickets this
    agent follows (hub.followers), whoever holds them."""

    text: str = ""
    statuses: list[str] = field(default_factory=list)  # empty: active
    queue: str | None = None
    assignee: str | None = None
    channel: str | None = None
    tag: str | None = None
    priority: str | None = None
    sla: str | None = None
    sort: str = "newest"
    size: int = 25
    after: int | None = None  # the cursor: the last row's sort value
    follower: ObjectId | None = None
    #: A ticket field's value, `key=value` (hub.ticketfields; `field_facets`).
    field: str | None = None


def wanted_keys(q: TicketQuery) -> list[str]:
    """The facets (`keys`) a ticket must carry to match the query, the likeliest to be selective first."""
    wanted = [f"{name}:{value}" for name, value in
              (("tag", q.tag), ("assignee", q.assignee), ("queue", q.queue), ("channel", q.channel),
               ("priority", q.priority)) if value]
    if q.field:  # a field's value first: the likeliest to be selective
        wanted.insert(0, f"field.{q.field}")
    return wanted


def matcher(q: TicketQuery, now: datetime) -> Callable[[Doc], bool]:
    """Whether a ticket matches: its `keys` and `status`, and where the query needs them its `followers`, `words`
    and SLA clock (`RANKING`)."""
    wanted = wanted_keys(q)
    words = set(query_words(q.text))

    def keep(t: Doc) -> bool:
        keys = set(t.get("keys") or [])
        if not all(k in keys for k in wanted):
            return False
        if q.statuses and t.get("status") not in q.statuses:
            return False
        if not q.statuses and t.get("status") not in ACTIVE:
            return False
        if not words <= set(t.get("words") or []):
            return False
        if q.follower is not None and q.follower not in (t.get("followers") or []):
            return False
        return q.sla is None or sla_state(t, now) == q.sla

    return keep


def counted_live(q: TicketQuery) -> bool:
    """Whether the desk's live counts can count the query (a saved view's count, hub.desktally): active tickets
    only, no words, no SLA state. A search's words and the solved history are not read there, and an SLA state
    changes with the clock, not with the ticket changes the counts are read again after."""
    return not query_words(q.text) and not q.sla and (not q.statuses or set(q.statuses) <= set(ACTIVE))


@dataclass
class Page:
    tickets: list[Doc]
    next_cursor: int | None
    #: With `TicketIndex.listing`: the page's contacts by id, their display fields only.
    contacts: dict[ObjectId, Doc] = field(default_factory=dict)


class TicketIndex:
    """Keeps each ticket's index fields up to date and answers list queries from them."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._listings: FreshReads[str, Page] = FreshReads()

    async def listing(self, q: TicketQuery) -> Page:
        """The desk's list: `search` now, with the page's contacts. Every open desk reloads its list after each
        ticket change, most with the same query: callers asking the same at the same time share one read begun
        after each of them (hub.freshreads), so ten agents reloading cost the reads of one or two, never stale."""
        return await self._listings.get(repr(q), lambda: self._listing(q))

    async def _listing(self, q: TicketQuery) -> Page:
        page = await self.search(q, utcnow())
        contact_ids = list({t["contact_id"] for t in page.tickets})
        if contact_ids:
            page.contacts = {c["_id"]: c for c in await self.store.contacts.find(
                {"_id": {"$in": contact_ids}}, projection=DISPLAY_FIELDS).to_list()}
        return page

    async def refresh(self, ticket_id: ObjectId, session: AsyncClientSession | None = None) -> None:
        """Recompute a ticket's index fields from scratch: its contact and every message (4 commands, and
        the messages read grow with the conversation). For the rare paths (a contact edited or merged,
        tickets merged, a migration); the message paths fold the fields into their own write
        (`index_update`)."""
        await self.store.flush(session)  # what this transaction wrote so far, read back below
        ticket = await self.store.tickets.find_one({"_id": ticket_id}, session=session)
        if ticket is None:
            return
        contact = await self.store.contacts.find_one({"_id": ticket["contact_id"]}, session=session)
        texts = await self.texts(ticket.get("conversation_ids") or [], session)
        fields = index_fields(ticket, contact, texts)
        if not same_fields(ticket, fields):
            await self.store.tickets.update_one({"_id": ticket_id}, {"$set": fields}, session=session)
        # the word documents start again from the full set (merges and splits move words between tickets)
        await self.drop_words([ticket_id], session)
        if (doc := word_document({**ticket, **fields})) is not None:
            await self.store.ticket_words.insert_one(doc, session=session)

    async def record(self, before: Doc, after: Doc, session: AsyncClientSession | None = None) -> None:
        """Index what a write did to the ticket's words, from the copy it was computed from (`before`) and
        the ticket it left (`after`: `applied`, or the document the write returned): the words it brought, in
        a word document of their own (one insert; none when it brought none), and their live copy emptied or
        refilled when it moved the ticket out of or back into the active statuses."""
        had = set(before.get("words") or [])
        active = after.get("status") in ACTIVE
        if active != (before.get("status") in ACTIVE):
            await self.set_live(after["_id"], active, session)
        await self.add_words(after["_id"], after["number"], [w for w in after.get("words") or [] if w not in had],
                             active, session)

    async def add_words(self, ticket_id: ObjectId, number: int, words: list[str], live: bool,
                        session: AsyncClientSession | None = None) -> None:
        if words:
            await self.store.insert_later(self.store.ticket_words, words_document(ticket_id, number, words, live),
                                          session)

    async def set_live(self, ticket_id: ObjectId, live: bool, session: AsyncClientSession | None = None) -> None:
        """The ticket's words searchable on the live desk (`live_words` = `words`) or not (empty)."""
        change: Any = [{"$set": {"live_words": "$words"}}] if live else {"$set": {"live_words": []}}
        if session is not None:
            await self.store.update(self.store.ticket_words, {"ticket_id": ticket_id}, change, session, many=True)
        else:
            await self.store.update_in_batches(self.store.ticket_words, "ticket_id", [ticket_id], change)

    async def drop_words(self, ticket_ids: list[ObjectId], session: AsyncClientSession | None = None) -> None:
        """Forget these tickets' indexed words (a refresh writes them again; an erasure does not)."""
        if session is not None:
            await self.store.flush(session)  # word documents this transaction inserted go too
            await self.store.ticket_words.delete_many({"ticket_id": {"$in": ticket_ids}}, session=session)
        else:
            await self.store.delete_in_batches(self.store.ticket_words, "ticket_id", ticket_ids)

    async def texts(self, conversation_ids: list[ObjectId], session: AsyncClientSession | None = None
                    ) -> list[str]:
        """The texts of the messages of these conversations that make a ticket's words (one read per
        conversation): the customer's, the bot's and the agents' (notes too), not the hub's own notices."""
        texts: list[str] = []
        await self.store.flush(session)  # messages this transaction posted so far are read too
        for conversation_id in conversation_ids:
            async for m in self.store.messages.find({"conversation_id": conversation_id},
                                                    projection={"text": 1, "author.kind": 1},
                                                    sort=MESSAGES_BY_CONVERSATION, session=session):
                if searchable(m):
                    texts.append(m.get("text") or "")
        return texts

    async def settle(self, written: Doc, session: AsyncClientSession | None = None) -> Doc:
        """Check a document a write returned (`ReturnDocument.AFTER`, `claim_by_id`) whose index fields
        were folded in from an older copy: a change that landed between that copy and the write leaves
        them stale, and one more update puts them right (rare; nothing when they hold). A status change
        the copy did not see (`words_live` no longer following the status) moves the word documents'
        live copy too."""
        active = written.get("status") in ACTIVE
        fields = {**derived_fields(written), "words_live": active}
        stale = {k: v for k, v in fields.items() if written.get(k) != v}
        if stale:
            await self.store.tickets.update_one({"_id": written["_id"]}, {"$set": stale}, session=session)
            written = {**written, **stale}
        if "words_live" in stale:
            await self.set_live(written["_id"], active, session)
        return written

    async def backfill(self, batch: int = 500) -> int:
        """Give tickets stored before the list fields existed their fields (once; a no-op after).

        `{keys: None}` finds the tickets without the field through the keys index (a missing
        field is indexed as null), so a started hub with an indexed desk pays nothing.
        """
        done = 0
        while ids := [t["_id"] for t in await self.store.tickets.find(
                {"keys": None}, projection={"_id": 1}, limit=batch).to_list()]:
            for ticket_id in ids:
                await self.refresh(ticket_id)
            done += len(ids)
        return done

    async def search(self, q: TicketQuery, now: datetime | None = None) -> Page:
        now = now or utcnow()
        size = max(1, min(q.size, MAX_PAGE))
        wanted = wanted_keys(q)
        active_only = not q.statuses or set(q.statuses) <= set(ACTIVE)
        words = query_words(q.text)
        keep = matcher(q, now)
        if q.follower is not None:
            return await self._following(q, words, keep, size)
        if active_only and q.sort == "newest" and not q.sla:  # the desk's default view
            seed_field, seed = self._active_seed(q, wanted, words)
            return await self._newest(seed_field, seed, q, keep, size, first_window=size + 1,
                                      windows=ACTIVE_WINDOWS)
        if active_only or q.sort != "newest" or q.sla:
            return await self._active(q, wanted, words, keep, size)
        if words:
            field_name, seed_value = "words", words[0]
        else:
            field_name = "keys"
            seed_value = wanted[0] if wanted else f"status:{q.statuses[0]}" if len(q.statuses) == 1 else None
        return await self._newest(field_name, seed_value, q, keep, size)

    @staticmethod
    def _active_seed(q: TicketQuery, wanted: list[str], words: list[str]) -> tuple[str, str]:
        """The field and value whose matches are active tickets only, the most selective one at hand."""
        if words:
            return "live_words", words[0]
        if wanted:
            return "keys", f"active.{wanted[0]}"
        if len(q.statuses) == 1:
            return "keys", f"status:{q.statuses[0]}"
        return "keys", "active"

    async def _active(self, q: TicketQuery, wanted: list[str], words: list[str], keep: Any, size: int) -> Page:
        """Active tickets only (the live desk, bounded by the workload however long the history):
        every match of one seed key is read, filtered, and ordered by the chosen rank."""
        seed_field, seed = self._active_seed(q, wanted, words)
        rank_field = {"sla_due": "sla_rank", "oldest_waiting": "wait_rank"}.get(q.sort, "number")
        direction = -1 if rank_field == "number" else 1
        cond: Doc = {seed_field: seed}
        # the cursor is a bound in the query where the seed's index holds the rank, else checked here
        indexed_rank = "number" if seed_field in WORD_INDEX else rank_field
        if q.after is not None and indexed_rank == rank_field:
            cond[rank_field] = {"$lt" if direction < 0 else "$gt": q.after}
        words_read = seed_field in WORD_INDEX
        if words_read:
            found = await self._by_words(seed_field, seed, cond.get("number"))
        else:
            found = await self.store.tickets.find(cond, projection=RANKING).to_list()
        page, cursor = self._ranked(found, q, keep, size)
        return Page(page if words_read else await self._whole(page, keep), cursor)

    async def _following(self, q: TicketQuery, words: list[str], keep: Any, size: int) -> Page:
        """The tickets an agent follows, in any order and status asked: every one they follow is read (the
        `followers` index; bounded by what they chose to follow, not by the desk), filtered and ordered here like
        the live desk's orders. Read whole when the search has words (their words decide), else what ranks them
        and then the page's tickets."""
        cond = {"followers": q.follower}
        if words:
            page, cursor = self._ranked(await self.store.tickets.find(cond).to_list(), q, keep, size)
            return Page(page, cursor)
        found = await self.store.tickets.find(cond, projection={**RANKING, "followers": 1}).to_list()
        page, cursor = self._ranked(found, q, keep, size)
        return Page(await self._whole(page, keep), cursor)

    @staticmethod
    def _ranked(found: list[Doc], q: TicketQuery, keep: Any, size: int) -> tuple[list[Doc], int | None]:
        """The page of `found` that `keep` keeps, in the order asked, after the cursor; and the next cursor."""
        rank_field = {"sla_due": "sla_rank", "oldest_waiting": "wait_rank"}.get(q.sort, "number")
        direction = -1 if rank_field == "number" else 1
        rows = [t for t in found
                if keep(t) and t.get(rank_field) is not None
                and (q.after is None or (t[rank_field] - q.after) * direction > 0)]
        rows.sort(key=lambda t: t[rank_field] * direction)
        page = rows[:size]
        return page, (page[-1][rank_field] if len(rows) > size else None)

    async def _whole(self, ranked: list[Doc], keep: Any) -> list[Doc]:
        """The page's tickets read whole (but their words), in the order ranked; one that left the view
        between the two reads is left out."""
        numbers = [t["number"] for t in ranked]
        if not numbers:
            return []
        read = {t["number"]: t for t in await self.store.tickets.find(
            {"number": {"$in": numbers}}, projection=WITHOUT_WORDS).to_list()}
        return [read[n] for n in numbers if n in read and keep(read[n])]

    async def _newest(self, field_name: str, seed: str | None, q: TicketQuery, keep: Any, size: int,
                      first_window: int = FIRST_WINDOW, windows: int | None = None) -> Page:
        """Walk back from the cursor in doubling windows of ticket numbers until the page is full.

        `windows`: after that many, read every remaining match below the last window at once: for a
        seed whose matches are bounded anyway (active tickets), so that a quiet desk with a long history
        costs one more read rather than a window per doubling down to ticket 1.
        """
        top = q.after if q.after is not None else await self._next_number()
        seeds = [seed] if seed is not None else [f"status:{s}" for s in q.statuses]
        found: list[Doc] = []
        window = first_window
        hi = top
        walked = 0
        while hi > 0 and len(found) <= size:
            lo = 0 if windows is not None and walked >= windows else max(0, hi - window)
            batch: list[Doc] = []
            for s in seeds:
                numbers = {"$lt": hi, "$gte": lo}
                batch += await (self._by_words(field_name, s, numbers) if field_name in WORD_INDEX else
                                self.store.tickets.find({field_name: s, "number": numbers}, projection=WITHOUT_WORDS,
                                                        sort=[(field_name, 1), ("number", -1)]).to_list())
            found += sorted((t for t in batch if keep(t)), key=lambda t: -t["number"])
            hi, window, walked = lo, window * 2, walked + 1
        page = found[:size]
        return Page(page, page[-1]["number"] if len(found) > size else None)

    async def _by_words(self, field_name: str, word: str, numbers: Doc | None) -> list[Doc]:
        """The tickets whose word documents hold `word` (in `words`, or the live desk's in `live_words`),
        within `numbers` (a range condition on the ticket number, or None): two reads, the word documents'
        numbers and then those tickets, which the caller's filter checks against their own words."""
        indexed, order = WORD_INDEX[field_name]
        cond: Doc = {indexed: word, **({"number": numbers} if numbers is not None else {})}
        found = {d["number"] async for d in self.store.ticket_words.find(cond, projection={"number": 1, "_id": 0},
                                                                          sort=order)}
        if not found:
            return []
        # with their words: the caller checks every word of the search against them
        return await self.store.tickets.find({"number": {"$in": sorted(found)}}).to_list()

    async def _next_number(self) -> int:
        counter = await self.store.counters.find_one({"_id": "ticket"})
        return int((counter or {}).get("seq", 0)) + 1
