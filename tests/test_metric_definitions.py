"""Hand-computed fixtures for every history definition (hub.metricdefs), one edge case each."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from hub.metricdefs import (
    ALPHA,
    bin_of,
    bin_value,
    conversation_parts,
    exact_percentile,
    histogram_percentile,
    merge_into,
    ticket_parts,
)

T0 = datetime(2026, 11, 30, 10, 5, tzinfo=UTC)
ALICE, BOB = "a" * 24, "b" * 24


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def ticket(**fields: Any) -> dict[str, Any]:
    return {"queue": "general", "channel": "widget", "intent": "order_status", "tags": ["vip"], "status": "open",
            "reason": "human_requested", "created_at": T0, "handoff_at": T0, "sla": {"paused_seconds": 0}, **fields}


def totals(parts: Any) -> dict[str, float]:
    out: dict[str, float] = {}
    for counters in parts.values():
        for name, value in counters.items():
            out[name] = out.get(name, 0) + value
    return out


def hours(parts: Any) -> dict[str, set[str]]:
    """Which hour each counter landed in."""
    out: dict[str, set[str]] = {}
    for key, counters in parts.items():
        for name in counters:
            out.setdefault(name, set()).add(key[0][11:16])
    return out


def test_a_ticket_reopened_after_solve_counts_once_and_resolves_at_its_last_solve() -> None:
    # created 10:05, answered 10:15, solved 11:00, reopened 12:00 (solved_at cleared), solved again 13:30:
    # the record holds the last solve; pending 20 minutes in between is not resolution time.
    parts = ticket_parts(ticket(status="solved", first_agent_reply_at=at(10), first_responder_id=ALICE,
                                assignee_id=ALICE, solved_at=at(205), sla={"paused_seconds": 1200}), 60)
    t = totals(parts)
    assert (t["opened"], t["solved"], t["answered"]) == (1, 1, 1)
    assert t["res_sum"] == 205 * 60 - 1200 == 11100
    assert hours(parts)["solved"] == {"13:00"} and hours(parts)["opened"] == {"10:00"}


def test_transfers_keep_the_first_response_with_whoever_gave_it() -> None:
    # Alice answered after 6 minutes and transferred the ticket to Bob, who solved it.
    parts = ticket_parts(ticket(status="solved", first_agent_reply_at=at(6), first_responder_id=ALICE,
                                assignee_id=BOB, solved_at=at(60)), 60)
    by_agent: dict[Any, Any] = {}
    for key, counters in parts.items():
        merge_into(by_agent.setdefault(key[3], {}), {key: counters})
    alice, bob = totals(by_agent[ALICE]), totals(by_agent[BOB])
    assert alice["wait_sum"] == 360 and alice["answered"] == 1 and "solved" not in alice
    assert bob["solved"] == 1 and "answered" not in bob
    assert "within_target" not in totals(parts)  # 360 s > the 60 s target


def test_first_response_excludes_bot_replies_and_service_level_uses_the_queue_target() -> None:
    waiting = totals(ticket_parts(ticket(status="new"), 60))  # only the bot has spoken: not answered
    assert "answered" not in waiting and waiting["opened"] == 1 and waiting["escalated"] == 1
    quick = totals(ticket_parts(ticket(first_agent_reply_at=at(1.5)), 120))
    slow = totals(ticket_parts(ticket(first_agent_reply_at=at(1.5)), 60))
    assert quick["within_target"] == 1 and "within_target" not in slow and slow["wait_sum"] == 90


def test_abandonment_by_reason() -> None:
    ended = totals(ticket_parts(ticket(status="closed", abandoned_at=at(3), abandon_reason="ended"), 60))
    left = totals(ticket_parts(ticket(status="closed", abandoned_at=at(3), abandon_reason="left"), 60))
    unanswered = totals(ticket_parts(ticket(status="closed", solved_at=at(30)), 60))
    assert (ended["abandoned"], ended.get("ab_ended"), ended.get("ab_left")) == (1, 1, None)
    assert (left["abandoned"], left.get("ab_left"), left.get("ab_ended")) == (1, 1, None)
    assert (unanswered["abandoned"], unanswered["ab_unanswered"], unanswered["solved"]) == (1, 1, 1)


def test_email_tickets_are_opened_not_escalated_and_csat_counts_at_the_rating() -> None:
    mail = ticket_parts(ticket(reason="email", status="solved", first_agent_reply_at=at(30), solved_at=at(40),
                               csat={"score": 4, "at": at(185)}), 60)
    t = totals(mail)
    assert "escalated" not in t and t["opened"] == 1
    assert (t["csat_ratings"], t["csat_satisfied"]) == (1, 1) and hours(mail)["csat_ratings"] == {"13:00"}
    unhappy = totals(ticket_parts(ticket(status="solved", solved_at=at(40), csat={"score": 3, "at": at(50)}), 60))
    assert (unhappy["csat_ratings"], unhappy.get("csat_satisfied")) == (1, None)


def test_bot_conversations_count_at_close_and_open_ones_not_at_all() -> None:
    contained = {"channel": "widget", "open": False, "closed_at": at(7),
                 "bot": {"turns": 3, "fallbacks": 1, "last_intent": "opening_hours"}}
    handed = {"channel": "widget", "open": False, "closed_at": at(90), "handoff_at": at(2), "ticket_id": "t",
              "bot": {"turns": 2}}
    still_open = {"channel": "widget", "open": True, "bot": {"turns": 5}}
    no_bot = {"channel": "email", "open": False, "closed_at": at(9), "bot": {"turns": 0}}
    t: dict[str, float] = {}
    for conv in (contained, handed, still_open, no_bot):
        for name, value in totals(conversation_parts(conv)).items():
            t[name] = t.get(name, 0) + value
    assert t == {"bot_closed": 2, "bot_contained": 1, "bot_messages": 5, "fallbacks": 1}
    assert conversation_parts(still_open) == {} and conversation_parts(no_bot) == {}


def test_percentiles_use_the_nearest_rank() -> None:
    values = [10.0, 20.0, 30.0, 40.0]
    assert exact_percentile(values, 0.5) == 20.0 and exact_percentile(values, 0.9) == 40.0
    bins: dict[int, float] = {}
    for v in values:
        bins[bin_of(v)] = bins.get(bin_of(v), 0) + 1
    assert abs(histogram_percentile(bins, 0.5) - 20.0) <= 20.0 * ALPHA  # type: ignore[operator]
    assert histogram_percentile({}, 0.5) is None


@given(st.floats(min_value=0, max_value=10 ** 8, allow_nan=False))
def test_every_value_is_read_back_within_the_stated_error(value: float) -> None:
    estimate = bin_value(bin_of(value))
    if value < 1:
        assert abs(estimate - value) <= 0.5
    else:
        assert abs(estimate - value) <= value * ALPHA * (1 + 1e-9)
    assert math.isfinite(estimate)
