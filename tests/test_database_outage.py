"""The database goes away for a while: nothing accepted is lost, nothing is stored twice."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from hub.hub import Hub
from hub.models import InboundMessage, Sender
from switchboard.bootstrap import Runtime
from switchboard.embedded import EmbeddedServer
from tests.conftest import _drop, make_settings


async def test_messages_survive_a_database_outage(tmp_path: Path, shop_bot: Any) -> None:
    db = EmbeddedServer(tmp_path / "db")
    uri = await db.start()
    runtime = Runtime(make_settings(uri, tmp_path / "var"))
    await runtime.start(bot=shop_bot)
    try:
        assert runtime.app is not None and runtime.hub is not None
        async with TestClient(TestServer(runtime.app, host="127.0.0.1")) as client:
            token = (await (await client.post("/api/widget/session", json={"site": "demo"})).json())["token"]
            auth = {"Authorization": f"Bearer {token}"}
            body = {"text": "what are your opening hours", "client_id": "outage-0001"}

            db.stop()
            refused = await client.post("/api/widget/messages", json=body, headers=auth)
            assert refused.status == 503
            assert refused.headers["Retry-After"] == "5"
            assert "retry" in (await refused.json())["error"]

            await db.start()  # same port and data directory
            accepted = await client.post("/api/widget/messages", json=body, headers=auth)
            assert accepted.status == 202 and (await accepted.json())["duplicate"] is False
            again = await client.post("/api/widget/messages", json=body, headers=auth)
            assert (await again.json())["duplicate"] is True
            await runtime.hub.pipeline.drain()
            await runtime.hub.pipeline.recover()
            store = runtime.hub.store
            assert await store.messages.count_documents({"direction": "in"}) == 1
            assert await store.messages.count_documents({"author.kind": "bot"}) == 1
            assert await store.messages.count_documents({"pending_bot": True}) == 0
    finally:
        await runtime.stop()
        db.stop()


class HangingBot:
    """A fake of the Bot port that stalls until released (a process dying mid-decision)."""

    def __init__(self, inner: Any) -> None:
        import asyncio

        self.inner = inner
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def decide(self, turn: Any) -> Any:
        self.entered.set()
        await self.release.wait()
        return await self.inner.decide(turn)


@asynccontextmanager
async def hanging_and_healthy(tmp_path: Path, mongo_uri: str, shop_bot: Any) -> AsyncIterator[
        tuple[Hub, HangingBot, Hub]]:
    """Two hubs on one database: the first decides with a bot that hangs until released, the second with the
    shop's bot. The hanging bot is released before the hubs stop, even after a failed assertion."""
    settings = make_settings(mongo_uri, tmp_path / "var")
    hanging_bot = HangingBot(shop_bot)
    hanging, healthy = Runtime(settings), Runtime(settings)
    await hanging.start(bot=hanging_bot)
    await healthy.start(bot=shop_bot)
    try:
        assert hanging.hub is not None and healthy.hub is not None
        yield hanging.hub, hanging_bot, healthy.hub
    finally:
        hanging_bot.release.set()
        await hanging.stop()
        await healthy.stop()
        await _drop(settings)


async def ask(hub: Hub, visitor: str) -> None:
    """A widget visitor's FAQ question, stored by `hub`."""
    await hub.ingest(InboundMessage(channel="widget", external_id=f"demo:{visitor}:1", thread_key=f"demo:{visitor}",
                                    sender=Sender(f"demo:{visitor}"), text="what are your opening hours"))


async def test_a_stalled_process_is_taken_over_and_the_answer_is_written_once(
    tmp_path: Path, mongo_uri: str, shop_bot: Any
) -> None:
    async with hanging_and_healthy(tmp_path, mongo_uri, shop_bot) as (stalled, stalled_bot, healthy):
        stalled.pipeline.lease_seconds = -1  # its lease is already over when it takes the message
        await ask(stalled, "v9")
        await stalled_bot.entered.wait()
        assert await healthy.pipeline.recover() == 1
        stalled_bot.release.set()
        await stalled.pipeline.drain()
        store = healthy.store
        assert await store.messages.count_documents({"author.kind": "bot"}) == 1
        answers = await store.messages.find({"author.kind": "bot"}).to_list()
        assert [a["delivery"]["status"] for a in answers] == ["sent"]  # the widget's: delivered by being stored
        assert await store.outbox.count_documents({}) == 0
        assert await store.messages.count_documents({"pending_bot": True}) == 0
        conversation = await store.conversations.find_one({"thread_key": "demo:v9"})
        assert conversation is not None and conversation["bot"]["turns"] == 1  # the repeat did not count twice


async def test_a_slow_decision_keeps_its_lease_and_nobody_repeats_it(
    tmp_path: Path, mongo_uri: str, shop_bot: Any
) -> None:
    """A process still working on a message renews its lease, so another process's recovery leaves it
    alone (and the process's own recovery never starts a second task on it): one decision, one answer."""
    async with hanging_and_healthy(tmp_path, mongo_uri, shop_bot) as (slow, slow_bot, other):
        pipeline = slow.pipeline
        pipeline.lease_seconds = -1  # the lease taken with the insert has already run out ...
        await ask(slow, "v8")
        await slow_bot.entered.wait()
        assert await pipeline.recover() == 0  # its own recovery: the message is in hand here
        pipeline.lease_seconds = 60
        assert await pipeline.renew_leases(older_than_seconds=0) == 1  # ... and is renewed while it decides
        assert await other.pipeline.recover() == 0
        store = other.store
        assert await store.messages.count_documents({"author.kind": "bot"}) == 0  # nobody answered meanwhile
        slow_bot.release.set()
        await pipeline.drain()
        assert await store.messages.count_documents({"author.kind": "bot"}) == 1
        assert await store.messages.count_documents({"pending_bot": True}) == 0
        assert await pipeline.renew_leases(older_than_seconds=0) == 0  # nothing in hand any more
