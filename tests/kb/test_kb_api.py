"""The trainer's article API, the agents' link search and the public help center over real HTTP."""

from __future__ import annotations

import re
from typing import Any

from aiohttp.test_utils import TestClient

from agents_ui import helpcenter
from hub.models import Role
from switchboard.bootstrap import Runtime
from tests.conftest import login

SHIPPING = {"title": "Shipping times", "category": "Orders", "language": "en",
            "body": "Orders ship in **two days**.\n\n| Zone | Days |\n|---|---|\n| EU | 2 |\n\n[Track it](https://track.example.com)"}
EVIL = {"title": "Evil", "category": "Orders", "published": True,
        "body": "Hi <script>alert('x')</script> [click](javascript:alert(1)) <img src=x onerror=alert(1)>\n\n"
                "[ok](https://example.com/ok) ![pic](javascript:alert(2))"}


async def _trainer(runtime: Runtime, client: TestClient[Any, Any]) -> dict[str, str]:
    assert runtime.hub is not None
    await runtime.hub.accounts.create("tia", "trainer password", name="Tia", roles=[Role.TRAINER])
    return {"X-CSRF-Token": await login(client, "tia", "trainer password")}


async def test_trainer_writes_publishes_and_the_help_center_serves_only_published_articles(
    client: TestClient[Any, Any], runtime: Runtime
) -> None:
    headers = await _trainer(runtime, client)
    created = await client.post("/api/kb/articles", json=SHIPPING, headers=headers)
    assert created.status == 201, await created.text()
    article = (await created.json())["article"]
    assert article["slug"] == "shipping-times" and article["published"] is False
    assert article["url"] == str(client.make_url("/help/shipping-times"))
    # a draft is not public
    assert (await client.get("/help/shipping-times")).status == 404
    assert "Shipping times" not in await (await client.get("/help")).text()
    published = await client.post(f"/api/kb/articles/{article['id']}/publish", headers=headers)
    assert (await published.json())["article"]["published"] is True
    page = await client.get("/help/shipping-times")
    html = await page.text()
    assert page.status == 200 and "default-src 'none'" in page.headers["Content-Security-Policy"]
    assert "<strong>two days</strong>" in html and "<td>EU</td>" in html
    assert '<a href="https://track.example.com" rel="noopener noreferrer nofollow">Track it</a>' in html
    assert "Was this article helpful?" in html
    index = await (await client.get("/help")).text()
    assert 'href="/help/shipping-times"' in index and "Orders" in index
    found = await (await client.get("/help/search", params={"q": "SHIP days"})).text()
    assert 'href="/help/shipping-times"' in found and "1 article" in found
    nothing = await (await client.get("/help/search", params={"q": "refund"})).text()
    assert "No articles match" in nothing
    # a title change keeps the published address; unpublishing takes the page down
    changed = await client.patch(f"/api/kb/articles/{article['id']}", json={"title": "Delivery times"},
                                 headers=headers)
    assert (await changed.json())["article"]["slug"] == "shipping-times"
    listed = await (await client.get("/api/kb/articles", params={"published": "true"})).json()
    assert [a["title"] for a in listed["articles"]] == ["Delivery times"] and listed["categories"] == ["Orders"]
    assert "snippet" in listed["articles"][0] and "id" in listed["articles"][0]
    await client.post(f"/api/kb/articles/{article['id']}/unpublish", headers=headers)
    assert (await client.get("/help/shipping-times")).status == 404
    deleted = await client.delete(f"/api/kb/articles/{article['id']}", headers=headers)
    assert deleted.status == 200 and (await client.get(f"/api/kb/articles/{article['id']}")).status == 404


async def test_help_center_pages_strip_scripts_and_javascript_links(
    client: TestClient[Any, Any], runtime: Runtime
) -> None:
    headers = await _trainer(runtime, client)
    assert (await client.post("/api/kb/articles", json=EVIL, headers=headers)).status == 201
    html = await (await client.get("/help/evil")).text()
    body = html.split('<div class="body">', 1)[1].split("</div>", 1)[0]
    tags = re.findall(r"<[a-z][^>]*>", body)  # what a browser would run is in tags, not in shown text
    assert tags and not [t for t in tags if re.search(r"script|javascript:|onerror|<img", t)], tags
    assert re.findall(r"<script[^>]*>", html) == ['<script src="/desk/static/help.js" type="module">']
    assert "&lt;script&gt;" in body  # shown as text, not run
    assert '<a href="https://example.com/ok" rel="noopener noreferrer nofollow">ok</a>' in body
    preview = await client.post("/api/kb/preview", json={"body": EVIL["body"]}, headers=headers)
    previewed = (await preview.json())["html"]
    assert not [t for t in re.findall(r"<[a-z][^>]*>", previewed) if re.search(r"script|javascript:|onerror", t)]
    assert 'rel="noopener' in previewed
    # the search page and the title escape what they echo
    echoed = await (await client.get("/help/search", params={"q": "<script>alert(1)</script>"})).text()
    assert "<script>alert" not in echoed and "&lt;script&gt;alert(1)&lt;/script&gt;" in echoed


