"""hub.telemetry: counts made in a transaction reach the sink once, and only if it commits."""

from __future__ import annotations

from typing import Any

import pytest
from pymongo.errors import OperationFailure

from hub.models import Decision, DecisionKind
from hub.telemetry import COUNTS, Telemetry, decision_outcome, reason_label
from switchboard.bootstrap import Runtime


async def test_a_retried_transaction_counts_once(runtime: Runtime) -> None:
    assert runtime.hub is not None
    store = runtime.hub.store
    seen: list[tuple[str, dict[str, str]]] = []
    telemetry = Telemetry(store, sink=lambda name, labels: seen.append((name, labels)))
    attempts = 0

    async def work(session: Any) -> None:
        nonlocal attempts
        attempts += 1
        await store.counters.update_one({"_id": "probe"}, {"$inc": {"seq": 1}}, upsert=True, session=session)
        telemetry.count("ticket", session, queue="general", change="created")
        assert seen == []  # not before the commit
        if attempts == 1:
            failure = OperationFailure("write conflict (simulated)")
            failure._add_error_label("TransientTransactionError")
            raise failure

    await store.run_in_transaction(work)
    assert attempts == 2
    assert seen == [("ticket", {"queue": "general", "change": "created"})]


async def test_an_aborted_transaction_counts_nothing(runtime: Runtime) -> None:
    assert runtime.hub is not None
    store = runtime.hub.store
    seen: list[str] = []
    telemetry = Telemetry(store, sink=lambda name, labels: seen.append(name))

    async def work(session: Any) -> None:
        telemetry.count("bot_decision", session, outcome="answer")
        raise ValueError("the work failed")

    with pytest.raises(ValueError, match="the work failed"):
        await store.run_in_transaction(work)
    telemetry.count("duplicate", channel="widget")  # outside a transaction: at once
    assert seen == ["duplicate"]


@pytest.mark.parametrize(("kind", "reason", "outcome"), [
    (DecisionKind.ANSWER, None, "answer"),
    (DecisionKind.ANSWER, "low_confidence", "fallback"),
    (DecisionKind.CLARIFY, "ambiguous", "fallback"),
    (DecisionKind.ESCALATE, "human_requested", "escalate"),
    (DecisionKind.SILENT, None, "silent"),
])
def test_decision_outcomes_are_a_fixed_set(kind: DecisionKind, reason: str | None, outcome: str) -> None:
    assert decision_outcome(Decision(kind=kind, reason=reason)) == outcome
    assert set(COUNTS["bot_decision"]) == {"outcome"}


@pytest.mark.parametrize(("reason", "label"), [
    ("human_requested", "human_requested"),
    ("bot_error: TypeError", "bot_error"),
    ("Customer said: my card number is 4111 1111", "other"),
    ("", "other"),
    (None, "other"),
    ("x" * 41, "other"),
])
def test_escalation_reasons_become_codes_never_free_text(reason: str | None, label: str) -> None:
    assert reason_label(reason) == label
