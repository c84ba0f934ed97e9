"""Business-hours arithmetic with fixed instants (a frozen clock): weekdays, weekends, holidays, time
zones and daylight-saving changes, and pending pauses moving SLA due times (hub.calendars, hub.slaclock)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.calendars import ALWAYS, CalendarError, parse_calendar
from hub.slaclock import next_event_at, pending_events, resume_fields, start_clock, transfer_fields

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
OFFICE = {"timezone": "Europe/Berlin", "hours": {d: ["09:00-12:00", "13:00-17:00"] for d in
                                                 ("mon", "tue", "wed", "thu", "fri")},
          "holidays": [{"date": "2026-12-25", "yearly": True, "name": "Christmas"}, "2026-04-03"]}
HOUR = 3600


def local(zone: ZoneInfo, *args: int) -> datetime:
    return datetime(*args, tzinfo=zone)  # type: ignore[misc]


@dataclass(frozen=True)
class Targets:
    first_response_sla_seconds: int = HOUR
    resolution_sla_seconds: int = 8 * HOUR
    sla_warning_ratio: float = 0.8
    sla_warning_seconds: int = 0


def test_within_a_business_day_and_across_lunch() -> None:
    cal = parse_calendar("office", OFFICE)
    # Wednesday 2026-12-02, 10:00 Berlin: one hour later is 11:00; three hours run over the lunch break
    start = local(BERLIN, 2026, 12, 2, 10)
    assert cal.add_business_seconds(start, HOUR) == local(BERLIN, 2026, 12, 2, 11)
    assert cal.add_business_seconds(start, 3 * HOUR) == local(BERLIN, 2026, 12, 2, 14)
    assert cal.business_seconds_between(start, local(BERLIN, 2026, 12, 2, 14)) == 3 * HOUR
    # before opening: the clock starts at 09:00; after closing it goes on the next morning
    assert cal.add_business_seconds(local(BERLIN, 2026, 12, 2, 7), HOUR) == local(BERLIN, 2026, 12, 2, 10)
    assert cal.add_business_seconds(local(BERLIN, 2026, 12, 2, 16, 30), HOUR) == local(BERLIN, 2026, 12, 3, 9, 30)
    assert cal.is_open(local(BERLIN, 2026, 12, 2, 9)) and not cal.is_open(local(BERLIN, 2026, 12, 2, 12, 30))


def test_weekend_is_skipped() -> None:
    cal = parse_calendar("office", OFFICE)
    friday = local(BERLIN, 2026, 12, 4, 16)  # one hour before closing
    assert cal.add_business_seconds(friday, 2 * HOUR) == local(BERLIN, 2026, 12, 7, 10)  # Monday 10:00
    assert cal.business_seconds_between(friday, local(BERLIN, 2026, 12, 7, 10)) == 2 * HOUR
    assert cal.business_seconds_between(local(BERLIN, 2026, 12, 5, 9), local(BERLIN, 2026, 12, 6, 18)) == 0


def test_holidays_once_and_every_year() -> None:
    cal = parse_calendar("office", OFFICE)
    # Thursday 24 December 2026, 16:00; the 25th (yearly) is a Friday: next open time is Monday the 28th
    assert cal.add_business_seconds(local(BERLIN, 2026, 12, 24, 16), 2 * HOUR) == local(BERLIN, 2026, 12, 28, 10)
    # Christmas 2028 is a Monday: the yearly holiday applies again
    assert cal.add_business_seconds(local(BERLIN, 2028, 12, 22, 16, 30), HOUR) == local(BERLIN, 2028, 12, 26, 9, 30)
    # Good Friday 2026-04-03 only that year: Thursday 16:00 + 2 h is Monday 6 April 10:00
    assert cal.add_business_seconds(local(BERLIN, 2026, 4, 2, 16), 2 * HOUR) == local(BERLIN, 2026, 4, 6, 10)
    # ... and 2027-04-03 is an ordinary Saturday, 2027-04-02 (Friday) an ordinary working day
    assert cal.add_business_seconds(local(BERLIN, 2027, 4, 2, 16), HOUR) == local(BERLIN, 2027, 4, 2, 17)


def test_berlin_daylight_saving_changes() -> None:
    """Opening hours are wall-clock times: 09:00-17:00 both sides of each change; a round-the-clock day
    is as long as it really is (23 h on the last Sunday of March, 25 h on the last Sunday of October)."""
    cal = parse_calendar("office", OFFICE)
    # Friday 27 March 2026 16:00 CET + 2 h -> Monday 30 March 10:00 CEST (8 h UTC, not 9 h)
    due = cal.add_business_seconds(local(BERLIN, 2026, 3, 27, 16), 2 * HOUR)
    assert due == local(BERLIN, 2026, 3, 30, 10) and due.astimezone(UTC).hour == 8
    # Friday 23 October 2026 16:00 CEST + 2 h -> Monday 26 October 10:00 CET (9 h UTC)
    due = cal.add_business_seconds(local(BERLIN, 2026, 10, 23, 16), 2 * HOUR)
    assert due == local(BERLIN, 2026, 10, 26, 10) and due.astimezone(UTC).hour == 9
    round_clock = parse_calendar("always", {"timezone": "Europe/Berlin",
                                            "hours": {d: ["00:00-24:00"] for d in ("sat", "sun", "mon")}})
    march = (local(BERLIN, 2026, 3, 29, 0), local(BERLIN, 2026, 3, 30, 0))
    october = (local(BERLIN, 2026, 10, 25, 0), local(BERLIN, 2026, 10, 26, 0))
    assert round_clock.business_seconds_between(*march) == 23 * HOUR
    assert round_clock.business_seconds_between(*october) == 25 * HOUR
    # 24 open hours from Sunday midnight in March end at Monday 01:00 local (the day lost an hour)
    assert round_clock.add_business_seconds(march[0], 24 * HOUR) == local(BERLIN, 2026, 3, 30, 1)
    # a night shift across the spring-forward gap (01:00-04:00 local) holds 2 real hours
    night = parse_calendar("night", {"timezone": "Europe/Berlin", "hours": {"sun": ["01:00-04:00"]}})
    assert night.business_seconds_between(march[0], march[1]) == 2 * HOUR
    assert night.business_seconds_between(october[0], october[1]) == 4 * HOUR


def test_new_york_daylight_saving_and_zones_differ() -> None:
    ny = parse_calendar("ny", {**OFFICE, "timezone": "America/New_York", "holidays": []})
    # Friday 6 March 2026 16:00 EST + 2 h -> Monday 9 March 10:00 EDT (14:00 UTC; the Friday was 21:00 UTC)
    due = ny.add_business_seconds(local(NEW_YORK, 2026, 3, 6, 16), 2 * HOUR)
    assert due == local(NEW_YORK, 2026, 3, 9, 10) and due.astimezone(UTC).hour == 14
    # Friday 30 October 2026 16:00 EDT + 2 h -> Monday 2 November 10:00 EST (15:00 UTC)
    due = ny.add_business_seconds(local(NEW_YORK, 2026, 10, 30, 16), 2 * HOUR)
    assert due == local(NEW_YORK, 2026, 11, 2, 10) and due.astimezone(UTC).hour == 15
    # the same UTC instant is open in Berlin (15:00) and closed in New York (09:00 is opening: 08:59 closed)
    berlin = parse_calendar("office", OFFICE)
    at = datetime(2026, 12, 2, 13, 59, tzinfo=UTC)
    assert berlin.is_open(at) and not ny.is_open(at)


def test_round_the_clock_without_a_calendar() -> None:
    start = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)
    assert ALWAYS.add_business_seconds(start, 90) == start + timedelta(seconds=90)
    assert ALWAYS.business_seconds_between(start, start + timedelta(days=2)) == 2 * 86400


def test_due_times_warnings_and_pending_pauses() -> None:
    """A ticket opened Friday 16:30 in Berlin: first response due Monday 09:30, warning at 48 business
    minutes (Monday 09:18). Pending from Monday 09:10 to 10:10 (an hour of business time) moves both."""
    cal = parse_calendar("office", OFFICE)
    opened = local(BERLIN, 2026, 12, 4, 16, 30)
    sla = start_clock(Targets(), cal, opened)
    assert sla["first_response_due"] == local(BERLIN, 2026, 12, 7, 9, 30)
    assert sla["first_response_warn"] == local(BERLIN, 2026, 12, 7, 9, 18)
    assert sla["resolution_due"] == local(BERLIN, 2026, 12, 8, 9, 30)  # 8 business hours: Monday's 7 + 1
    ticket = {"status": "open", "sla": sla, "pending_since": local(BERLIN, 2026, 12, 7, 9, 10)}
    moved = resume_fields(ticket, cal, local(BERLIN, 2026, 12, 7, 10, 10))
    assert moved["sla.paused_business_seconds"] == HOUR
    assert moved["sla.first_response_due"] == local(BERLIN, 2026, 12, 7, 10, 30)
    assert moved["sla.first_response_warn"] == local(BERLIN, 2026, 12, 7, 10, 18)
    # a pause over a closed weekend moves nothing
    weekend = {"status": "open", "sla": sla, "pending_since": local(BERLIN, 2026, 12, 5, 9)}
    assert resume_fields(weekend, cal, local(BERLIN, 2026, 12, 6, 20)) == {"sla.paused_business_seconds": 0.0}
    # a pause across the lunch break counts only open time (11:30-14:00 is 1.5 h)
    lunch = {"status": "open", "sla": sla, "pending_since": local(BERLIN, 2026, 12, 7, 11, 30)}
    assert resume_fields(lunch, cal, local(BERLIN, 2026, 12, 7, 14))["sla.paused_business_seconds"] == 1.5 * HOUR


def test_warning_seconds_and_the_next_watch_time() -> None:
    cal = parse_calendar("office", OFFICE)
    opened = local(BERLIN, 2026, 12, 2, 9)
    sla = start_clock(Targets(sla_warning_seconds=600), cal, opened)
    assert sla["first_response_warn"] == local(BERLIN, 2026, 12, 2, 9, 50)
    ticket = {"status": "new", "sla": sla}
    assert next_event_at(ticket) == local(BERLIN, 2026, 12, 2, 9, 50)
    ticket["sla"] = {**sla, "events": {"first_response_warning": opened}}
    assert next_event_at(ticket) == local(BERLIN, 2026, 12, 2, 10)  # then the breach
    assert next_event_at({**ticket, "status": "pending"}) is None  # paused: nothing is due
    answered = {**ticket, "first_agent_reply_at": opened}  # only the resolution target is left
    assert [(t, k) for _, t, k in pending_events(answered)] == [("resolution", "warning"), ("resolution", "breach")]
    assert next_event_at({**ticket, "status": "solved"}) is None


def test_transfer_recomputes_with_the_new_queue() -> None:
    """Moved to a queue with a 4-hour first response and no calendar: due = start + 4 h + paused time."""
    cal = parse_calendar("office", OFFICE)
    opened = local(BERLIN, 2026, 12, 4, 16, 30)
    ticket = {"status": "open", "sla": {**start_clock(Targets(), cal, opened), "paused_business_seconds": 600.0}}
    fields = transfer_fields(ticket, Targets(first_response_sla_seconds=4 * HOUR), ALWAYS)
    assert fields["sla.calendar"] == "24/7"
    assert fields["sla.first_response_due"] == opened + timedelta(hours=4, minutes=10)


@pytest.mark.parametrize(("raw", "reason"), [
    ({"timezone": "Mars/Olympus", "hours": {"mon": ["09:00-17:00"]}}, "not an IANA time zone"),
    ({"hours": {"mon": ["09:00-12:00", "11:00-14:00"]}}, "overlap"),
    ({"hours": {"mon": ["17:00-09:00"]}}, "ends before it starts"),
    ({"hours": {"mon": ["9am-5pm"]}}, "not a time"),
    ({"hours": {"funday": ["09:00-17:00"]}}, "not a weekday"),
    ({"hours": {}}, "at least one weekday"),
    ({"hours": {"mon": ["09:00-17:00"]}, "holidays": ["25/12/2026"]}, "not a date"),
])
def test_bad_calendars_are_refused_with_the_reason(raw: dict[str, object], reason: str) -> None:
    with pytest.raises(CalendarError, match=reason):
        parse_calendar("office", raw)


@settings(max_examples=150, deadline=None)
@given(start=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)),
       seconds=st.integers(min_value=0, max_value=40 * HOUR), zone=st.sampled_from(["Europe/Berlin",
                                                                                   "America/New_York"]))
def test_adding_and_measuring_agree(start: datetime, seconds: int, zone: str) -> None:
    """Property: the open time between `start` and `start + s business seconds` is exactly `s`."""
    cal = parse_calendar("office", {**OFFICE, "timezone": zone})
    due = cal.add_business_seconds(start, seconds)
    assert due >= start
    assert cal.business_seconds_between(start, due) == pytest.approx(seconds)
    if seconds:
        assert cal.is_open(due - timedelta(microseconds=1))


def test_configured_calendars_are_checked_at_start(tmp_path: Path) -> None:
    from switchboard.config import ConfigError, load_settings

    config = tmp_path / "switchboard.yml"
    config.write_text('calendars:\n  office: {timezone: Europe/Berlin, hours: {mon: "09:00-17:00"}}\n'
                      "queues:\n  - {name: general, calendar: office}\n", encoding="utf-8")
    assert load_settings(config).queues["general"].calendar == "office"
    config.write_text('calendars:\n  office: {timezone: Nowhere/Land, hours: {mon: "09:00-17:00"}}\n'
                      "queues:\n  - {name: general}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"calendars\.office: timezone"):
        load_settings(config)
    config.write_text("queues:\n  - {name: general, calendar: office}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"queues\.general\.calendar: no calendar named 'office'"):
        load_settings(config)


def test_a_calendar_closed_for_a_year_falls_back_to_round_the_clock() -> None:
    mondays = [(datetime(2026, 1, 5) + timedelta(weeks=w)).date().isoformat() for w in range(110)]
    closed = parse_calendar("closed", {"hours": {"mon": ["09:00-17:00"]}, "holidays": mondays})
    with pytest.raises(CalendarError, match="no open time for a year"):
        closed.add_business_seconds(datetime(2026, 1, 1, tzinfo=UTC), HOUR)
    sla = start_clock(Targets(), closed, datetime(2026, 1, 1, tzinfo=UTC))
    assert sla["calendar"] == "24/7" and sla["first_response_due"] == datetime(2026, 1, 1, 1, tzinfo=UTC)
