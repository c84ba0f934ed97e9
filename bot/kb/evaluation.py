"""The help-center retrieval benchmark: the project's own articles and customer questions.

`bot/kb/evalset/` holds 47 articles of the demo shop (Markdown with a YAML front matter: title,
category, optional language; the slug is the file name) and `questions.csv` (`question,slug`):
customer questions, each labelled with the article that answers it, written for this project
before the retriever was tuned. `switchboard kb-eval` prints the figures as one JSON line.
"""

from __future__ import annotations

import csv
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.kb.index import ArticleIndex

EVALSET = Path(__file__).parent / "evalset"


@dataclass(frozen=True)
class EvalArticle:
    slug: str
    title: str
    body: str
    category: str
    language: str = "en"


def load_articles(directory: Path | str = EVALSET / "articles") -> list[EvalArticle]:
    """Every `*.md` of the directory (front matter between `---` lines), sorted by slug."""
    articles = []
    for path in sorted(Path(directory).glob("*.md")):
        text = path.read_text(encoding="utf-8")
        meta: dict[str, Any] = {}
        if text.startswith("---"):
            _, front, text = text.split("---", 2)
            meta = yaml.safe_load(front) or {}
        articles.append(EvalArticle(slug=str(meta.get("slug") or path.stem), title=str(meta.get("title", path.stem)),
                                    body=text.strip(), category=str(meta.get("category", "")),
                                    language=str(meta.get("language", "en"))))
    return articles


def load_questions(path: Path | str = EVALSET / "questions.csv") -> list[tuple[str, str]]:
    """(question, slug) pairs from a CSV with the columns `question,slug`."""
    with Path(path).open(encoding="utf-8", newline="") as f:
        return [(row["question"], row["slug"]) for row in csv.DictReader(f)]


def evaluate(index: ArticleIndex, questions: list[tuple[str, str]], k: int = 10) -> dict[str, Any]:
    """top-1 / top-3 accuracy and mean reciprocal rank (over the first `k`) of `index` on `questions`."""
    top1 = top3 = 0
    rr = 0.0
    misses = []
    for question, slug in questions:
        ranked = [h.article.slug for h in index.search(question, k)]
        rank = ranked.index(slug) + 1 if slug in ranked else None
        top1 += rank == 1
        top3 += rank is not None and rank <= 3
        rr += 1 / rank if rank else 0.0
        if rank != 1:
            misses.append({"question": question, "expected": slug, "got": ranked[:3]})
    n = max(len(questions), 1)
    return {"top1": round(top1 / n, 3), "top3": round(top3 / n, 3), "mrr": round(rr / n, 3), "misses": misses}


def run(articles_dir: Path | str | None = None, questions_csv: Path | str | None = None,
        encoder: Any | None = None, title_weight: float | None = None) -> dict[str, Any]:
    """Build the index and evaluate it; the JSON-ready report (misses listed apart)."""
    started = time.perf_counter()
    articles = load_articles(articles_dir or EVALSET / "articles")
    questions = load_questions(questions_csv or EVALSET / "questions.csv")
    kwargs: dict[str, Any] = {"encoder": encoder}
    if title_weight is not None:
        kwargs["title_weight"] = title_weight
    index = ArticleIndex(articles, **kwargs)
    result = evaluate(index, questions)
    return {"articles": len(articles), "questions": len(questions), "tier": index.tier,
            "top1": result["top1"], "top3": result["top3"], "mrr": result["mrr"],
            "seconds": round(time.perf_counter() - started, 2), "misses": result["misses"]}
