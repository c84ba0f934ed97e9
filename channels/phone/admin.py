"""The Channels page's view of Twilio: the webhook URLs, a credential check (account fetch), a test target."""

from __future__ import annotations

from typing import Any

import aiohttp
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from channels.base import ChannelConfigError, CheckLine, PasteUrl, TestTarget
from channels.phone.config import E164, PhoneConfig
from channels.phone.sms import SMS_PATH, SMS_STATUS_PATH
from channels.phone.voice_twiml import STATUS_PATH, VOICE_PATH

DESTINATION = "Phone number in E.164 form (+4915112345678)"
SENDER = "From: one of your Twilio numbers (E.164)"


def paste_urls(raw: dict[str, Any], public_url: str) -> list[PasteUrl]:
    base = str(raw.get("public_url") or public_url).rstrip("/")
    where = "Twilio console > Phone Numbers > your number"
    return [PasteUrl("Messaging: A message comes in (HTTP POST)", base + SMS_PATH, where),
            PasteUrl("Voice: A call comes in (HTTP POST)", base + VOICE_PATH, where),
            PasteUrl("Voice: Call status changes (HTTP POST)", base + STATUS_PATH, where),
            PasteUrl("SMS delivery status callback", base + SMS_STATUS_PATH, "set by the hub on each SMS it sends")]


async def check(raw: dict[str, Any], public_url: str) -> list[CheckLine]:
    try:
        config = PhoneConfig.from_mapping(raw, public_url)
    except ChannelConfigError as exc:
        return [CheckLine("configuration", False, str(exc))]
    http = AsyncTwilioHttpClient(timeout=config.timeout_seconds)
    client = Client(config.account_sid, config.auth_token, http_client=http)
    client.api.base_url = config.api_base_url
    try:
        account = await client.api.v2010.accounts(config.account_sid).fetch_async()
        return [CheckLine("account fetch", account.status == "active",
                          f"account {account.friendly_name!r} is {account.status}")]
    except TwilioRestException as exc:
        return [CheckLine("account fetch", False, f"Twilio refused ({exc.status}): {exc.msg}")]
    except (TwilioException, aiohttp.ClientError, OSError, TimeoutError) as exc:
        return [CheckLine("account fetch", False, f"cannot reach {config.api_base_url}: {type(exc).__name__}")]
    finally:
        await http.close()


def test_target(raw: dict[str, Any], destination: str, sender: str | None) -> TestTarget:
    number = destination.strip().replace(" ", "")
    if not E164.match(number):
        raise ValueError("a phone number in E.164 form (+4915112345678)")
    ours = (sender or "").strip().replace(" ", "")
    if not E164.match(ours):
        raise ValueError("the Twilio number to send from, in E.164 form")
    return TestTarget("sms", number, f"admin-test:{ours}:{number}", {"our_number": ours})
