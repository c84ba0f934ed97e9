"""Business-hours calendars: when a queue's SLA clock runs.

A calendar is weekly opening hours (several intervals a day), holidays (a date, or a
date every year) and an IANA time zone. Times are wall-clock times in that zone, so a
09:00-17:00 day is 09:00-17:00 on both sides of a daylight-saving change; a day whose
interval spans the change (00:00-24:00 on the last Sunday of March in Berlin) is as long
as it really is (23 hours). Arithmetic works on real elapsed seconds within the open
intervals: `add_business_seconds(start, s)` is the moment `s` open seconds after `start`,
`business_seconds_between(a, b)` the open seconds in between. A queue without a calendar
runs round the clock (`ALWAYS`).

Pure: no database, no clock. `parse_calendar` checks what an admin or the YAML gave and
raises `CalendarError` with a one-line reason (unknown zone, overlapping intervals...).
"""

from __future__ import annotations

import functools
import itertools
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: A calendar with no open time for this many days in a row is refused (or, at run time, stops a search).
MAX_CLOSED_DAYS = 370
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$|^24:00$")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


class CalendarError(ValueError):
    """A calendar that cannot be used, with the reason in words."""


@dataclass(frozen=True)
class Holiday:
    day: date
    #: The same month and day every year (Christmas), rather than this one date.
    yearly: bool = False
    name: str = ""

    def falls_on(self, d: date) -> bool:
        if self.yearly:
            return (d.month, d.day) == (self.day.month, self.day.day)
        return d == self.day


#: One open interval of a day, as minutes since local midnight (end 1440 = midnight after).
Interval = tuple[int, int]


@dataclass(frozen=True)
class Calendar:
    name: str
    timezone: str = "UTC"
    #: weekday (0 = Monday) -> sorted, non-overlapping open intervals
    hours: dict[int, tuple[Interval, ...]] = field(default_factory=dict)
    holidays: tuple[Holiday, ...] = ()
    #: Open round the clock (no hours, no holidays): the default for a queue without a calendar.
    always: bool = False

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def is_holiday(self, d: date) -> bool:
        return any(h.falls_on(d) for h in self.holidays)

    def open_intervals(self, d: date) -> list[tuple[datetime, datetime]]:
        """The open intervals of local date `d`, as aware UTC datetimes (empty on a holiday)."""
        if self.is_holiday(d):
            return []
        zone = self.zone
        midnight = datetime(d.year, d.month, d.day)
        return [(_utc(midnight + timedelta(minutes=a), zone), _utc(midnight + timedelta(minutes=b), zone))
                for a, b in self.hours.get(d.weekday(), ())]

    def is_open(self, at: datetime) -> bool:
        if self.always:
            return True
        local = at.astimezone(self.zone).date()
        return any(a <= at < b for day in (local - timedelta(days=1), local)
                   for a, b in self.open_intervals(day))

    def add_business_seconds(self, start: datetime, seconds: float) -> datetime:
        """The moment `seconds` of open time after `start` (at `start` itself if 0)."""
        if self.always or seconds <= 0:
            return start + timedelta(seconds=max(0.0, seconds))
        left = timedelta(seconds=seconds)
        day = start.astimezone(self.zone).date() - timedelta(days=1)  # an interval may run past midnight UTC
        closed = 0
        while closed <= MAX_CLOSED_DAYS:
            intervals = self.open_intervals(day)
            closed = closed + 1 if not intervals else 0
            for a, b in intervals:
                a = max(a, start)
                if b <= a:
                    continue
                if b - a >= left:
                    return a + left
                left -= b - a
            day += timedelta(days=1)
        raise CalendarError(f"calendar {self.name!r} has no open time for a year")

    def business_seconds_between(self, a: datetime, b: datetime) -> float:
        """Open seconds in [a, b) (0 if b is not after a)."""
        if b <= a:
            return 0.0
        if self.always:
            return (b - a).total_seconds()
        total = timedelta()
        day = a.astimezone(self.zone).date() - timedelta(days=1)
        last = b.astimezone(self.zone).date()
        while day <= last:
            for x, y in self.open_intervals(day):
                x, y = max(x, a), min(y, b)
                if y > x:
                    total += y - x
            day += timedelta(days=1)
        return total.total_seconds()

    def as_dict(self) -> dict[str, Any]:
        """The stored (and API) shape; `parse_calendar` reads it back."""
        return {"name": self.name, "timezone": self.timezone,
                "hours": {WEEKDAYS[d]: [[_hhmm(a), _hhmm(b)] for a, b in self.hours.get(d, ())] for d in range(7)},
                "holidays": [{"date": h.day.isoformat(), "yearly": h.yearly, "name": h.name} for h in self.holidays]}


