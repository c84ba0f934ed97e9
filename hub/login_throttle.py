"""Login rate limits with exponential backoff, counted atomically in the database.

Three counters limit password guessing (see docs/security.md#desk-login-proxies-rate-limits-password-hashing-sessions):

* per client IP: 20 free failures, then each further attempt must wait twice as long as the one
  before (1 s, 2 s, 4 s ... up to 15 min): one address spraying many usernames.
* per (username, client IP): a few free failures, the same backoff. It only ever slows
  the address that made the failures, so nobody can lock another person out with it.
* per username: a larger budget, and a short cap (60 s), against guessing from many
  addresses; one address alone cannot exhaust it, because its own pair counter stops it
  first, and even many addresses delay the real user by at most the cap.

The address's counter is asked first, and this process remembers an address held back until its time
comes: a refused attempt from it then costs no database command and leaves no counter behind. Asked
second until 2026-12-06, it let one address past its 20 failures leave a new username's counter per
attempt (2,004 counters for 2,000 refused attempts, 7 commands each; a scratch flood), and every
counter costs the embedded server's TTL sweep a read each minute (docs/security.md). A counter that an
attempt created and gave back unused (refused further on, or the hashing pool full) is deleted, and so
is the address's counter after a right password if it never counted a failure.

Every attempt takes a numbered ticket on each counter *before* the password is checked, with
an update keyed by `_id` that carries its own condition, so parallel attempts are serialised by
the database, across hub processes too: within the free budget the `$inc` applies only while
`failures` is below it; past it, only on the exact count read (the ticket whose backoff time has
come). Of 50 simultaneous guesses only the tickets within the budget (or past their backoff
time) go on to verification; the others take none and are refused with the time to wait.

No `find_one_and_update`: secantusd-py's findAndModify scans the whole collection (a failed login
and a good one took 0.2 s at 1,000 counters, 2.6 s at 20,000: benchmarks/query_cost.py
`login_attempt`), and a credential-stuffing run is exactly what fills this collection.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from hub.models import utcnow
from hub.store import BY_ID, DuplicateKeyError, Store

#: A counter untouched for this long is forgotten (TTL index on `expires_at`).
FORGET_AFTER = timedelta(hours=1)
#: Rounds of read and conditional write one attempt makes on a counter raced by others.
MAX_TRIES = 20


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


LIMITS = (Limit("ip", free=20), Limit("pair", free=5), Limit("user", free=20, cap_seconds=60))
#: Addresses this process remembers as held back (the first remembered is forgotten first beyond it).
HELD_MAX = 10_000


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
        #: Addresses the database held back, and until when: refused again here without asking it. In the database
        #: that time only moves later (a right password gives back only its own ticket); tickets of parallel
        #: attempts from the address given back can bring it a step sooner there, not here: held a little longer.
        self._held: dict[str, datetime] = {}

    async def admit(self, username: str, ip: str) -> list[str]:
        """Take a ticket on every counter; the keys taken, or `Throttled` (tickets given back)."""
        until, now = self._held.get(ip), self.clock()
        if until is not None:
            if now < until:
                raise _throttled(until, now)
            del self._held[ip]
        taken: list[str] = []
        for limit in self.limits:
            key = limit.key(username, ip)
            now = self.clock()
            allowed_at = await self._take_ticket(limit, key, now)
            if allowed_at is not None:
                if limit.kind == "ip":
                    self._hold(ip, allowed_at)
                await self.give_back(taken)
                raise _throttled(allowed_at, now)
            taken.append(key)
        return taken

    def _hold(self, ip: str, until: datetime) -> None:
        """Remember a held-back address; beyond HELD_MAX, forget those whose time came, then the first remembered."""
        if len(self._held) >= HELD_MAX:
            now = self.clock()
            for gone in [key for key, at in self._held.items() if at <= now]:
                del self._held[gone]
            while len(self._held) >= HELD_MAX:
                del self._held[next(iter(self._held))]
        self._held[ip] = until

    async def _take_ticket(self, limit: Limit, key: str, now: datetime) -> datetime | None:
        """Count this attempt on `key` if it may be made now: None, else when it may (nothing counted).

        Every write is an `update_one` keyed by `_id` with its condition beside it, atomic and
        served by the `_id` index. Within the free budget: `$inc` while `failures < free` (one
        command; of parallel attempts exactly the budget's worth match). Past it: read the counter,
        and if the next ticket's backoff has run out, `$inc` only if the count is still the one read
        (another attempt taking that ticket first makes it match nothing: read again). A counter
        missing (first attempt, or reset by a successful login) is created with an idempotent
        `$setOnInsert` upsert, so a retry never counts one attempt twice.
        """
        for _ in range(MAX_TRIES):
            free = await self.collection.update_one({"_id": key, "failures": {"$lt": limit.free}},
                                                    {"$inc": {"failures": 1}})
            if free.modified_count:
                return None
            doc = await self.collection.find_one({"_id": key})
            if doc is None:  # no counter yet: create it, then count
                try:
                    await self.collection.update_one(
                        {"_id": key}, {"$setOnInsert": {"failures": 0, "expires_at": now + FORGET_AFTER}},
                        upsert=True)
                except DuplicateKeyError:
                    pass  # a parallel attempt created it
                continue
            count = int(doc["failures"])
            if count < limit.free:
                continue  # tickets were given back meanwhile: the budget has room again
            wait = timedelta(seconds=limit.delay(count + 1 - limit.free))
            allowed_at: datetime = doc.get("last_failure_at", now) + wait
            if now < allowed_at:
                return allowed_at
            if (await self.collection.update_one({"_id": key, "failures": count},
                                                 {"$inc": {"failures": 1}})).modified_count:
                return None
        # Many attempts on one counter at the same moment kept taking the ticket first: that is a
        # burst of guesses, and this one is refused like the others (it counted nothing).
        return now + timedelta(seconds=limit.base_seconds)

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
        """Return the tickets of an attempt that was not made (refused, or the hashing pool was full), and delete
        the counters left with nothing to remember (no ticket out, no failure ever).

        A parallel attempt that takes a ticket on one of them first keeps it (its count is no longer 0); one that
        created it and has not counted yet finds it gone and creates it again (`_take_ticket` reads again)."""
        if keys:
            await self.collection.update_many(
                {"_id": {"$in": keys}, "failures": {"$gt": 0}}, {"$inc": {"failures": -1}}, hint=BY_ID)
            await self.collection.delete_many(
                {"_id": {"$in": keys}, "failures": 0, "last_failure_at": {"$exists": False}}, hint=BY_ID)


def _throttled(allowed_at: datetime, now: datetime) -> Throttled:
    return Throttled(max(1, math.ceil((allowed_at - now).total_seconds())))
