"""`switchboard nlu-eval`: train an NLU backend on one CSV, test on another, print one JSON line.

Closed-set metrics always; open-set metrics (out-of-scope) when the test set has an
`--oos-label` or `--holdout-intents N` hides N intents from training. The built-in
negatives (`bot.negatives`) are added to the training data as out-of-scope examples, as
the bot does (`--no-builtin-negatives` leaves them out). Thresholds are tuned on the
training CSV only: by default with the bot's objective (`bot.evaluation.protect_in_scope`,
on the classifier's cross-validated probabilities), `--objective balanced` with the older
hidden-intents simulation (`bot.evaluation.tune_thresholds`); `--threshold` fixes one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import f1_score

from bot.evaluation import (
    ECE_BINS,
    OOS,
    ThresholdChoice,
    choose_holdout,
    choose_threshold,
    expected_calibration_error,
    load_csv,
    open_set_scores,
    to_training_data,
    tune_thresholds,
)
from bot.negatives import with_negatives
from bot.nlu.base import NLUBackend

#: The intent the built-in negatives train when the data names no out-of-scope label.
OOS_INTENT = "out_of_scope"

DATA_NOTE = "BANKING77: Casanueva et al. 2020, 'Efficient Intent Detection with Dual Sentence Encoders', CC BY 4.0"


class EvalError(Exception):
    """Bad arguments or data: reported as one JSON line with an `error` key, exit code 2."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--train", required=True, help="training CSV (columns text,category)")
    parser.add_argument("--test", required=True, help="test CSV (same columns)")
    parser.add_argument("--text-column", default="text")
    parser.add_argument("--label-column", default="category")
    parser.add_argument("--oos-label", help="test (and training) label that means out-of-scope")
    parser.add_argument("--holdout-intents", type=int, default=0, help="hide N intents from training")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--backend", choices=("builtin", "rasa"), default="builtin")
    parser.add_argument("--tier", choices=("default", "embeddings"), default="default")
    parser.add_argument("--rasa-url", default="http://localhost:5005")
    parser.add_argument(
        "--cache-dir",
        help="embeddings tier: where training-example embeddings are cached "
        "(default $SWITCHBOARD_CACHE_DIR/embeddings or ~/.cache/switchboard/embeddings)",
    )
    parser.add_argument("--threshold", type=float, help="fallback threshold (skips tuning)")
    parser.add_argument(
        "--objective",
        choices=("protect-in-scope", "balanced"),
        default="protect-in-scope",
        help="protect-in-scope (default, the bot's): cross-validated in-scope accuracy within one point of "
        "closed-set accuracy, then the highest OOS recall; balanced: the older hidden-intents simulation, "
        "maximising in-scope accuracy + OOS recall",
    )
    parser.add_argument(
        "--min-in-scope-accuracy",
        type=float,
        help="tune for the highest threshold keeping this cross-validated (simulated, with --objective balanced) "
        "in-scope accuracy",
    )
    parser.add_argument(
        "--no-builtin-negatives",
        dest="builtin_negatives",
        action="store_false",
        help="train without the built-in off-topic utterances",
    )


async def _make_backend(args: argparse.Namespace) -> NLUBackend:
    if args.tier == "embeddings":
        if args.backend != "builtin":
            raise EvalError("--tier embeddings applies to the builtin backend only")
        return await asyncio.to_thread(_embeddings_backend, args.cache_dir)
    if args.backend == "rasa":
        try:
            from bot.nlu.rasa import RasaNLU
        except ImportError as exc:
            raise EvalError(f"the Rasa backend is not available: {exc}") from exc
        return RasaNLU(base_url=args.rasa_url)
    from bot.nlu.builtin import BuiltinNLU

    return BuiltinNLU(ranking_length=2)


