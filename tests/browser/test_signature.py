"""My signature (hub.signatures) in the desk: written on the Account view, said under the reply box of a ticket
answered by email (not when the reply is a private note, nor on a chat ticket), and under the reply sent; the line
saying whom the reply copies beside it, which the agent edits (copies.js)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import expect

from hub.models import Role, Sender
from switchboard.bootstrap import Runtime
from switchboard.config import Settings
from tests.browser.conftest import desk_login, screenshot, ticket_row
from tests.email.conftest import email_config
from tests.test_ticket_list import open_ticket


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The email channel, without a relay (nothing is mailed here): its replies are the ones signed."""
    config = email_config(0, "")
    del config["relay"]
    config["smtp_listener"]["enabled"] = False
    settings.channels["email"] = config
    return settings


async def test_an_agent_signs_her_replies_by_email(browser: Any, live_url: str, runtime: Runtime) -> None:
    hub = runtime.hub
    assert hub is not None
    await hub.accounts.create("alice", "alice's long password", name="Alice Ng", roles=[Role.AGENT])
    mailed = await open_ticket(runtime, "email", Sender("ana@example.org", display_name="Ana Lima",
                                                        email="ana@example.org"), "Refund for order 5521")
    chat = await open_ticket(runtime, "widget", Sender("demo:visitor:s1", display_name="Ben Okafor"),
                             "Where is my parcel?")
    page = await desk_login(browser, f"{live_url}/desk#/account", "alice", "alice's long password")
    panel = page.locator("#signature-panel")
    await panel.locator("#signature-text").fill("Alice Ng\nCustomer care, Example Shop")
    await panel.get_by_role("button", name="Save").click()
    await expect(panel.locator("#signature-status")).to_have_text("Saved.")
    await screenshot(page, "desk-account-signature")

    # Ana's mail copied a colleague (channels.email: "reply all"): the Cc line names him, and the agent adds one more
    await hub.store.conversations.update_one({"_id": mailed["conversation_ids"][-1]},
                                             {"$set": {"channel_data.cc": ["fox@example.org"]}})
    await page.goto(f"{live_url}/desk#/tickets")
    await ticket_row(page, mailed).click()
    hint = page.locator("#reply-signature")
    copies = page.locator("#reply-copies")
    cc = page.get_by_label("Cc")
    await expect(hint).to_have_text("Your signature goes under this reply: Alice Ng …")
    await expect(cc).to_have_value("fox@example.org")
    await page.locator("#reply-private").check()
    await expect(hint).to_be_hidden()
    await expect(copies).to_be_hidden()  # a private note goes to nobody
    await page.locator("#reply-private").uncheck()
    await expect(hint).to_be_visible()
    await expect(copies).to_be_visible()
    await page.locator("#reply-text").fill("Refunded today.")
    await cc.fill("fox@example.org, our courier")  # not an address: refused, nothing sent
    await page.locator("#reply-send").click()
    await expect(page.locator("#reply-error")).to_contain_text("cannot copy 'our courier'")
    await cc.fill("fox@example.org; Courier <courier@example.net>")
    await screenshot(page, "desk-reply-cc")
    await page.locator("#reply-send").click()
    sent = page.locator("#messages li").filter(has_text="Refunded today.")
    await expect(sent).to_contain_text("Customer care, Example Shop")  # the timeline shows what the customer got
    await expect(sent.locator(".copied")).to_have_text("Cc: fox@example.org, courier@example.net")
    await expect(cc).to_have_value("fox@example.org")  # the next reply starts from whom the customer copied
    stored = await hub.store.messages.find({"conversation_id": mailed["conversation_ids"][-1],
                                            "author.kind": "agent"}).to_list()
    assert [m["metadata"]["cc"] for m in stored] == [["fox@example.org", "courier@example.net"]]
    await screenshot(page, "desk-reply-signed")

    await ticket_row(page, chat).click()  # a chat: no signature
    await expect(page.locator("#ticket-title")).to_contain_text("Where is my parcel?")
    await expect(hint).to_be_hidden()
    await expect(copies).to_be_hidden()
    await page.context.close()
