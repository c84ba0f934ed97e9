"""`switchboard bench load`, `bench soak` and `bench rasa`: the hub under a realistic load (docs/performance.md).

The generator (switchboard/loadgen.py) is this process; every hub is a `switchboard serve` subprocess.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from typing import Any

from switchboard import loadgen


def add_arguments(bench_sub: argparse._SubParsersAction) -> None:
    load = bench_sub.add_parser(
        "load", help="drive the widget (HTTP + WebSocket) and the desk API at fixed rates and a closed-loop step; "
                     "one JSON line per step")
    load.add_argument("--steps", default=loadgen.DEFAULT_STEPS,
                      help=f"comma list: messages a second (open loop) or cN (N customers, closed loop); "
                           f"default {loadgen.DEFAULT_STEPS}")
    load.add_argument("--seconds", type=float, default=45.0, help="length of each step (default 45)")
    load.add_argument("--url", help="drive this running hub instead of starting a fresh one")
    load.add_argument("--mongodb-uri", help="with --url: its database, for lost/duplicated and the command counts; "
                                            "without: the server the fresh hub uses instead of an embedded one")
    load.add_argument("--db-name", help="with --url: the hub's database name (default switchboard); without: the "
                                        "fresh hub's (default a new bench<hex>)")
    load.add_argument("--agent", help="with --url: a desk login USER that answers escalations; its password in "
                                      "BENCH_AGENT_PASSWORD (without it, no escalations)")
    load.add_argument("--agents", type=int, default=1,
                      help="without --url: how many desk agents the fresh hub gets, each with the desk open "
                           "(default 1; at most 50)")
    load.add_argument("--browsing", type=int, default=0,
                      help="visitors who keep the widget open through every step without writing, as on a busy "
                           "site (default 0; at most 5000)")
    load.add_argument("--seed", type=int, default=1, help="random seed of the message mix (default 1)")
    soak = bench_sub.add_parser(
        "soak", help="a steady rate across two hub processes on one database, one SIGKILLed and restarted "
                     "half-way; one JSON line (lost and duplicated must be 0)")
    soak.add_argument("--minutes", type=float, default=3.0, help="length (default 3)")
    soak.add_argument("--rate", type=float, default=5.0, help="messages a second (default 5)")
    soak.add_argument("--mongodb-uri", help="use this database server instead of a fresh embedded one")
    soak.add_argument("--seed", type=int, default=1, help="random seed of the message mix (default 1)")
    rasa = bench_sub.add_parser(
        "rasa", help="the same FAQ load against the hub with its built-in NLU, the hub with the Rasa backend and "
                     "a Rasa server's own REST channel; one JSON line")
    rasa.add_argument("--steps", default="5,c10", help="comma list as for `bench load` (default 5,c10)")
    rasa.add_argument("--seconds", type=float, default=30.0, help="length of each step in each arm (default 30)")
    rasa.add_argument("--rasa-url", help="a running Rasa 3 server (`rasa run --enable-api`, REST channel on) to "
                                         "train and use instead of starting one from the cached venv")
    rasa.add_argument("--seed", type=int, default=1, help="random seed of the questions (default 1)")


def _emit(line: dict[str, Any]) -> None:
    print(json.dumps(line), flush=True)


def run(args: argparse.Namespace) -> int:
    if args.bench_command == "soak":
        if not 0 < args.minutes <= 60 or not 0 < args.rate <= 1000:
            print("switchboard: --minutes 0-60 and --rate 0-1000", file=sys.stderr)
            return 2
        result = asyncio.run(loadgen.bench_soak(args.minutes, args.rate, uri=args.mongodb_uri, seed=args.seed))
        _emit(result)
        return 0 if result["lost"] == 0 and result["duplicated"] == 0 else 1
    try:
        steps = loadgen.parse_steps(args.steps)
    except ValueError as exc:
        print(f"switchboard: --steps: {exc}", file=sys.stderr)
        return 2
    if args.seconds <= 0:
        print("switchboard: --seconds must be above zero", file=sys.stderr)
        return 2
    if args.bench_command == "rasa":
        from switchboard import rasa_bench

        return rasa_bench.run(steps, args.seconds, args.rasa_url, args.seed, _emit)
    if not 1 <= args.agents <= 50 or (args.url and args.agents != 1):
        print("switchboard: --agents 1-50, and only without --url (a running hub's desk login is --agent)",
              file=sys.stderr)
        return 2
    if not 0 <= args.browsing <= 5000:
        print("switchboard: --browsing 0-5000", file=sys.stderr)
        return 2
    agent = None
    if args.url and args.agent:
        password = os.environ.get("BENCH_AGENT_PASSWORD", "")
        if not password:
            print("switchboard: --agent needs BENCH_AGENT_PASSWORD", file=sys.stderr)
            return 2
        agent = (args.agent, password)
    asyncio.run(loadgen.bench_load(steps, args.seconds, args.url, args.mongodb_uri, args.db_name, agent, _emit,
                                   seed=args.seed, agents=args.agents,
                                   browsing=args.browsing))
    return 0
