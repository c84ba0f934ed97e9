"""Counts of what the hub did, for operators' dashboards, without the hub knowing Prometheus.

The services call `count(name, session, **labels)` at the point something happened; the
composition root binds `sink` to its metrics library. A count made inside a transaction is
handed to the sink only once that transaction commits (`Store.on_commit`), so a retried or
aborted transaction counts nothing twice. Labels are low-cardinality by contract: channel,
direction, queue, outcome, result; never a contact, ticket or free text.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial

from pymongo.asynchronous.client_session import AsyncClientSession

from hub.models import Decision, DecisionKind
from hub.store import Store

#: `name -> labels` handed to the sink: what the hub counts, and the labels each carries.
COUNTS: dict[str, tuple[str, ...]] = {
    "message": ("channel", "direction"),
    "duplicate": ("channel",),
    "bot_decision": ("outcome",),
    "ticket": ("queue", "change"),
    "escalation": ("queue", "reason"),
    "delivery": ("channel", "result"),
    "sla": ("queue", "target", "kind"),  # hub.sla: kind = warning | breach
}
#: Decision reasons that mean the bot did not understand (it asks to rephrase or guesses).
FALLBACK_REASONS = frozenset({"low_confidence", "ambiguous", "out_of_scope"})

Sink = Callable[[str, dict[str, str]], None]


class Telemetry:
    def __init__(self, store: Store, sink: Sink | None = None) -> None:
        self.store = store
        self.sink = sink
        #: Also told of every count, after commit (hub.channelstatus: what each channel last did).
        self.observers: list[Sink] = []

    def count(self, name: str, session: AsyncClientSession | None = None, **labels: str) -> None:
        """One occurrence of `name` (see COUNTS); inside a transaction, counted when it commits."""
        for sink in (self.sink, *self.observers):
            if sink is not None:
                self.store.on_commit(session, partial(sink, name, labels))


REASON_CODE = re.compile(r"[a-z][a-z_]{0,39}")


def reason_label(reason: str | None) -> str:
    """An escalation reason as a label: its code (`bot_error: TypeError` -> `bot_error`); anything
    that is not a short snake_case code is `other`, so free text never becomes a label."""
    code = (reason or "").split(":", 1)[0].strip()
    return code if REASON_CODE.fullmatch(code) else "other"


def decision_outcome(decision: Decision) -> str:
    """`answer`, `fallback` (asked to rephrase, or unsure), `escalate` or `silent`."""
    if decision.kind is DecisionKind.ESCALATE:
        return "escalate"
    if decision.kind is DecisionKind.CLARIFY or decision.reason in FALLBACK_REASONS:
        return "fallback"
    return "answer" if decision.kind is DecisionKind.ANSWER else "silent"
