"""How well can any confidence score separate unknown intents on BANKING77's holdout protocol?

A diagnostic, not a tuned result. It trains the built-in classifier on BANKING77 train
minus 10 held-out intents (seed 0, as `nlu-eval --holdout-intents 10`), computes several
novelty scores for every test message, and prints one JSON line per score with:

- `auroc`: how well the score ranks held-out-intent messages above in-scope ones;
- `oracle_recall_at_90`: the best out-of-scope recall any threshold reaches while in-scope
  accuracy stays >= 0.90, the threshold being picked ON THE TEST SET. It is an upper bound
  of what a threshold tuned on training data can reach with that score, never a result
  to publish as such.

Then two combiners of all scores (logistic regression): one learned on the training data
only (whole intents hidden inside the training set as pseudo out-of-scope, threshold tuned
there: an honest result), and one cross-validated on the test labels themselves (an
optimistic ceiling of any combination of these scores).

`--seed N` holds out another draw of 10 intents, to check that seed 0 is not an unlucky one;
each run also prints, for the calibrated top probability at its oracle threshold, the recall
per held-out intent and the known intent most of its messages are read as.

Usage: .venv/bin/python benchmarks/oos_ceiling.py [DATA_DIR] [--seed N] [--embeddings CACHE_DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import Counter
from pathlib import Path

import numpy as np
from scipy.special import logsumexp
from sklearn.decomposition import TruncatedSVD
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict, train_test_split
from sklearn.preprocessing import StandardScaler, normalize

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.evaluation import choose_holdout, load_csv
from bot.nlu.classifier import EMBEDDINGS_PARAMS, ClassifierParams, IntentClassifier, softmax


def recall_at(score: np.ndarray, correct: np.ndarray, oos: np.ndarray, min_acc: float = 0.90) -> tuple[float, float]:
    """Best OOS recall (and the in-scope accuracy there) over thresholds on `score` (high = unknown)."""
    best = (0.0, float(correct[~oos].mean()))
    for t in np.unique(np.quantile(score, np.linspace(0, 1, 1001))):
        rejected = score >= t
        acc = float((correct & ~rejected)[~oos].mean())
        rec = float(rejected[oos].mean())
        if acc >= min_acc and rec > best[0]:
            best = (rec, acc)
    return best


def oracle_threshold(score: np.ndarray, correct: np.ndarray, oos: np.ndarray, min_acc: float = 0.90) -> float:
    """The threshold behind `recall_at`'s best recall (test-set oracle, diagnostic only)."""
    best_t, best_r = float("inf"), -1.0
    for t in np.unique(np.quantile(score, np.linspace(0, 1, 1001))):
        rejected = score >= t
        if (correct & ~rejected)[~oos].mean() >= min_acc and rejected[oos].mean() > best_r:
            best_t, best_r = float(t), float(rejected[oos].mean())
    return best_t


def novelty_scores(
    clf: IntentClassifier, train_texts: list[str], y: np.ndarray, texts: list[str]
) -> dict[str, np.ndarray]:
    """Several "how unknown is this message" scores, higher = more likely out of scope."""
    feats = clf._features  # the fitted TF-IDF blocks (private: a diagnostic may look inside)
    assert feats is not None and clf._svm is not None
    dense_tr = clf.encoder.encode(train_texts) if clf.encoder is not None else None
    dense_te = clf.encoder.encode(texts) if clf.encoder is not None else None
    xtr = normalize(feats.transform(train_texts, dense_tr))
    xte = normalize(feats.transform(texts, dense_te))
    raw = clf._svm.decision_function(feats.transform(texts, dense_te))
    proba = softmax(raw, clf.temperature)
    ordered = np.sort(proba, axis=1)
    pred = proba.argmax(axis=1)
    n_cls = proba.shape[1]
    sims = (xte @ xtr.T).toarray()
    same = y[None, :] == pred[:, None]
    knn_pred = np.where(same, sims, -1.0).max(axis=1)
    cent = normalize(np.vstack([np.asarray(xtr[y == c].mean(axis=0)) for c in range(n_cls)]))
    svd = TruncatedSVD(300, random_state=0).fit(xtr)
    ztr, zte = normalize(svd.transform(xtr)), normalize(svd.transform(xte))
    # per-class thresholds in disguise: top probability relative to how confident the
    # model usually is, out of fold, on the training messages it assigns to that class
    cv_top, cv_pred = clf.cv_proba.max(axis=1), clf.cv_proba.argmax(axis=1)  # type: ignore[union-attr]
    mean = np.array([cv_top[cv_pred == c].mean() if (cv_pred == c).any() else 0.5 for c in range(n_cls)])
    spread = np.array([cv_top[cv_pred == c].std() + 1e-3 if (cv_pred == c).any() else 1.0 for c in range(n_cls)])
    out = {
        "max_probability": -ordered[:, -1],
        "max_probability_class_normalised": -(ordered[:, -1] - mean[pred]) / spread[pred],
        "margin_top2": -(ordered[:, -1] - ordered[:, -2]),
        "entropy": -(proba * np.log(proba + 1e-12)).sum(axis=1),
        "energy": -logsumexp(raw * clf.temperature, axis=1),
        "max_raw_svm_score": -raw.max(axis=1),
        "knn_cosine_any": -sims.max(axis=1),
        "knn_cosine_predicted_class": -knn_pred,
        "centroid_cosine_predicted": -(xte @ cent.T)[np.arange(len(pred)), pred],
        "lsa300_knn_cosine": -(zte @ ztr.T).max(axis=1),
    }
    if dense_tr is not None and dense_te is not None:
        esims = dense_te @ dense_tr.T
        out["embedding_knn_cosine_predicted"] = -np.where(same, esims, -1.0).max(axis=1)
    return out


