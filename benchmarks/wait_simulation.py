"""Simulate a desk on a virtual clock and measure how close the customers' wait estimates come.

Customers arrive at random (Poisson, busier in the middle of the day); agents with a capacity of
2-3 chats go online and away at random; tickets go to the least busy online agent (first come,
first served); an agent replies after a reaction time and holds the slot for a handle time. At
each arrival the customer is told an estimate by `hub.waitestimate` from what the hub would see
then (online agents, their free slots, the queue's recent handle and reaction times), and later
the wait actually happened. Also measured: the estimate the hub gave before (position x mean of
past waits).

    .venv/bin/python benchmarks/wait_simulation.py [--seed N] [--hours H]

prints one JSON line per estimator: customers, median absolute error (seconds and % of the
actual wait), the share of customers within 30 % of their actual wait, and within 30 % or one
minute (the customer reads whole minutes).
"""

from __future__ import annotations

import argparse
import heapq
import json
import math
import random
import statistics
from collections import deque
from dataclasses import dataclass, field

from hub.waitestimate import QueueSnapshot, estimate_wait, told_place, told_wait

HISTORY = 50  # recent tickets the hub looks at (hub.routing.Router.queue_snapshot)


@dataclass
class Agent:
    capacity: int
    online: bool = False
    active: int = 0


@dataclass
class Customer:
    arrived: float
    estimate_new: float | None = None
    estimate_old: float | None = None
    #: Further back than the places told (`hub.waitestimate.told_place`): the least wait they were told.
    told_at_least: float | None = None
    answered: float | None = None


@dataclass
class Desk:
    rng: random.Random
    agents: list[Agent]
    queue: deque[Customer] = field(default_factory=deque)
    handle_times: deque[float] = field(default_factory=lambda: deque(maxlen=HISTORY))
    reaction_times: deque[float] = field(default_factory=lambda: deque(maxlen=HISTORY))
    waits: deque[float] = field(default_factory=lambda: deque(maxlen=HISTORY))
    events: list[tuple[float, int, str, object]] = field(default_factory=list)
    seq: int = 0

    def at(self, when: float, kind: str, what: object = None) -> None:
        self.seq += 1
        heapq.heappush(self.events, (when, self.seq, kind, what))

    def snapshot(self) -> QueueSnapshot:
        online = [a for a in self.agents if a.online]
        return QueueSnapshot(
            total_slots=sum(a.capacity for a in online),
            free_slots=sum(max(0, a.capacity - a.active) for a in online),
            handle_seconds=statistics.fmean(self.handle_times) if self.handle_times else None,
            reaction_seconds=statistics.median(self.reaction_times) if self.reaction_times else None,
        )

    def dispatch(self, now: float) -> None:
        while self.queue:
            free = [a for a in self.agents if a.online and a.active < a.capacity]
            if not free:
                return
            agent = max(free, key=lambda a: (a.capacity - a.active, -a.active))
            customer = self.queue.popleft()
            agent.active += 1
            reaction = self.rng.gammavariate(4.0, 10.0)  # mean 40 s: read, then greet
            handle = self.rng.lognormvariate(math.log(420.0), 0.5)  # median 7 min a chat
            customer.answered = now + reaction
            self.reaction_times.append(reaction)
            self.waits.append(customer.answered - customer.arrived)
            self.at(now + reaction + handle, "done", (agent, reaction + handle))


def simulate(seed: int = 7, hours: float = 40.0, agents: int = 5) -> list[Customer]:
    rng = random.Random(seed)
    desk = Desk(rng, [Agent(capacity=rng.choice((2, 3))) for _ in range(agents)])
    end = hours * 3600
    for agent in desk.agents:
        desk.at(rng.uniform(0, 1800), "online", agent)
    desk.at(rng.expovariate(1 / 60), "arrive")
    customers: list[Customer] = []
    while desk.events:
        now, _seq, kind, what = heapq.heappop(desk.events)
        if now > end:
            break
        if kind == "arrive":
            hour = (now / 3600) % 8  # an 8-hour day, busiest mid-day
            per_minute = 0.6 + 0.9 * math.sin(math.pi * hour / 8)
            desk.at(now + rng.expovariate(per_minute / 60), "arrive")
            customer = Customer(now)
            customers.append(customer)
            desk.queue.append(customer)
            position = len(desk.queue)
            customer.estimate_new = estimate_wait(position, desk.snapshot())
            if told_place(position) != position:  # "at least 50 ahead of you; estimated wait: at least ..."
                customer.told_at_least = told_wait(told_place(position), desk.snapshot())
            customer.estimate_old = position * statistics.fmean(desk.waits) if desk.waits else None
            desk.dispatch(now)
        elif kind == "done":
            agent, held = what  # type: ignore[misc]
            agent.active -= 1
            desk.handle_times.append(held)
            desk.dispatch(now)
        elif kind == "online":
            agent = what  # type: ignore[assignment]
            agent.online = True
            desk.at(now + rng.expovariate(1 / 5400), "away", agent)  # online for 90 min on average
            desk.dispatch(now)
        elif kind == "away":
            agent = what  # type: ignore[assignment]
            agent.online = False  # keeps its chats, takes no new ones
            desk.at(now + rng.expovariate(1 / 900), "online", agent)  # back after 15 min on average
    return [c for c in customers if c.answered is not None]


def score(customers: list[Customer], estimator: str) -> dict[str, object]:
    """Error of one estimator against the waits that happened."""
    pairs = [(getattr(c, f"estimate_{estimator}"), c.answered - c.arrived) for c in customers]  # type: ignore[operator]
    given = [(e, w) for e, w in pairs if e is not None]
    errors = [abs(e - w) for e, w in given]
    relative = [abs(e - w) / w for e, w in given]
    return {
        "estimator": estimator,
        "customers": len(customers),
        "estimated": len(given),
        "median_abs_error_s": round(statistics.median(errors), 1),
        "median_abs_error_pct": round(100 * statistics.median(relative), 1),
        "within_30pct": round(sum(r <= 0.3 for r in relative) / len(relative), 3),
        # The customer reads whole minutes: an estimate within a minute reads right too.
        "within_30pct_or_1min": round(sum(r <= 0.3 or a <= 60 for r, a in zip(relative, errors, strict=True))
                                      / len(relative), 3),
        "median_actual_wait_s": round(statistics.median(w for _e, w in given), 1),
    }


def score_at_least(customers: list[Customer]) -> dict[str, object]:
    """The customers told a least wait (further back than the places told): how many, and the share of them
    who waited at least that long (the claim held)."""
    told = [(c.told_at_least, c.answered - c.arrived) for c in customers  # type: ignore[operator]
            if c.told_at_least is not None]
    return {"told_at_least": len(told),
            "at_least_held": round(sum(w >= t for t, w in told) / len(told), 3) if told else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--hours", type=float, default=40.0)
    parser.add_argument("--agents", type=int, default=5, help="5: a desk near saturation; 7: comfortable")
    args = parser.parse_args()
    customers = simulate(args.seed, args.hours, args.agents)
    for estimator in ("new", "old"):
        print(json.dumps({"bench": "wait_estimate", "seed": args.seed, "hours": args.hours, "agents": args.agents,
                          **score(customers, estimator), **(score_at_least(customers) if estimator == "new" else {})}))


if __name__ == "__main__":
    main()
