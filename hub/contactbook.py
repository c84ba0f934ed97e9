"""The contact record agents work with: search, edits, private notes and one timeline across channels.

Search: each contact carries `search_keys`, the lower-cased words of its name, addresses, phone
numbers and channel display names, with their prefixes (so "lov" finds Lovelace as it is typed)
and the trailing digits of its phone numbers (so "4567" finds +49 30 1234567). A search seeds from
ONE key on the `(search_keys, number)` index and walks back in doubling windows of contact numbers,
as hub.ticketindex does for tickets, so a page costs the contacts in a window, never the collection
(secantusd-py sorts every match before a limit). Merged-away and erased records carry a key no
query can produce, so they are never found.

Timeline: every message of every conversation of the contact (each conversation is one thread on
one channel; a ticket gathers some of them), newest first, paged by a `(created_at, id)` cursor.
A page reads the contact's conversations newest first and stops as soon as an older conversation
cannot hold a message newer than the page's last one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from hub.audit import AuditLog
from hub.display import author_name, display_name, human_name
from hub.models import utcnow
from hub.store import CONVERSATIONS_BY_CONTACT, TICKETS_BY_CONTACT, Doc, ObjectId, Store
from hub.ticketindex import TicketIndex, words_of

#: The contacts' search index (kept with the other indexes in `hub.store.Store.ensure_indexes`).
BY_SEARCH_KEYS = [("search_keys", 1), ("number", -1)]
#: The only search key of a merged-away or erased record: no typed query produces it.
TOMBSTONE_KEY = "~tombstone"
MAX_PAGE = 50
FIRST_WINDOW = 512
MIN_PREFIX = 2
MAX_PREFIX = 24
MAX_KEYS = 400
#: How many `merged_into` hops a lookup follows (a merge chain A -> B -> C is resolved to C).
MAX_HOPS = 10
MAX_NOTE = 5000
#: A conversation's `last_message_at` is written just after its message: trusted to within this much.
LAST_MESSAGE_SLACK = timedelta(seconds=5)
MAX_ATTRIBUTES = 50
ATTRIBUTE_KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
PHONE = re.compile(r"^\+[1-9][0-9]{6,14}$")
TAG = re.compile(r"^[\w][\w .:-]{0,39}$")
_PLAIN_WORD = re.compile(r"[^\W\d_]+")

#: How each channel is named to agents.
CHANNEL_LABELS = {"email": "Email", "widget": "Web chat", "slack": "Slack", "telegram": "Telegram", "sms": "SMS",
                  "voice": "Phone", "phone": "Phone"}
#: Channels whose identity is an address a person can read and use.
ADDRESSED = frozenset({"email", "sms", "voice"})
#: Placeholder identities (the unique identity index needs one on tombstones): never shown.
PLACEHOLDER_CHANNELS = frozenset({"merged", "erased"})


class ContactError(Exception):
    """A contact change that cannot be made; the message says why (HTTP 400/422)."""


class ContactNotFound(ContactError):
    pass


class ContactConflict(ContactError):
    """The change collides with another record (HTTP 409): an address held by someone else, a merge refused."""


def channel_label(channel: str) -> str:
    return CHANNEL_LABELS.get(channel, channel.capitalize())


def identity_handle(identity: Doc, contact: Doc | None = None) -> str:
    """How an agent recognises this identity: the address, the channel display name, never an internal id."""
    channel = str(identity.get("channel"))
    external = str(identity.get("external_id") or "")
    if channel == "email":
        return external
    if channel in ("sms", "voice"):
        return external if PHONE.fullmatch(external) else "withheld number"
    shown = str(identity.get("display_name") or "").strip()
    if shown and shown != external:
        return shown
    if channel == "widget":
        site = external.split(":", 1)[0]
        kind = "signed-in user" if identity.get("verified") else "visitor"
        return f"{kind} on {site}" if site else kind
    name = human_name(contact) if contact else None
    return name or f"{channel_label(channel)} user"


def identity_view(identity: Doc, contact: Doc | None = None) -> dict[str, Any]:
    added = identity.get("added_at")
    return {"channel": identity.get("channel"), "channel_label": channel_label(str(identity.get("channel"))),
            "handle": identity_handle(identity, contact), "verified": bool(identity.get("verified")),
            "added_at": added.isoformat() if isinstance(added, datetime) else None}


def visible_identities(contact: Doc) -> list[Doc]:
    return [i for i in contact.get("identities") or [] if i.get("channel") not in PLACEHOLDER_CHANNELS]


def verified_kind(identity: Doc) -> str | None:
    """The kind a verified identity proves (None: not verified). A widget identity is proven per site (each
    site signs its own users), any other by its channel."""
    if not identity.get("verified"):
        return None
    channel = str(identity.get("channel"))
    if channel == "widget":
        return f"widget:{str(identity.get('external_id') or '').split(':', 1)[0]}"
    return channel


def verified_conflict(a: list[Doc], b: list[Doc]) -> str | None:
    """Why identities `a` and `b` cannot belong to one person: two different verified identities of one kind."""
    mine = {(verified_kind(i), i.get("external_id")) for i in a if verified_kind(i)}
    for identity in b:
        kind = verified_kind(identity)
        if kind is None:
            continue
        others = {ext for k, ext in mine if k == kind and ext != identity.get("external_id")}
        if others:
            where = "the " + kind.split(":", 1)[1] + " site" if kind.startswith("widget:") else channel_label(kind)
            return (f"both contacts hold a different verified identity on {where}: a verified identity "
                    "proves a different person, so they are not merged")
    return None


def _prefixes(word: str) -> set[str]:
    return {word[:n] for n in range(MIN_PREFIX, min(len(word), MAX_PREFIX) + 1)}


def _name_words(text: str | None) -> list[str]:
    return list(dict.fromkeys(_PLAIN_WORD.findall((text or "").lower())))[:4]


def _pairs(words: list[str]) -> set[str]:
    """"ana s" ... "ana silva", "silva a" ... "silva ana": a first and a last name typed together seed one key,
    so two common words with a rare combination cost their few matches, not every Silva."""
    return {f"{a} {b[:n]}" for a in words for b in words if a != b for n in range(1, min(len(b), MAX_PREFIX) + 1)}


def search_keys(contact: Doc) -> list[str]:
    """The contact's search keys: words and their prefixes, pairs of name words, whole addresses (and their
    prefixes up to the domain), phone digits and their endings."""
    if contact.get("merged_into") is not None or contact.get("erased_at") is not None:
        return [TOMBSTONE_KEY]
    names = [contact.get("name"), *[i.get("display_name") for i in visible_identities(contact)]]
    addresses = [contact.get("claimed_email"), *(contact.get("emails") or [])]
    keys: set[str] = set()
    for text in names:
        keys |= _pairs(_name_words(text))
    for text in names + addresses:
        for word in words_of(text):
            keys.add(word)
            keys |= _prefixes(word[:word.index("@") + 1] if "@" in word else word)
    for phone in [*(contact.get("phones") or []),
                  *[i.get("external_id") for i in visible_identities(contact) if i.get("channel") in ("sms", "voice")]]:
        digits = re.sub(r"\D", "", str(phone or ""))
        if len(digits) >= 4:
            keys |= {digits[-n:] for n in range(4, len(digits) + 1)}
    number = contact.get("number")
    if isinstance(number, int):
        keys.add(str(number))  # "Visitor 4821" is found by 4821
    return sorted(keys, key=lambda k: (len(k), k))[:MAX_KEYS]


def pair_seed(text: str) -> str | None:
    """The pair key of the first two words typed, when they are plain words (a name)."""
    if re.search(r"[@+\d]", text):
        return None
    words = _PLAIN_WORD.findall(text.lower())
    return f"{words[0]} {words[1][:MAX_PREFIX]}" if len(words) >= 2 and words[0] != words[1] else None


def query_keys(text: str) -> list[str]:
    """What a search box's text must all match: a phone number as its digits, else each word (longest first)."""
    text = text.strip()
    digits = re.sub(r"\D", "", text)
    if len(digits) >= 4 and re.fullmatch(r"[\d\s()+./-]+", text):
        return [digits]
    words: set[str] = set()
    for word in words_of(text):
        if "@" in word or "." in word or len(word) <= MAX_PREFIX:
            words.add(word)
        else:
            words.add(word[:MAX_PREFIX])
    # an address is stored whole: its parts add nothing once the whole matched
    whole = {w for w in words if "@" in w}
    parts = {p for w in whole for p in re.split(r"[.'@+-]", w)}
    return sorted(words - (parts - whole), key=len, reverse=True)


