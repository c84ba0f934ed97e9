"""The embedded default: `serve` without MONGODB_URI runs secantusd-py under the data dir; data survives."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hub.models import InboundMessage, Sender
from switchboard.bootstrap import Runtime
from tests.conftest import make_settings


async def test_restart_keeps_all_data(tmp_path: Path, shop_bot: Any) -> None:
    settings = make_settings("", tmp_path / "var", mongodb_uri=None)
    first = Runtime(settings)
    await first.start(bot=shop_bot)
    try:
        assert first.embedded is not None and first.hub is not None
        assert first.admin_credentials is not None
        for i, text in enumerate(["hello", "I want a human"]):
            await first.hub.ingest(InboundMessage(channel="widget", external_id=f"demo:v1:{i}", thread_key="demo:v1",
                                                  sender=Sender("demo:v1", "Kim"), text=text))
        await first.hub.pipeline.drain()
        ticket = await first.hub.store.tickets.find_one({})
        assert ticket is not None
    finally:
        await first.stop()
    assert first.embedded.process is None

    second = Runtime(make_settings("", tmp_path / "var", mongodb_uri=None, db_name=settings.db_name))
    await second.start(bot=shop_bot)
    try:
        assert second.hub is not None
        assert second.admin_credentials is None  # the admin from the first start is still there
        assert await second.hub.store.messages.count_documents({"direction": "in"}) == 2
        again = await second.hub.store.tickets.find_one({"_id": ticket["_id"]})
        assert again is not None and again["number"] == ticket["number"]
        assert await second.hub.store.contacts.count_documents({}) == 1
        # Re-delivery after the restart is still recognised as a duplicate.
        result = await second.hub.ingest(InboundMessage(channel="widget", external_id="demo:v1:0",
                                                        thread_key="demo:v1", sender=Sender("demo:v1"), text="hello"))
        assert result.duplicate
    finally:
        await second.stop()
