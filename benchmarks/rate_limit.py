"""The widget's message limits on the hub's event loop: what one admission costs as the counted keys grow.

    .venv/bin/python benchmarks/rate_limit.py [--admissions 20000]

Each admission is what the widget does for a message (`channels.widget.http` `_admit`): check and count a
chat's two rules (10 in 10 s, 30 in 60 s) and its address's one (300 in 60 s). Before timing, `live` other
chats have been counted, as many chats as are talking at once. Prints one JSON line per size: the mean
microseconds per admission and the keys held at the end (keys whose windows have passed are dropped as new
counts come; here the clock does not move, so nothing is dropped and the keys only grow). No database.
"""

from __future__ import annotations

import argparse
import json
import time

from httpkit.ratelimit import RateLimiter, Rule, admit

CHAT = [Rule(10, 10), Rule(30, 60)]
ADDRESS = [Rule(300, 60)]


def run(live: int, admissions: int) -> dict[str, float | int]:
    chat, address = RateLimiter(CHAT, max_keys=10**7), RateLimiter(ADDRESS, max_keys=10**7)
    for n in range(live):
        chat.count(f"site:visitor:{n}")
    start = time.perf_counter()
    for n in range(admissions):
        admit([(chat, f"site:visitor:new-{n % 5_000}"), (address, f"203.0.{n % 200}.{n % 250}")])
    elapsed = time.perf_counter() - start
    return {"live_chats": live, "admissions": admissions, "us_per_admission": round(elapsed / admissions * 1e6, 2),
            "keys_held": len(chat) + len(address)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--admissions", type=int, default=20_000)
    args = parser.parse_args()
    for live in (1_000, 10_000, 100_000):
        print(json.dumps({"bench": "widget_rate_limit", **run(live, args.admissions)}), flush=True)


if __name__ == "__main__":
    main()
