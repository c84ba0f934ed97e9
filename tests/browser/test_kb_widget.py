"""A widget visitor asks what no intent covers, gets a help-center article as a card, opens it, says it helped."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from playwright.async_api import expect

from bot.kb.evaluation import load_articles
from hub.models import utcnow
from switchboard.bootstrap import Runtime
from tests.browser.conftest import screenshot


async def test_the_widget_offers_an_article_as_a_card_and_yes_counts(
    browser: Any, live_url: str, runtime: Runtime
) -> None:
    assert runtime.hub is not None
    hub = runtime.hub
    shop = {a.slug: a for a in load_articles()}
    for slug in ("alterations", "returns", "product-care"):
        a = shop[slug]
        await hub.knowledge.create(title=a.title, body=a.body, category=a.category, language="en", published=True,
                                   actor=None)
    ctx = await browser.new_context()
    page = await ctx.new_page()
    await page.goto(f"{live_url}/demo")
    await expect(page.locator("#switchboard-widget")).to_have_attribute("data-ready", "true")
    box = page.locator(".sb-form textarea")
    await box.fill("is there a tailor to shorten my jeans")
    await box.press("Enter")
    card = page.locator(".sb-article")
    await expect(card.locator("a")).to_have_text("Hemming and alterations")
    await expect(card.locator("span")).not_to_be_empty()
    href = await card.locator("a").get_attribute("href")
    assert href is not None and href.startswith(live_url + "/help/")
    await expect(page.locator(".sb-qr button")).to_have_text(["Yes", "No"])
    # the text channels' "title — link" line is not drawn beside the card
    await expect(page.locator(".sb-msg.out").last).not_to_contain_text(" — ")
    await screenshot(page, "kb-widget-offer")

    async with ctx.expect_page() as opened:
        await card.locator("a").click()
    article = await opened.value
    await expect(article.locator("h1")).to_have_text("Hemming and alterations")
    await article.close()

    await page.locator(".sb-qr button", has_text="Yes").click()
    await expect(page.locator(".sb-msg.out").last).to_contain_text("Glad")
    await screenshot(page, "kb-widget-helped")
    now = utcnow()
    report = await hub.metrics.window(now - timedelta(hours=1), now + timedelta(minutes=1))
    assert (report["bot"]["articles_offered"], report["bot"]["articles_helped"]) == (1, 1)
    await ctx.close()
