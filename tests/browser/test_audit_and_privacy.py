"""An admin reads the audit trail and erases a customer from the desk, in a real Chromium."""

from __future__ import annotations

from typing import Any

from playwright.async_api import expect

from hub.models import Role
from hub.privacy import ERASED_TEXT
from hub.store import ObjectId
from switchboard.bootstrap import Runtime
from tests.browser.conftest import screenshot
from tests.privacy_helpers import customer_writes


async def _login(page: Any, live_url: str, username: str, password: str) -> None:
    await page.goto(f"{live_url}/desk")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", password)
    await page.click("#login-form button[type=submit]")


async def test_admin_filters_the_trail_and_erases_a_contact(browser: Any, live_url: str, runtime: Runtime) -> None:
    assert runtime.hub is not None
    await runtime.hub.accounts.create("root", "a long admin password", name="Ada Admin", roles=[Role.ADMIN])
    await runtime.hub.accounts.create("sam", "a long supervisor password", name="Sam Super",
                                      roles=[Role.SUPERVISOR])
    result = await customer_writes(runtime, "visitor-erin", "my card number is 4111", name="Erin Example",
                                   files=(("card.png", b"\x89PNG card"),))
    context = await browser.new_context(viewport={"width": 1280, "height": 720}, accept_downloads=True)
    page = await context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())

    # A supervisor sees neither view; their failed and good logins land on the trail.
    await _login(page, live_url, "sam", "wrong password!")
    await expect(page.locator("#login-error")).not_to_have_text("")
    await _login(page, live_url, "sam", "a long supervisor password")
    await expect(page.locator("#whoami")).to_contain_text("Sam Super")
    await expect(page.locator("#nav a[data-nav=responses]")).to_be_visible()
    assert await page.locator("#nav a[data-nav=audit]").count() == 0
    await page.click("#logout")
    await expect(page.locator("#login-form")).to_be_visible()  # logged out (before navigating away)

    await _login(page, live_url, "root", "a long admin password")
    await expect(page.locator("#whoami")).to_contain_text("Ada Admin")

    # Privacy: find Erin by name, download her data, erase her.
    await page.click("#nav a[data-nav=privacy]")
    await page.fill("#privacy-search input[name=q]", "erin")
    await page.click("#privacy-search button[type=submit]")
    row = page.locator("#privacy-contacts tr[data-name='Erin Example']")
    await expect(row).to_contain_text("Web chat")  # the channel by name, not its code
    await screenshot(page, "privacy-search")
    async with page.expect_download() as download_info:
        await row.locator("a.export").click()
    download = await download_info.value
    assert (await download.path()) is not None and download.suggested_filename.endswith(".zip")
    await row.locator("button.erase").click()
    await expect(page.locator("#privacy-done")).to_contain_text("2 messages redacted, 1 file deleted")
    await screenshot(page, "privacy-erased")
    texts = {m["text"] for m in await runtime.hub.store.messages.find(
        {"conversation_id": ObjectId(result.conversation_id)}).to_list()}
    assert texts == {ERASED_TEXT}

    # Audit: the whole trail, then only failed logins; names, never ids.
    await page.click("#nav a[data-nav=audit]")
    table = page.locator("#audit tbody")
    erased = table.locator("tr[data-action='contact.erased']")
    await expect(erased).to_contain_text("Ada Admin")
    await expect(erased).to_contain_text("customer (erased)")  # never an id, nor the name it no longer holds
    await expect(table.locator("tr[data-action='contact.exported']")).to_have_count(1)
    await expect(erased.locator("td").nth(2)).to_have_text("customer erased")  # the action in words
    await expect(page.locator("#audit-filters select[name=action] option[value='login.failed']")).to_have_text(
        "sign-in failed")
    await expect(table.locator("tr[data-action=login]").first).to_contain_text("127.0.0.1")
    await screenshot(page, "audit-trail")
    await page.select_option("#audit-filters select[name=action]", "login.failed")
    await page.click("#audit-filters button[type=submit]")
    await expect(table.locator("tr")).to_have_count(1)
    await expect(table.locator("tr")).to_contain_text("sam")
    await expect(page.locator("#audit-csv")).to_have_attribute("href", "/api/admin/audit.csv?action=login.failed")
    await screenshot(page, "audit-filtered")

    # Paging by cursor: 60 entries of one action are 50 and then 10, and back.
    for n in range(60):
        await runtime.hub.audit.record("agent.updated", target={"type": "agent", "name": f"agent {n}"})
    await page.select_option("#audit-filters select[name=action]", "agent.updated")
    await page.click("#audit-filters button[type=submit]")
    await expect(table.locator("tr")).to_have_count(50)
    await expect(page.locator("#audit-count")).to_have_text("newest 1\u201350")
    await expect(page.locator("#audit-newer")).to_be_disabled()
    await page.click("#audit-older")
    await expect(table.locator("tr")).to_have_count(10)
    await expect(page.locator("#audit-count")).to_have_text("newest 51\u201360")
    await expect(table.locator("tr").last).to_contain_text("agent 0")
    await expect(page.locator("#audit-older")).to_be_disabled()
    await screenshot(page, "audit-older")
    await page.click("#audit-newer")
    await expect(table.locator("tr")).to_have_count(50)
    await expect(table.locator("tr").first).to_contain_text("agent 59")
    await context.close()
