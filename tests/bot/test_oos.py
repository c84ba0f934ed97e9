"""Out-of-scope by default: built-in negatives, the threshold objective, calibration, clash review."""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import pytest

from bot.config import BotConfig, BotPolicy, parse_policy
from bot.evaluation import _at_bias, expected_calibration_error, flatten, protect_in_scope
from bot.negatives import builtin, clashes, key, with_negatives
from bot.nlu.base import TrainingData
from bot.nlu.builtin import BuiltinNLU
from bot.nlu.classifier import shift_class
from bot.oos import exclude_negative, held_threshold, set_threshold
from bot.responses import Responses
from bot.service import BotService
from bot.snapshot import TrainingSnapshot
from bot.training_data import TrainingDataError

SHOP = TrainingData(intents={
    "refund": ["I want my money back", "how do I get a refund", "refund my order please", "can I get a refund",
               "money back for my order", "I need a refund", "please refund me", "where is my refund"],
    "order_status": ["where is my order", "track my parcel", "has my order shipped", "when will my order arrive",
                     "my package has not arrived", "status of my order", "where is my parcel", "order tracking"],
    "opening_hours": ["when are you open", "what are your opening hours", "are you open on sunday",
                      "what time do you close", "opening times", "hours of the shop", "are you open today",
                      "when do you open tomorrow"],
})


def _bot(policy: BotPolicy) -> BotService:
    config = BotConfig(training_data=SHOP, responses=Responses(), policy=policy)
    return BotService(config, BuiltinNLU())


def test_the_policy_turns_negatives_and_the_automatic_threshold_on_by_default() -> None:
    p = parse_policy({})
    assert p.builtin_negatives and p.auto_threshold and p.excluded_negatives == ()
    p = parse_policy({"builtin_negatives": False, "fallback_threshold": 0.6, "excluded_negatives": ["a b"]})
    assert not p.builtin_negatives and not p.auto_threshold and p.fallback_threshold == 0.6
    assert p.excluded_negatives == ("a b",)
    with pytest.raises(TrainingDataError):
        parse_policy({"builtin_negatives": "yes"})


def test_negatives_are_added_as_out_of_scope_unless_switched_off() -> None:
    assert len(builtin()) >= 1000
    data = with_negatives(SHOP, "out_of_scope")
    assert len(data.intents["out_of_scope"]) == len(builtin())
    assert data.negatives == frozenset(data.intents["out_of_scope"])
    assert "out_of_scope" not in SHOP.intents  # the input is left alone
    assert with_negatives(SHOP, "out_of_scope", enabled=False) is SHOP


async def test_a_bot_with_negatives_switched_off_learns_no_out_of_scope_intent() -> None:
    off = _bot(replace(BotPolicy(), builtin_negatives=False))
    await off.train()
    on = _bot(BotPolicy())
    await on.train()
    assert "out_of_scope" not in off.backend.classifier.classes  # type: ignore[attr-defined]
    assert "out_of_scope" in on.backend.classifier.classes  # type: ignore[attr-defined]


async def test_an_excluded_negative_is_not_trained_on() -> None:
    # a negative with a word no other negative and no shop example has: its word must not reach the model
    counts: dict[str, int] = {}
    texts = [t for _d, t in builtin()] + [t for v in SHOP.intents.values() for t in v]
    for t in texts:
        for w in set(re.findall(r"[a-z]{5,}", t.lower())):
            counts[w] = counts.get(w, 0) + 1
    text, word = next((t, w) for _d, t in builtin() for w in re.findall(r"[a-z]{5,}", t.lower()) if counts[w] == 1)
    bot = _bot(replace(BotPolicy(), excluded_negatives=(text.upper(),)))  # matched case-insensitively
    await bot.train()
    vocabulary = bot.backend.classifier._features.word.vocabulary_  # type: ignore[attr-defined]
    assert word not in vocabulary
    included = _bot(BotPolicy())
    await included.train()
    assert word in included.backend.classifier._features.word.vocabulary_  # type: ignore[attr-defined]


def test_the_objective_keeps_in_scope_accuracy_within_a_point_then_maximises_recall() -> None:
    rng = np.random.default_rng(3)
    classes = ["a", "b", "out_of_scope"]
    rows, labels = [], []
    for _ in range(400):  # in-scope: right with confidence 0.5-1.0 (a tenth wrong at low confidence)
        y = int(rng.integers(0, 2))
        c = float(rng.uniform(0.5, 1.0))
        top = y if rng.random() > 0.1 else 1 - y
        if top != y:
            c = float(rng.uniform(0.4, 0.6))
        p = np.full(3, (1 - c) / 2)
        p[top] = c
        rows.append(p)
        labels.append(y)
    for _ in range(200):  # out-of-scope: half read as out_of_scope, half as an intent with low confidence
        p = np.full(3, 0.2)
        if rng.random() < 0.5:
            p[2] = 0.6
        else:
            p[int(rng.integers(0, 2))] = 0.6 - float(rng.uniform(0.0, 0.25))
        rows.append(p / p.sum())
        labels.append(2)
    proba, y = np.vstack(rows), np.array(labels)
    choice = protect_in_scope(proba, y, classes, "out_of_scope", tolerance=0.01)
    assert choice.reached and choice.closed_accuracy > 0.85
    assert choice.in_scope_accuracy >= choice.closed_accuracy - 0.01
    nxt = choice.point(round(choice.threshold + 0.01, 2))  # the curve is the chosen damping's
    assert nxt.in_scope_accuracy < choice.closed_accuracy - 0.01  # the highest threshold within the point
    assert choice.oos_recall is not None and choice.oos_recall > choice.point(0.0).oos_recall  # type: ignore[operator]
    undamped = protect_in_scope(proba, y, classes, "out_of_scope", tolerance=0.01, min_in_scope_accuracy=None)
    assert undamped.oos_recall == choice.oos_recall  # deterministic
    for bias in (0.0, -1.0, -3.0):  # no damping does better while keeping the bound
        other = _at_bias(shift_class(proba, 2, bias), y, classes, "out_of_scope", 0.01, None, bias)
        assert not other.reached or other.oos_recall <= choice.oos_recall  # type: ignore[operator]
    assert [p.threshold for p in choice.curve][:3] == [0.0, 0.01, 0.02]


