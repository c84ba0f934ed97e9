"""Rate limits per key (a chat, a network address, a mail sender), counted in this process's memory.

Used by the widget's message limits, the help center's feedback and the email channel's bot answers per
sender; nothing here is HTTP but `address_key` and `retry_after_seconds`.

Each rule ("10 messages in 10 seconds") is a sliding-window counter: the count of the current fixed window
plus the previous window's count, weighted by the part of it the sliding window still covers. Three numbers
per key and rule, and the same approximation Cloudflare and the `limits` library use. Keys are kept in the
order they were last counted, so the ones whose windows have all passed are at the front and are dropped from
there as new counts come: an admission costs the same however many keys are held.

Why not the `limits` library (Flask-Limiter's): its in-memory asyncio storage walks every counter it holds
on every hit, to expire old ones. Measured with a scratch loop of 2,000 admissions (a chat's two rules and
an address's one, checked, then counted): 0.30 ms per admission with 4,000 live counters, 0.54 ms with
6,000, 1.25 ms with 14,000, on the hub's event loop. This module, measured the same way
(`benchmarks/rate_limit.py`): 13-16 µs with 1,000 to 100,000 chats counted.

The counts are per process: behind a proxy that spreads requests over N hub processes, a key gets up to N
times its limit. Nothing here touches the database, so a flood costs the hub no commands.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

#: Most keys held: past it, the least recently counted are forgotten (their senders get a fresh count, so a
#: flood of new keys can only loosen the limit for others, never block anyone).
MAX_KEYS = 200_000


@dataclass(frozen=True)
class Rule:
    """At most `count` admissions in any `seconds`."""

    count: int
    seconds: float


def rules_from(config: Any, where: str) -> tuple[Rule, ...]:
    """Rules from configuration: a list of `{messages: N, seconds: S}` (or `requests: N`); [] or null: none.
    A mistake raises ValueError naming `where`, so a hub with a wrong limit refuses to start."""
    if config is None:
        return ()
    if not isinstance(config, list):
        raise ValueError(f"{where}: a list of {{messages: N, seconds: S}} is expected, not {config!r}")
    rules = []
    for item in config:
        count = item.get("messages", item.get("requests")) if isinstance(item, dict) else None
        seconds = item.get("seconds") if isinstance(item, dict) else None
        if not (isinstance(count, int) and not isinstance(count, bool) and count >= 1
                and isinstance(seconds, int | float) and not isinstance(seconds, bool) and seconds > 0):
            raise ValueError(f"{where}: each limit needs messages (a whole number, at least 1) and seconds "
                             f"(more than 0), not {item!r}")
        rules.append(Rule(count, float(seconds)))
    return tuple(rules)


class RateLimiter:
    """Sliding-window counters for any number of keys, under the same rules."""

    def __init__(self, rules: Sequence[Rule], clock: Callable[[], float] = time.monotonic,
                 max_keys: int = MAX_KEYS) -> None:
        self.rules = tuple(rules)
        #: Seconds, only ever compared with itself (tests hand in their own).
        self.clock = clock
        self._max_keys = max_keys
        #: key -> per rule: [window number, count in it, count in the window before]; least recently counted first
        self._counts: OrderedDict[str, list[list[float]]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._counts)

    def wait(self, key: str) -> float:
        """Seconds until `key` may be admitted once more (0: now). Counts nothing."""
        now = self.clock()
        slots = self._counts.get(key)
        if slots is None:
            return 0.0
        return max(_wait(rule, _rolled(slot, rule, now), now) for rule, slot in zip(self.rules, slots, strict=True))

    def count(self, key: str) -> None:
        """Count one admission of `key`."""
        now = self.clock()
        slots = self._counts.get(key)
        if slots is None:
            slots = self._counts[key] = [[now // rule.seconds, 0, 0] for rule in self.rules]
        else:
            self._counts.move_to_end(key)
        for rule, slot in zip(self.rules, slots, strict=True):
            _rolled(slot, rule, now)[1] += 1
        self._forget(now)

    def give_back(self, key: str) -> None:
        """Undo one `count` of `key` (the request was not taken after all): from the current window, or from
        the one before if the count was made there."""
        slots = self._counts.get(key)
        if slots is None:
            return
        now = self.clock()
        for rule, slot in zip(self.rules, slots, strict=True):
            slot = _rolled(slot, rule, now)
            if slot[1] > 0:
                slot[1] -= 1
            elif slot[2] > 0:
                slot[2] -= 1

    def clear(self) -> None:
        """Forget every count (tests)."""
        self._counts.clear()

    def _forget(self, now: float) -> None:
        """Drop, from the front, the keys whose windows have all passed (a key counted later is behind them),
        and the least recently counted past `max_keys`."""
        while self._counts:
            key, slots = next(iter(self._counts.items()))
            passed = all(slot[0] < now // rule.seconds - 1 for rule, slot in zip(self.rules, slots, strict=True))
            if not passed and len(self._counts) <= self._max_keys:
                return
            del self._counts[key]


def admit(checks: Iterable[tuple[RateLimiter, str]]) -> float:
    """Admit a request only if every (limiter, key) has room: 0 and each counted, or the longest wait in
    seconds and nothing counted (a refused request does not use up another limit)."""
    checks = list(checks)
    longest = max((limiter.wait(key) for limiter, key in checks if limiter.rules), default=0.0)
    if longest > 0:
        return longest
    for limiter, key in checks:
        if limiter.rules:
            limiter.count(key)
    return 0.0


def give_back(checks: Iterable[tuple[RateLimiter, str]]) -> None:
    """Undo an `admit` of these (limiter, key) pairs: the request was admitted but not taken (refused as
    invalid, or the database failed), so a customer resending it is not held back for it."""
    for limiter, key in checks:
        if limiter.rules:
            limiter.give_back(key)


def retry_after_seconds(wait: float) -> int:
    """A wait as a `Retry-After` value: whole seconds, at least 1."""
    return max(1, math.ceil(wait))


def address_key(remote: str | None) -> str:
    """The key of a client's address: IPv4 as is, IPv6 by its /64 (one subscriber's network), else as given."""
    try:
        ip = ipaddress.ip_address(remote or "")
    except ValueError:
        return remote or "?"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def _rolled(slot: list[float], rule: Rule, now: float) -> list[float]:
    """The slot moved on to the window `now` falls in."""
    window = now // rule.seconds
    if window != slot[0]:
        slot[2] = slot[1] if window == slot[0] + 1 else 0
        slot[1] = 0
        slot[0] = window
    return slot


def _wait(rule: Rule, slot: list[float], now: float) -> float:
    """Seconds until one more admission fits under `rule`, the slot rolled to `now`'s window."""
    _, current, previous = slot
    done = now / rule.seconds - slot[0]  # part of the current window gone, 0 ≤ done < 1
    if previous * (1 - done) + current + 1 <= rule.count + 1e-9:  # at the time a wait ends, float rounding aside
        return 0.0
    room = rule.count - 1
    if current <= room:
        # The previous window's weight must fall to what is left: previous · (1 - f) ≤ room - current.
        return max(0.0, (1 - (room - current) / previous) - done) * rule.seconds
    # Full already in this window: wait for the next, then for this window's count to weigh little enough.
    return (1 - done + (1 - room / current)) * rule.seconds