def note_view(note: Doc) -> dict[str, Any]:
    return {"id": str(note.get("id")), "text": note.get("text", ""), "author_name": note.get("author_name"),
            "at": note["at"].isoformat() if isinstance(note.get("at"), datetime) else None,
            "from_contact": note.get("from_contact")}


@dataclass
class SearchPage:
    contacts: list[Doc]
    next_cursor: str | None


@dataclass
class TimelinePage:
    messages: list[Doc]
    conversations: dict[ObjectId, Doc]
    tickets: dict[ObjectId, Doc]
    next_cursor: str | None


def edit_changes(contact: Doc, *, name: str | None = None, email: str | None = None, phone: str | None = None,
                 attributes: dict[str, str | None] | None = None, tags: list[str] | None = None
                 ) -> tuple[Doc, list[tuple[str, str]]]:
    """What `ContactBook.edit` would change on the contact (empty: nothing), and the addresses it would add, which
    no other contact may hold (`(field, value)`); raises ContactError for a value it refuses. Reads nothing: the
    contact import's check says "updated" or "unchanged" from it without writing."""
    changes: Doc = {}
    claimed: list[tuple[str, str]] = []
    if name is not None:
        clean = " ".join(name.split())
        if len(clean) > 200:
            raise ContactError("name: at most 200 characters")
        if clean != (contact.get("name") or ""):
            changes["name"] = clean or None
            changes["name_lower"] = clean.lower()
    if email is not None:
        address = email.strip().lower()
        if address and not EMAIL.fullmatch(address):
            raise ContactError(f"email: {email!r} is not an email address")
        kept = [i["external_id"].lower() for i in visible_identities(contact) if i.get("channel") == "email"]
        emails = list(dict.fromkeys(([address] if address else []) + kept))
        if address and address not in contact.get("emails", []):
            claimed.append(("emails", address))
        if emails != contact.get("emails", []):
            changes["emails"] = emails
    if phone is not None:
        number = re.sub(r"[\s().-]", "", phone)
        if number and not PHONE.fullmatch(number):
            raise ContactError(f"phone: {phone!r} is not a phone number in international form (+4930123456)")
        kept = [i["external_id"] for i in visible_identities(contact) if i.get("channel") in ("sms", "voice")
                and PHONE.fullmatch(str(i["external_id"]))]
        phones = list(dict.fromkeys(([number] if number else []) + kept))
        if number and number not in contact.get("phones", []):
            claimed.append(("phones", number))
        if phones != contact.get("phones", []):
            changes["phones"] = phones
    if attributes is not None:
        merged = dict(contact.get("attributes") or {})
        for key, value in attributes.items():
            if not ATTRIBUTE_KEY.fullmatch(key):
                raise ContactError(f"attribute {key!r}: lower-case letters, digits and _ (at most 40)")
            if value is None or not str(value).strip():
                merged.pop(key, None)
            else:
                merged[key] = str(value).strip()[:500]
        if len(merged) > MAX_ATTRIBUTES:
            raise ContactError(f"at most {MAX_ATTRIBUTES} attributes")
        if merged != (contact.get("attributes") or {}):
            changes["attributes"] = merged
    if tags is not None:
        clean_tags = sorted({t.strip().lower() for t in tags if t.strip()})
        bad = [t for t in clean_tags if not TAG.fullmatch(t)]
        if bad or len(clean_tags) > 30:
            raise ContactError("tags: at most 30, each a word of up to 40 letters, digits, space . : -")
        if clean_tags != sorted(contact.get("tags") or []):
            changes["tags"] = clean_tags
    return changes, claimed


