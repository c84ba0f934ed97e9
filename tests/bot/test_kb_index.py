"""Help-center retrieval (bot.kb): hand cases on a few articles, and `switchboard kb-eval` on the real set."""

from __future__ import annotations

import json
import zlib
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from bot.kb.evaluation import load_articles, load_questions
from bot.kb.index import ArticleIndex, markdown_text
from hub.knowledge import Article
from switchboard.cli import main


def article(slug: str, title: str, body: str, category: str = "Help") -> Article:
    return Article(id=slug, slug=slug, title=title, body=body, category=category, language="en", published=True,
                   updated_at=datetime(2026, 1, 1, tzinfo=UTC))


ARTICLES = [
    article("returns", "Returning an item", "You can return unused items within **30 days**. "
            "Print the [prepaid label](https://shop.example.com/returns) and drop the parcel at a post office.",
            "Returns"),
    article("refunds", "When will I get my refund?", "Refunds are issued within 5 business days of your return "
            "reaching our warehouse. Your bank may take 3-5 more days.", "Returns"),
    article("gift-cards", "Buying and using gift cards", "Gift cards are valid for 3 years. Enter the 16-digit "
            "number and PIN at checkout.", "Gift cards"),
    article("reset-password", "Resetting your password", "Click *Forgot password* on the login page; the link "
            "is valid for 1 hour.", "Account"),
]


@pytest.mark.parametrize(("question", "slug"), [
    ("how long until my money comes back after returning", "refunds"),   # stemming: returning -> return
    ("i want to send the dress back", "returns"),                         # thesaurus: send back -> return
    ("forgot my pasword", "reset-password"),                              # typo corrected to "password"
    ("is there an expiry date on giftcards", "gift-cards"),               # thesaurus: giftcard -> gift card
])
def test_the_right_article_ranks_first(question: str, slug: str) -> None:
    hits = ArticleIndex(ARTICLES).search(question, 3)
    assert hits and hits[0].article.slug == slug, [(h.article.slug, h.score) for h in hits]


def test_the_snippet_is_the_best_matching_sentence_without_markdown() -> None:
    hit = ArticleIndex(ARTICLES).search("where do I drop the parcel with the label", 1)[0]
    assert hit.article.slug == "returns"
    assert hit.snippet == "Print the prepaid label and drop the parcel at a post office."


def test_markdown_is_indexed_as_text() -> None:
    text = markdown_text("## Title\n\n- **bold** item with [a link](https://x.example/y)\n\n"
                         "| a | b |\n|---|---|\n| c | d |")
    assert "https" not in text and "**" not in text and "|" not in text
    assert "bold item with a link" in text and "Title" in text


def test_a_question_about_nothing_in_the_articles_finds_nothing() -> None:
    assert ArticleIndex(ARTICLES).search("what's the weather tomorrow", 3) == []
    assert ArticleIndex([]).search("refund", 3) == []


def test_background_articles_set_the_scale_but_are_never_returned() -> None:
    shop = load_articles()
    small = ArticleIndex(ARTICLES[:1], background=shop)
    hits = small.search("can I send it back for free", 3)
    assert [h.article.slug for h in hits] == ["returns"]
    # the same question scores alike against the full set: the threshold means the same
    full = {h.article.slug: h.score for h in ArticleIndex(shop).search("can I send it back for free", 3)}
    assert abs(hits[0].score - full["returns"]) / full["returns"] < 0.5


def test_the_evaluation_set_is_what_the_issue_asks_for() -> None:
    articles, questions = load_articles(), load_questions()
    slugs = {a.slug for a in articles}
    assert len(articles) >= 40 and len(questions) >= 200
    assert {slug for _, slug in questions} == slugs  # every question has an article, every article questions
    words = [len(markdown_text(a.body).split()) for a in articles]
    assert min(words) >= 80 and max(words) <= 300


def test_kb_eval_prints_one_json_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kb-eval"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    report = json.loads(lines[0])
    assert report["articles"] == len(load_articles()) and report["questions"] == len(load_questions())
    assert report["tier"] == "bm25"
    assert 0 < report["top1"] <= report["top3"] <= 1 and 0 < report["mrr"] <= 1 and report["seconds"] >= 0


def test_kb_eval_reads_other_files_and_says_what_is_wrong(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "pins.md").write_text("---\ntitle: Card PIN\ncategory: Cards\n---\nReset the PIN in the app.")
    (tmp_path / "q.csv").write_text("question,slug\nforgot the pin of my card,pins\n")
    assert main(["kb-eval", "--articles", str(tmp_path / "a"), "--questions", str(tmp_path / "q.csv")]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["articles"], report["questions"], report["top1"], report["top3"]) == (1, 1, 1.0, 1.0)
    assert main(["kb-eval", "--questions", str(tmp_path / "missing.csv")]) == 2
    assert "does not exist" in capsys.readouterr().err


class WordHashEncoder:
    """A small real encoder (hashed bag of words, L2-normalised) standing in for MiniLM's 384 dims."""

    name = "word-hash-64"

    def encode(self, texts: list[str]) -> np.ndarray:
        rows = np.zeros((len(texts), 64), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in text.lower().split():
                rows[i, zlib.crc32(word.strip(".,?!").encode()) % 64] += 1.0
        norms = np.linalg.norm(rows, axis=1, keepdims=True)
        return rows / np.where(norms == 0, 1, norms)


def test_the_dense_tier_reorders_but_keeps_the_bm25_score_for_thresholds() -> None:
    lexical = ArticleIndex(ARTICLES)
    hybrid = ArticleIndex(ARTICLES, encoder=WordHashEncoder())
    assert (lexical.tier, hybrid.tier) == ("bm25", "hybrid")
    question = "when will I get my refund"
    bm25 = {h.article.slug: h.score for h in lexical.search(question, 4)}
    hits = hybrid.search(question, 4)
    assert hits[0].article.slug == "refunds"
    assert all(h.score == pytest.approx(bm25.get(h.article.slug, 0.0)) for h in hits)
    assert all(0.0 <= h.rank_score <= 1.0 for h in hits)
    assert [h.rank_score for h in hits] == sorted((h.rank_score for h in hits), reverse=True)
