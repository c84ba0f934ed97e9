"""The per-channel status documents (hub.channelstatus): written only on flush, merged across processes."""

from __future__ import annotations

from datetime import timedelta
from unittest.mock import patch

import pytest

from hub.channelstatus import ChannelStatus
from hub.models import utcnow
from switchboard.bootstrap import Runtime


async def test_two_processes_news_merge_newest_first_and_nothing_is_written_before_a_flush(runtime: Runtime) -> None:
    assert runtime.hub is not None
    store = runtime.hub.store
    mine, other = ChannelStatus(store, interval=0), ChannelStatus(store, interval=0)
    now = utcnow()
    with patch("hub.channelstatus.utcnow", return_value=now):
        mine.observe("message", {"channel": "sms", "direction": "in"})
    with patch("hub.channelstatus.utcnow", return_value=now - timedelta(minutes=5)):
        other.observe("message", {"channel": "sms", "direction": "in"})
        other.observe("message", {"channel": "sms", "direction": "out"})
        other.error("sms", "Twilio refused (400): invalid 'To' number")
    other.observe("bot_decision", {"outcome": "answer"})  # not a message: ignored
    assert await store.db["channel_status"].find_one({"_id": "sms"}) is None  # in memory until a flush
    await mine.flush()
    await other.flush()  # later, with older news: last_in stays the newer one
    doc = await store.db["channel_status"].find_one({"_id": "sms"})
    assert doc is not None
    assert doc["last_in"] == now and doc["last_out"] == now - timedelta(minutes=5)
    assert doc["last_error"].startswith("Twilio refused")
    status, _ = await ChannelStatus(store).read(["sms", "voice"], [])
    assert status["sms"]["last_in"] == now and status["voice"] == {}


@pytest.mark.parametrize(("reason", "kept"), [
    ("The 'To' number +15551234567 is not a valid phone number",
     "The 'To' number [number] is not a valid phone number"),
    ("Twilio 21211: +1 (555) 123-4567 invalid", "Twilio 21211: [number] invalid"),
    ("550 5.1.1 <rosa.diaz@example.com>: Recipient address rejected",
     "550 5.1.1 <[address]>: Recipient address rejected"),
    ("Forbidden: bot was blocked by the user (chat 987654321)",
     "Forbidden: bot was blocked by the user (chat [number])"),
    ("Connection refused to 127.0.0.1:8025 at 2026-12-05T04:50:11Z",
     "Connection refused to 127.0.0.1:8025 at 2026-12-05T04:50:11Z"),
])
async def test_a_channels_last_error_keeps_no_address_of_a_customer(runtime: Runtime, reason: str, kept: str) -> None:
    """The channel's last error outlives an erasure of the customer a refusal named (the admins' Channels page):
    it is kept without email addresses and phone numbers or chat ids; hosts, ports, codes and dates stay."""
    assert runtime.hub is not None
    status = ChannelStatus(runtime.hub.store, interval=0)
    status.error("sms", reason)
    await status.flush()
    doc = await runtime.hub.store.db["channel_status"].find_one({"_id": "sms"})
    assert doc is not None and doc["last_error"] == kept
