"""What `kb.min_score` does: how many questions get an article offered, and how many offers are right.

On the project's evaluation set (bot/kb/evalset: the 232 questions and the 63 held-out ones) and on
the built-in off-topic utterances (bot/offtopic: weather, music, other industries' support ...), which
should get nothing. The offer is the best hit (`ArticleIndex.search(q, 1)`), made when its
`Hit.score` reaches the threshold, as `bot.kb.source.ArticleFinder.best` does.

    python benchmarks/kb_threshold.py [min_score ...]     # default 4 5 6 7

prints one JSON line per threshold: `min_score`, then per set the share offered and the share of
offers that are the labelled article (`main_offered`, `main_right`, `holdout_offered`, ...,
`offtopic_offered`, `offtopic_n`).
"""

from __future__ import annotations

import json
import sys

from bot.kb.evaluation import EVALSET, load_articles, load_questions
from bot.kb.index import ArticleIndex
from bot.offtopic import utterances


def main(thresholds: list[float]) -> None:
    index = ArticleIndex(load_articles())
    sets = {"main": load_questions(), "holdout": load_questions(EVALSET / "questions_holdout.csv")}
    best = {name: [(hits[0].article.slug if hits else None, hits[0].score if hits else 0.0, slug)
                   for q, slug in qs for hits in [index.search(q, 1)]] for name, qs in sets.items()}
    offtopic = [hits[0].score if hits else 0.0 for _, q in utterances() for hits in [index.search(q, 1)]]
    for t in thresholds:
        row: dict[str, float | int] = {"min_score": t}
        for name, rows in best.items():
            offered = [(got, want) for got, score, want in rows if got is not None and score >= t]
            row[f"{name}_offered"] = round(len(offered) / len(rows), 3)
            row[f"{name}_right"] = round(sum(g == w for g, w in offered) / max(len(offered), 1), 3)
        row["offtopic_offered"] = round(sum(s >= t for s in offtopic) / len(offtopic), 3)
        row["offtopic_n"] = len(offtopic)
        print(json.dumps(row))


if __name__ == "__main__":
    main([float(a) for a in sys.argv[1:]] or [4.0, 5.0, 6.0, 7.0])