def _embeddings_backend(cache_dir: str | None) -> NLUBackend:
    """The accurate tier, with the encoder loaded now so its start-up is not counted as predict time."""
    from bot.nlu.embeddings import EmbeddingsUnavailable
    from bot.nlu.tiers import embeddings_nlu

    nlu = embeddings_nlu(cache_dir, ranking_length=2)
    try:
        if nlu.encoder is not None:
            nlu.encoder.encode(["warm up"])
    except EmbeddingsUnavailable as exc:
        raise EvalError(str(exc)) from exc
    return nlu


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Train, test, return the metrics (the command prints them as one JSON line)."""
    try:
        train_x, train_y = load_csv(args.train, args.text_column, args.label_column)
        test_x, test_y = load_csv(args.test, args.text_column, args.label_column)
    except (OSError, ValueError) as exc:
        raise EvalError(str(exc)) from exc
    held = choose_holdout(train_y, args.holdout_intents, args.seed) if args.holdout_intents else []
    keep = [i for i, y in enumerate(train_y) if y not in held]
    train_x, train_y = [train_x[i] for i in keep], [train_y[i] for i in keep]
    oos_labels = set(held) | ({args.oos_label} if args.oos_label else set())
    truth = [OOS if y in oos_labels else y for y in test_y]
    open_set = any(t == OOS for t in truth)

    oos_intent = args.oos_label or OOS_INTENT
    data = to_training_data(train_x, train_y)
    n_train = len(train_x)
    if args.builtin_negatives and args.backend == "builtin":  # a Rasa server trains on its own data only
        data = with_negatives(data, oos_intent)
    n_negatives = sum(len(v) for v in data.intents.values()) - n_train

    backend = await _make_backend(args)
    try:
        started = time.perf_counter()
        await backend.train(data)
        train_seconds = time.perf_counter() - started
        choice, tune_seconds = _objective(args, backend, oos_intent)
        predicted, confidence, latencies = await _predict(backend, test_x)
    finally:
        close = getattr(backend, "close", None)
        if close is not None:
            await close()
    predicted = [OOS if p == oos_intent else p for p in predicted]
    hits = np.asarray(predicted) == np.asarray(truth)

    result: dict[str, Any] = {
        "backend": args.backend,
        "tier": args.tier,
        "n_train": n_train,
        "n_negatives": n_negatives,
        "n_test": len(test_x),
        "n_intents": len(set(train_y) - {oos_intent}),
        "train_seconds": round(train_seconds, 2),
        "predict_p50_ms": round(float(np.percentile(latencies, 50)), 3),
        "predict_p99_ms": round(float(np.percentile(latencies, 99)), 3),
    }
    # calibration of the top confidence: a prediction of the out-of-scope intent is right on an OOS row
    result["ece"] = round(expected_calibration_error(confidence, hits), 4)
    result["ece_bins"] = ECE_BINS
    if not open_set:
        result["accuracy"] = round(float(np.mean(hits)), 4)
        result["macro_f1"] = round(_macro_f1(truth, predicted), 4)
        return result

    threshold, tuning = await _threshold(args, backend, train_x, train_y, choice, tune_seconds)
    rejected = [OOS if c < threshold else p for p, c in zip(predicted, confidence, strict=True)]
    scores = open_set_scores(truth, predicted, confidence, threshold)
    in_scope = [i for i, t in enumerate(truth) if t != OOS]
    result.update(
        accuracy=round(float(np.mean(np.asarray(rejected) == np.asarray(truth))), 4),
        macro_f1=round(_macro_f1(truth, rejected), 4),
        closed_accuracy=round(float(np.mean([predicted[i] == truth[i] for i in in_scope])), 4),
        in_scope_accuracy=round(scores.in_scope_accuracy, 4),
        oos_recall=round(scores.oos_recall, 4),
        oos_precision=round(scores.oos_precision, 4),
        threshold=threshold,
        n_oos_test=len(truth) - len(in_scope),
        held_out_intents=held,
        seed=args.seed,
    )
    result.update(tuning)
    return result


async def _predict(backend: NLUBackend, texts: Sequence[str]) -> tuple[list[str], list[float], list[float]]:
    predicted: list[str] = []
    confidence: list[float] = []
    latencies: list[float] = []
    for text in texts:
        started = time.perf_counter()
        parsed = await backend.parse(text)
        latencies.append((time.perf_counter() - started) * 1000)
        top = parsed.intent
        predicted.append(top.name if top else OOS)
        confidence.append(top.confidence if top else 0.0)
    return predicted, confidence, latencies


def _objective(
    args: argparse.Namespace, backend: NLUBackend, oos_intent: str
) -> tuple[ThresholdChoice | None, float]:
    """The bot's default objective on the built-in classifier's held-out probabilities (applies its bias)."""
    classifier = getattr(backend, "classifier", None)
    if classifier is None or args.threshold is not None or args.objective != "protect-in-scope":
        return None, 0.0
    started = time.perf_counter()
    choice = choose_threshold(classifier, oos_intent, min_in_scope_accuracy=args.min_in_scope_accuracy)
    if choice is not None:
        classifier.set_oos_bias(oos_intent, choice.oos_bias)
    return choice, time.perf_counter() - started


async def _threshold(
    args: argparse.Namespace, backend: NLUBackend, texts: list[str], labels: list[str],
    choice: ThresholdChoice | None, tune_seconds: float,
) -> tuple[float, dict[str, Any]]:
    if args.threshold is not None:
        return float(args.threshold), {"threshold_source": "argument"}
    classifier = getattr(backend, "classifier", None)
    if classifier is None:
        raise EvalError("--threshold is required for backends other than builtin (tuning retrains many times)")
    started = time.perf_counter()
    if args.objective == "protect-in-scope":
        if choice is None:
            raise EvalError("the classifier kept no cross-validated probabilities (too few examples per intent)")
        summary = choice.summary()
        objective = f"in_scope>={args.min_in_scope_accuracy}" if args.min_in_scope_accuracy else choice.objective
        return choice.threshold, {
            "threshold_source": "cv_on_train",
            "threshold_objective": objective,
            "tune_seconds": round(tune_seconds, 2),
            "oos_bias": choice.oos_bias,
            "cv_closed_accuracy": summary["cv_closed_accuracy"],
            "cv_in_scope_accuracy": summary["cv_in_scope_accuracy"],
            "cv_oos_recall": summary["cv_oos_recall"],
        }
    tuning = await asyncio.to_thread(
        tune_thresholds,
        texts,
        labels,
        params=classifier.params,
        encoder=classifier.encoder,
        temperature=classifier.temperature,
        seed=args.seed,
        min_in_scope_accuracy=args.min_in_scope_accuracy,
    )
    return tuning.fallback_threshold, {
        "threshold_source": "cv_on_train",
        "threshold_objective": (
            f"in_scope>={args.min_in_scope_accuracy}" if args.min_in_scope_accuracy else "balanced"
        ),
        "tune_seconds": round(time.perf_counter() - started, 2),
        "ambiguity_threshold": tuning.ambiguity_threshold,
        "simulated_in_scope_accuracy": tuning.simulated_in_scope_accuracy,
        "simulated_oos_recall": tuning.simulated_oos_recall,
    }


def _macro_f1(truth: Sequence[str], predicted: Sequence[str]) -> float:
    labels = sorted(set(truth))
    return float(f1_score(truth, predicted, labels=labels, average="macro", zero_division=0))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: prints one JSON line; exit 0 on success, 2 on bad input."""
    parser = argparse.ArgumentParser(prog="switchboard nlu-eval", description=__doc__, epilog=DATA_NOTE)
    add_arguments(parser)
    return run_parsed(parser.parse_args(argv))


def run_parsed(args: argparse.Namespace) -> int:
    """Run an already-parsed `nlu-eval` (the `switchboard` command parses its own arguments)."""
    try:
        result = asyncio.run(run(args))
    except EvalError as exc:
        print(json.dumps({"error": str(exc)}))
        return 2
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
