"""An admin writes an automation rule in the desk; a new email about an invoice is tagged and routed by it,
and the ticket shows the tag, the queue and the run's line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect

from hub.models import Role, Sender
from hub.ticketfields import definition
from hub.tickets import QueueConfig
from switchboard.bootstrap import Runtime
from switchboard.config import Settings
from tests.browser.conftest import desk_login, screenshot, ticket_row
from tests.conftest import make_settings
from tests.helpers import eventually
from tests.test_ticket_list import open_ticket

LINE = "Automation 'Invoices' tagged billing, moved this to Orders and notified the desk"


@pytest.fixture
def settings(mongo_uri: str, tmp_path: Path) -> Settings:
    settings = make_settings(mongo_uri, tmp_path)
    settings.queues["orders"] = QueueConfig(name="orders", title="Orders")
    return settings


async def test_an_automation_rule_tags_and_routes_a_new_email_ticket(browser: Any, live_url: str,
                                                                      runtime: Runtime) -> None:
    hub = runtime.hub
    assert hub is not None
    ada = await hub.accounts.create("ada", "ada's long password", name="Ada", roles=[Role.ADMIN, Role.AGENT])
    await hub.responses.create({"shortcut": "resend", "title": "Invoice resent", "text": "Sent again."}, by=ada["_id"])
    page = await desk_login(browser, f"{live_url}/desk", "ada", "ada's long password")
    await page.locator("#nav a[data-nav=automation]").click()
    form = page.locator("form.rule[data-rule=new]")
    await form.locator("input[name=name]").fill("Invoices")
    await form.locator("label", has_text="Email").locator("input[name=channel]").check()
    await expect(form.locator("input[name=channel]")).to_have_count(6)  # every channel, by name
    await form.locator("input[name=text]").fill("invoice")
    await form.locator("input[name=tags]").fill("billing")
    await form.locator("select[name=queue]").select_option("orders")
    await form.locator("input[name=notify]").fill("An invoice question came in")
    await screenshot(page, "desk-automation-rule")
    # whom a rule assigns to is picked by name (the rule keeps the username)
    await expect(form.locator("select[name=assignee] option[value=ada]")).to_have_text("Ada")
    await expect(form.locator("select[name=response] option")).to_have_text(["—", "Invoice resent"])  # by title
    await form.locator("button[type=submit]").click()
    saved = page.locator("form.rule[data-rule=Invoices]")
    await expect(saved).to_be_visible()
    await expect(saved.locator("input[name=channel][value=email]")).to_be_checked()
    await expect(saved.locator("input[name=channel]:checked")).to_have_count(1)

    async def cached() -> bool:
        return bool(hub.automation._rules)

    await eventually(cached, what="the rule in the hub's cache")
    ticket = await open_ticket(runtime, "email", Sender("kay@example.com", email="kay@example.com",
                                                        display_name="Kay Mills"),
                               "Could you send my invoice again?", subject="Invoice 2211 missing")
    await page.locator("#nav a[data-nav=tickets]").click()
    await page.locator("#queues li[data-queue=orders]").click()
    row = ticket_row(page, ticket)
    await expect(row).to_contain_text("Kay Mills")
    await row.click()
    await expect(page.locator("#messages li.automation .text")).to_have_text(LINE)
    await expect(page.locator("#ticket-tags")).to_have_value("billing")
    await expect(page.locator("#ticket-meta")).to_contain_text("Orders ·")  # the queue's title, not its key
    await expect(page.locator("#sla-alerts .automation-notice")).to_have_text(
        f"#{ticket['number']}: An invoice question came in")
    await screenshot(page, "desk-automation-run")
    await page.context.close()


async def test_a_supervisor_writes_a_macro_and_an_agent_applies_it(browser: Any, live_url: str,
                                                                   runtime: Runtime) -> None:
    hub = runtime.hub
    assert hub is not None
    sam = await hub.accounts.create("sam", "sam's long password", name="Sam", roles=[Role.SUPERVISOR])
    await hub.accounts.create("alice", "alice's long password", name="Alice", roles=[Role.AGENT])
    await hub.responses.create({"shortcut": "resend", "title": "Invoice resent",
                                "text": "Hi {{customer.first_name}}, I have sent the invoice again."}, by=sam["_id"])
    await hub.tickets.fields.save(definition("topic", "Topic", "list", ["Invoice", "Delivery"]))  # a ticket field
    ticket = await open_ticket(runtime, "email", Sender("kay@example.com", email="kay@example.com",
                                                        display_name="Kay Mills"), "My invoice is missing")
    boss = await desk_login(browser, f"{live_url}/desk", "sam", "sam's long password")
    await boss.locator("#nav a[data-nav=macros]").click()
    form = boss.locator("form.macro[data-macro=new]")
    await form.locator("input[name=name]").fill("Invoice resent")
    await form.locator("select[name=status]").select_option("pending")
    await form.locator("select[name=field-topic]").select_option("Invoice")
    await form.locator("input[name=tags]").fill("invoice")
    await form.locator("select[name=response]").select_option(label="Invoice resent")  # by title, not shortcut
    await expect(form.locator("select[name=queue] option[value=general]")).to_have_text("General support")
    await expect(form.locator("select[name=assignee] option[value=alice]")).to_have_text("Alice")
    await form.locator("button[type=submit]").click()
    await expect(boss.locator("form.macro[data-macro='Invoice resent']")).to_be_visible()
    await screenshot(boss, "desk-macro-editor")
    await boss.context.close()

    page = await desk_login(browser, f"{live_url}/desk", "alice", "alice's long password")
    await ticket_row(page, ticket).click()
    await page.locator("#take").click()
    await expect(page.locator("#take")).to_be_hidden()
    await page.locator("#macro").select_option(label="Invoice resent")
    await expect(page.locator("#reply-text")).to_have_value("Hi Kay, I have sent the invoice again.")
    await expect(page.locator("#ticket-tags")).to_have_value("invoice")

    async def pending() -> bool:
        return (await hub.tickets.get(ticket["_id"]))["status"] == "pending"

    await eventually(pending, what="the macro's status")
    await expect(page.locator("#field-topic")).to_have_value("Invoice")  # the ticket field, set by the macro
    await screenshot(page, "desk-macro-applied")
    await page.context.close()
