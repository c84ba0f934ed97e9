"""The per-channel status documents (hub.channelstatus): written only on flush, merged across processes."""

from __future__ import annotations

from datetime import timedelta
from unittest.mock import patch

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
