"""How long a waiting customer will wait: from the agents serving the queue now, not past waits.

The mean of past waits says little about this customer: it ignores that two agents just went
online, or that everyone left. A queue is a set of slots (each online agent serving it has
`capacity` of them). A customer at position k gets a slot at once if k free slots exist;
otherwise after the (k - free)th slot frees up. Busy slots free up at about `slots / handle`
per second (each slot turns over once per mean handle time, assignment to solve), so that
takes about (k - free) x handle / slots. Then the agent needs their reaction time (assignment
to first reply) to answer. Nobody online: no number (an honest "we'll answer when someone is
back" beats a made-up one).

`tests/test_wait_estimate.py` simulates a desk (random arrivals, handle times, agents going
online and away) and measures the error of these estimates against the waits that happened;
docs/routing.md has the figures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

#: Places told exactly; further back a customer hears that at least this many are ahead (`told_place`).
TOLD_PLACES = 50
#: ... and, as the least wait, this share of the estimate at the first place not told (`told_wait`): in the
#: simulated busy desk (benchmarks/wait_simulation.py, three seeds) "at least" then held for 96-100 % of those
#: customers, where the estimate itself held for 63-86 % (it is a mean, not a bound).
LEAST_SHARE = 0.6
#: Before a queue has history: a reaction time, and a handle time, that are typical of chat desks.
DEFAULT_REACTION_SECONDS = 60.0
DEFAULT_HANDLE_SECONDS = 600.0


@dataclass(frozen=True)
class QueueSnapshot:
    """A queue's serving capacity right now and its recent pace."""

    #: Slots of online agents serving the queue: sum of capacities, and of capacity - active tickets.
    total_slots: int
    free_slots: int
    #: Mean time a ticket holds a slot (assigned to solved), recent tickets of the queue; None: no history.
    handle_seconds: float | None = None
    #: Typical time from assignment to the agent's first reply; None: no history.
    reaction_seconds: float | None = None


def estimate_wait(position: int, snapshot: QueueSnapshot) -> float | None:
    """Seconds until an agent answers the customer at `position` (1 = next); None if nobody serves."""
    if snapshot.total_slots <= 0 or position < 1:
        return None
    reaction = snapshot.reaction_seconds if snapshot.reaction_seconds is not None else DEFAULT_REACTION_SECONDS
    ahead = position - max(0, snapshot.free_slots)
    if ahead <= 0:
        return reaction
    handle = snapshot.handle_seconds if snapshot.handle_seconds is not None else DEFAULT_HANDLE_SECONDS
    return ahead * handle / snapshot.total_slots + reaction


def told_place(position: int) -> int:
    """The place a customer is told: exact up to `TOLD_PLACES`, `TOLD_PLACES` + 1 anywhere further back.

    Further back, "at least 50 customers are ahead of you" holds however the line moves, so nothing is
    rewritten for them: a pass of the wait announcer writes for the first places only, where it wrote a
    notice and a frame for every waiting customer each time the head of a long line moved."""
    return min(position, TOLD_PLACES + 1)


def told_wait(position: int, snapshot: QueueSnapshot) -> float | None:
    """The wait told at a told place (`told_place`): the estimate, or further back, the least wait."""
    estimate = estimate_wait(position, snapshot)
    if estimate is None or position <= TOLD_PLACES:
        return estimate
    return estimate * LEAST_SHARE


def describe_wait(position: int, estimate: float | None) -> str:
    """The sentence a waiting customer reads (or hears)."""
    beyond = position > TOLD_PLACES
    text = (f"At least {TOLD_PLACES} customers are ahead of you." if beyond
            else f"You are number {position} in the queue.")
    if estimate is None:
        return text + " No agent is online right now: we will answer as soon as someone is back."
    return text + f" Estimated wait: {'at least' if beyond else 'about'} {_duration(estimate)}."


def _duration(seconds: float) -> str:
    """A wait in whole minutes, in hours from 90 minutes on (halves rounded up, as the widget does)."""
    minutes = max(1, math.floor(seconds / 60 + 0.5))
    if minutes < 90:
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    return f"{math.floor(minutes / 60 + 0.5)} hours"


def wait_view(position: int | None, estimate: float | None) -> dict[str, Any]:
    """What a waiting customer's banner shows (the widget's `wait` frame): the place, the wait and the sentence
    (none: not waiting, the banner hides), and for a place further back than told, how many are ahead at least."""
    view: dict[str, Any] = {"position": position, "estimate_seconds": estimate,
                            "text": describe_wait(position, estimate) if position else None}
    if position and position > TOLD_PLACES:
        view["ahead_at_least"] = TOLD_PLACES
    return view


def changed_enough(before: tuple[int, float | None] | None, after: tuple[int, float | None], *,
                   share: float, floor_seconds: float) -> bool:
    """Whether (position, estimate) moved enough to tell the customer again.

    A new position always counts for `share` 0 (the live widget); for a message on another
    channel the estimate must move by `share` of itself and by `floor_seconds`, or appear/vanish.
    """
    if before is None:
        return True
    (position0, estimate0), (position1, estimate1) = before, after
    if (estimate0 is None) != (estimate1 is None):
        return True
    if share == 0 and position0 != position1:
        return True
    if estimate0 is None or estimate1 is None:
        return False
    moved = abs(estimate1 - estimate0)
    return moved >= floor_seconds and moved >= share * max(estimate0, 1.0)
