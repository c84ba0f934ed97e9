"""Ticket fields in the desk (hub.ticketfields): an admin adds "Order number" and a "Product" list on the Ticket fields
page (the key follows the label as typed); on a ticket, above the customer, an agent fills them in, each saved as
it changes, with its line in the timeline; a second desk on the same ticket sees the values live. The order number is
required to solve: the status menu's "solved" is refused, naming it, until it is filled in. An invoice number of the
Complaints queue only is not on this ticket of another queue."""

from __future__ import annotations

from typing import Any

from playwright.async_api import expect

from hub.models import Role
from switchboard.bootstrap import Runtime
from tests.browser.conftest import desk_login, screenshot, ticket_row
from tests.test_ticket_list import open_ticket
from tests.test_ticket_reads import ANA


async def test_an_admin_adds_fields_and_an_agent_fills_them_in(browser: Any, live_url: str,
                                                                runtime: Runtime) -> None:
    hub = runtime.hub
    assert hub is not None
    await hub.accounts.create("sam", "sam's long password", name="Sam Lead", roles=[Role.ADMIN, Role.AGENT])
    await hub.accounts.create("bob", "bob's long password", name="Bob", roles=[Role.AGENT])
    ticket = await open_ticket(runtime, "email", ANA, "My kettle arrived broken", subject="Broken kettle")

    admin = await desk_login(browser, f"{live_url}/desk", "sam", "sam's long password",
                             viewport={"width": 1280, "height": 1000})
    await admin.click("#nav a[data-nav='ticket-fields']")
    new = admin.locator("form.field-def[data-field='new']")
    await new.locator("input[name=label]").fill("Order number")
    await expect(new.locator("input[name=key]")).to_have_value("order_number")
    await new.locator("input[name=description]").fill("From the order confirmation")
    await new.get_by_label("Required to solve").check()
    await new.locator("button[type=submit]").click()
    await expect(admin.locator("form.field-def[data-field='order_number'] legend")).to_have_text("Order number")
    new = admin.locator("form.field-def[data-field='new']")
    await new.locator("input[name=label]").fill("Product")
    await new.locator("select[name=kind]").select_option("list")
    await new.locator("textarea[name=options]").fill("Kettle\nToaster\nBlender")
    await new.locator("button[type=submit]").click()
    product = admin.locator("form.field-def[data-field='product']")
    await expect(product.locator("select[name=kind]")).to_be_disabled()  # a field's kind stays
    new = admin.locator("form.field-def[data-field='new']")
    await new.locator("input[name=label]").fill("Refund approved")
    await new.locator("select[name=kind]").select_option("checkbox")
    await expect(new.get_by_label("Required to solve")).to_be_disabled()  # a checkbox is yes or no already
    await new.locator("button[type=submit]").click()
    await expect(admin.locator("form.field-def")).to_have_count(4)
    new = admin.locator("form.field-def[data-field='new']")  # a field of the Complaints queue only
    await new.locator("input[name=label]").fill("Invoice number")
    await new.get_by_label("Complaints").check()
    await new.locator("button[type=submit]").click()
    await expect(admin.locator("form.field-def")).to_have_count(5)
    new = admin.locator("form.field-def[data-field='new']")
    await new.locator("input[name=label]").fill("Size")
    await new.locator("select[name=kind]").select_option("list")
    await new.locator("button[type=submit]").click()  # a list without choices: the reason, nothing saved
    await expect(new.locator("p.error")).to_contain_text("1 to 50 choices")
    await screenshot(admin, "admin-ticket-fields")
    assert [(f.key, f.required, f.queues) for f in await hub.tickets.fields.list()] == [
        ("order_number", True, ()), ("product", False, ()), ("refund_approved", False, ()),
        ("invoice_number", False, ("complaints",))]

    agent = await desk_login(browser, f"{live_url}/desk", "bob", "bob's long password")
    await ticket_row(agent, ticket).click()
    await admin.click("#nav a[data-nav='tickets']")
    await ticket_row(admin, ticket).click()
    fields = agent.locator("#ticket-fields")
    await expect(fields.locator("label[for=field-order_number]")).to_have_text("Order number *")
    await expect(fields).to_contain_text("From the order confirmation")
    await expect(fields.locator("[data-field]")).to_have_count(3)  # not Complaints' invoice number
    await expect(fields.locator("[data-field=order_number] .required-hint")).to_have_text(
        "Required before the ticket is solved")
    status = agent.locator("#status")
    before = await status.input_value()
    await status.select_option("solved")  # refused: the order number is empty
    await expect(agent.locator("#reply-error")).to_have_text("fill in Order number before solving the ticket")
    await expect(status).to_have_value(before)
    await screenshot(agent, "desk-required-field")
    await fields.locator("#field-order_number").fill("A-1001")
    await fields.locator("#field-order_number").press("Enter")
    await fields.locator("#field-product").select_option("Kettle")
    await fields.locator("#field-refund_approved").check()
    await expect(agent.locator("#messages li.change", has_text="Bob set Refund approved to yes.")).to_have_count(1)
    await expect(agent.locator("#messages li.change", has_text="Bob set Order number to A-1001.")).to_have_count(1)
    await expect(admin.locator("#field-product")).to_have_value("Kettle")  # live on the other desk
    await expect(admin.locator("#field-order_number")).to_have_value("A-1001")
    await expect(admin.locator("#field-refund_approved")).to_be_checked()
    await expect(fields.locator(".required-hint")).to_have_count(0)
    await screenshot(agent, "desk-ticket-fields")

    # the list filters by a field's value (a fresh page reads the fields' choices)
    await agent.reload()
    await expect(agent.locator("#app")).to_have_attribute("aria-busy", "false")
    pick = agent.locator("#ticket-filters select[name=field]")
    await expect(pick.locator("option")).to_have_text(["Any ticket field", "Product: Kettle", "Product: Toaster",
                                                       "Product: Blender", "Refund approved: yes",
                                                       "Refund approved: no"])
    await pick.select_option(label="Product: Toaster")
    await expect(agent.locator("#tickets li")).to_have_count(0)
    await pick.select_option(label="Product: Kettle")
    await expect(agent.locator("#tickets li")).to_have_count(1)
    await expect(ticket_row(agent, ticket)).to_be_visible()
    await screenshot(agent, "desk-field-filter")
    stored = await hub.store.tickets.find_one({"_id": ticket["_id"]})
    assert stored is not None and stored["fields"] == {"order_number": "A-1001", "product": "Kettle",
                                                       "refund_approved": True}

    await ticket_row(agent, ticket).click()  # filled in: the solve goes
    await agent.locator("#status").select_option("solved")
    await expect(agent.locator("#messages li.change", has_text="Bob solved the ticket.")).to_have_count(1)
    await agent.context.close()
    await admin.context.close()