def test_the_objective_damps_an_out_of_scope_class_that_takes_answerable_questions() -> None:
    # every in-scope row has 30 % on out_of_scope, a fifth of them read as out-of-scope outright
    proba = np.array([[0.6, 0.1, 0.3]] * 80 + [[0.3, 0.05, 0.65]] * 20 + [[0.1, 0.1, 0.8]] * 50)
    y = np.array([0] * 100 + [2] * 50)
    choice = protect_in_scope(proba, y, ["a", "b", "out_of_scope"], "out_of_scope")
    assert choice.reached and choice.oos_bias < 0
    assert choice.in_scope_accuracy >= choice.closed_accuracy - 0.01


async def test_the_trained_bot_uses_the_objectives_threshold_on_real_data() -> None:
    bot = _bot(BotPolicy(auto_threshold=True))
    await bot.train()
    choice = bot.threshold
    assert choice is not None and choice.n_oos == len(builtin())
    assert choice.in_scope_accuracy >= choice.closed_accuracy - 0.01
    assert bot.config.policy.fallback_threshold == choice.threshold
    fixed = _bot(BotPolicy(fallback_threshold=0.77))
    await fixed.train()
    assert fixed.config.policy.fallback_threshold == 0.77


def test_expected_calibration_error_by_hand() -> None:
    # 15 bins of width 1/15: 0.05 and 0.06 share bin 1 (0, 0.0667]; 0.95 and 1.0 share the last.
    conf = [0.05, 0.06, 0.95, 1.0, 0.5]
    hit = [False, True, True, True, False]
    # bin 1: 2 rows, accuracy 0.5, mean confidence 0.055 -> 2/5 * 0.445
    # last bin: 2 rows, accuracy 1.0, mean confidence 0.975 -> 2/5 * 0.025
    # 0.5 -> bin 8 ((0.4667, 0.5333]): 1 row, accuracy 0 -> 1/5 * 0.5
    expected = 0.4 * 0.445 + 0.4 * 0.025 + 0.2 * 0.5
    assert expected_calibration_error(conf, hit) == pytest.approx(expected)
    assert expected_calibration_error([], []) == 0.0
    assert expected_calibration_error([0.0, 1.0], [False, True]) == 0.0


def test_clash_review_flags_a_planted_near_duplicate() -> None:
    domain, negative = builtin()[0]
    planted = TrainingData(intents={**SHOP.intents, "refund": [*SHOP.intents["refund"], negative + " please"]})
    found = clashes(planted, "out_of_scope")
    mine = [c for c in found if c.text == negative]
    assert mine and mine[0].intent == "refund" and mine[0].example == negative + " please"
    assert mine[0].domain == domain and mine[0].similarity >= 0.6 and not mine[0].excluded
    assert not [c for c in clashes(SHOP, "out_of_scope") if c.text == negative]
    marked = clashes(planted, "out_of_scope", excluded=[negative])
    assert [c.excluded for c in marked if c.text == negative] == [True]


def test_threshold_and_exclusion_edits_change_the_policy() -> None:
    snapshot = TrainingSnapshot(policy={"fallback_threshold": "auto"})
    picked = set_threshold(0.42)(snapshot)
    assert picked.policy["fallback_threshold"] == 0.42 and snapshot.policy["fallback_threshold"] == "auto"
    assert set_threshold(None)(picked).policy["fallback_threshold"] == "auto"
    with pytest.raises(TrainingDataError):
        set_threshold(1.5)
    _d, negative = builtin()[0]
    excluded = exclude_negative(negative.upper(), True)(snapshot)
    assert [key(t) for t in excluded.policy["excluded_negatives"]] == [key(negative)]
    assert "excluded_negatives" not in exclude_negative(negative, False)(excluded).policy
    with pytest.raises(TrainingDataError):
        exclude_negative("not a shipped negative at all 123", True)
    curve = {"fallback_threshold": 0.3, "curve": [{"threshold": 0.3, "in_scope_accuracy": 0.9, "oos_recall": 0.8},
                                                  {"threshold": 0.4, "in_scope_accuracy": 0.85, "oos_recall": 0.9}]}
    assert held_threshold(curve, {"fallback_threshold": 0.41})["point"]["threshold"] == 0.4
    assert held_threshold(curve, {})["auto"] is True


def test_flatten_keeps_the_negatives_marked() -> None:
    data = with_negatives(SHOP, "out_of_scope")
    texts, labels = flatten(data)
    marked = [t for t in texts if t in data.negatives]
    assert len(marked) == len(builtin()) and set(labels[: len(SHOP.intents["refund"])]) == {"refund"}
