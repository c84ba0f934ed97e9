"""Text analysis of help-center retrieval (bot.kb.analysis, bot.kb.index): inflected, contracted,
irregular and American-spelled questions meet the articles' words."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.kb.analysis import normalise
from bot.kb.index import ArticleIndex, tokens
from hub.knowledge import Article


def article(slug: str, title: str, body: str, category: str = "Help") -> Article:
    return Article(id=slug, slug=slug, title=title, body=body, category=category, language="en", published=True,
                   updated_at=datetime(2026, 1, 1, tzinfo=UTC))


ARTICLES = [
    article("cancel", "Cancel an order", "You can cancel an order until it is packed. Open Orders and press Cancel.",
            "Orders"),
    article("loyalty", "Our loyalty programme", "Members collect points on every purchase and get a birthday gift.",
            "Loyalty"),
    article("colours", "Product colours", "Screens show colours differently; the favourite colour may look darker.",
            "Products"),
    article("faulty", "An item is faulty", "If an item doesn't work or arrives broken, send us a photo within 30 "
            "days and we replace it.", "Returns"),
    article("receipts", "Receipts for purchases", "Every purchase you buy online gets a receipt by email.",
            "Payments"),
]


@pytest.mark.parametrize(("word", "expected"), [
    ("didn't", ["do", "not"]), ("doesnt", ["do", "not"]), ("won't", ["will", "not"]), ("wheres", ["where", "is"]),
    ("we'll", ["we", "will"]), ("someone's", ["someone"]),
    ("bought", ["buy"]), ("sent", ["send"]), ("got", ["get"]), ("paid", ["pay"]),
    ("color", ["colour"]), ("favorites", ["favourites"]), ("program", ["programme"]), ("organized", ["organised"]),
    # left alone: real words, and "size" and its compounds are not -ize verbs
    ("size", ["size"]), ("oversized", ["oversized"]), ("prize", ["prize"]), ("refund", ["refund"]),
])
def test_normalise(word: str, expected: list[str]) -> None:
    assert normalise(word) == expected


def test_inflected_irregular_and_american_forms_share_a_token() -> None:
    assert tokens("cancelling") == tokens("cancel") == tokens("cancelled") == tokens("canceled")
    assert tokens("bought") == tokens("buying") == tokens("buy")
    assert tokens("loyalty program") == tokens("loyalty programme")


@pytest.mark.parametrize(("question", "slug"), [
    ("cancelling what i ordered", "cancel"),                # inflection: cancelling -> cancel
    ("do you have reward programs", "loyalty"),              # American spelling: programs -> programmes
    ("which ones are colored", "colours"),                  # colored -> coloured
    ("my headphones dont work", "faulty"),                  # dont -> do not, meets "doesn't work" in the article
    ("i need proof of what i bought", "receipts"),          # irregular verb: bought -> buy
])
def test_the_article_is_found_whatever_the_form_of_the_word(question: str, slug: str) -> None:
    hits = ArticleIndex(ARTICLES, synonyms=[]).search(question, 3)
    assert hits and hits[0].article.slug == slug, [(h.article.slug, h.score) for h in hits]


def test_without_normalisation_these_words_would_not_match() -> None:
    """The forms above are not conflated by the stemmer alone: the normalisation is what finds them."""
    from bot.kb.index import _stemmer

    stem = _stemmer().stemWord
    assert stem("bought") != stem("buy") and stem("program") != stem("programme") and stem("color") != stem("colour")


def test_the_best_section_ranks_an_article_but_the_threshold_score_stays_title_and_body() -> None:
    long_body = ("General words about delivery. " * 30
                 + "\n\n## Customs\n\nImport duties for Norway are paid on arrival.")
    articles = [article("intl", "International delivery", long_body, "Delivery"),
                article("times", "Delivery times", "Delivery takes 2 days for Norway orders and 1 day at home.",
                        "Delivery")]
    index = ArticleIndex(articles, synonyms=[])
    hits = index.search("import duties norway", 2)
    assert hits[0].article.slug == "intl"
    assert [h.score for h in hits] == pytest.approx([float(s) for s in index.scores("import duties norway")[[0, 1]]])
    assert hits[0].rank_score > hits[0].score  # the section term reorders only
