"""Login rate limits with exponential backoff, counted atomically in the database.

Three counters limit password guessing (see docs/security.md#desk-login-proxies-rate-limits-password-hashing-sessions):

* per (username, client IP): a few free failures, then each further attempt must wait
  twice as long as the one before (1 s, 2 s, 4 s ... up to 15 min). It only ever slows
  the address that made the failures, so nobody can lock another person out with it.
* per client IP: a larger budget, the same backoff (one address spraying many usernames).
* per username: a larger budget still, and a short cap (60 s), against guessing from many
  addresses; one address alone cannot exhaust it, because its own pair counter stops it
  first, and even many addresses delay the real user by at most the cap.

Every attempt takes a numbered ticket with one `find_one_and_update` + `$inc` on the
counter document (created if missing) *before* the password is checked, so parallel attempts are
serialised by the database, across hub processes too: of 50 simultaneous guesses only
the tickets within the budget (or past their backoff time) go on to verification; the
others give their ticket back and are refused with the time to wait.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from hub.models import utcnow
from hub.store import BY_ID, Doc, DuplicateKeyError, ReturnDocument, Store

#: A counter untouched for this long is forgotten (TTL index on `expires_at`).
FORGET_AFTER = timedelta(hours=1)


@dataclass(frozen=True)
class Limit:
    kind: str
    #: Failures allowed before backoff starts.
    free: int
    base_seconds: float = 1.0
    cap_seconds: float = 900.0

    def key(self, username: str, ip: str) -> str:
        return {"pair": f"pair:{ip}|{username}", "ip": f"ip:{ip}", "user": f"user:{username}"}[self.kind]

    def delay(self, over: int) -> float:
        """Wait before the `over`-th attempt beyond the free budget, counted from the last failure."""
        return min(self.cap_seconds, self.base_seconds * 2 ** min(over - 1, 30))


LIMITS = (Limit("pair", free=5), Limit("ip", free=20), Limit("user", free=20, cap_seconds=60))


class Throttled(Exception):
    """Too many failed logins: `retry_after` seconds until the next attempt may be made."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed logins; try again in {retry_after} s")
        self.retry_after = retry_after


class LoginThrottle:
    def __init__(self, store: Store, limits: tuple[Limit, ...] = LIMITS,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.collection = store.login_throttle
        self.limits = limits
        #: Replaceable so tests can walk the backoff without sleeping.
        self.clock = clock

    async def admit(self, username: str, ip: str) -> list[str]:
        """Take a ticket on every counter; the keys taken, or `Throttled` (tickets given back)."""
        taken: list[str] = []
        for limit in self.limits:
            key = limit.key(username, ip)
            now = self.clock()
            doc = await self._take_ticket(key, now)
            taken.append(key)
            over = doc["failures"] - limit.free
            if over <= 0:
                continue
            allowed_at = doc.get("last_failure_at", now) + timedelta(seconds=limit.delay(over))
            if now < allowed_at:
                await self.give_back(taken)
                raise Throttled(max(1, math.ceil((allowed_at - now).total_seconds())))
        return taken

    async def _take_ticket(self, key: str, now: datetime) -> Doc:
        """`$inc` the counter (created first if missing); the document after the increment.

        Creating and incrementing are two steps on purpose: a single upserting
        `find_one_and_update` raced by parallel first attempts can fail or (secantusd-py)
        return nothing after incrementing, and a retry would then count one attempt twice.
        The `$setOnInsert` upsert is idempotent; the `$inc` alone is atomic.
        """
        for _ in range(5):
            doc: Doc | None = await self.collection.find_one_and_update(
                {"_id": key}, {"$inc": {"failures": 1}}, return_document=ReturnDocument.AFTER)
            if doc is not None:
                return doc
            try:  # no counter yet (or a successful login just deleted it): create it, then increment
                await self.collection.update_one(
                    {"_id": key}, {"$setOnInsert": {"failures": 0, "expires_at": now + FORGET_AFTER}}, upsert=True)
            except DuplicateKeyError:
                pass  # a parallel attempt created it
        raise RuntimeError(f"login counter {key!r} could not be updated")

    async def failed(self, keys: list[str]) -> None:
        """The admitted attempt was wrong: its tickets stay, and the backoff counts from now."""
        now = self.clock()
        await self.collection.update_many(
            {"_id": {"$in": keys}}, {"$max": {"last_failure_at": now}, "$set": {"expires_at": now + FORGET_AFTER}})

    async def succeeded(self, username: str, ip: str, keys: list[str]) -> None:
        """Right password: the user's and this address's pair counters start again.

        The per-IP counter only gets its ticket back: a valid account of one's own must
        not wipe the failures an address made guessing other usernames.
        """
        resets = [limit.key(username, ip) for limit in self.limits if limit.kind in ("pair", "user")]
        await self.collection.delete_many({"_id": {"$in": resets}})
        await self.give_back([k for k in keys if k not in resets])

    async def give_back(self, keys: list[str]) -> None:
        """Return the tickets of an attempt that was not made (refused, or the hashing pool was full)."""
        if keys:
            await self.collection.update_many(
                {"_id": {"$in": keys}, "failures": {"$gt": 0}}, {"$inc": {"failures": -1}}, hint=BY_ID)
