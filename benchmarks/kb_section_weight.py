"""Was `SECTION_WEIGHT` (bot/kb/index.py) chosen honestly? Nested cross-validation on the evaluation set.

The weight of the best section in the ranking was picked from a few values on the 232 questions of
bot/kb/evalset/questions.csv. Picking on the same questions one reports flatters the figure, so this
repeats the choice without the questions it is judged on: 5 folds, the value with the best top-3 on
four folds (ties: the smaller weight) is scored on the fifth; 20 shuffles (seeds 0-19).

    python benchmarks/kb_section_weight.py

prints one JSON line per weight (`weight`, `top3` on all questions) and one with `nested_cv_top3`
(the top-3 to expect from the tuning procedure on questions it did not see) and `chosen` (how often
each weight won). The 63 held-out questions (questions_holdout.csv) are the other check: `switchboard
kb-eval --questions bot/kb/evalset/questions_holdout.csv`.
"""

from __future__ import annotations

import json
import random
from collections import Counter

import numpy as np

import bot.kb.index as kb_index
from bot.kb.evaluation import load_articles, load_questions

WEIGHTS = (0.0, 0.5, 1.0)


def main() -> None:
    articles, questions = load_articles(), load_questions()
    found: dict[float, np.ndarray] = {}
    saved = kb_index.SECTION_WEIGHT
    try:
        for w in WEIGHTS:
            kb_index.SECTION_WEIGHT = w
            index = kb_index.ArticleIndex(articles)
            found[w] = np.array([slug in [h.article.slug for h in index.search(q, 3)] for q, slug in questions])
            print(json.dumps({"weight": w, "top3": round(float(found[w].mean()), 3)}))
    finally:
        kb_index.SECTION_WEIGHT = saved
    scores, chosen = [], Counter()
    for seed in range(20):
        order = list(range(len(questions)))
        random.Random(seed).shuffle(order)
        for fold in range(5):
            test = np.zeros(len(questions), dtype=bool)
            test[order[fold::5]] = True
            best = max(WEIGHTS, key=lambda w: (found[w][~test].mean(), -w))
            chosen[best] += 1
            scores.append(found[best][test].mean())
    wins = {str(k): v for k, v in chosen.items()}
    print(json.dumps({"nested_cv_top3": round(float(np.mean(scores)), 3), "chosen": wins}))


if __name__ == "__main__":
    main()