async def test_bad_input_is_a_400_or_422_and_only_trainers_write(
    client: TestClient[Any, Any], runtime: Runtime
) -> None:
    assert runtime.hub is not None
    await runtime.hub.accounts.create("andy", "agent password", roles=[Role.AGENT])
    agent_headers = {"X-CSRF-Token": await login(client, "andy", "agent password")}
    assert (await client.post("/api/kb/articles", json=SHIPPING, headers=agent_headers)).status == 403
    assert (await client.get("/api/kb/articles")).status == 403
    assert (await client.get("/api/kb/links")).status == 200  # agents search published articles
    await client.post("/api/auth/logout", json={}, headers=agent_headers)
    headers = await _trainer(runtime, client)
    for body, status, field in (
        ({**SHIPPING, "title": ""}, 422, "title"), ({**SHIPPING, "language": "english"}, 422, "language"),
        ({**SHIPPING, "body": "x" * 50_001}, 422, "body"), ({**SHIPPING, "published": "yes"}, 422, "published"),
        ({**SHIPPING, "colour": "red"}, 422, "colour"), ({**SHIPPING, "body": "   "}, 400, "body"),
    ):
        resp = await client.post("/api/kb/articles", json=body, headers=headers)
        assert resp.status == status and field in (await resp.json())["error"], (body, await resp.text())
    assert (await client.patch("/api/kb/articles/nope", json={"title": "x"}, headers=headers)).status == 404
    assert (await client.patch(f"/api/kb/articles/{'0' * 24}", json={}, headers=headers)).status == 400
    assert (await client.get("/api/kb/articles", params={"published": "maybe"})).status == 400
    assert (await client.post("/api/kb/articles/nope/publish", headers=headers)).status == 404


async def test_agents_get_links_on_the_public_url_and_readers_answer_once(
    client: TestClient[Any, Any], runtime: Runtime
) -> None:
    headers = await _trainer(runtime, client)
    await client.post("/api/kb/articles", json={**SHIPPING, "published": True}, headers=headers)
    found = (await (await client.get("/api/kb/links", params={"q": "shipping"})).json())["articles"]
    assert [(a["title"], a["url"]) for a in found] == [("Shipping times", str(client.make_url("/help/shipping-times")))]
    assert "body" not in found[0] and found[0]["snippet"].startswith("Orders ship in two days")
    # "Was this article helpful?": a form from our own pages, counted once per visitor token
    helpcenter.reset_limits()
    form = {"answer": "yes", "visitor": "v" * 20}
    answered = await client.post("/help/shipping-times/feedback", data=form, allow_redirects=False)
    assert answered.status == 303 and answered.headers["Location"] == "/help/shipping-times?thanks=yes"
    again = await client.post("/help/shipping-times/feedback", data=form, headers={"Accept": "application/json"})
    assert again.status == 200 and await again.json() == {"ok": True}
    other = await client.post("/help/shipping-times/feedback", data={"answer": "no", "visitor": "w" * 20},
                              headers={"Accept": "application/json"})
    assert other.status == 200
    cross_site = await client.post("/help/shipping-times/feedback", data=form,
                                   headers={"Origin": "https://evil.example"})
    assert cross_site.status == 403
    assert (await client.post("/help/shipping-times/feedback", data={"answer": "maybe"})).status == 400
    assert (await client.post("/help/unknown/feedback", data=form)).status == 404
    article = (await (await client.get("/api/kb/articles")).json())["articles"][0]
    assert (article["helpful"], article["not_helpful"]) == (1, 1)
    for _ in range(helpcenter.FEEDBACK_PER_WINDOW):
        last = await client.post("/help/shipping-times/feedback", data=form, allow_redirects=False)
    assert last.status == 429 and int(last.headers["Retry-After"]) >= 1
    helpcenter.reset_limits()


async def test_the_help_center_lists_by_topic_and_language(client: TestClient[Any, Any], runtime: Runtime) -> None:
    assert runtime.hub is not None
    kb = runtime.hub.knowledge
    for title, category, language in (("Shipping times", "Orders", "en"), ("Return an item", "Returns", "en"),
                                      ("Lieferzeiten", "Bestellungen", "de"), ("Draft", "Orders", "en")):
        await kb.create(title=title, body=f"{title}: details.", category=category, language=language,
                        published=title != "Draft", actor=None)
    german = await (await client.get("/help", headers={"Accept-Language": "de-CH,de;q=0.9,en;q=0.5"})).text()
    assert '<html lang="de">' in german and "Lieferzeiten" in german and "Shipping times" not in german
    english = await (await client.get("/help", params={"lang": "en"})).text()
    assert "Shipping times" in english and "Return an item" in english and "Lieferzeiten" not in english
    assert 'hreflang="de"' in english and "Draft" not in english
    orders = await (await client.get("/help", params={"lang": "en", "category": "Orders"})).text()
    assert "Shipping times" in orders and "Return an item" not in orders and "All topics" in orders
    found = await (await client.get("/help/search", params={"q": "details", "lang": "de"})).text()
    assert "Lieferzeiten" in found and "Shipping times" not in found
    for n in range(helpcenter.PER_TOPIC):
        await kb.create(title=f"Order question {n}", body="More.", category="Orders", language="en", published=True,
                        actor=None)
    front = await (await client.get("/help", params={"lang": "en"})).text()
    assert front.count("Order question") == helpcenter.PER_TOPIC and "All 7 articles in Orders" in front
    assert "Shipping times" not in front  # by title: the seventh of its topic
    topic = await (await client.get("/help", params={"lang": "en", "category": "Orders"})).text()
    assert topic.count("Order question") == helpcenter.PER_TOPIC and "Shipping times" in topic
    missing = await client.get("/help/draft")
    assert missing.status == 404 and "Article not found" in await missing.text()
