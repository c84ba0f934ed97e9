"""Customer records: one contact across every channel, found by per-channel identity."""

from __future__ import annotations

import re
from typing import Any

from hub.contactbook import ADDRESSED, search_keys, verified_conflict, visible_identities
from hub.display import human_name
from hub.models import Sender, utcnow
from hub.store import Doc, DuplicateKeyError, ObjectId, Store

#: Channels whose external id *is* an email address or phone number, so a contact
#: already known by that address (from another channel) is the same person.
EMAIL_CHANNELS = frozenset({"email"})
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
PHONE_CHANNELS = frozenset({"sms", "voice"})


def holds_identity(contact: Doc, channel: str, external_id: str) -> bool:
    """Whether `contact` holds the identity `external_id` on `channel` (an exact element match)."""
    return any(i["channel"] == channel and i["external_id"] == external_id for i in contact.get("identities", []))


class ContactService:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def resolve(self, channel: str, sender: Sender) -> Doc:
        """The contact behind `sender` on `channel`, created on first contact (see `resolve_new`)."""
        contact, _created = await self.resolve_new(channel, sender)
        return contact

    async def resolve_new(self, channel: str, sender: Sender) -> tuple[Doc, bool]:
        """The contact behind `sender` on `channel`, and whether this call created it (then nothing this sender
        sent can be stored yet: ingest resolves the contact before it stores anything).

        Cross-channel linking happens only on addresses we can trust: the identity
        itself (an email sender, a phone number) or an email the channel verified
        (`Sender.email_verified`: a Slack profile email, a site-signed widget JWT). An
        address a browser merely claims never links, or anyone could attach to a customer.
        """
        email = _trusted_email(channel, sender)
        phone = _trusted_phone(channel, sender)
        # A sender the channel believes new is inserted straight away (its identity's unique index answers a
        # wrong belief), unless a trusted address may link it to a contact known on another channel.
        if not self.insertable_at_once(channel, sender):
            found = await self._by_identity(channel, sender.external_id)
            if found is not None:
                return await self._refresh(found, sender), False
        now = utcnow()
        new_identity = self._identity(channel, sender, now)
        for field, value in (("emails", email), ("phones", phone)):
            if value is None:
                continue
            linked = await self._link(field, value, new_identity, now)
            if linked is not None:
                return linked, False
        doc = await self.new_contact(channel, sender)
        try:
            await self.store.contacts.insert_one(doc)
        except DuplicateKeyError:
            # Known after all (`Sender.probably_new` was wrong), or another request created it since our find.
            raced = await self._by_identity(channel, sender.external_id)
            assert raced is not None
            return await self._refresh(raced, sender), False
        return doc, True

    @staticmethod
    def insertable_at_once(channel: str, sender: Sender) -> bool:
        """The channel believes the sender new and no trusted address may link them to a known contact: the
        contact is inserted with no read first (`resolve_new`, or ingest's first message in one command)."""
        return (sender.probably_new and _trusted_email(channel, sender) is None
                and _trusted_phone(channel, sender) is None)

    async def new_contact(self, channel: str, sender: Sender) -> Doc:
        """The contact document for a sender nobody knows, with its `_id`, not yet inserted: the identity's
        unique index refuses it if the sender is known after all."""
        now = utcnow()
        email = _trusted_email(channel, sender)
        phone = _trusted_phone(channel, sender)
        # The name the customer gave, or none: the desk derives "Visitor N" from `number`, never from an id.
        name = (sender.display_name or "").strip() or None
        doc: Doc = {
            "_id": ObjectId(),
            "name": name,
            "name_lower": (name or "").lower(),
            "number": await self.store.next_number("contact"),
            "emails": [email] if email else [],
            "phones": [phone] if phone else [],
            "identities": [self._identity(channel, sender, now)],
            # An address the customer typed (widget pre-chat form): shown to agents, never used to link.
            **({"claimed_email": sender.email.strip().lower()} if sender.email and not email else {}),
            "attributes": {},
            "tags": [],
            "notes": [],
            "created_at": now,
            "updated_at": now,
        }
        doc["search_keys"] = search_keys(doc)
        return doc

    @staticmethod
    def _identity(channel: str, sender: Sender, now: Any) -> Doc:
        identity: Doc = {"channel": channel, "external_id": sender.external_id, "verified": sender.email_verified,
                         "added_at": now}
        if sender.display_name and channel not in ADDRESSED:
            identity["display_name"] = sender.display_name.strip()[:200]  # the handle agents recognise
        return identity

    async def _link(self, field: str, value: str, identity: Doc, now: Any) -> Doc | None:
        """Add `identity` to the live contact known by this trusted address, unless that contact holds a
        different verified identity of the same kind: two proofs are two people, never merged automatically."""
        for candidate in await self.store.contacts.find({field: value}).to_list():
            if candidate.get("merged_into") is not None or candidate.get("erased_at") is not None:
                continue
            if verified_conflict(visible_identities(candidate), [identity]):
                continue
            await self.store.contacts.update_one({"_id": candidate["_id"]}, {
                "$addToSet": {"identities": identity}, "$set": {"updated_at": now}})
            linked = {**candidate, "identities": [*candidate.get("identities", []), identity]}
            await self._reindex(linked)
            return linked
        return None

    async def _reindex(self, contact: Doc) -> None:
        keys = search_keys(contact)
        if keys != contact.get("search_keys"):
            await self.store.contacts.update_one({"_id": contact["_id"]}, {"$set": {"search_keys": keys}})

    async def _by_identity(self, channel: str, external_id: str) -> Doc | None:
        """Dotted-field equality uses the identity index everywhere; the element check is exact."""
        candidates = await self.store.contacts.find(
            {"identities.channel": channel, "identities.external_id": external_id}
        ).to_list()
        for contact in candidates:
            if holds_identity(contact, channel, external_id):
                return contact
        return None

    async def known(self, contact: Doc | None, channel: str, sender: Sender) -> Doc | None:
        """`contact` (read with the conversation the sender's thread holds open), brought up to date as
        `resolve_new` brings a contact it finds, if it holds the sender's identity: the identity's unique index makes
        it the contact `resolve_new` would find. None otherwise (a contact merged or erased since, a thread left
        open by someone else): the caller resolves the sender as usual."""
        if contact is None or not holds_identity(contact, channel, sender.external_id):
            return None
        return await self._refresh(contact, sender)

    async def _refresh(self, contact: Doc, sender: Sender) -> Doc:
        """Fill in a name or address the contact did not have yet; never overwrite."""
        updates: dict[str, Any] = {}
        if sender.display_name and (human_name(contact) is None or contact.get("name") in contact.get("emails", [])):
            updates["name"] = sender.display_name
            updates["name_lower"] = sender.display_name.lower()
        if sender.email and sender.email_verified and sender.email.lower() not in contact.get("emails", []):
            await self.store.contacts.update_one(
                {"_id": contact["_id"]}, {"$addToSet": {"emails": sender.email.lower()}}
            )
            contact = {**contact, "emails": [*contact.get("emails", []), sender.email.lower()]}
            updates["search_keys"] = search_keys({**contact, **updates})
        if updates:
            updates.setdefault("search_keys", search_keys({**contact, **updates}))
            await self.store.contacts.update_one({"_id": contact["_id"]}, {"$set": updates})
            contact = {**contact, **updates}
        return contact

    async def get(self, contact_id: ObjectId) -> Doc | None:
        """The contact, or the one it was merged into (a merged-away id resolves to the survivor)."""
        contact = await self.store.contacts.find_one({"_id": contact_id})
        hops = 0
        while contact is not None and contact.get("merged_into") is not None and hops < 10:
            contact = await self.store.contacts.find_one({"_id": contact["merged_into"]})
            hops += 1
        return contact


def _trusted_email(channel: str, sender: Sender) -> str | None:
    if channel in EMAIL_CHANNELS:
        return sender.external_id.lower()
    if sender.email and sender.email_verified:
        return sender.email.lower()
    return None


def _trusted_phone(channel: str, sender: Sender) -> str | None:
    if channel in PHONE_CHANNELS:
        # A withheld caller id comes as a per-call placeholder, not a number.
        return sender.external_id if _E164.fullmatch(sender.external_id) else None
    # No channel proves a phone number other than the phone channels themselves.
    return None
