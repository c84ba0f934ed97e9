"""The bot offers help-center articles (real hub, real knowledge store, starter bot) and counts deflection."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from bot.kb.evaluation import load_articles
from bot.kb.source import ArticleFinder
from hub.models import utcnow
from switchboard.bootstrap import Runtime
from switchboard.config import Settings
from tests.bot.test_kb_index import WordHashEncoder
from tests.conftest import running
from tests.query_plans import Recorder, collection_scans
from tests.test_widget_flow import history, say, widget_session

#: Not covered by any intent of the starter bot (it falls back on it), answered by the alterations article.
QUESTION = "is there a tailor to shorten my jeans"


async def publish(runtime: Runtime, *slugs: str, published: bool = True) -> dict[str, Any]:
    assert runtime.hub is not None
    shop = {a.slug: a for a in load_articles()}
    out = {}
    for slug in slugs:
        a = shop[slug]
        out[slug] = await runtime.hub.knowledge.create(title=a.title, body=a.body, category=a.category,
                                                       language="en", published=published, actor=None)
    return out


async def ask(client: TestClient[Any, Any], runtime: Runtime, token: str, text: str) -> list[dict[str, Any]]:
    assert runtime.hub is not None
    await say(client, token, text)
    await runtime.hub.pipeline.drain()
    return await history(client, token)


async def test_an_article_is_offered_and_yes_counts_as_helped(client: TestClient[Any, Any], runtime: Runtime) -> None:
    assert runtime.hub is not None
    hub = runtime.hub
    articles = await publish(runtime, "alterations", "returns", "product-care")
    token = await widget_session(client)
    messages = await ask(client, runtime, token, QUESTION)
    offer = messages[-1]
    assert offer["author"]["kind"] == "bot"
    slug = articles["alterations"].slug
    card = offer["article"]
    assert card["title"] == "Hemming and alterations" and card["url"] == f"/help/{slug}"
    assert card["snippet"] and card["snippet"] in offer["text"] and card["question"] == "Did that help?"
    assert f"Hemming and alterations — /help/{slug}" in offer["text"]  # what text channels show
    assert [q["title"] for q in offer["quick_replies"]] == ["Yes", "No"]
    question = await hub.store.messages.find_one({"direction": "in", "text": QUESTION})
    assert question is not None
    assert question["nlu"]["reason"] == "article_offered" and question["nlu"]["kb"] == "offered"
    assert question["nlu"]["article"] == slug
    assert question["review"]["reason"] == "low_confidence"  # still in the trainers' NLU inbox

    messages = await ask(client, runtime, token, "/affirm")  # the "Yes" button
    assert messages[-1]["author"]["kind"] == "bot" and "article" not in messages[-1]
    conversation = await hub.store.conversations.find_one({})
    assert conversation is not None and conversation["state"] == "bot" and conversation["bot"]["state"] == {}
    assert await hub.store.tickets.count_documents({}) == 0

    now = utcnow()
    report = await hub.metrics.window(now - timedelta(hours=1), now + timedelta(minutes=1))
    assert report["bot"]["articles_offered"] == 1 and report["bot"]["articles_helped"] == 1
    assert report["bot"]["article_deflection"] == 1.0


async def test_no_goes_on_to_the_fallback_path_and_hands_over(client: TestClient[Any, Any], runtime: Runtime) -> None:
    assert runtime.hub is not None
    hub = runtime.hub
    await publish(runtime, "alterations", "returns")
    token = await widget_session(client)
    messages = await ask(client, runtime, token, QUESTION)
    assert "article" in messages[-1]
    messages = await ask(client, runtime, token, "no")
    # the offer was the first fallback; "no" is the second, which hands over (max_consecutive_fallbacks: 2)
    assert messages[-1]["author"]["kind"] == "system" and "ticket number" in messages[-1]["text"]
    ticket = await hub.store.tickets.find_one({})
    assert ticket is not None and ticket["reason"] == "repeated_fallback"
    answer = await hub.store.messages.find_one({"direction": "in", "text": "no"})
    assert answer is not None and answer["nlu"]["kb"] == "not_helpful"
    now = utcnow()
    report = await hub.metrics.window(now - timedelta(hours=1), now + timedelta(minutes=1))
    assert (report["bot"]["articles_offered"], report["bot"]["articles_helped"]) == (1, 0)
    assert report["bot"]["article_deflection"] == 0.0


async def test_unpublished_articles_and_answered_questions_offer_nothing(
    client: TestClient[Any, Any], runtime: Runtime
) -> None:
    assert runtime.hub is not None
    await publish(runtime, "alterations", published=False)
    await publish(runtime, "contact-us")
    token = await widget_session(client)
    messages = await ask(client, runtime, token, QUESTION)
    assert "article" not in messages[-1] and messages[-1]["author"]["kind"] == "bot"
    messages = await ask(client, runtime, token, "what are your opening hours?")  # an intent answers it
    assert "article" not in messages[-1]
    assert await runtime.hub.store.messages.count_documents({"nlu.kb": {"$exists": True}}) == 0


async def test_a_newly_published_article_is_offered_once_the_revision_moved(
    client: TestClient[Any, Any], runtime: Runtime
) -> None:
    assert runtime.hub is not None and runtime.app is not None
    token = await widget_session(client)
    messages = await ask(client, runtime, token, QUESTION)
    assert "article" not in messages[-1]  # no article yet: the ordinary fallback
    await publish(runtime, "alterations")
    finder = runtime.hub.bot.articles  # type: ignore[attr-defined]
    finder._checked = float("-inf")  # the revision TTL (10 s in policy.yml) has passed
    messages = await ask(client, runtime, token, "do you do hemming of jeans in store")
    assert messages[-1]["article"]["title"] == "Hemming and alterations"


async def test_the_deflection_report_reads_an_index(settings: Settings, shop_bot: Any) -> None:
    recorder = Recorder()
    async with running(settings, shop_bot, db_listeners=[recorder]) as rt:
        assert rt.hub is not None
        now = utcnow()
        await rt.hub.metrics.article_deflection(now - timedelta(days=7), now)
        scans, seen = await collection_scans(settings.mongodb_uri or "", settings.db_name, recorder, {"messages"})
    assert any("nlu.kb" in key for key in seen)
    assert scans == []


async def test_with_an_encoder_the_finder_ranks_with_the_dense_tier(runtime: Runtime) -> None:
    assert runtime.hub is not None
    await publish(runtime, "alterations", "returns")
    finder = ArticleFinder(runtime.hub.knowledge, "https://shop.example.com/", encoder=WordHashEncoder())
    assert (await finder.index(ttl=60)).tier == "hybrid"
    offer = await finder.best(QUESTION, min_score=6.0, ttl=60)
    assert offer is not None and offer["title"] == "Hemming and alterations"
    assert offer["url"] == "https://shop.example.com/help/" + offer["slug"]
