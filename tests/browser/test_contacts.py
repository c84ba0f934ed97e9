"""A supervisor finds a customer who wrote by email and again from the web chat, merges the two contacts,
and sees one timeline with both conversations; the merged-away contact's link leads to the survivor."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.async_api import expect

from hub.models import Role, Sender
from hub.ticketfields import FieldDef
from switchboard.bootstrap import Runtime
from tests.browser.conftest import desk_login, screenshot, ticket_row
from tests.conftest import http_client
from tests.test_ticket_list import open_ticket
from tests.test_widget_flow import say, widget_session


async def test_a_supervisor_merges_an_email_and_a_web_chat_contact_into_one_timeline(
    browser: Any, live_url: str, runtime: Runtime
) -> None:
    hub = runtime.hub
    assert hub is not None
    await hub.accounts.create("sam", "sam's long password", name="Sam Boss", roles=[Role.SUPERVISOR])
    ticket = await open_ticket(runtime, "email", Sender("mia.wong@example.com", display_name="Mia Wong"),
                               "My parcel 4471 never arrived", subject="Missing parcel 4471")
    async with http_client(runtime) as client:
        token = await widget_session(client, name="Mia W")
        await say(client, token, "Hi, I wrote by email about parcel 4471")
        await say(client, token, "I want to talk to a human")
        await hub.pipeline.drain()
    chat = await hub.store.conversations.find_one({"channel": "widget"})
    assert chat is not None and chat["contact_id"] != ticket["contact_id"]
    await hub.contactbook.add_note(ticket["contact_id"], {"name": "Sam Boss"}, "VIP since 2019; prefers email")
    await hub.contactbook.edit(ticket["contact_id"], {"name": "Sam Boss", "username": "sam"},
                               attributes={"plan": "gold", "city": "Lisbon"}, tags=["vip"])

    page = await desk_login(browser, f"{live_url}/desk", "sam", "sam's long password")
    # from the ticket, the customer's name in the header leads to the contact page
    await ticket_row(page, ticket).click()
    await expect(page.locator("#ticket-contact")).to_have_text("Mia Wong")
    await screenshot(page, "desk-ticket-contact-link")
    await page.locator("#ticket-contact").click()
    await expect(page.locator("#contact-name")).to_have_text("Mia Wong")
    await expect(page.locator("#contact-identities")).to_contain_text("Email mia.wong@example.com")
    await expect(page.locator("#timeline")).to_contain_text("My parcel 4471 never arrived")
    await expect(page.locator("#timeline .timeline-group")).to_have_count(1)
    await expect(page.locator("#contact-notes")).to_contain_text("VIP since 2019")
    await screenshot(page, "contact-page")

    # contact search: both records are found by the name
    await page.locator('#nav a[data-nav="contacts"]').click()
    await page.locator("#contact-search").fill("mia")
    await expect(page.locator("#contact-search-results li")).to_have_count(2)
    await expect(page.locator("#contact-search-results")).to_contain_text("Web chat Mia W")
    await screenshot(page, "contact-search")

    # merge the web chat contact into the email one
    await page.locator("#contact-search-results li", has_text="Mia Wong").click()
    await page.locator("#contact-merge-open").click()
    await page.locator("#merge-search").fill("mia w")
    await page.locator("#merge-search-results li", has_text="Mia W").click()
    await expect(page.locator("#merge-summary")).to_contain_text("Moves 1 channel identity, 1 conversation and "
                                                                 "1 ticket to Mia Wong")
    await screenshot(page, "contact-merge-dialog")
    await page.locator("#merge-confirm").click()
    await expect(page.locator("#merge-dialog")).to_have_count(0)
    await expect(page.locator("#contact-identities li")).to_have_count(2)
    await expect(page.locator("#timeline .timeline-group")).to_have_count(2)
    await expect(page.locator("#timeline .timeline-group .channel")).to_have_text(["Web chat", "Email"])
    await expect(page.locator("#timeline")).to_contain_text("I wrote by email about parcel 4471")
    await expect(page.locator("#timeline")).to_contain_text("My parcel 4471 never arrived")
    await screenshot(page, "contact-merged-timeline")

    # the merged-away contact's address still works: it shows the survivor
    await page.goto(f"{live_url}/desk#/contacts/{chat['contact_id']}")
    await expect(page.locator("#contact-redirected")).to_contain_text("was merged into this contact")
    await expect(page.locator("#contact-name")).to_have_text("Mia Wong")
    await page.context.close()


async def test_an_agent_blocks_a_spammer_from_the_contact_page(browser: Any, live_url: str, runtime: Runtime) -> None:
    """Block on the contact page (a dialog first, which offers to close their open tickets): the banner says who
    blocked them, the ticket's card says "blocked"; Unblock takes it back. Blocked again with the box ticked, their
    ticket is closed."""
    hub = runtime.hub
    assert hub is not None
    await hub.accounts.create("alice", "alice's long password", name="Alice Ng", roles=[Role.AGENT])
    spammer = Sender("deals@spam.example", display_name="Best Deals", email="deals@spam.example")
    ticket = await open_ticket(runtime, "email", spammer, "Cheap watches, 90% off")
    page = await desk_login(browser, f"{live_url}/desk#/contacts/{ticket['contact_id']}", "alice",
                            "alice's long password")
    await expect(page.locator("#contact-name")).to_have_text("Best Deals")
    await page.locator("#contact-block").click()
    dialog = page.locator("#block-dialog")
    await expect(dialog.locator(".block-tickets")).to_have_text(f" Also close their open ticket (#{ticket['number']})")
    await expect(dialog.locator("#block-close-tickets")).to_be_checked()
    await screenshot(page, "contact-block-dialog")
    await dialog.locator("#block-close-tickets").uncheck()  # this time the ticket stays
    await dialog.locator("#block-confirm").click()
    await expect(dialog).to_have_count(0)
    banner = page.locator("#contact-blocked")
    await expect(banner).to_contain_text("Blocked by Alice Ng")
    await expect(page.locator("#contact-block")).to_have_count(0)
    await screenshot(page, "contact-blocked")
    stored = await hub.store.contacts.find_one({"_id": ticket["contact_id"]})
    assert stored is not None and stored["blocked"]["by_name"] == "Alice Ng"

    await page.locator('#nav a[data-nav="tickets"]').click()
    await ticket_row(page, ticket).click()
    await expect(page.locator("#contact .badge.blocked")).to_have_text("blocked")
    await screenshot(page, "desk-ticket-blocked-contact")

    await page.locator("#ticket-contact").click()
    await page.locator("#contact-unblock").click()
    await expect(page.locator("#contact-block")).to_be_visible()
    await expect(banner).to_have_count(0)
    stored = await hub.store.contacts.find_one({"_id": ticket["contact_id"]})
    assert stored is not None and "blocked" not in stored

    # blocked again, with the box ticked: the ticket is closed, and the card's list says so
    await page.locator("#contact-block").click()
    await page.locator("#block-confirm").click()
    await expect(banner).to_contain_text("Blocked by Alice Ng")
    await expect(page.locator(".contact-tickets .badge")).to_have_text("closed")
    stored_ticket = await hub.store.tickets.find_one({"_id": ticket["_id"]})
    assert stored_ticket is not None and stored_ticket["status"] == "closed"
    await page.context.close()


async def test_blocking_names_a_ticket_the_hub_would_not_close(browser: Any, live_url: str,
                                                                runtime: Runtime) -> None:
    """A ticket a required field keeps open is named in the dialog with the reason; the block itself is done."""
    hub = runtime.hub
    assert hub is not None
    await hub.accounts.create("alice", "alice's long password", name="Alice Ng", roles=[Role.AGENT])
    await hub.tickets.fields.save(FieldDef("order_number", "Order number", "text", required=True))
    ticket = await open_ticket(runtime, "email", Sender("deals@spam.example", display_name="Best Deals"),
                               "Cheap watches, 90% off")
    page = await desk_login(browser, f"{live_url}/desk#/contacts/{ticket['contact_id']}", "alice",
                            "alice's long password")
    await page.locator("#contact-block").click()
    await page.locator("#block-confirm").click()
    await expect(page.locator("#block-dialog h3")).to_have_text("Best Deals is blocked")
    await expect(page.locator("#block-outcome")).to_have_text("Left open:")
    await expect(page.locator("#block-left li")).to_have_text(
        f"#{ticket['number']}: fill in Order number before closing the ticket")
    await screenshot(page, "contact-block-left-open")
    await page.locator("#block-dialog button", has_text="Done").click()
    await expect(page.locator("#contact-blocked")).to_contain_text("Blocked by Alice Ng")
    await page.context.close()


async def test_merging_a_blocked_contact_says_the_block_follows(browser: Any, live_url: str,
                                                                runtime: Runtime) -> None:
    """The merge dialog warns that the survivor will be blocked too; after the merge its page says so."""
    hub = runtime.hub
    assert hub is not None
    await hub.accounts.create("sam", "sam's long password", name="Sam Boss", roles=[Role.SUPERVISOR])
    spam = await open_ticket(runtime, "email", Sender("deals@spam.example", display_name="Best Deals"),
                             "Cheap watches, 90% off")
    kept = await open_ticket(runtime, "email", Sender("dee@example.org", display_name="Dee Alvarez"), "My order 12?")
    await hub.contactbook.block(spam["contact_id"], {"name": "Alice Ng"})
    page = await desk_login(browser, f"{live_url}/desk#/contacts/{kept['contact_id']}", "sam", "sam's long password")
    await expect(page.locator("#contact-name")).to_have_text("Dee Alvarez")
    await page.locator("#contact-merge-open").click()
    await page.locator("#merge-search").fill("best")
    await page.locator("#merge-search-results li", has_text="Best Deals").click()
    await expect(page.locator("#merge-blocked")).to_have_text(
        "Best Deals is blocked: Dee Alvarez will be blocked too (unblock them after the merge if they should not be).")
    await screenshot(page, "contact-merge-blocked")
    await page.locator("#merge-confirm").click()
    await expect(page.locator("#contact-blocked")).to_contain_text("Blocked by Alice Ng")
    await page.context.close()


async def test_a_supervisor_imports_contacts_from_a_csv_file(browser: Any, live_url: str, runtime: Runtime,
                                                             tmp_path: Any) -> None:
    """Check first (nothing written, a refused line shown with its reason), then Import; Export CSV downloads them in
    the same columns; the new contact is found by name with its attributes."""
    hub = runtime.hub
    assert hub is not None
    await hub.accounts.create("sam", "sam's long password", name="Sam Boss", roles=[Role.SUPERVISOR])
    path = tmp_path / "crm-export.csv"
    path.write_text("Name,Email,Phone,Tags,Company\nGrace Hopper,grace@example.com,+4930123456,vip,Acme\n"
                    "Ada Lovelace,ada@example.com,,,\nBroken Row,not-an-address,,,\n", encoding="utf-8")
    page = await desk_login(browser, f"{live_url}/desk#/contacts", "sam", "sam's long password")
    await page.locator("#contact-import-open").click()
    await page.locator("#import-file").set_input_files(str(path))
    await page.locator("#import-check").click()
    await expect(page.locator("#import-summary")).to_have_text(
        "2 new contacts, 0 known contacts to update; 1 line refused:")
    await expect(page.locator("#import-refused")).to_have_text("Line 4: 'not-an-address' is not an email address")
    assert await hub.store.contacts.count_documents({}) == 0
    await screenshot(page, "contacts-import-check")
    await page.locator("#import-run").click()
    await expect(page.locator("#import-summary")).to_have_text(
        "2 contacts created, 0 updated, 0 unchanged; 1 line refused:")
    await expect(page.locator("#import-run")).to_be_hidden()
    await screenshot(page, "contacts-import-done")
    await page.locator("#import-dialog button[aria-label=Close]").click()
    async with page.expect_download() as info:  # the export holds what was imported, in the same columns
        await page.locator("#contact-export").click()
    exported = Path(await (await info.value).path()).read_text(encoding="utf-8")
    assert exported.splitlines()[0] == "name,email,phone,tags,company"
    assert "Grace Hopper,grace@example.com,+4930123456,vip,Acme" in exported.splitlines()
    await page.locator("#contact-search").fill("grace")
    await page.locator("#contact-search-results li", has_text="Grace Hopper").click()
    await expect(page.locator("#contact-name")).to_have_text("Grace Hopper")
    await expect(page.locator("#contact-card")).to_contain_text("Acme")
    await page.context.close()
