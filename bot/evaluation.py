"""Measuring the NLU: threshold tuning on training data, OOS metrics, and trainer reports.

Rules kept here so every number we publish is honest:
- thresholds are tuned on the training data only, never on a test set;
- out-of-scope is simulated inside the training data by holding out whole intents
  (a model cannot be tuned on intents it is later tested on as "unknown");
- confidences come from the same calibrated classifier the bot uses.
"""

from __future__ import annotations

import csv
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.metrics import f1_score, precision_recall_fscore_support
from sklearn.model_selection import StratifiedKFold, train_test_split

from bot.nlu.base import TrainingData
from bot.nlu.classifier import ClassifierParams, IntentClassifier, shift_class

if TYPE_CHECKING:
    from bot.nlu.embeddings import Encoder

#: Label given to rejected (below-threshold or out-of-scope) predictions in metrics.
OOS = "__oos__"


def load_csv(
    path: Path | str, text_column: str = "text", label_column: str = "category"
) -> tuple[list[str], list[str]]:
    """(texts, labels) from a CSV with a header (BANKING77's layout by default)."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if rows and (text_column not in rows[0] or label_column not in rows[0]):
        raise ValueError(f"{path}: needs columns {text_column!r} and {label_column!r}, has {list(rows[0])}")
    return [r[text_column] for r in rows], [r[label_column] for r in rows]


def choose_holdout(labels: Sequence[str], n: int, seed: int) -> list[str]:
    """`n` intents to treat as unknown, the same for the same seed and label set."""
    intents = sorted(set(labels))
    if n >= len(intents) - 1:
        raise ValueError(f"cannot hold out {n} of {len(intents)} intents")
    return sorted(random.Random(seed).sample(intents, n))


def to_training_data(texts: Sequence[str], labels: Sequence[str]) -> TrainingData:
    data = TrainingData()
    for text, label in zip(texts, labels, strict=True):
        data.intents.setdefault(label, []).append(text)
    return data


def flatten(data: TrainingData) -> tuple[list[str], list[str]]:
    texts: list[str] = []
    labels: list[str] = []
    for intent, examples in data.intents.items():
        texts.extend(examples)
        labels.extend([intent] * len(examples))
    return texts, labels


# -- open-set metrics --------------------------------------------------------------


@dataclass(frozen=True)
class OpenSetScores:
    in_scope_accuracy: float
    oos_recall: float
    oos_precision: float


def open_set_scores(
    truth: Sequence[str], predicted: Sequence[str], confidence: Sequence[float], threshold: float
) -> OpenSetScores:
    """`truth` uses `OOS` for out-of-scope rows; a prediction below `threshold` or of `OOS` rejects."""
    t = np.asarray(truth)
    rejected = (np.asarray(confidence) < threshold) | (np.asarray(predicted) == OOS)
    is_oos = t == OOS
    correct = (np.asarray(predicted) == t) & ~rejected
    return OpenSetScores(
        in_scope_accuracy=float(correct[~is_oos].mean()) if (~is_oos).any() else 0.0,
        oos_recall=float(rejected[is_oos].mean()) if is_oos.any() else 0.0,
        oos_precision=float(is_oos[rejected].mean()) if rejected.any() else 0.0,
    )


# -- threshold tuning --------------------------------------------------------------


@dataclass(frozen=True)
class ThresholdTuning:
    """Thresholds chosen on simulated out-of-scope traffic drawn from training data."""

    fallback_threshold: float
    ambiguity_threshold: float
    #: In-scope accuracy and OOS recall the chosen threshold reached in the simulation.
    simulated_in_scope_accuracy: float
    simulated_oos_recall: float
    rounds: int
    held_out_per_round: int


def _simulate(
    texts: Sequence[str],
    labels: Sequence[str],
    params: ClassifierParams,
    rounds: int,
    holdout_fraction: float,
    seed: int,
    encoder: Encoder | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """Per round: hide some intents, train on most of the rest, score the rest + the hidden ones.

    Returns confidence, margin (top1 - top2), top-1 correctness, top-2 correctness
    (both False for OOS) and is-OOS for every scored example, and how many intents
    each round hid.
    """
    intents = sorted(set(labels))
    n_hold = max(1, round(len(intents) * holdout_fraction))
    if len(intents) - n_hold < 2:
        raise ValueError("too few intents to simulate out-of-scope messages")
    rng = random.Random(seed)
    conf: list[np.ndarray] = []
    margin: list[np.ndarray] = []
    correct: list[np.ndarray] = []
    correct2: list[np.ndarray] = []
    is_oos: list[np.ndarray] = []
    lab = np.asarray(labels)
    for r in range(rounds):
        held = set(rng.sample(intents, n_hold))
        inside = np.flatnonzero(~np.isin(lab, list(held)))
        counts = Counter(lab[inside])
        strat = lab[inside] if min(counts.values()) >= 2 else None
        tr, va = train_test_split(inside, test_size=0.2, random_state=seed + r, stratify=strat)
        model = IntentClassifier(params, encoder).fit([texts[i] for i in tr], list(lab[tr]))
        scored = np.concatenate([va, np.flatnonzero(np.isin(lab, list(held)))])
        proba = model.predict_proba([texts[i] for i in scored])
        ordered = np.sort(proba, axis=1)
        classes = np.asarray(model.classes)
        pred = classes[proba.argmax(axis=1)]
        second = classes[np.argsort(-proba, axis=1)[:, 1]]
        oos = np.isin(lab[scored], list(held))
        conf.append(ordered[:, -1])
        margin.append(ordered[:, -1] - ordered[:, -2])
        correct.append((pred == lab[scored]) & ~oos)
        correct2.append(((pred == lab[scored]) | (second == lab[scored])) & ~oos)
        is_oos.append(oos)
    return (
        np.concatenate(conf),
        np.concatenate(margin),
        np.concatenate(correct),
        np.concatenate(correct2),
        np.concatenate(is_oos),
        n_hold,
    )


def tune_thresholds(
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    params: ClassifierParams | None = None,
    temperature: float | None = None,
    rounds: int = 3,
    holdout_fraction: float = 0.13,
    seed: int = 0,
    min_in_scope_accuracy: float | None = None,
    max_clarify_share: float = 0.1,
    encoder: Encoder | None = None,
) -> ThresholdTuning:
    """Fallback and ambiguity thresholds from training data alone.

    Fallback: the confidence threshold maximising in-scope accuracy + OOS recall
    (both count equally: a wrong answer to an unknown question and a needless
    "could you rephrase?" are both failures); with `min_in_scope_accuracy`, instead
    the highest threshold that keeps simulated in-scope accuracy at that level.
    Ambiguity: the widest top-two margin below which the top intent is right at most
    60% of the time while one of the top two is right at least 80% of the time (asking
    beats guessing), and which catches at most `max_clarify_share` of in-scope messages.

    `temperature` (the deployed model's) skips the calibration folds in each round,
    which keeps tuning to one fit per round.
    """
    base = params or ClassifierParams()
    if temperature is not None:
        base = replace(base, calibration_folds=0, default_temperature=temperature)
    conf, margin, correct, correct2, is_oos, n_hold = _simulate(
        texts, labels, base, rounds, holdout_fraction, seed, encoder
    )
    best_t, best_score, best = 0.05, -1.0, (0.0, 0.0)
    for t in np.round(np.arange(0.05, 1.0, 0.01), 2):
        accepted = conf >= t
        in_acc = float((correct & accepted)[~is_oos].mean())
        recall = float((~accepted)[is_oos].mean())
        if min_in_scope_accuracy is not None:
            score = t if in_acc >= min_in_scope_accuracy else -1.0
        else:
            score = in_acc + recall
        if score > best_score + 1e-9:
            best_t, best_score, best = float(t), score, (in_acc, recall)
    inside = ~is_oos
    ambiguity = 0.0
    for a in np.round(np.arange(0.02, 0.31, 0.01), 2):
        close = inside & (margin < a)
        if close.sum() < 5 or close.sum() > max_clarify_share * inside.sum():
            continue
        if correct[close].mean() <= 0.6 and correct2[close].mean() >= 0.8:
            ambiguity = float(a)
    return ThresholdTuning(
        fallback_threshold=best_t,
        ambiguity_threshold=ambiguity,
        simulated_in_scope_accuracy=round(best[0], 4),
        simulated_oos_recall=round(best[1], 4),
        rounds=rounds,
        held_out_per_round=n_hold,
    )


# -- trainer report ----------------------------------------------------------------


@dataclass
class IntentScores:
    intent: str
    precision: float
    recall: float
    f1: float
    support: int


@dataclass
class IntentReport:
    """Cross-validated quality per intent, and which intents get mixed up."""

    accuracy: float
    macro_f1: float
    folds: int
    intents: list[IntentScores] = field(default_factory=list)
    #: (true intent, predicted intent, count), most frequent first.
    confusions: list[tuple[str, str, int]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "accuracy": round(self.accuracy, 4),
            "macro_f1": round(self.macro_f1, 4),
            "folds": self.folds,
            "intents": [
                {
                    "intent": s.intent,
                    "precision": round(s.precision, 4),
                    "recall": round(s.recall, 4),
                    "f1": round(s.f1, 4),
                    "support": s.support,
                }
                for s in self.intents
            ],
            "confusions": [{"intent": a, "predicted": b, "count": n} for a, b, n in self.confusions],
        }


def intent_report(
    data: TrainingData,
    *,
    folds: int = 5,
    seed: int = 0,
    params: ClassifierParams | None = None,
    top_confusions: int = 10,
    encoder: Encoder | None = None,
) -> IntentReport:
    """Cross-validate the built-in classifier on `data`; weakest intents first."""
    texts, labels = flatten(data)
    lab = np.asarray(labels)
    k = min(folds, min(Counter(labels).values()))
    if k < 2:
        raise ValueError("every intent needs at least two examples for a cross-validated report")
    p = replace(params or ClassifierParams(), calibration_folds=0)
    predicted = np.empty(len(lab), dtype=object)
    for tr, te in StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(np.zeros(len(lab)), lab):
        negatives = [texts[i] in data.negatives for i in tr] if data.negatives else None
        model = IntentClassifier(p, encoder).fit([texts[i] for i in tr], list(lab[tr]), None, negatives)
        predicted[te] = model.predict([texts[i] for i in te])
    names = sorted(set(labels))
    prec, rec, f1, support = precision_recall_fscore_support(lab, predicted, labels=names, zero_division=0)
    scores = [
        IntentScores(n, float(p_), float(r_), float(f_), int(s_))
        for n, p_, r_, f_, s_ in zip(names, prec, rec, f1, support, strict=True)
    ]
    scores.sort(key=lambda s: (s.f1, s.intent))
    pairs = Counter((str(t), str(p_)) for t, p_ in zip(lab, predicted, strict=True) if t != p_)
    return IntentReport(
        accuracy=float((predicted == lab).mean()),
        macro_f1=float(f1_score(lab, predicted, labels=names, average="macro", zero_division=0)),
        folds=k,
        intents=scores,
        confusions=[(a, b, n) for (a, b), n in pairs.most_common(top_confusions)],
    )


# -- calibration -------------------------------------------------------------------

#: Equal-width confidence bins of the expected calibration error.
ECE_BINS = 15


def expected_calibration_error(confidence: Sequence[float], correct: Sequence[bool], bins: int = ECE_BINS) -> float:
    """ECE (Guo et al. 2017): sum over bins of (share of rows) x |accuracy - mean confidence|.

    Bins are `bins` equal-width intervals of the top confidence, (0, 1/bins], (1/bins, 2/bins], ...
    (a confidence of exactly 0 goes to the first); empty bins count nothing.
    """
    conf = np.asarray(confidence, dtype=float)
    hit = np.asarray(correct, dtype=float)
    if len(conf) == 0:
        return 0.0
    index = np.clip(np.ceil(conf * bins).astype(int) - 1, 0, bins - 1)
    total = 0.0
    for b in range(bins):
        rows = index == b
        if rows.any():
            total += rows.mean() * abs(hit[rows].mean() - conf[rows].mean())
    return float(total)


# -- the default threshold objective: protect answerable questions -----------------------


@dataclass(frozen=True)
class CurvePoint:
    threshold: float
    in_scope_accuracy: float
    oos_recall: float | None


@dataclass(frozen=True)
class ThresholdChoice:
    """The fallback threshold the default objective picked from cross-validated predictions."""

    threshold: float
    #: Log-scale shift of the out-of-scope intent's probability (0, or negative when the negatives
    #: would otherwise take more in-scope accuracy than the tolerance at any threshold).
    oos_bias: float
    #: Cross-validated accuracy on in-scope examples with the out-of-scope class ignored (no rejection).
    closed_accuracy: float
    in_scope_accuracy: float
    oos_recall: float | None
    tolerance: float
    #: False when even threshold 0 loses more in-scope accuracy than the tolerance allows.
    reached: bool
    n_in_scope: int
    n_oos: int
    ece: float
    curve: tuple[CurvePoint, ...]

    objective = "protect_in_scope"

    def summary(self) -> dict[str, Any]:
        return {
            "objective": self.objective,
            "tolerance": self.tolerance,
            "fallback_threshold": self.threshold,
            "oos_bias": self.oos_bias,
            "cv_closed_accuracy": round(self.closed_accuracy, 4),
            "cv_in_scope_accuracy": round(self.in_scope_accuracy, 4),
            "cv_oos_recall": None if self.oos_recall is None else round(self.oos_recall, 4),
            "reached": self.reached,
            "n_in_scope": self.n_in_scope,
            "n_oos": self.n_oos,
            "ece": round(self.ece, 4),
            "ece_bins": ECE_BINS,
        }

    def as_dict(self) -> dict[str, Any]:
        curve = [{"threshold": p.threshold, "in_scope_accuracy": round(p.in_scope_accuracy, 4),
                  "oos_recall": None if p.oos_recall is None else round(p.oos_recall, 4)} for p in self.curve]
        return {**self.summary(), "curve": curve}

    def point(self, threshold: float) -> CurvePoint:
        """The curve's point nearest to `threshold`."""
        return min(self.curve, key=lambda p: abs(p.threshold - threshold))


#: Thresholds on the trade-off curve: 0.00, 0.01, ..., 0.99.
CURVE_THRESHOLDS = tuple(round(t / 100, 2) for t in range(100))
#: Out-of-scope biases tried, in order (0 to -10 in steps of 0.25), until a threshold keeps the tolerance.
OOS_BIASES = tuple(-i / 4 for i in range(41))


def protect_in_scope(
    proba: np.ndarray,
    labels: np.ndarray,
    classes: Sequence[str],
    oos_intent: str | None,
    tolerance: float = 0.01,
    min_in_scope_accuracy: float | None = None,
) -> ThresholdChoice:
    """The default objective over two knobs: the fallback threshold and a damping of the out-of-scope intent.

    With few examples per intent, the out-of-scope class (the built-in negatives) can take more
    in-scope accuracy than the tolerance even at threshold 0, so its probability may be scaled
    by exp(bias) (`OOS_BIASES`, 0 down to -10). Among all (bias, threshold) pairs that keep the
    bound, the one with the highest out-of-scope recall wins (the smallest damping on ties);
    if none keeps it, the pair keeping the most in-scope accuracy (`reached` False).
    """
    names = list(classes)
    reached: ThresholdChoice | None = None
    fallback: ThresholdChoice | None = None
    for bias in OOS_BIASES if oos_intent in names else (0.0,):
        shifted = proba if bias == 0.0 else shift_class(np.asarray(proba, dtype=float), names.index(oos_intent), bias)
        choice = _at_bias(shifted, labels, names, oos_intent, tolerance, min_in_scope_accuracy, bias)
        if choice.reached:
            if reached is None or (choice.oos_recall or 0.0) > (reached.oos_recall or 0.0) + 1e-9:
                reached = choice
        elif fallback is None or choice.in_scope_accuracy > fallback.in_scope_accuracy + 1e-9:
            fallback = choice
    best = reached or fallback
    assert best is not None
    return best


def _at_bias(
    proba: np.ndarray,
    labels: np.ndarray,
    classes: Sequence[str],
    oos_intent: str | None,
    tolerance: float = 0.01,
    min_in_scope_accuracy: float | None = None,
    bias: float = 0.0,
) -> ThresholdChoice:
    """The objective at one bias, on cross-validated probabilities (`IntentClassifier.cv_proba`).

    Keep in-scope accuracy within `tolerance` of closed-set accuracy (the same predictions
    with the out-of-scope class ignored and nothing rejected), then maximise out-of-scope
    recall: the highest threshold whose in-scope accuracy stays at or above
    closed - tolerance (in-scope accuracy only falls as the threshold rises, recall only
    grows). A message is rejected when its top intent is `oos_intent` or its confidence is
    below the threshold. `min_in_scope_accuracy` replaces the bound with a fixed level.
    """
    proba = np.asarray(proba, dtype=float)
    y = np.asarray(labels)
    names = list(classes)
    oos_col = names.index(oos_intent) if oos_intent in names else None
    is_oos = y == oos_col if oos_col is not None else np.zeros(len(y), dtype=bool)
    inside = ~is_oos
    top = proba.argmax(axis=1)
    conf = proba.max(axis=1)
    if oos_col is not None:
        masked = proba.copy()
        masked[:, oos_col] = -1.0
        closed_hits = masked.argmax(axis=1) == y
        predicted_oos = top == oos_col
    else:
        closed_hits = top == y
        predicted_oos = np.zeros(len(y), dtype=bool)
    closed = float(closed_hits[inside].mean()) if inside.any() else 0.0
    right = (top == y) & ~predicted_oos
    curve: list[CurvePoint] = []
    for t in CURVE_THRESHOLDS:
        accepted = (conf >= t) & ~predicted_oos
        in_acc = float((right & accepted)[inside].mean()) if inside.any() else 0.0
        recall = float((~accepted)[is_oos].mean()) if is_oos.any() else None
        curve.append(CurvePoint(t, in_acc, recall))
    bound = closed - tolerance if min_in_scope_accuracy is None else min_in_scope_accuracy
    feasible = [p for p in curve if p.in_scope_accuracy >= bound - 1e-9]
    chosen = feasible[-1] if feasible else curve[0]
    correct = np.where(is_oos, predicted_oos, top == y)
    return ThresholdChoice(
        threshold=chosen.threshold,
        oos_bias=bias,
        closed_accuracy=closed,
        in_scope_accuracy=chosen.in_scope_accuracy,
        oos_recall=chosen.oos_recall,
        tolerance=tolerance,
        reached=bool(feasible),
        n_in_scope=int(inside.sum()),
        n_oos=int(is_oos.sum()),
        ece=expected_calibration_error(conf, correct),
        curve=tuple(curve),
    )


def choose_threshold(
    classifier: IntentClassifier, oos_intent: str | None, tolerance: float = 0.01,
    min_in_scope_accuracy: float | None = None,
) -> ThresholdChoice | None:
    """The default objective on a trained classifier's held-out probabilities (None without them)."""
    if classifier.cv_proba is None or classifier.cv_labels is None:
        return None
    return protect_in_scope(classifier.cv_proba, classifier.cv_labels, classifier.classes, oos_intent, tolerance,
                            min_in_scope_accuracy)
