"""Help-center articles end to end in a real browser (the "Must show" of issue 14).

A trainer writes an article in the desk (with the server-rendered preview) and publishes it; a widget
visitor asks a question no intent covers and the bot offers that article; the visitor opens it on the
public help center, answers its "Was this article helpful?", and tells the widget's "Did that help?"
yes. An agent then inserts an article's link into a reply from the reply box."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from playwright.async_api import expect

from hub.models import Role, utcnow
from switchboard.bootstrap import Runtime
from tests.browser.conftest import screenshot
from tests.helpers import eventually

ALTERATIONS = """Many of our larger stores have an **alteration service** for trousers, jeans, suits and dresses \
bought from us.

## Prices and times

| Alteration | Price | Ready in |
|---|---|---|
| Shortening trousers and jeans | free for full-price items, 8 otherwise | 3 days |
| Sleeves, waist and tapering | from 12 | 5-7 days |

1. Bring the garment *unwashed*, with its receipt or order confirmation.
2. The tailor pins it to your measure in the store; you pay when you pick it up.

Altered items can no longer be returned unless they are faulty. [Find a store](https://shop.example.com/stores).
<script>window.__pwned = 1</script>"""
SEEDED = (
    ("How long does shipping take?", "Orders",
     "Most orders leave our warehouse **within one working day** and arrive in 2-4 working days."),
    ("Change your delivery address", "Orders",
     "Before the order ships, open **My orders** and pick *Change address*."),
    ("Return an item", "Returns", "You have 30 days to return an item. Print the label from **My orders**."),
    ("Refund times", "Returns", "Refunds reach your card within 5 working days of us receiving the parcel."),
)
SLUG = "hemming-and-alterations"


async def _login(browser: Any, live_url: str, username: str, password: str) -> Any:
    context = await browser.new_context(viewport={"width": 1360, "height": 860})
    page = await context.new_page()
    await page.goto(f"{live_url}/desk")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", password)
    await page.click("#login-form button[type=submit]")
    await expect(page.locator("#whoami")).not_to_be_empty()
    return page


async def publish_in_the_desk(browser: Any, live_url: str, runtime: Runtime) -> None:
    """The trainer writes "Hemming and alterations" in the desk's Help center view and publishes it."""
    assert runtime.hub is not None
    await runtime.hub.accounts.create("tia", "trainer password", name="Tia Trainer", roles=[Role.TRAINER])
    for title, category, body in SEEDED:
        await runtime.hub.knowledge.create(title=title, body=body, category=category, language="en", published=True,
                                           actor=None)
    trainer = await _login(browser, live_url, "tia", "trainer password")
    await trainer.click("#nav a[data-nav=helpcenter]")
    await expect(trainer.locator("#kb-articles li")).to_have_count(len(SEEDED))
    await trainer.fill("#kb-title", "Hemming and alterations")
    await trainer.fill("#kb-category", "Stores")
    await trainer.fill("#kb-language", "en")
    await trainer.fill("#kb-body", ALTERATIONS)
    # the live preview is the hub's rendering: Markdown formatted, the script shown as text, never run
    await expect(trainer.locator("#kb-preview table td").first).to_have_text("Shortening trousers and jeans")
    await expect(trainer.locator("#kb-preview strong").first).to_have_text("alteration service")
    await expect(trainer.locator("#kb-preview")).to_contain_text("<script>window.__pwned = 1</script>")
    await trainer.check("#kb-published")
    await trainer.click("#kb-save")
    await expect(trainer.locator("#kb-saved")).to_have_text("Saved and published.")
    await expect(trainer.locator("#kb-link")).to_contain_text(f"/help/{SLUG}")
    await expect(trainer.locator("#kb-articles li.active .kb-state")).to_have_text("published")
    await screenshot(trainer, "kb-editor")
    assert await trainer.evaluate("window.__pwned") is None
    await trainer.context.close()


async def test_a_published_article_is_offered_in_the_widget_read_on_the_help_center_and_helps(
    browser: Any, live_url: str, runtime: Runtime
) -> None:
    assert runtime.hub is not None
    hub = runtime.hub
    await publish_in_the_desk(browser, live_url, runtime)
    article = await hub.knowledge.get_by_slug(SLUG)
    assert article is not None and article.published

    # A widget visitor asks what no intent covers: the bot offers the article, with "Did that help?".
    shop_ctx = await browser.new_context(viewport={"width": 1280, "height": 860})
    shop = await shop_ctx.new_page()
    await shop.goto(f"{live_url}/demo")
    await expect(shop.locator("#switchboard-widget")).to_have_attribute("data-ready", "true")
    await shop.locator(".sb-form textarea").fill("is there a tailor to shorten my jeans")
    await shop.locator(".sb-form textarea").press("Enter")
    card = shop.locator(".sb-article")
    await expect(card.locator("a")).to_have_text("Hemming and alterations")
    await expect(shop.locator(".sb-qr button")).to_have_text(["Yes", "No"])

    # The visitor opens it: the public help center shows it, rendered and sanitised.
    async with shop_ctx.expect_page() as opened:
        await card.locator("a").click()
    reader = await opened.value
    await expect(reader.locator(".article h1")).to_have_text("Hemming and alterations")
    assert reader.url == f"{live_url}/help/{SLUG}"
    await expect(reader.locator(".article .body table td").first).to_have_text("Shortening trousers and jeans")
    await expect(reader.locator(".article .body a[href='https://shop.example.com/stores']")).to_have_attribute(
        "rel", "noopener noreferrer nofollow")
    assert await reader.evaluate("window.__pwned") is None
    await reader.click(".feedback button[value=yes]")
    await expect(reader.locator(".feedback .thanks")).to_have_text("Thanks for letting us know.")
    await screenshot(reader, "help-center-article")

    async def counted() -> bool:
        found = await hub.knowledge.get(article.id)  # type: ignore[union-attr]
        return found is not None and (found.helpful, found.not_helpful) == (1, 0)

    await eventually(counted)
    # ... browses the front page and searches it
    await reader.click(".crumbs a >> nth=0")
    await expect(reader.locator(".category h2")).to_have_text(["Orders", "Returns", "Stores"])
    await screenshot(reader, "help-center-index")
    await reader.fill(".big-search input[name=q]", "shorten my jeans")
    await reader.press(".big-search input[name=q]", "Enter")
    await expect(reader.locator(".results li a").first).to_have_text("Hemming and alterations")
    await screenshot(reader, "help-center-search")
    await reader.close()

    # ... and tells the widget it helped: the bot counts the article as a deflection.
    await shop.locator(".sb-qr button", has_text="Yes").click()
    await expect(shop.locator(".sb-msg.out").last).to_contain_text("Glad")
    await screenshot(shop, "kb-widget-helped")
    now = utcnow()
    report = await hub.metrics.window(now - timedelta(hours=1), now + timedelta(minutes=1))
    assert (report["bot"]["articles_offered"], report["bot"]["articles_helped"]) == (1, 1)
    await shop_ctx.close()


async def test_agents_insert_an_article_link_into_a_reply(browser: Any, live_url: str, runtime: Runtime) -> None:
    assert runtime.hub is not None
    for title, category, body in SEEDED:
        await runtime.hub.knowledge.create(title=title, body=body, category=category, language="en", published=True,
                                           actor=None)
    await runtime.hub.accounts.create("agent1", "agent one password", name="Agent One", roles=[Role.AGENT])
    shop = await (await browser.new_context()).new_page()
    await shop.goto(f"{live_url}/demo")
    await expect(shop.locator("#switchboard-widget")).to_have_attribute("data-ready", "true")
    await shop.locator(".sb-form textarea").fill("My parcel still hasn't come, I want to talk to a human")
    await shop.locator(".sb-form textarea").press("Enter")
    await expect(shop.locator(".sb-msg.system")).to_contain_text("ticket number is #")
    desk = await _login(browser, live_url, "agent1", "agent one password")
    await desk.locator("#tickets li").first.click()
    await desk.fill("#reply-text", "Sorry for the wait! Here is how delivery works:")
    await desk.click("#kb-link-open")
    await desk.fill("#kb-link-search", "how long is shipping")
    await expect(desk.locator("#kb-link-results li button").first).to_contain_text("How long does shipping take?")
    await screenshot(desk, "kb-insert-article")
    await desk.click("#kb-link-results li button >> nth=0")
    expected = f"How long does shipping take? — {live_url}/help/how-long-does-shipping-take"
    await expect(desk.locator("#reply-text")).to_have_value(
        "Sorry for the wait! Here is how delivery works:\n" + expected)
    await expect(desk.locator("#kb-link-panel")).to_be_hidden()
    await desk.click("#reply-send")
    await expect(shop.locator('.sb-msg.out[data-author="agent"]')).to_contain_text(expected)
    await shop.context.close()
    await desk.context.close()