class ContactBook:
    def __init__(self, store: Store, index: TicketIndex, audit: AuditLog) -> None:
        self.store = store
        self.index = index
        self.audit = audit

    # ---- lookups ---------------------------------------------------------------------------
    async def get(self, contact_id: ObjectId) -> Doc | None:
        """The contact as stored (a tombstone too)."""
        return await self.store.contacts.find_one({"_id": contact_id})

    async def resolve(self, contact_id: ObjectId) -> Doc | None:
        """The live record for `contact_id`: a merged-away id follows `merged_into` to the survivor."""
        contact = await self.get(contact_id)
        hops = 0
        while contact is not None and contact.get("merged_into") is not None and hops < MAX_HOPS:
            contact = await self.get(contact["merged_into"])
            hops += 1
        return contact

    async def live(self, contact_id: ObjectId) -> Doc:
        contact = await self.resolve(contact_id)
        if contact is None:
            raise ContactNotFound("no such contact")
        return contact

    # ---- search ------------------------------------------------------------------------------
    async def search(self, text: str, size: int = 20, after: str | None = None) -> SearchPage:
        """Contacts matching every word of `text` (name, email, phone, channel name), newest first.

        `after`: the previous page's `next_cursor` (the last contact number, `p`-prefixed when the pages
        are seeded by the pair of name words, so every page of one search walks the same key)."""
        size = max(1, min(size, MAX_PAGE))
        keys = query_keys(text)
        if not keys:
            return SearchPage([], None)
        rest = set(keys)
        pair = pair_seed(text)
        if after is not None:
            digits = after[1:] if after.startswith("p") else after
            if not digits.isdigit() or len(digits) > 10:
                raise ContactError("after: the `next` cursor of the previous page")
            by_pair = after.startswith("p") and pair is not None
            return await self._walk(pair if by_pair and pair else keys[0], rest, int(digits), size, by_pair)
        top = await self._next_number()
        if pair is not None:  # a first and last name typed together: their pair key, if any contact has it
            page = await self._walk(pair, rest, top, size, True)
            if page.contacts:
                return page
        return await self._walk(keys[0], rest, top, size, False)

    async def _walk(self, seed: str, rest: set[str], top: int, size: int, by_pair: bool) -> SearchPage:
        """Contacts with `seed` and every key of `rest`, numbers below `top`, in doubling windows of numbers
        (each window one index range; a miss costs log2(contacts / 512) of them, never a scan)."""
        found: list[Doc] = []
        window, hi = FIRST_WINDOW, top
        while hi > 0 and len(found) <= size:
            lo = max(0, hi - window)
            batch = await self.store.contacts.find(
                {"search_keys": seed, "number": {"$lt": hi, "$gte": lo}},
                sort=BY_SEARCH_KEYS).to_list()
            found += sorted((c for c in batch if rest <= set(c.get("search_keys") or [])),
                            key=lambda c: -int(c["number"]))
            hi, window = lo, window * 2
        page = found[:size]
        cursor = f"{'p' if by_pair else ''}{int(page[-1]['number'])}" if len(found) > size else None
        return SearchPage(page, cursor)

    async def _next_number(self) -> int:
        counter = await self.store.counters.find_one({"_id": "contact"})
        return int((counter or {}).get("seq", 0)) + 1

    async def reindex(self, contact_id: ObjectId) -> None:
        contact = await self.get(contact_id)
        if contact is not None:
            keys = search_keys(contact)
            if keys != contact.get("search_keys"):
                await self.store.contacts.update_one({"_id": contact_id}, {"$set": {"search_keys": keys}})

    async def backfill(self, batch: int = 500) -> int:
        """Give contacts stored before search existed their keys, and numbers (once; a no-op after).

        `{search_keys: None}` finds them through the search index (a missing field is indexed as null)."""
        done = 0
        while rows := await self.store.contacts.find({"search_keys": None}, limit=batch).to_list():
            for contact in rows:
                fields: Doc = {}
                if not isinstance(contact.get("number"), int):
                    fields["number"] = contact["number"] = await self.store.next_number("contact")
                fields["search_keys"] = search_keys(contact)
                await self.store.contacts.update_one({"_id": contact["_id"]}, {"$set": fields})
            done += len(rows)
        return done

    # ---- edits -------------------------------------------------------------------------------
    async def edit(self, contact_id: ObjectId, actor: Doc, *, name: str | None = None, email: str | None = None,
                   phone: str | None = None, attributes: dict[str, str | None] | None = None,
                   tags: list[str] | None = None, ip: str | None = None) -> Doc:
        """Change the name, the primary email and phone, attributes (a value None removes one) and tags.

        Addresses the contact wrote from (its email and phone identities) stay; an address another
        contact holds is refused (merge the two instead). Audited with the values before and after."""
        contact = await self.live(contact_id)
        if contact.get("erased_at") is not None:
            raise ContactConflict("this contact was erased")
        cid = contact["_id"]
        changes, claimed = edit_changes(contact, name=name, email=email, phone=phone, attributes=attributes,
                                        tags=tags)
        for field_name, value in claimed:
            await self._not_held_elsewhere(field_name, value, cid)
        if not changes:
            return contact
        updated = {**contact, **changes, "updated_at": utcnow()}
        changes["search_keys"] = search_keys(updated)
        await self.store.contacts.update_one({"_id": cid}, {"$set": {**changes, "updated_at": updated["updated_at"]}})
        await self._refresh_tickets(cid)
        # Which fields changed, never their values: the trail is append-only and must not keep what an
        # erasure removes (the desk shows the contact's current name beside the entry).
        fields = [k for k in ("name", "emails", "phones", "attributes", "tags") if k in changes]
        details: Doc = {"fields": fields}
        if "attributes" in changes:
            before, after = contact.get("attributes") or {}, changes["attributes"]
            details["attributes"] = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
        await self.audit.record("contact.updated", actor=actor, ip=ip, details=details,
                                target={"type": "contact", "id": cid})
        return {**updated, "search_keys": changes["search_keys"]}

    async def _not_held_elsewhere(self, field: str, value: str, contact_id: ObjectId) -> None:
        for other in await self.store.contacts.find({field: value}, projection={"_id": 1, **_NAME}).to_list():
            if other["_id"] != contact_id:
                raise ContactConflict(f"{value} belongs to {display_name(other)}: merge the two contacts instead")

    async def block(self, contact_id: ObjectId, actor: Doc, on: bool = True, ip: str | None = None) -> Doc:
        """Block the contact (`on`) or unblock them: spam, abuse. What a blocked contact sends is still stored, on
        their record, but no bot answers it, it opens or reopens no ticket and is nobody's news (hub.pipeline:
        `blocked` on the message). Their tickets stay as they are (hub.blocking can close them). Audited
        (`contact.blocked` / `unblocked`)."""
        contact = await self.live(contact_id)
        if on == bool(contact.get("blocked")):
            return contact  # already as asked
        now = utcnow()
        if on:
            blocked: Doc = {"at": now, "by": actor.get("_id"),
                            "by_name": actor.get("name") or actor.get("username") or "an API client"}
            update: Doc = {"$set": {"blocked": blocked, "updated_at": now}}
            after = {**contact, "blocked": blocked, "updated_at": now}
        else:
            update = {"$unset": {"blocked": ""}, "$set": {"updated_at": now}}
            after = {k: v for k, v in contact.items() if k != "blocked"} | {"updated_at": now}
        await self.store.contacts.update_one({"_id": contact["_id"]}, update)
        await self.audit.record("contact.blocked" if on else "contact.unblocked", actor=actor, ip=ip,
                                target={"type": "contact", "id": contact["_id"]})
        return after

    async def add_note(self, contact_id: ObjectId, author: Doc, text: str) -> Doc:
        """A private note on the contact (agents only ever see it), with its author and time."""
        text = text.strip()
        if not text:
            raise ContactError("a note needs text")
        if len(text) > MAX_NOTE:
            raise ContactError(f"a note is at most {MAX_NOTE} characters")
        contact = await self.live(contact_id)
        note = {"id": ObjectId(), "text": text, "author_id": author.get("_id"),
                "author_name": author.get("name") or author.get("username") or "an API client", "at": utcnow()}
        await self.store.contacts.update_one({"_id": contact["_id"]}, {"$push": {"notes": note},
                                                                       "$set": {"updated_at": note["at"]}})
        return note

    async def _refresh_tickets(self, contact_id: ObjectId) -> list[ObjectId]:
        """The desk list's customer columns follow the contact (a contact has few tickets)."""
        ids = [t["_id"] for t in await self.store.tickets.find(
            {"contact_id": contact_id}, projection={"_id": 1}, sort=TICKETS_BY_CONTACT).to_list()]
        for ticket_id in ids:
            await self.index.refresh(ticket_id)
        return ids

    # ---- reads for the page ------------------------------------------------------------------
    async def tickets_of(self, contact_id: ObjectId, limit: int = 50) -> list[Doc]:
        return await self.store.tickets.find(
            {"contact_id": contact_id}, projection={"words": 0, "keys": 0},
            sort=TICKETS_BY_CONTACT, limit=limit).to_list()

    async def conversations_of(self, contact_id: ObjectId) -> list[Doc]:
        return await self.store.conversations.find(
            {"contact_id": contact_id}, projection={"bot": 0, "token": 0}, sort=CONVERSATIONS_BY_CONTACT).to_list()

    async def timeline(self, contact_id: ObjectId, before: str | None = None, size: int = 30) -> TimelinePage:
        """One page of every message on every channel of the contact, newest first; `before` is the cursor."""
        size = max(1, min(size, 100))
        cursor = _parse_cursor(before) if before else None
        conversations = await self.conversations_of(contact_id)
        found: list[Doc] = []
        for conversation in conversations:
            if len(found) > size:
                found.sort(key=_newest_first)
                found = found[:size + 1]
                last = found[-1]["created_at"]
                ended = conversation.get("last_message_at") or conversation.get("started_at") or last
                if ended + LAST_MESSAGE_SLACK < last:
                    break  # this conversation and every older one end before the page does
            query: Doc = {"conversation_id": conversation["_id"]}
            if cursor is not None:
                query["created_at"] = {"$lte": cursor[0]}
            rows = await self.store.messages.find(
                query, projection={"nlu": 0, "pending_bot": 0, "lease_until": 0},
                sort=[("conversation_id", 1), ("created_at", -1)], limit=size + 20).to_list()
            found += [m for m in rows if cursor is None or (m["created_at"], m["_id"]) < cursor]
        found.sort(key=_newest_first)
        page = found[:size]
        by_id = {c["_id"]: c for c in conversations}
        used = {m["conversation_id"] for m in page}
        ticket_ids = {by_id[c]["ticket_id"] for c in used if by_id.get(c, {}).get("ticket_id")}
        tickets = {t["_id"]: t for t in await self.store.tickets.find(
            {"_id": {"$in": list(ticket_ids)}}, projection={"number": 1, "subject": 1, "status": 1,
                                                            "conversation_ids": 1}).to_list()} if ticket_ids else {}
        nxt = None
        if len(found) > size:
            last = page[-1]
            nxt = f"{last['created_at'].isoformat()}|{last['_id']}"
        return TimelinePage(page, {c: by_id[c] for c in used if c in by_id}, tickets, nxt)

    def author_of(self, message: Doc, contact: Doc) -> str:
        author = message.get("author") or {}
        kind = author.get("kind")
        if kind == "customer":
            return author_name(author.get("name"), contact)
        if kind == "bot":
            return str(author.get("name") or "Bot")
        return str(author.get("name") or kind or "")


_NAME = {"name": 1, "emails": 1, "phones": 1, "claimed_email": 1, "identities": 1, "number": 1}


def _newest_first(message: Doc) -> tuple[float, str]:
    return (-message["created_at"].timestamp(), "".join(chr(255 - ord(ch)) for ch in str(message["_id"])))


def _parse_cursor(value: str) -> tuple[datetime, ObjectId]:
    at, _, mid = value.partition("|")
    try:
        when = datetime.fromisoformat(at)
    except ValueError as exc:
        raise ContactError("before: the `next` cursor of the previous page") from exc
    if not ObjectId.is_valid(mid):
        raise ContactError("before: the `next` cursor of the previous page")
    return (when if when.tzinfo is not None else when.replace(tzinfo=UTC)), ObjectId(mid)
