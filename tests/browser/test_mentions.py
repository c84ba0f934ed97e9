"""Alice types "@Bo" in a private note, picks Bob from what the desk offers, and sends it; Bob, working on another
ticket, sees the ticket marked for him, a count in his tab's title and a desktop notification, and the note stands
out when he opens it. The customer's widget never gets the note."""

from __future__ import annotations

from typing import Any

from playwright.async_api import expect

from hub.models import Role
from switchboard.bootstrap import Runtime
from tests.browser.conftest import desk_login, screenshot, shown, ticket_row
from tests.conftest import http_client
from tests.test_transfers import new_ticket
from tests.test_widget_flow import history


async def test_a_note_that_mentions_a_colleague_reaches_them(browser: Any, live_url: str, runtime: Runtime) -> None:
    hub = runtime.hub
    assert hub is not None
    await hub.accounts.create("alice", "alice's long password", name="Alice Ng", roles=[Role.AGENT])
    bob = await hub.accounts.create("bob", "bob's long password", name="Bob Stone", roles=[Role.AGENT])
    await hub.accounts.create("bea", "bea's long password", name="Bea Quinn", roles=[Role.AGENT])
    async with http_client(runtime) as client:
        grace_token, grace = await new_ticket(client, runtime, "Grace Hopper")
        _, ada = await new_ticket(client, runtime, "Ada Lovelace")

        bob_page = await desk_login(browser, f"{live_url}/desk", "bob", "bob's long password", notifications=True)
        await bob_page.locator("#notify-toggle").click()
        await expect(bob_page.locator("#notify-toggle")).to_have_text("Notifications on")
        await ticket_row(bob_page, ada).click()  # Bob works on Ada's ticket
        await expect(bob_page.locator("#ticket-title")).to_contain_text(f"#{ada['number']}")

        alice = await desk_login(browser, f"{live_url}/desk", "alice", "alice's long password")
        await ticket_row(alice, grace).click()
        box = alice.locator("#reply-text")
        await box.press_sequentially("@Bo")
        await expect(alice.locator("#mention-list")).to_be_hidden()  # a reply to the customer mentions nobody
        await box.fill("")
        await alice.locator("#reply-private").check()
        await box.press_sequentially("@B")
        offered = alice.locator("#mention-list li")
        await expect(offered).to_have_text(["Bea Quinn", "Bob Stone"])  # not Alice herself
        await box.press_sequentially("o")
        await expect(offered).to_have_text(["Bob Stone"])
        await screenshot(alice, "desk-mention-offer")
        await box.press("Enter")
        await expect(alice.locator("#mention-list")).to_be_hidden()
        await expect(box).to_have_value("@Bob Stone ")
        await box.press_sequentially("can you check the refund for 5521?")
        await alice.locator("#reply-send").click()
        sent = alice.locator("#messages li.private").last
        await expect(sent).to_contain_text("@Bob Stone can you check the refund for 5521?")
        await expect(sent).not_to_have_class("mentions-me")  # Alice's own view: not for her

        row = ticket_row(bob_page, grace)
        await expect(row.locator(".dot")).to_have_attribute("title", "A colleague mentioned you")
        await expect(bob_page).to_have_title("(1) Switchboard desk")
        assert await shown(bob_page) == [{"title": f"Alice Ng mentioned you on #{grace['number']}",
                                          "body": f"Grace Hopper · {grace['subject']}"}]
        await row.click()
        note = bob_page.locator("#messages li.mentions-me")
        await expect(note).to_contain_text("@Bob Stone can you check the refund")
        await expect(bob_page).to_have_title("Switchboard desk")
        await screenshot(bob_page, "desk-mention-received")
        stored = await hub.store.tickets.find_one({"_id": grace["_id"]})
        assert stored is not None and stored["mentioned"]["ids"] == [bob["_id"]]
        texts = [m["text"] for m in await history(client, grace_token)]
        assert not any("5521" in t for t in texts)  # a private note: the customer never gets it
        await bob_page.context.close()
        await alice.context.close()
