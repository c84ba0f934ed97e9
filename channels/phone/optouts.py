"""SMS opt-out (STOP) and opt-in (START) keywords, and the book that remembers who opted out.

Carriers require that a number which texted STOP gets nothing more from the
number it texted until it texts START. The book is the `sms_optouts` collection,
keyed by the number pair (`_id` lookups only); the latest state is also mirrored
on the contact (`attributes.sms_opted_out`) so agents see it. The SMS sender asks
the book before every send.
"""

from __future__ import annotations

import enum
from typing import Any

from hub.models import utcnow
from hub.store import ObjectId, Store

COLLECTION = "sms_optouts"
OPT_OUT_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"})
OPT_IN_WORDS = frozenset({"START", "YES", "UNSTOP"})


class Keyword(enum.StrEnum):
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"


def keyword_of(body: str, opt_out_type: str | None = None) -> Keyword | None:
    """The opt-out/opt-in keyword a message *is* (not merely contains), as Twilio matches them.

    `OptOutType` is what Twilio itself recognised when Advanced Opt-Out is on; it wins.
    """
    if opt_out_type:
        kind = opt_out_type.strip().upper()
        if kind == "STOP":
            return Keyword.OPT_OUT
        if kind == "START":
            return Keyword.OPT_IN
    word = body.strip().strip(".!").strip().upper()
    if word in OPT_OUT_WORDS:
        return Keyword.OPT_OUT
    if word in OPT_IN_WORDS:
        return Keyword.OPT_IN
    return None


def pair_key(customer: str, our_number: str) -> str:
    return f"{customer}|{our_number}"


class OptOutBook:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.collection = store.db[COLLECTION]

    async def record(self, customer: str, our_number: str, opted_out: bool, source: str) -> None:
        """Remember the latest keyword for this pair (idempotent: a replayed STOP sets the same state)."""
        await self.collection.update_one(
            {"_id": pair_key(customer, our_number)},
            {"$set": {"customer": customer, "our_number": our_number, "opted_out": opted_out, "source": source,
                      "updated_at": utcnow()}},
            upsert=True,
        )

    async def mirror_on_contact(self, contact_id: str, opted_out: bool) -> None:
        await self.store.contacts.update_one(
            {"_id": ObjectId(contact_id)}, {"$set": {"attributes.sms_opted_out": opted_out}}
        )

    async def is_opted_out(self, customer: str, our_number: str) -> bool:
        doc: dict[str, Any] | None = await self.collection.find_one(
            {"_id": pair_key(customer, our_number)}, projection={"opted_out": 1}
        )
        return bool(doc and doc.get("opted_out"))
