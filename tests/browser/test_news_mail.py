"""The Account view's "Email notifications" panel (hub.newsmail): an agent gives an address and picks the news she
wants by email while away from the desk; the choice is kept. This hub has no mail relay, and the panel says so."""

from __future__ import annotations

from typing import Any

from playwright.async_api import expect

from hub.models import Role
from switchboard.bootstrap import Runtime
from tests.browser.conftest import desk_login, screenshot


async def test_an_agent_chooses_her_news_by_email(browser: Any, live_url: str, runtime: Runtime) -> None:
    hub = runtime.hub
    assert hub is not None and hub.news.mailer is None  # no email channel here
    alice = await hub.accounts.create("alice", "alice's long password", name="Alice", roles=[Role.AGENT])
    page = await desk_login(browser, f"{live_url}/desk#/account", "alice", "alice's long password")
    panel = page.locator("#news-mail")
    await expect(panel.locator("h2")).to_have_text("Email notifications")
    await expect(panel.locator("#news-mail-off")).to_contain_text("no mail relay")
    await panel.locator("#news-mail-address").fill("alice@example.net")
    await panel.get_by_label("A customer writes on a ticket of mine").check()
    await panel.get_by_label("A colleague mentions me in a note").check()
    await panel.get_by_role("button", name="Save").click()
    await expect(panel.locator("#news-mail-status")).to_have_text("Saved: emails go to alice@example.net.")
    kept = await hub.news.get(alice["_id"])
    assert (kept.address, kept.kinds) == ("alice@example.net", ("message", "mention"))
    await screenshot(page, "desk-account-news-mail")

    await page.reload()  # the choice comes back from the hub
    await expect(panel.locator("#news-mail-address")).to_have_value("alice@example.net")
    await expect(panel.get_by_label("A customer writes on a ticket of mine")).to_be_checked()
    await expect(panel.get_by_label("Someone gives me a ticket")).not_to_be_checked()
    await panel.get_by_label("A customer writes on a ticket of mine").uncheck()
    await panel.get_by_label("A colleague mentions me in a note").uncheck()
    await panel.locator("#news-mail-address").fill("")
    await panel.get_by_role("button", name="Save").click()
    await expect(panel.locator("#news-mail-status")).to_have_text("Saved: no emails.")
    assert (await hub.news.get(alice["_id"])).kinds == ()
    await page.context.close()
