"""Out-of-scope settings a trainer changes from the workbench, and the evaluation report's threshold part.

Both settings live in the training data's policy (``policy.yml``), versioned like every other edit:
``fallback_threshold`` (``auto`` = the default objective picks it at every training, or the point a
trainer picked on the trade-off curve) and ``excluded_negatives`` (built-in negatives a trainer took
out because they clash with an intent).
"""

from __future__ import annotations

from typing import Any

from bot.config import BotPolicy
from bot.edits import Change
from bot.evaluation import ThresholdChoice, choose_threshold, flatten
from bot.negatives import builtin, key
from bot.nlu.base import TrainingData
from bot.nlu.classifier import ClassifierParams, IntentClassifier
from bot.snapshot import TrainingSnapshot
from bot.training_data import TrainingDataError

#: Negatives the cross-validated model reads as one of the trainer's intents at this confidence or more.
CONFUSED_CONFIDENCE = 0.5


def set_threshold(value: float | None) -> Change:
    """`value` None: back to the default objective (``auto``); else that fixed fallback threshold."""
    if value is not None and not 0.0 <= value <= 1.0:
        raise TrainingDataError("threshold must be between 0 and 1")

    def change(snapshot: TrainingSnapshot) -> TrainingSnapshot:
        new = snapshot.copy()
        new.policy["fallback_threshold"] = "auto" if value is None else round(float(value), 2)
        return new

    return change


def exclude_negative(text: str, excluded: bool) -> Change:
    """Exclude a built-in negative from training (or put it back). Unknown texts are refused."""
    wanted = key(text)
    match = next((t for _d, t in builtin() if key(t) == wanted), None)
    if match is None:
        raise TrainingDataError("that text is not one of the built-in negatives")

    def change(snapshot: TrainingSnapshot) -> TrainingSnapshot:
        new = snapshot.copy()
        current = [str(t) for t in new.policy.get("excluded_negatives") or []]
        kept = [t for t in current if key(t) != wanted]
        if excluded:
            kept.append(match)
        if kept:
            new.policy["excluded_negatives"] = sorted(kept, key=key)
        else:
            new.policy.pop("excluded_negatives", None)
        return new

    return change


def threshold_report(
    data: TrainingData, policy: BotPolicy, params: ClassifierParams | None = None
) -> tuple[ThresholdChoice | None, dict[str, Any]]:
    """Train once (with its calibration folds) on `data` (negatives included) and report the objective.

    Returns the choice and the report part: the default objective's point and curve, the
    threshold the policy holds (``auto`` or a trainer's pick, with its point on the curve),
    calibration, and the negatives the held-out model reads as the trainer's intents.
    """
    texts, labels = flatten(data)
    negatives = [t in data.negatives for t in texts] if data.negatives else None
    classifier = IntentClassifier(params or ClassifierParams()).fit(texts, labels, None, negatives)
    choice = choose_threshold(classifier, policy.out_of_scope_intent, policy.in_scope_tolerance)
    if choice is None:
        return None, {"threshold": None}
    confused: list[dict[str, Any]] = []
    proba, y = classifier.cv_proba, classifier.cv_labels
    assert proba is not None and y is not None
    oos = policy.out_of_scope_intent
    if oos in classifier.classes:
        col = classifier.classes.index(oos)
        for row in range(len(y)):
            top = int(proba[row].argmax())
            if y[row] == col and top != col and proba[row, top] >= CONFUSED_CONFIDENCE and texts[row] in data.negatives:
                confused.append({"text": texts[row], "intent": classifier.classes[top],
                                 "confidence": round(float(proba[row, top]), 3)})
    confused.sort(key=lambda c: -c["confidence"])
    return choice, {
        "threshold": choice.as_dict(),
        "policy_threshold": held_threshold(choice.as_dict(), {"fallback_threshold": "auto"} if policy.auto_threshold
                                           else {"fallback_threshold": policy.fallback_threshold}),
        "negatives_read_as_intents": confused[:50],
    }


def held_threshold(threshold: dict[str, Any], policy: dict[str, Any]) -> dict[str, Any]:
    """The threshold a policy document holds (`auto` or a number), with its point on a report's curve."""
    raw = policy.get("fallback_threshold", "auto")
    if str(raw).strip().lower() == "auto":
        return {"auto": True, "fallback_threshold": threshold["fallback_threshold"], "point": None}
    value = float(raw)
    point = min(threshold["curve"], key=lambda p: abs(p["threshold"] - value))
    return {"auto": False, "fallback_threshold": value, "point": point}
