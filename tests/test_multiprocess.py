"""Two hub instances (own clients, buses and apps) on one database: a write on one reaches the other's sockets."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from switchboard.bootstrap import Runtime
from switchboard.config import Settings
from tests.conftest import login
from tests.test_desk_feed import watch
from tests.test_widget_flow import open_widget_ws, say, widget_session


async def test_reply_written_on_one_process_reaches_a_widget_on_another(
    runtime: Runtime, settings: Settings, shop_bot: Any
) -> None:
    other = Runtime(settings)
    await other.start(bot=shop_bot)
    try:
        assert runtime.app is not None and other.app is not None and runtime.hub is not None
        await runtime.hub.accounts.create("pat", "pat's password")
        async with TestClient(TestServer(runtime.app, host="127.0.0.1")) as desk, \
                TestClient(TestServer(other.app, host="127.0.0.1")) as widget:
            token = await widget_session(widget)
            await say(widget, token, "human please")
            assert other.hub is not None
            await other.hub.pipeline.drain()
            csrf = await login(desk, "pat", "pat's password")
            async with await open_widget_ws(widget, token) as ws, \
                    desk.ws_connect("/api/desk/ws") as desk_ws:
                tickets = (await (await desk.get("/api/tickets")).json())["tickets"]
                assert len(tickets) == 1
                await watch(desk_ws, {"_id": tickets[0]["id"], **tickets[0]})  # the desk shows the ticket
                await desk.post(f"/api/tickets/{tickets[0]['id']}/reply", json={"text": "Hello from process A"},
                                headers={"X-CSRF-Token": csrf})
                frame = await asyncio.wait_for(ws.receive_json(), timeout=10)
                while frame["type"] != "message" or frame["message"]["author"]["kind"] != "agent":
                    frame = await asyncio.wait_for(ws.receive_json(), timeout=10)
                assert frame["message"]["text"] == "Hello from process A"
                # And the customer's next message, ingested by process B, reaches the desk on A.
                await say(widget, token, "thanks from B")
                seen = await asyncio.wait_for(desk_ws.receive_json(), timeout=10)
                while not (seen["type"] == "message" and seen["message"]["text"] == "thanks from B"):
                    seen = await asyncio.wait_for(desk_ws.receive_json(), timeout=10)
                assert seen["message"]["author"]["kind"] == "customer"
    finally:
        await other.stop()
