"""Help-center articles end to end in a real browser: a trainer writes and publishes one in the desk
(with the server-rendered preview), it appears on the public help center, a reader answers "was this
helpful?", and an agent inserts its link into a reply from the reply box."""

from __future__ import annotations

from typing import Any

from playwright.async_api import expect

from hub.models import Role
from switchboard.bootstrap import Runtime
from tests.browser.conftest import screenshot
from tests.helpers import eventually

BODY = """Most orders leave our warehouse **within one working day**.

## How long delivery takes

| Destination | Working days |
|---|---|
| Germany | 1-2 |
| Rest of the EU | 2-4 |

1. Open the e-mail *"Your order is on its way"*.
2. Follow the tracking link.

Still nothing after a week? [Contact us](https://shop.example.com/contact).
<script>window.__pwned = 1</script>"""


async def _login(browser: Any, live_url: str, username: str, password: str) -> Any:
    context = await browser.new_context(viewport={"width": 1360, "height": 860})
    page = await context.new_page()
    await page.goto(f"{live_url}/desk")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", password)
    await page.click("#login-form button[type=submit]")
    await expect(page.locator("#whoami")).not_to_be_empty()
    return page


async def publish_article(browser: Any, live_url: str, runtime: Runtime) -> Any:
    """The trainer writes an article in the desk's Help center view and publishes it; returns the page."""
    assert runtime.hub is not None
    await runtime.hub.accounts.create("tia", "trainer password", name="Tia Trainer", roles=[Role.TRAINER])
    for title, category, body in (
        ("Change your delivery address", "Orders",
         "Before the order ships, open **My orders** and pick *Change address*."),
        ("Return an item", "Returns", "You have 30 days to return an item. Print the label from **My orders**."),
        ("Refund times", "Returns", "Refunds reach your card within 5 working days of us receiving the parcel."),
    ):
        await runtime.hub.knowledge.create(title=title, body=body, category=category, language="en", published=True,
                                           actor=None)
    trainer = await _login(browser, live_url, "tia", "trainer password")
    await trainer.click("#nav a[data-nav=helpcenter]")
    await expect(trainer.locator("#kb-articles li")).to_have_count(3)
    await trainer.fill("#kb-title", "How long does shipping take?")
    await trainer.fill("#kb-category", "Orders")
    await trainer.fill("#kb-language", "en")
    await trainer.fill("#kb-body", BODY)
    # the live preview is the hub's rendering: Markdown formatted, the script shown as text, never run
    await expect(trainer.locator("#kb-preview table td").first).to_have_text("Germany")
    await expect(trainer.locator("#kb-preview strong").first).to_have_text("within one working day")
    await expect(trainer.locator("#kb-preview")).to_contain_text("<script>window.__pwned = 1</script>")
    await trainer.check("#kb-published")
    await trainer.click("#kb-save")
    await expect(trainer.locator("#kb-saved")).to_have_text("Saved and published.")
    await expect(trainer.locator("#kb-link")).to_contain_text("/help/how-long-does-shipping-take")
    await expect(trainer.locator("#kb-articles li.active .kb-state")).to_have_text("published")
    await screenshot(trainer, "kb-editor")
    assert await trainer.evaluate("window.__pwned") is None
    return trainer


async def test_trainer_publishes_readers_find_it_and_agents_link_it(
    browser: Any, live_url: str, runtime: Runtime
) -> None:
    assert runtime.hub is not None
    trainer = await publish_article(browser, live_url, runtime)
    await trainer.context.close()
    article = await runtime.hub.knowledge.get_by_slug("how-long-does-shipping-take")
    assert article is not None and article.published

    # A reader finds it on the public help center, by topic and by search, and reads it.
    reader_ctx = await browser.new_context(viewport={"width": 1280, "height": 860})
    reader = await reader_ctx.new_page()
    await reader.goto(f"{live_url}/help")
    await expect(reader.locator(".category h2")).to_have_text(["Orders", "Returns"])
    await screenshot(reader, "help-center-index")
    await reader.fill(".big-search input[name=q]", "shipping")
    await reader.press(".big-search input[name=q]", "Enter")
    await expect(reader.locator(".results li")).to_have_count(1)
    await reader.click(".results li a")
    await expect(reader.locator(".article h1")).to_have_text("How long does shipping take?")
    await expect(reader.locator(".article .body table td").first).to_have_text("Germany")
    await expect(reader.locator(".article .body a[href='https://shop.example.com/contact']")).to_have_attribute(
        "rel", "noopener noreferrer nofollow")
    assert await reader.evaluate("window.__pwned") is None
    await reader.click(".feedback button[value=yes]")
    await expect(reader.locator(".feedback .thanks")).to_have_text("Thanks for letting us know.")
    await screenshot(reader, "help-center-article")

    async def counted() -> bool:
        found = await runtime.hub.knowledge.get(article.id)  # type: ignore[union-attr]
        return found is not None and (found.helpful, found.not_helpful) == (1, 0)

    await eventually(counted)

    # An agent answering a customer inserts the article's link from the reply box.
    await runtime.hub.accounts.create("agent1", "agent one password", name="Agent One", roles=[Role.AGENT])
    await reader_ctx.close()
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
    await desk.fill("#kb-link-search", "shipping")
    await expect(desk.locator("#kb-link-results li")).to_have_count(1)
    await screenshot(desk, "kb-insert-article")
    await desk.click("#kb-link-results li button")
    expected = f"How long does shipping take? — {live_url}/help/how-long-does-shipping-take"
    await expect(desk.locator("#reply-text")).to_have_value(
        "Sorry for the wait! Here is how delivery works:\n" + expected)
    await desk.click("#reply-send")
    await expect(shop.locator('.sb-msg.out[data-author="agent"]')).to_contain_text(expected)
    await shop.context.close()
    await desk.context.close()
