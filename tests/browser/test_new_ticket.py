"""Writing to a customer first from the desk (hub.outbound): "New ticket" above the queues opens a form; a wrong
address is refused with the reason in the form; sent, the new ticket opens, held by the agent, with the message
and its line, and the mail leaves through the relay. With a number to text from, the form offers SMS: the address is
a phone number, and the text leaves through Twilio's Messages API (its stand-in)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import expect

from hub.models import Role
from switchboard.bootstrap import Runtime
from switchboard.config import Settings
from tests.browser.conftest import desk_login, screenshot, ticket_row
from tests.email.conftest import TlsFiles, email_config, relay, tls_files
from tests.email.relay import RelayStandIn
from tests.phone.conftest import twilio_api
from tests.phone.twilio_standin import TwilioStandIn
from tests.phone.twilio_webhooks import ACCOUNT_SID, AUTH_TOKEN, CUSTOMER, OUR_NUMBER, PUBLIC_URL

# the email tests' fixtures (the relay stand-in and its certificate) and the phone tests' Twilio stand-in
__all__ = ["relay", "tls_files", "twilio_api"]


@pytest.fixture
def settings(settings: Settings, relay: RelayStandIn, tls_files: TlsFiles, twilio_api: TwilioStandIn) -> Settings:
    config = email_config(relay.port, tls_files.cert)
    config["smtp_listener"]["enabled"] = False
    settings.channels["email"] = config
    settings.channels["phone"] = {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN, "public_url": PUBLIC_URL,
                                  "api_base_url": twilio_api.url, "timeout_seconds": 5, "sms_from": OUR_NUMBER}
    return settings


async def open_form(browser: Any, live_url: str, runtime: Runtime) -> tuple[Any, Any]:
    """Alice, an agent, signed in, with the New ticket dialog open: the page and the dialog."""
    assert runtime.hub is not None
    await runtime.hub.accounts.create("alice", "alice's long password", name="Alice Ng", roles=[Role.AGENT])
    page = await desk_login(browser, f"{live_url}/desk", "alice", "alice's long password")
    await page.locator("#new-ticket").click()
    return page, page.locator("#new-ticket-dialog")


async def test_an_agent_writes_to_a_customer_first(browser: Any, live_url: str, runtime: Runtime,
                                                   relay: RelayStandIn) -> None:
    page, dialog = await open_form(browser, live_url, runtime)
    await expect(dialog).to_be_visible()
    await dialog.locator("#new-to").fill("dana@example")  # the browser takes it; the hub does not
    await dialog.locator("#new-name").fill("Dana Scully")
    await dialog.locator("#new-subject").fill("Your order 5521")
    await dialog.locator("#new-queue").select_option("orders")
    await dialog.locator("#new-text").fill("Your parcel was damaged in our warehouse. We send a new one today.")
    await dialog.locator("#new-send").click()
    await expect(dialog.locator("p.error")).to_contain_text("is not an email address")
    await dialog.locator("#new-to").fill("dana@example.org")
    await dialog.locator("#new-cc").fill("fox@example.org")
    await dialog.locator("#new-status").select_option("pending")
    await screenshot(page, "desk-new-ticket")
    await dialog.locator("#new-send").click()

    await expect(dialog).to_be_hidden()
    await expect(page.locator("#ticket-title")).to_have_text("#1 Your order 5521")
    await expect(page.locator("#ticket-meta")).to_contain_text("an agent wrote first")
    await expect(page.locator("#ticket-meta")).to_contain_text("assigned to you")
    await expect(page.locator("#status")).to_have_value("pending")
    await expect(page.locator("#messages li.change", has_text="Alice Ng started the ticket by writing to the customer."
                              )).to_have_count(1)
    await expect(page.locator("#messages li", has_text="We send a new one today.").first).to_be_visible()
    await expect(page.locator("#contact")).to_contain_text("Dana Scully")
    await expect(ticket_row(page, {"number": 1})).to_contain_text("Dana Scully")  # the list has it, live
    await expect(page.locator("#ticket-filters select[name=assignee] option").first).to_have_text("Everyone (1)")
    await screenshot(page, "desk-new-ticket-sent")
    mail = (await relay.next()).message
    assert str(mail["Subject"]) == "Your order 5521 [#1]" and str(mail["To"]) == "dana@example.org"
    assert str(mail["Cc"]) == "fox@example.org"
    await page.context.close()


async def test_an_agent_texts_a_customer_first(browser: Any, live_url: str, runtime: Runtime,
                                               twilio_api: TwilioStandIn) -> None:
    page, dialog = await open_form(browser, live_url, runtime)
    await dialog.locator("#new-channel").select_option("sms")
    to = dialog.locator("#new-to")
    await expect(to).to_have_attribute("type", "tel")
    await expect(to).to_have_attribute("placeholder", "+4915112345678 (with the country code)")
    await expect(dialog).to_contain_text("not sent in the text")
    await expect(dialog.locator("#new-cc")).to_be_hidden()  # a text goes to one number
    await to.fill("415 555 0123")  # no country code: the hub cannot guess it
    await dialog.locator("#new-name").fill("Rosa Diaz")
    await dialog.locator("#new-subject").fill("Kettle repaired")
    await dialog.locator("#new-text").fill("Hello Rosa, your kettle is repaired. Reply to choose a delivery day.")
    await dialog.locator("#new-send").click()
    await expect(dialog.locator("p.error")).to_contain_text("is not a phone number with its country code")
    await to.fill("+1 415 555 0123")
    await screenshot(page, "desk-new-ticket-sms")
    await dialog.locator("#new-send").click()

    await expect(dialog).to_be_hidden()
    await expect(page.locator("#ticket-title")).to_have_text("#1 Kettle repaired")
    await expect(page.locator("#ticket-meta")).to_contain_text("SMS")
    await expect(page.locator("#contact")).to_contain_text(CUSTOMER)
    sent = page.locator("#messages li", has_text="your kettle is repaired")
    await expect(sent.locator(".delivery")).to_have_text("sent")
    request = await twilio_api.next_request()
    assert (request.form["To"], request.form["From"]) == (CUSTOMER, OUR_NUMBER)
    await screenshot(page, "desk-new-ticket-sms-sent")
    await page.context.close()