#: Open round the clock: a queue without a calendar.
ALWAYS = Calendar("24/7", always=True)


@functools.cache
def _zones() -> frozenset[str]:
    """The IANA zone names this system knows (the tzdata package, else the OS database)."""
    return frozenset(available_timezones())


def _utc(local: datetime, zone: ZoneInfo) -> datetime:
    """A naive local wall time in `zone` as aware UTC. A time skipped by a spring-forward change is
    read with the offset before it (02:30 in Berlin on the last Sunday of March is 03:30 CEST)."""
    return local.replace(tzinfo=zone).astimezone(UTC)


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _minutes(text: Any, where: str) -> int:
    value = str(text).strip()
    if not _HHMM.match(value):
        raise CalendarError(f"{where}: {value!r} is not a time HH:MM (00:00 to 24:00)")
    hours, minutes = value.split(":")
    return int(hours) * 60 + int(minutes)


def parse_interval(raw: Any, where: str) -> Interval:
    """`["09:00", "12:30"]` or `"09:00-12:30"` -> minutes since midnight."""
    if isinstance(raw, str):
        parts = raw.split("-")
    elif isinstance(raw, list | tuple):
        parts = list(raw)
    else:
        parts = []
    if len(parts) != 2:
        raise CalendarError(f"{where}: an interval is a start and an end, like 09:00-17:00")
    start, end = _minutes(parts[0], where), _minutes(parts[1], where)
    if end <= start:
        raise CalendarError(f"{where}: {_hhmm(start)}-{_hhmm(end)} ends before it starts")
    return start, end


def parse_calendar(name: str, raw: dict[str, Any]) -> Calendar:
    """A calendar from its YAML/API shape: `{timezone, hours: {mon: ["09:00-17:00", ...], ...},
    holidays: [{date: 2026-12-25, yearly: true, name: Christmas} | "2026-12-25"]}`."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise CalendarError("name: 1-40 lower-case letters, digits, - or _")
    if not isinstance(raw, dict):
        raise CalendarError(f"calendar {name}: expected a mapping with timezone, hours and holidays")
    tz = str(raw.get("timezone") or "UTC").strip()
    if tz not in _zones():
        raise CalendarError(f"timezone: {tz!r} is not an IANA time zone (like Europe/Berlin)")
    hours_raw = raw.get("hours") or {}
    if not isinstance(hours_raw, dict):
        raise CalendarError("hours: a mapping from weekday (mon..sun) to intervals")
    hours: dict[int, tuple[Interval, ...]] = {}
    for key, intervals in hours_raw.items():
        day = str(key).strip().lower()[:3]
        if day not in WEEKDAYS:
            raise CalendarError(f"hours: {key!r} is not a weekday (mon, tue, wed, thu, fri, sat, sun)")
        if intervals in (None, "", []):
            continue
        listed = intervals if isinstance(intervals, list) else [p for p in str(intervals).split(",") if p.strip()]
        parsed = sorted(parse_interval(i, f"hours.{day}") for i in listed)
        for (a1, b1), (a2, b2) in itertools.pairwise(parsed):
            if a2 < b1:
                raise CalendarError(f"hours.{day}: {_hhmm(a1)}-{_hhmm(b1)} and {_hhmm(a2)}-{_hhmm(b2)} overlap")
        hours[WEEKDAYS.index(day)] = tuple(parsed)
    if not hours:
        raise CalendarError("hours: at least one weekday needs opening hours")
    holidays = []
    for i, h in enumerate(raw.get("holidays") or []):
        spec = h if isinstance(h, dict) else {"date": h}
        value = spec.get("date")
        try:
            day = value if isinstance(value, date) else date.fromisoformat(str(value))
        except ValueError as exc:
            raise CalendarError(f"holidays[{i}]: {value!r} is not a date YYYY-MM-DD") from exc
        holidays.append(Holiday(day, bool(spec.get("yearly", False)), str(spec.get("name") or "")[:80]))
    return Calendar(name, tz, hours, tuple(holidays))
