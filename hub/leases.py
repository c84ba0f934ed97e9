"""Leases: a job that must run once across every hub process sharing the database.

A lease is one document per job name holding who has it and until when. Taking it is a
single `find_one_and_update` with upsert: it matches only when the lease is free, expired
or already ours, so of several processes ticking at once exactly one gets it (the others'
upserts collide on `_id` and lose). A holder that dies simply lets it expire.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from hub.store import BY_ID, DuplicateKeyError, ReturnDocument, Store


class Lease:
    def __init__(self, store: Store, name: str, seconds: float, holder: str | None = None) -> None:
        self.store = store
        self.name = name
        self.seconds = seconds
        #: Who we are: random per process (and per instance, so two hubs in one test differ).
        self.holder = holder or secrets.token_hex(8)

    async def acquire(self, now: datetime) -> bool:
        """Take (or extend) the lease until `now + seconds`; False when another holder has it."""
        try:
            doc = await self.store.leases.find_one_and_update(
                {"_id": self.name, "$or": [{"until": {"$lte": now}}, {"holder": self.holder}]},
                {"$set": {"holder": self.holder, "until": now + timedelta(seconds=self.seconds), "taken_at": now}},
                upsert=True, return_document=ReturnDocument.AFTER, hint=BY_ID,
            )
        except DuplicateKeyError:
            return False
        return doc is not None and doc.get("holder") == self.holder