def fit_model(texts: list[str], labels: list[str], params: ClassifierParams, encoder: object) -> IntentClassifier:
    return IntentClassifier(params, encoder).fit(texts, labels)  # type: ignore[arg-type]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("data", nargs="?", default=str(Path(__file__).resolve().parents[2] / "shared/data/banking77"))
    ap.add_argument("--seed", type=int, default=0, help="which 10 intents are held out (as nlu-eval --seed)")
    ap.add_argument("--embeddings", metavar="CACHE_DIR", help="use the accurate tier (needs torch)")
    args = ap.parse_args()
    encoder, params = None, ClassifierParams()
    if args.embeddings:
        from bot.nlu.embeddings import CachedEncoder, MiniLMEncoder

        encoder, params = CachedEncoder(MiniLMEncoder(), args.embeddings), EMBEDDINGS_PARAMS
    tier = "embeddings" if encoder else "default"
    x, labels = load_csv(Path(args.data) / "train.csv")
    tx, ty = load_csv(Path(args.data) / "test.csv")
    held = set(choose_holdout(labels, 10, args.seed))
    keep = [i for i, lab in enumerate(labels) if lab not in held]
    x, labels = [x[i] for i in keep], [labels[i] for i in keep]
    clf = fit_model(x, labels, params, encoder)
    index = {c: i for i, c in enumerate(clf.classes)}
    y = np.array([index[lab] for lab in labels])
    oos = np.array([t in held for t in ty])
    truth = np.array([index.get(t, -1) for t in ty])
    test_scores = novelty_scores(clf, x, y, tx)
    correct = (clf.predict_proba(tx).argmax(axis=1) == truth) & ~oos
    for name, score in test_scores.items():
        rec, acc = recall_at(score, correct, oos)
        auroc = round(float(roc_auc_score(oos, score)), 4)
        print(json.dumps({"tier": tier, "seed": args.seed, "score": name, "auroc": auroc,
                          "oracle_recall_at_90": round(rec, 4), "in_scope_accuracy": round(acc, 4)}), flush=True)
    top = test_scores["max_probability"]
    rejected = top >= oracle_threshold(top, correct, oos)
    predicted, truth_labels = np.asarray(clf.classes)[clf.predict_proba(tx).argmax(axis=1)], np.asarray(ty)
    per_intent = {
        h: {"oracle_recall": round(float(rejected[truth_labels == h].mean()), 2),
            "read_as": Counter(predicted[truth_labels == h]).most_common(1)[0]}
        for h in sorted(held)
    }
    print(json.dumps({"tier": tier, "seed": args.seed, "score": "max_probability", "per_held_out_intent": per_intent}))

    # Combiner learned on training data only: hide intents inside the training set.
    lab = np.asarray(labels)
    intents = sorted(set(labels))
    rng = random.Random(0)
    sim_f, sim_oos, sim_correct = [], [], []
    for r in range(3):
        hidden = set(rng.sample(intents, 9))
        inside = np.flatnonzero(~np.isin(lab, list(hidden)))
        tr, va = train_test_split(inside, test_size=0.2, random_state=r, stratify=lab[inside])
        # calibrated like the real model: the class-normalised score needs out-of-fold probabilities
        inner = fit_model([x[i] for i in tr], list(lab[tr]), params, encoder)
        inner_index = {c: i for i, c in enumerate(inner.classes)}
        scored = np.concatenate([va, np.flatnonzero(np.isin(lab, list(hidden)))])
        texts = [x[i] for i in scored]
        f = novelty_scores(inner, [x[i] for i in tr], np.array([inner_index[v] for v in lab[tr]]), texts)
        sim_f.append(np.column_stack(list(f.values())))
        is_oos = np.isin(lab[scored], list(hidden))
        sim_oos.append(is_oos)
        sim_correct.append((np.asarray(inner.predict(texts)) == lab[scored]) & ~is_oos)
    fs, os_, cs = np.vstack(sim_f), np.concatenate(sim_oos), np.concatenate(sim_correct)
    ft = np.column_stack(list(test_scores.values()))
    scaler = StandardScaler().fit(fs)
    combiner = LogisticRegression(max_iter=2000).fit(scaler.transform(fs), os_)
    s_sim, s_test = combiner.decision_function(scaler.transform(fs)), combiner.decision_function(scaler.transform(ft))
    grid = np.unique(np.quantile(s_sim, np.linspace(0, 1, 2001)))
    ok = [t for t in grid if (cs & (s_sim < t))[~os_].mean() >= 0.90]
    t = min(ok) if ok else grid[-1]
    rejected = s_test >= t
    print(json.dumps({"tier": tier, "seed": args.seed, "score": "combiner_trained_on_train_pseudo_oos",
                      "threshold_source": "cv_on_train",
                      "in_scope_accuracy": round(float((correct & ~rejected)[~oos].mean()), 4),
                      "oos_recall": round(float(rejected[oos].mean()), 4),
                      "auroc": round(float(roc_auc_score(oos, s_test)), 4)}), flush=True)
    oracle = cross_val_predict(LogisticRegression(max_iter=2000), StandardScaler().fit_transform(ft), oos,
                               cv=StratifiedKFold(5, shuffle=True, random_state=0), method="predict_proba")[:, 1]
    rec, acc = recall_at(oracle, correct, oos)
    print(json.dumps({"tier": tier, "seed": args.seed, "score": "ORACLE_combiner_cv_on_test_labels",
                      "auroc": round(float(roc_auc_score(oos, oracle)), 4),
                      "oracle_recall_at_90": round(rec, 4), "in_scope_accuracy": round(acc, 4)}))


if __name__ == "__main__":
    main()
