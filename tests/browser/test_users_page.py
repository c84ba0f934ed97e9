"""An admin runs the desk's users from the browser: invites an agent for one queue through a one-time
link, the agent chooses a password and serves only that queue; disabling logs their open desk out live."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect

from hub.models import Role
from switchboard.bootstrap import Runtime
from switchboard.config import Settings
from tests.browser.conftest import desk_login, screenshot
from tests.conftest import http_client, make_settings
from tests.helpers import eventually
from tests.test_transfers import new_ticket


@pytest.fixture
def settings(mongo_uri: str, tmp_path: Path) -> Settings:
    settings = make_settings(mongo_uri, tmp_path)
    settings.queues["orders"] = dataclasses.replace(settings.queues["orders"], routing="least_busy")
    return settings


async def test_admin_invites_an_agent_for_one_queue_then_disables_them_live(
        browser: Any, live_url: str, runtime: Runtime) -> None:
    hub = runtime.hub
    assert hub is not None
    root = await hub.accounts.create("root", "a long admin password", name="Ada Admin", roles=[Role.ADMIN])
    async with http_client(runtime) as client:
        _t, general = await new_ticket(client, runtime, "Grace Hopper")
        _t, order = await new_ticket(client, runtime, "Alan Turing")
    order = await hub.transfers.transfer(order["_id"], root, queue="orders", any_ticket=True)

    admin = await desk_login(browser, f"{live_url}/desk#/users", "root", "a long admin password")
    await admin.locator("#user-new").click()
    form = admin.locator("#user-form")
    await form.locator("input[name=name]").fill("Nina Agent")
    await form.locator("input[name=username]").fill("nina")
    await form.locator("input[name=queue][value=orders]").check()
    await form.locator("input[name=capacity]").fill("3")
    await form.locator("button[type=submit]").click()
    link = admin.locator("#user-link-url")
    await expect(link).to_contain_text("/desk/set-password#token=")
    row = admin.locator("#users tr[data-user=nina]")
    await expect(row).to_contain_text("Orders and delivery")
    await expect(row).to_contain_text("invited: no password yet")
    await screenshot(admin, "users-page")
    url = await link.text_content()
    assert url is not None
    assert re.search(r"[0-9a-f]{24}", await admin.locator("#users").inner_text()) is None  # names, never ids

    # The new agent opens the link in their own browser and chooses a password.
    nina_context = await browser.new_context(viewport={"width": 1280, "height": 760})
    nina = await nina_context.new_page()
    await nina.goto(url)
    await expect(nina.locator("#set-password-who")).to_contain_text("Welcome, Nina Agent")
    await nina.fill("input[name=password]", "nina's own password")
    await nina.fill("input[name=again]", "not the same")
    await nina.click("#set-password-form button[type=submit]")
    await expect(nina.locator("#set-password-error")).to_have_text("The two passwords differ.")
    await nina.fill("input[name=again]", "nina's own password")
    await screenshot(nina, "set-password-page")
    await nina.click("#set-password-form button[type=submit]")
    await expect(nina.locator("#set-password-result")).to_have_text("Your password is set. Log in as nina.")
    assert "token" not in nina.url  # the token left the address bar at once
    await nina.goto("about:blank")
    await nina.goto(url)  # a second use of the link is refused
    await expect(nina.locator("#set-password-result")).to_contain_text("unknown, used or expired")
    await nina_context.close()

    nina = await desk_login(browser, f"{live_url}/desk", "nina", "nina's own password")
    await expect(nina.locator("#queues li[data-queue]")).to_have_count(1)  # only the queue she serves
    await expect(nina.locator("#queues li[data-queue=orders]")).to_be_visible()

    async def routed() -> bool:
        doc = await hub.store.tickets.find_one({"_id": order["_id"]})
        return doc is not None and doc.get("assignee_id") is not None
    await eventually(routed, what="the orders ticket routed to Nina")
    await nina.locator("#ticket-filters select[name=assignee]").select_option("me")
    mine = nina.locator("#tickets li")
    await expect(mine).to_have_count(1)
    await expect(mine).to_contain_text("Alan Turing")
    await mine.click()
    await expect(nina.locator("#ticket-meta")).to_contain_text("Orders and delivery")
    await expect(nina.locator("#ticket-meta")).to_contain_text("assigned to you")
    await expect(nina.locator("#take")).to_be_hidden()  # hers already
    untouched = await hub.store.tickets.find_one({"_id": general["_id"]})
    assert untouched is not None and untouched["assignee_id"] is None  # the other queue's ticket is not hers

    # The admin disables her: her open desk falls back to the login form, with no reload.
    await admin.reload()
    admin.on("dialog", lambda dialog: dialog.accept())
    await admin.locator("#users tr[data-user=nina] button[data-action=toggle]").click()
    await expect(admin.locator("#users tr[data-user=nina]")).to_contain_text("disabled")
    await expect(nina.locator("#login-form")).to_be_visible()
    await expect(nina.locator("#app")).to_be_hidden()
    back = await hub.store.tickets.find_one({"_id": order["_id"]})
    assert back is not None and back["assignee_id"] is None and back["queue"] == "orders"
    await screenshot(admin, "users-page-disabled")
    await admin.context.close()
    await nina.context.close()
