"""`nlu-eval` and the trainer report on a small synthetic CSV (no BANKING77 in unit tests)."""

from __future__ import annotations

import csv
import itertools
import json
from pathlib import Path

import pytest

from bot import nlu_eval
from bot.evaluation import OOS, choose_holdout, intent_report, open_set_scores, to_training_data, tune_thresholds

TEMPLATES = {
    "card_lost": ["I lost my {x} card", "my {x} card is missing", "can't find my {x} card", "{x} card stolen"],
    "balance": ["what is my {x} balance", "how much money on {x}", "show {x} balance", "{x} account total"],
    "transfer": ["send money to {x}", "transfer cash to {x}", "pay {x} from my account", "wire funds to {x}"],
    "pin": ["change the pin of {x}", "forgot {x} pin", "reset {x} pin code", "new pin for {x}"],
    "fees": ["what fees for {x}", "why was I charged for {x}", "{x} charges too high", "cost of {x}"],
    "hours": ["when does {x} branch open", "opening hours {x}", "is {x} open today", "{x} closing time"],
}
FILLERS = ["visa", "savings", "joint", "travel", "main", "business", "student", "gold"]


def write_csv(path: Path, rows: list[tuple[str, str]]) -> Path:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text", "category"])
        w.writerows(rows)
    return path


@pytest.fixture
def csvs(tmp_path: Path) -> tuple[Path, Path]:
    train, test = [], []
    for intent, templates in TEMPLATES.items():
        for i, (t, x) in enumerate(itertools.product(templates, FILLERS)):
            (test if i % 4 == 0 else train).append((t.format(x=x), intent))
    test.append(("tell me a joke about cats", "oos"))
    test.append(("who won the match", "oos"))
    return write_csv(tmp_path / "train.csv", train), write_csv(tmp_path / "test.csv", test)


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict]:
    code = nlu_eval.main(list(argv))
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1, lines
    return code, json.loads(lines[0])


def test_closed_set_metrics(csvs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    train, test = csvs
    rows = list(csv.DictReader(open(test)))
    write_csv(test, [(r["text"], r["category"]) for r in rows if r["category"] != "oos"])
    code, out = run_cli(capsys, "--train", str(train), "--test", str(test))
    assert code == 0
    assert out["accuracy"] >= 0.9 and out["macro_f1"] >= 0.9
    assert out["n_train"] == 144 and out["n_test"] == 48
    assert out["predict_p50_ms"] <= out["predict_p99_ms"]
    assert "oos_recall" not in out


def test_holdout_intents_and_oos_label(csvs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    train, test = csvs
    code, out = run_cli(
        capsys,
        "--train",
        str(train),
        "--test",
        str(test),
        "--holdout-intents",
        "2",
        "--oos-label",
        "oos",
        "--seed",
        "3",
    )
    assert code == 0
    assert len(out["held_out_intents"]) == 2
    assert out["n_intents"] == 4 and out["n_train"] == 96
    assert out["n_oos_test"] == 2 * 8 + 2
    for key in ("in_scope_accuracy", "oos_recall", "oos_precision", "threshold", "closed_accuracy"):
        assert 0.0 <= out[key] <= 1.0, key
    assert out["threshold_source"] == "cv_on_train"
    assert out["closed_accuracy"] >= out["in_scope_accuracy"]


def test_fixed_threshold_and_bad_input(csvs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    train, test = csvs
    code, out = run_cli(capsys, "--train", str(train), "--test", str(test), "--oos-label", "oos", "--threshold", "0.99")
    assert code == 0 and out["threshold"] == 0.99 and out["oos_recall"] == 1.0
    code, out = run_cli(capsys, "--train", str(train), "--test", str(test), "--text-column", "nope")
    assert code == 2 and "nope" in out["error"]


def test_holdout_choice_is_deterministic() -> None:
    labels = [f"i{n}" for n in range(20)]
    assert choose_holdout(labels, 5, 1) == choose_holdout(list(reversed(labels)), 5, 1)
    assert choose_holdout(labels, 5, 1) != choose_holdout(labels, 5, 2)


def test_open_set_scores() -> None:
    s = open_set_scores(["a", "b", OOS, OOS], ["a", "a", "a", "b"], [0.9, 0.9, 0.2, 0.8], threshold=0.5)
    assert (s.in_scope_accuracy, s.oos_recall, s.oos_precision) == (0.5, 0.5, 1.0)


def test_tune_thresholds_on_training_data() -> None:
    texts, labels = [], []
    for intent, templates in TEMPLATES.items():
        for t, x in itertools.product(templates, FILLERS):
            texts.append(t.format(x=x))
            labels.append(intent)
    tuning = tune_thresholds(texts, labels, rounds=2, holdout_fraction=0.34)
    assert tuning.held_out_per_round == 2
    assert 0.05 <= tuning.fallback_threshold <= 0.99
    assert 0.0 <= tuning.ambiguity_threshold <= 0.3
    # better than accepting everything (in-scope 1.0 + recall 0.0): some unknowns are rejected
    assert tuning.simulated_in_scope_accuracy + tuning.simulated_oos_recall > 1.2
    strict = tune_thresholds(texts, labels, rounds=2, holdout_fraction=0.34, min_in_scope_accuracy=1.0)
    assert strict.simulated_in_scope_accuracy == 1.0


def test_intent_report_finds_the_confused_pair() -> None:
    texts, labels = [], []
    for intent, templates in TEMPLATES.items():
        for t, x in itertools.product(templates, FILLERS):
            texts.append(t.format(x=x))
            labels.append(intent)
    # two intents trained on the same sentences cannot be told apart
    texts += [f"refund for {x} please" for x in FILLERS] * 2
    labels += ["refund_a"] * 8 + ["refund_b"] * 8
    report = intent_report(to_training_data(texts, labels), folds=4)
    worst = {s.intent for s in report.intents[:2]}
    assert worst == {"refund_a", "refund_b"}
    assert {report.confusions[0][0], report.confusions[0][1]} == {"refund_a", "refund_b"}
    assert report.as_dict()["intents"][0]["support"] == 8
    assert report.accuracy > 0.8
