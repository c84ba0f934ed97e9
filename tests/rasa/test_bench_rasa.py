"""`switchboard bench rasa`, tiny: the hub (built-in NLU, then Rasa NLU) and Rasa's own REST channel
answer every message of the same FAQ load, and the JSON line carries each arm's figures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from switchboard.rasa_server import REPO

# The first Rasa test of a run may install the Rasa venv (minutes, once): allow for it.
pytestmark = [pytest.mark.rasa, pytest.mark.timeout(1800)]

ARMS = ("hub_builtin", "hub_rasa", "rasa_rest")


def test_bench_rasa_tiny_answers_everything_in_every_arm(rasa_executable: Path) -> None:
    assert rasa_executable.is_file()  # the cached venv the command starts its Rasa server from
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run(
        [sys.executable, "-m", "switchboard.cli", "bench", "rasa", "--steps", "3,c2", "--seconds", "3"],
        capture_output=True, text=True, timeout=600, env=env, cwd=REPO, check=False)
    lines = proc.stdout.strip().splitlines()
    assert proc.returncode == 0 and len(lines) == 1, (proc.returncode, proc.stdout, proc.stderr[-3000:])
    out = json.loads(lines[0])

    assert out["bench"] == "rasa" and out["mix"] == "faq" and out["seconds"] == 3.0
    assert out["rasa_model"].endswith(".tar.gz") and out["rasa_train_s"] > 0
    assert [s["step"] for s in out["steps"]] == ["open-3", "closed-2"]
    for step in out["steps"]:
        for name in ARMS:
            arm = step[name]
            assert arm["sent"] >= 3, (name, arm)
            assert arm["answered"] == arm["sent"], (name, arm)
            assert arm["unanswered"] == 0 and arm["send_failed"] == 0, (name, arm)
            assert arm["achieved_per_s"] > 0
            assert 0 < arm["p50_ms"] <= arm["p95_ms"] <= arm["p99_ms"], (name, arm)
        # Rasa answered by its own rules, not only with its fallback answer.
        assert step["rasa_rest"]["fallback_answers"] < step["rasa_rest"]["sent"]
    # Every customer message of the Rasa arm was decided on Rasa's parse (an unreachable Rasa escalates
    # with nlu_unavailable), and most were answered.
    for name in ("hub_builtin", "hub_rasa"):
        decisions = out["bot_decisions"][name]
        assert sum(decisions.values()) == sum(s[name]["sent"] for s in out["steps"]), (name, decisions)
        assert not any(key.endswith("/nlu_unavailable") for key in decisions), (name, decisions)
        assert sum(n for key, n in decisions.items() if key.startswith("answer/")) > sum(decisions.values()) / 2
