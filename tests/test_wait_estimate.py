"""The waiting customer's estimate: from agents online, free slots and recent pace (hub.waitestimate).

The simulation (benchmarks/wait_simulation.py, a virtual clock) measures the estimates against
the waits that happened; docs/routing.md reports the figures.
"""

from __future__ import annotations

import pytest

from benchmarks.wait_simulation import score, score_at_least, simulate
from hub.waitestimate import (
    LEAST_SHARE,
    TOLD_PLACES,
    QueueSnapshot,
    changed_enough,
    describe_wait,
    estimate_wait,
    told_place,
    told_wait,
    wait_view,
)


def test_nobody_online_gives_no_number() -> None:
    assert estimate_wait(1, QueueSnapshot(total_slots=0, free_slots=0, handle_seconds=300)) is None
    assert "No agent is online right now" in describe_wait(3, None)


def test_a_free_slot_means_only_the_agents_reaction_time() -> None:
    snap = QueueSnapshot(total_slots=6, free_slots=2, handle_seconds=600, reaction_seconds=45)
    assert estimate_wait(1, snap) == 45
    assert estimate_wait(2, snap) == 45


def test_behind_the_free_slots_each_turnover_of_a_slot_counts() -> None:
    # 6 slots turning over every 600 s free one every 100 s: 4th in line with 2 free waits for 2 of them.
    snap = QueueSnapshot(total_slots=6, free_slots=2, handle_seconds=600, reaction_seconds=45)
    assert estimate_wait(4, snap) == pytest.approx(2 * 100 + 45)
    # Twice the agents online, same pace: half the wait behind them.
    assert estimate_wait(4, QueueSnapshot(12, 2, 600, 45)) == pytest.approx(2 * 50 + 45)


def test_places_further_back_than_told_are_told_as_at_least() -> None:
    assert [told_place(p) for p in (1, TOLD_PLACES, TOLD_PLACES + 1, TOLD_PLACES + 500)] == [
        1, TOLD_PLACES, TOLD_PLACES + 1, TOLD_PLACES + 1]
    assert describe_wait(TOLD_PLACES, 600) == (f"You are number {TOLD_PLACES} in the queue. "
                                               "Estimated wait: about 10 minutes.")
    assert describe_wait(TOLD_PLACES + 1, 600) == (f"At least {TOLD_PLACES} customers are ahead of you. "
                                                   "Estimated wait: at least 10 minutes.")
    assert describe_wait(TOLD_PLACES + 1, 89 * 60).endswith("Estimated wait: at least 89 minutes.")
    assert describe_wait(TOLD_PLACES + 1, 90 * 60).endswith("Estimated wait: at least 2 hours.")  # not 90 minutes
    assert describe_wait(3, 4 * 3600 + 60).endswith("Estimated wait: about 4 hours.")
    snap = QueueSnapshot(total_slots=2, free_slots=0, handle_seconds=600, reaction_seconds=60)
    assert told_wait(TOLD_PLACES, snap) == estimate_wait(TOLD_PLACES, snap)
    assert told_wait(TOLD_PLACES + 1, snap) == pytest.approx(LEAST_SHARE * estimate_wait(TOLD_PLACES + 1, snap))
    assert told_wait(TOLD_PLACES + 1, QueueSnapshot(0, 0)) is None  # nobody online: no number
    assert wait_view(TOLD_PLACES + 1, None)["ahead_at_least"] == TOLD_PLACES  # the widget says it in its language
    assert "ahead_at_least" not in wait_view(TOLD_PLACES, None)
    assert wait_view(None, None) == {"position": None, "estimate_seconds": None, "text": None}  # not waiting


def test_what_counts_as_a_change_worth_telling() -> None:
    assert changed_enough(None, (3, 300.0), share=0.5, floor_seconds=300)
    assert changed_enough((3, 300.0), (2, 290.0), share=0, floor_seconds=60)  # the widget shows each step
    assert not changed_enough((3, 300.0), (2, 290.0), share=0.5, floor_seconds=300)  # not worth an SMS
    assert changed_enough((8, 1800.0), (2, 400.0), share=0.5, floor_seconds=300)
    assert changed_enough((2, 400.0), (2, None), share=0.5, floor_seconds=300)  # everyone left


def test_on_a_busy_desk_most_customers_hear_a_wait_within_30_percent() -> None:
    customers = simulate(seed=1, hours=40, agents=5)
    new, old = score(customers, "new"), score(customers, "old")
    assert new["customers"] > 2000 and new["median_actual_wait_s"] > 300  # a desk where people really wait
    assert new["within_30pct"] >= 0.6  # measured 0.669 (seed 1)
    assert old["within_30pct"] < 0.2  # position x mean past wait: 0.079
    further_back = score_at_least(customers)  # told "at least 50 ahead of you", and a least wait
    assert further_back["told_at_least"] > 100  # measured 218 (seed 1)
    assert further_back["at_least_held"] >= 0.95  # they waited at least that long: measured 1.0 (0.81 for the estimate)


def test_on_a_quiet_desk_the_estimate_reads_right_to_the_minute() -> None:
    customers = simulate(seed=1, hours=40, agents=7)
    new = score(customers, "new")
    assert new["median_actual_wait_s"] < 120
    assert new["within_30pct_or_1min"] >= 0.9  # measured 0.935 (seed 1)
