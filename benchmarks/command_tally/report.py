"""Commands per message between two moments of a hub's command tally (see sitecustomize.py in this folder).

    python benchmarks/command_tally/report.py /tmp/tally.<pid>.jsonl START END MESSAGES

START and END are unix times (the step's start and the moment it was quiet again); MESSAGES the step's `sent`.
Prints commands per message by command and collection, then by command, collection and caller.
"""

from __future__ import annotations

import json
import sys
from collections import Counter


def window(path: str, start: float, end: float) -> Counter[str]:
    snaps = [json.loads(line) for line in open(path)]
    before = max((s for s in snaps if s["t"] <= start), key=lambda s: s["t"], default={"counts": {}})
    after = min((s for s in snaps if s["t"] >= end), key=lambda s: s["t"], default=snaps[-1])
    out: Counter[str] = Counter(after["counts"])
    out.subtract(before["counts"])
    return +out


def main() -> None:
    path, start, end, messages = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
    counts = window(path, start, end)
    total = sum(counts.values())
    print(f"commands {total}, messages {messages}, per message {total / messages:.2f}\n")
    by_coll: Counter[str] = Counter()
    for key, n in counts.items():
        by_coll[key.split(" | ")[0]] += n
    print("| command collection | per message |\n|---|---|")
    for key, n in by_coll.most_common():
        print(f"| {key} | {n / messages:.3f} |")
    print("\n| command collection | caller | per message |\n|---|---|---|")
    for key, n in counts.most_common():
        if n / messages >= 0.005:
            what, caller = key.split(" | ")
            print(f"| {what} | {caller} | {n / messages:.3f} |")


if __name__ == "__main__":
    main()
