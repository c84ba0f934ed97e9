"""Merging two contact records that are one person (a supervisor's decision, never automatic across proofs).

`merge(survivor, other)` moves everything of `other` to `survivor` in one transaction: its channel
identities, addresses, tags, attributes (the survivor's values win), notes and a block (one
person: what blocked their addresses blocks them all; the dialog says so first), and its
conversations, their messages and its tickets. `other` stays as a tombstone: its name, notes,
attributes and a snapshot of the identities and addresses it had are kept, with `merged_into`
pointing at the survivor, so every lookup of the old id (`ContactBook.resolve`, the contact API,
ticket pages) lands on the survivor. The merge is an audit event and a `contact.merged` event.

Refused (`ContactConflict`, HTTP 409): the two hold different *verified* identities of the same
kind (two signed-in users of one site, say), since a verified identity proves a different person;
either record is erased; or they are already one. The same rule keeps `ContactService.resolve`
from linking a verified identity into a contact that holds another one of its kind.

A message that arrives on the old record while the merge commits can open a conversation on it;
the merge therefore sweeps the old record once more after committing, and every read resolves
`merged_into`, so such a straggler is still shown on the survivor.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession

from hub.audit import AuditLog
from hub.contactbook import (
    TOMBSTONE_KEY,
    ContactBook,
    ContactConflict,
    ContactError,
    search_keys,
    verified_conflict,
    visible_identities,
)
from hub.display import display_name, human_name
from hub.models import utcnow
from hub.store import Doc, ObjectId, Store


@dataclass
class MergePlan:
    survivor: Doc
    other: Doc
    identities: int = 0
    conversations: int = 0
    tickets: int = 0
    conflict: str | None = None


@dataclass
class Merged:
    survivor: Doc
    other_id: ObjectId
    tickets: list[ObjectId] = field(default_factory=list)
    conversations: int = 0


class ContactMerges:
    def __init__(self, store: Store, book: ContactBook, audit: AuditLog) -> None:
        self.store = store
        self.book = book
        self.audit = audit

    async def plan(self, survivor_id: ObjectId, other_id: ObjectId) -> MergePlan:
        """What merging `other_id` into `survivor_id` would move, and why it would be refused (`conflict`)."""
        survivor = await self.book.live(survivor_id)
        other = await self.book.get(other_id)
        if other is None:
            raise ContactError("no such contact to merge")
        plan = MergePlan(survivor, other)
        if other.get("merged_into") is not None:
            into = await self.book.resolve(other_id)
            plan.conflict = ("these contacts are already one" if into and into["_id"] == survivor["_id"]
                             else f"{display_name(other)} was already merged into {display_name(into)}")
            return plan
        if other["_id"] == survivor["_id"]:
            raise ContactError("a contact cannot be merged with itself")
        if survivor.get("erased_at") is not None or other.get("erased_at") is not None:
            plan.conflict = "an erased contact cannot be merged"
            return plan
        plan.conflict = verified_conflict(visible_identities(survivor), visible_identities(other))
        plan.identities = len(visible_identities(other))
        plan.conversations = await self.store.conversations.count_documents({"contact_id": other["_id"]})
        plan.tickets = await self.store.tickets.count_documents({"contact_id": other["_id"]})
        return plan

    async def merge(self, survivor_id: ObjectId, other_id: ObjectId, actor: Doc, ip: str | None = None) -> Merged:
        plan = await self.plan(survivor_id, other_id)
        if plan.conflict:
            raise ContactConflict(plan.conflict)
        survivor_id, other_id = plan.survivor["_id"], plan.other["_id"]
        by = str(actor.get("name") or actor.get("username") or "an API client")

        async def work(session: AsyncClientSession) -> Merged:
            now = utcnow()
            survivor = await self.store.contacts.find_one({"_id": survivor_id}, session=session)
            other = await self.store.contacts.find_one({"_id": other_id}, session=session)
            if survivor is None or other is None or other.get("merged_into") is not None \
                    or survivor.get("merged_into") is not None:
                raise ContactConflict("one of the contacts changed meanwhile (merged or removed): try again")
            reason = verified_conflict(visible_identities(survivor), visible_identities(other))
            if reason:
                raise ContactConflict(reason)
            # The old record first: its identities leave the unique identity index before the survivor takes them.
            await self.store.contacts.update_one({"_id": other_id}, {"$set": {
                "merged_into": survivor_id, "merged_at": now, "merged_by": by,
                "merged_snapshot": {"identities": other.get("identities") or [], "emails": other.get("emails") or [],
                                    "phones": other.get("phones") or []},
                "identities": [{"channel": "merged", "external_id": str(other_id), "verified": False}],
                "emails": [], "phones": [], "search_keys": [TOMBSTONE_KEY], "updated_at": now}}, session=session)
            joined = _joined(survivor, other, now)
            joined["search_keys"] = search_keys({**survivor, **joined})
            await self.store.contacts.update_one(
                {"_id": survivor_id},
                {"$set": joined, "$push": {"merges": {"contact_id": other_id, "name": display_name(other),
                                                      "at": now, "by": by}}},
                session=session)
            moved = await self._move(other_id, survivor_id, session)
            await self.store.append_event("contact.merged", now, session=session, contact_id=survivor_id,
                                          data={"merged": other_id, "tickets": len(moved.tickets),
                                                "conversations": moved.conversations})
            return moved

        moved = await self.store.run_in_transaction(work)
        straggler = await self._move(other_id, survivor_id, None)  # a conversation opened while we committed
        tickets = list(dict.fromkeys(moved.tickets + straggler.tickets))
        refreshed = await self.book._refresh_tickets(survivor_id)
        survivor = await self.book.live(survivor_id)
        await self.audit.record(
            "contact.merged", actor=actor, ip=ip,
            target={"type": "contact", "id": survivor_id},  # ids only: the trail outlives an erasure
            details={"merged": str(other_id), "tickets": len(tickets),
                     "conversations": moved.conversations + straggler.conversations,
                     "identities": plan.identities, "tickets_reindexed": len(refreshed)})
        return Merged(survivor, other_id, tickets, moved.conversations + straggler.conversations)

    async def _move(self, from_id: ObjectId, to_id: ObjectId, session: AsyncClientSession | None) -> Merged:
        """Conversations (with their messages) and tickets of `from_id` now belong to `to_id`."""
        conversations = [c["_id"] for c in await self.store.conversations.find(
            {"contact_id": from_id}, projection={"_id": 1}, session=session).to_list()]
        tickets = [t["_id"] for t in await self.store.tickets.find(
            {"contact_id": from_id}, projection={"_id": 1}, session=session).to_list()]
        if conversations:
            await self.store.conversations.update_many({"contact_id": from_id}, {"$set": {"contact_id": to_id}},
                                                       session=session)
            for conversation_id in conversations:
                await self.store.messages.update_many({"conversation_id": conversation_id},
                                                      {"$set": {"contact_id": to_id}}, session=session)
        if tickets:
            await self.store.tickets.update_many({"contact_id": from_id}, {"$set": {"contact_id": to_id}},
                                                 session=session)
        return Merged({}, from_id, tickets, len(conversations))


def _joined(survivor: Doc, other: Doc, now: Any) -> Doc:
    """The survivor's fields after taking in `other` (the survivor's own values win where both have one)."""
    name = human_name(survivor) or human_name(other)
    attributes = {**(other.get("attributes") or {}), **(survivor.get("attributes") or {})}
    other_label = display_name(other)
    notes = [*(survivor.get("notes") or []),
             *[{**n, "from_contact": n.get("from_contact") or other_label} for n in other.get("notes") or []]]
    notes.sort(key=lambda n: n.get("at") or now)
    joined: Doc = {
        "name": name, "name_lower": (name or "").lower(),
        "identities": [*(survivor.get("identities") or []),
                       *[i for i in visible_identities(other) if (i.get("channel"), i.get("external_id")) not in
                         {(s.get("channel"), s.get("external_id")) for s in survivor.get("identities") or []}]],
        "emails": list(dict.fromkeys([*(survivor.get("emails") or []), *(other.get("emails") or [])])),
        "phones": list(dict.fromkeys([*(survivor.get("phones") or []), *(other.get("phones") or [])])),
        "attributes": attributes,
        "tags": sorted(set(survivor.get("tags") or []) | set(other.get("tags") or [])),
        "notes": notes,
        "merged_from": [*(survivor.get("merged_from") or []), other["_id"]],
        "updated_at": now,
    }
    claimed = survivor.get("claimed_email") or other.get("claimed_email")
    if claimed:
        joined["claimed_email"] = claimed
    if other.get("blocked") and not survivor.get("blocked"):
        joined["blocked"] = other["blocked"]  # the spammer's addresses move here: so does the block
    return joined
