"""The history metrics' definitions, once: what one ticket or conversation contributes, and to which hour.

A record's *contribution* is a set of parts, each `(hour, dimensions) -> counters`. Every
figure of the history is a sum of these counters (and ratios of sums); the raw computation
(`hub.history`) sums the contributions of the raw records, the aggregates (`hub.aggregates`)
keep them summed in buckets. Both call these functions, so they cannot disagree on a definition.

Figures are counted in the hour the thing happened (event time, UTC):

- `opened` at `created_at`; `escalated` at `handoff_at` for tickets the bot handed over (not
  e-mail or follow-ups after close). A ticket is opened once however often it is reopened. A ticket an agent
  started by writing first (`STARTED_BY_AGENT`) is opened, solved and rated, never escalated, answered or
  abandoned: nobody waited.
- `answered`, the first-response histogram, `wait_sum` and `within_target` at the first human
  agent reply (`first_agent_reply_at`: bot and system messages never set it, and a transfer keeps it).
- `solved`, the resolution histogram and `res_sum` at the LAST solve (`solved_at` is cleared when a
  ticket reopens and set again by the next solve); resolution = solved - created - time pending.
- `abandoned` (+ `ab_ended` / `ab_left`) at `abandoned_at`; a ticket solved or closed without any
  agent answer counts as abandoned `ab_unanswered` at its solve.
- `csat_ratings` / `csat_satisfied` (score 4-5) at the rating (one rating per ticket, hub.csat).
- Bot conversations (at least one bot turn) count at their LAST close: `bot_closed`, and
  `bot_contained` when never handed to a human; `bot_messages` (bot turns) and `fallbacks` with them.
  Open ones contribute nothing (the history shows them apart as `bot_open`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

#: Relative error of a percentile read from the histogram (values of 1 s and more).
ALPHA = 0.01
GAMMA = (1 + ALPHA) / (1 - ALPHA)
_LOG_GAMMA = math.log(GAMMA)
#: Below this a value falls in bin 0, read back as half of it (absolute error ≤ 0.5 s).
MIN_VALUE = 1.0
PERCENTILE_ERROR = "≤ 1 % relative (log buckets, gamma = 1.0202); values under 1 s: ≤ 0.5 s absolute"

#: Handoff reasons that are not a bot handing over (so not counted as `escalated`).
NOT_BOT_REASONS = frozenset({"email", "reply_after_close"})
#: The reason of a ticket an agent started by writing to the customer first (hub.outbound). Nobody waited for an
#: answer: it is opened, solved and rated like any ticket, but neither escalated, answered (its first message is no
#: first response) nor abandoned.
STARTED_BY_AGENT = "outbound"

#: Dimensions of a part, in key order.
DIMENSIONS = ("queue", "channel", "agent", "intent", "tags")
Key = tuple[str, Any, Any, Any, Any, tuple[str, ...]]  # (hour ISO, queue, channel, agent, intent, tags)
Counters = dict[str, float]
Parts = dict[Key, Counters]


def bin_of(seconds: float) -> int:
    """The histogram bin of a duration: 0 under a second, else ceil(log_gamma(x)) + 1."""
    if seconds < MIN_VALUE:
        return 0
    return math.ceil(math.log(seconds) / _LOG_GAMMA - 1e-9) + 1


def bin_value(index: int) -> float:
    """The value a bin stands for: within ALPHA of every value in it."""
    if index == 0:
        return MIN_VALUE / 2
    return 2 * GAMMA ** (index - 1) / (GAMMA + 1)


def nearest_rank(count: int, q: float) -> int:
    """The 1-based rank of the q-quantile among `count` values (nearest-rank definition)."""
    return max(1, math.ceil(q * count - 1e-9))


def exact_percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    return sorted(values)[nearest_rank(len(values), q) - 1]


def histogram_percentile(bins: Mapping[int, float], q: float) -> float | None:
    """The q-quantile of the values counted in `bins` (bin index -> count), within ALPHA."""
    total = sum(bins.values())
    if total <= 0:
        return None
    rank = nearest_rank(round(total), q)
    seen = 0.0
    for index in sorted(bins):
        seen += bins[index]
        if seen >= rank:
            return round(bin_value(index), 3)
    return round(bin_value(max(bins)), 3)


def hour_of(at: datetime) -> datetime:
    at = at if at.tzinfo else at.replace(tzinfo=UTC)
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _add(parts: Parts, at: datetime, dims: tuple[Any, Any, Any, Any, tuple[str, ...]], **counters: float) -> Key:
    key: Key = (hour_of(at).isoformat(), *dims)
    slot = parts.setdefault(key, {})
    for name, value in counters.items():
        if value:
            slot[name] = slot.get(name, 0) + value
    return key


def _id(value: Any) -> str | None:
    return str(value) if value is not None else None


def ticket_parts(ticket: Mapping[str, Any], answer_target_seconds: float,
                 values: dict[tuple[str, Key], list[float]] | None = None) -> Parts:
    """What one ticket contributes, by hour and dimensions (see the module's docstring).

    `values`, when given, receives the exact durations behind the histograms (the raw computation's
    percentiles), under `("fr" | "rs", part key)`."""
    parts: Parts = {}
    queue, channel, intent = ticket.get("queue"), ticket.get("channel"), ticket.get("intent")
    tags = tuple(sorted(ticket.get("tags") or []))
    assignee = _id(ticket.get("assignee_id"))
    responder = _id(ticket.get("first_responder_id") or ticket.get("assignee_id"))
    owner = (queue, channel, assignee, intent, tags)
    created = ticket.get("created_at")
    if created is None:
        return parts
    _add(parts, created, owner, opened=1)
    handoff = ticket.get("handoff_at") or created
    waited = ticket.get("reason") != STARTED_BY_AGENT  # a customer waited for an answer
    if waited and ticket.get("reason") not in NOT_BOT_REASONS:
        _add(parts, handoff, owner, escalated=1)
    first = ticket.get("first_agent_reply_at")
    if first is not None and waited:
        wait = max(0.0, (first - handoff).total_seconds())
        key = _add(parts, first, (queue, channel, responder, intent, tags), answered=1, wait_sum=wait,
                   within_target=int(wait <= answer_target_seconds), **{f"fr_{bin_of(wait)}": 1})
        if values is not None:
            values.setdefault(("fr", key), []).append(wait)
    solved = ticket.get("solved_at")
    if solved is not None and ticket.get("status") in ("solved", "closed"):
        paused = float((ticket.get("sla") or {}).get("paused_seconds", 0) or 0)
        resolution = max(0.0, (solved - created).total_seconds() - paused)
        key = _add(parts, solved, owner, solved=1, res_sum=resolution, **{f"rs_{bin_of(resolution)}": 1})
        if values is not None:
            values.setdefault(("rs", key), []).append(resolution)
        if first is None and ticket.get("abandoned_at") is None and waited:
            _add(parts, solved, owner, abandoned=1, ab_unanswered=1)
    abandoned = ticket.get("abandoned_at")
    if abandoned is not None and first is None and waited:
        reason = ticket.get("abandon_reason") or "ended"
        _add(parts, abandoned, owner, abandoned=1, **{"ab_left" if reason == "left" else "ab_ended": 1})
    csat = ticket.get("csat") or {}
    if csat.get("score") is not None:
        _add(parts, csat.get("at") or solved or created, owner, csat_ratings=1,
             csat_satisfied=int(int(csat["score"]) >= 4))
    return parts


def conversation_parts(conversation: Mapping[str, Any]) -> Parts:
    """A bot conversation's contribution: at its last close, if it is closed."""
    parts: Parts = {}
    bot = conversation.get("bot") or {}
    turns = int(bot.get("turns") or 0)
    closed = conversation.get("closed_at")
    if turns <= 0 or conversation.get("open") or closed is None:
        return parts
    handed = conversation.get("handoff_at") is not None or conversation.get("ticket_id") is not None
    _add(parts, closed, (None, conversation.get("channel"), None, bot.get("last_intent"), ()),
         bot_closed=1, bot_contained=int(not handed), bot_messages=turns, fallbacks=int(bot.get("fallbacks") or 0))
    return parts


def merge_into(total: Parts, parts: Parts, sign: int = 1) -> None:
    for key, counters in parts.items():
        slot = total.setdefault(key, {})
        for name, value in counters.items():
            slot[name] = slot.get(name, 0) + sign * value


def delta(old: Parts, new: Parts) -> Parts:
    """new - old, without the parts and counters that did not change."""
    out: Parts = {}
    for key in set(old) | set(new):
        a, b = old.get(key, {}), new.get(key, {})
        changed = {n: b.get(n, 0) - a.get(n, 0) for n in set(a) | set(b) if b.get(n, 0) != a.get(n, 0)}
        if changed:
            out[key] = changed
    return out


def parts_to_doc(parts: Parts) -> list[dict[str, Any]]:
    return [{"k": [key[0], *key[1:5], list(key[5])], "c": counters} for key, counters in parts.items()]


def parts_from_doc(items: Iterable[Mapping[str, Any]]) -> Parts:
    out: Parts = {}
    for item in items:
        k = item["k"]
        out[(k[0], k[1], k[2], k[3], k[4], tuple(k[5]))] = dict(item["c"])
    return out


def day_of(hour_iso: str) -> datetime:
    return datetime.fromisoformat(hour_iso).replace(hour=0)


def floor_day(at: datetime) -> datetime:
    return hour_of(at).replace(hour=0)


#: The coarse rollups of the agent table: blocks of 4, 16 and 64 days, aligned on 1970-01-01 (`g` "d4" ...).
BLOCK_DAYS = (4, 16, 64)
_EPOCH_DAY = datetime(1970, 1, 1, tzinfo=UTC)


def block_of(day: datetime, size: int) -> datetime:
    """The first day of the `size`-day block that holds `day` (a UTC midnight)."""
    index = (day - _EPOCH_DAY).days
    return _EPOCH_DAY + timedelta(days=index - index % size)


def day_blocks(start: datetime, end: datetime) -> list[tuple[int, datetime]]:
    """Whole days [start, end) (UTC midnights) as the fewest aligned blocks: (days, first day), in order."""
    out: list[tuple[int, datetime]] = []
    day = start
    while day < end:
        size = next(s for s in (*reversed(BLOCK_DAYS), 1)
                    if s == 1 or (block_of(day, s) == day and day + timedelta(days=s) <= end))
        out.append((size, day))
        day += timedelta(days=size)
    return out


def ceil_hour(at: datetime) -> datetime:
    floor = hour_of(at)
    return floor if floor == at else floor + timedelta(hours=1)
