"""SLA in the desk with a frozen clock (the hub's watcher and the browser's clock set to the same instant):
time left in colour on the ticket head and list, a live warning then a breach alert; admins edit business
hours and a bad calendar is refused with the reason."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from playwright.async_api import expect

from hub.models import Role, Sender
from switchboard.bootstrap import Runtime
from tests.browser.conftest import screenshot, ticket_row
from tests.test_ticket_list import open_ticket


async def log_in(page: Any, url: str, username: str, password: str) -> None:
    await page.goto(f"{url}/desk")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", password)
    await page.click("#login-form button[type=submit]")


async def test_an_sla_warning_appears_on_a_ticket_with_a_frozen_clock(browser: Any, live_url: str,
                                                                     runtime: Runtime) -> None:
    hub = runtime.hub
    assert hub is not None
    await hub.accounts.create("sue", "sue's password", name="Sue Lead", roles=[Role.AGENT, Role.SUPERVISOR])
    ticket = await open_ticket(runtime, "email", Sender("ana@example.com", display_name="Ana Lima",
                                                        email="ana@example.com"),
                               "My parcel never arrived", subject="Missing parcel")
    start = ticket["sla"]["start"]  # general queue: first response within 1 h, the warning at 48 min
    frozen = start + timedelta(minutes=50)

    ctx = await browser.new_context(viewport={"width": 1280, "height": 720})
    page = await ctx.new_page()
    await page.clock.set_fixed_time(frozen.timestamp())
    await log_in(page, live_url, "sue", "sue's password")
    row = ticket_row(page, ticket)
    await expect(row.locator(".sla-clock")).to_have_text("SLA 10m left")
    await expect(row.locator(".sla-clock")).to_have_attribute("data-state", "warning")
    await row.click()
    head = page.locator("#ticket-sla")
    await expect(head).to_have_text("First response SLA: 10m left")
    await expect(page.locator("body")).to_have_attribute("data-live", "1")

    # the hub's watcher at the same frozen instant: the warning reaches the desk live
    assert (await hub.watch_sla(frozen)).emitted == [(ticket["number"], "first_response", "warning")]
    alert = page.locator("#sla-alerts .sla-alert.warning")
    await expect(alert).to_have_text(f"SLA warning: #{ticket['number']} first response")
    await screenshot(page, "desk-sla-warning")

    # eleven minutes on: the breach, live, and the head turns red
    later = frozen + timedelta(minutes=11)
    await page.clock.set_fixed_time(later.timestamp())
    assert (await hub.watch_sla(later)).emitted == [(ticket["number"], "first_response", "breach")]
    await expect(page.locator("#sla-alerts .sla-alert.breached")).to_have_text(
        f"SLA breached: #{ticket['number']} first response")
    await expect(head).to_have_text("First response SLA: breached 1m ago")
    await expect(head).to_have_attribute("data-state", "breached")
    await expect(row.locator(".sla-clock")).to_have_attribute("data-state", "breached")
    await screenshot(page, "desk-sla-breached")
    await ctx.close()


async def test_admins_edit_business_hours(browser: Any, live_url: str, runtime: Runtime) -> None:
    hub = runtime.hub
    assert hub is not None
    await hub.accounts.create("root", "root's password", name="Root Admin", roles=[Role.ADMIN])
    ctx = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await ctx.new_page()
    await log_in(page, live_url, "root", "root's password")
    await page.click("#nav a[data-nav='business-hours']")
    new = page.locator("form.calendar[data-calendar='new']")
    await new.locator("input[name=name]").fill("office")
    await new.locator("input[name=timezone]").fill("Europe/Berlin")
    for day in ("mon", "tue", "wed", "thu", "fri"):
        await new.locator(f"input[name=hours-{day}]").fill("09:00-12:00, 11:00-17:00")
    await new.locator("label", has_text="General support").locator("input").check()
    await new.locator("button[type=submit]").click()
    await expect(new.locator(".error")).to_have_text("hours.mon: 09:00-12:00 and 11:00-17:00 overlap")
    for day in ("mon", "tue", "wed", "thu", "fri"):
        await new.locator(f"input[name=hours-{day}]").fill("09:00-12:00, 13:00-17:00")
    await new.locator("textarea[name=holidays]").fill("2026-12-25 yearly Christmas\n2026-12-31 New Year's Eve")
    await new.locator("button[type=submit]").click()
    saved = page.locator("form.calendar[data-calendar='office']")
    await expect(saved.locator("input[name=hours-mon]")).to_have_value("09:00-12:00, 13:00-17:00")
    await expect(saved.locator("textarea[name=holidays]")).to_have_value(
        "2026-12-25 yearly Christmas\n2026-12-31 New Year's Eve")
    assert (await hub.tickets.calendars.for_queue("general")).name == "office"
    await screenshot(page, "desk-business-hours")
    await ctx.close()
