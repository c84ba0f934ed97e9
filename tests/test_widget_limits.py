"""The widget's message limits per chat and per address, and refusals a page on another origin can read."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from channels.widget.http import PER_CHAT_LIMITS, WidgetChannel
from switchboard.bootstrap import ConfigError, Runtime
from switchboard.config import Settings
from tests.conftest import http_client, make_settings, running
from tests.helpers import StoppedClock
from tests.test_widget_flow import say, widget_session

SHOP = "https://shop.example"


@pytest.fixture
def settings(mongo_uri: str, tmp_path: Path) -> Settings:
    settings = make_settings(mongo_uri, tmp_path)
    settings.channels["widget"]["rate_limits"] = {"per_chat": [{"messages": 3, "seconds": 60}],
                                                  "per_address": [{"messages": 5, "seconds": 60}]}
    return settings


def widget_of(runtime: Runtime) -> WidgetChannel:
    channel = next(c for c in runtime.channels if c.name == "widget")
    assert isinstance(channel, WidgetChannel)
    return channel


async def post(client: TestClient[Any, Any], token: str, text: str, client_id: str | None = None) -> Any:
    return await client.post("/api/widget/messages", json={"text": text, "client_id": client_id or uuid.uuid4().hex},
                             headers={"Authorization": f"Bearer {token}", "Origin": SHOP})


async def test_a_chat_over_its_limit_is_told_when_to_send_again_and_nothing_is_stored(
        client: TestClient[Any, Any], runtime: Runtime) -> None:
    assert runtime.hub is not None
    clock = StoppedClock()
    widget = widget_of(runtime)
    widget.per_chat.clock = widget.per_address.clock = clock
    ann = await widget_session(client, name="Ann")
    for n in range(3):
        await say(client, ann, f"question {n}")
    refused = await post(client, ann, "question 3", client_id="refused-message-1")
    assert refused.status == 429
    body = await refused.json()
    seconds = int(refused.headers["Retry-After"])
    assert body["retry_after"] == seconds and 1 <= seconds <= 120
    assert "too many messages" in body["error"] and f"{seconds} s" in body["error"]
    # A page on the customer's own site can read the refusal, and when to try again.
    assert refused.headers["Access-Control-Allow-Origin"] == SHOP
    assert refused.headers["Access-Control-Expose-Headers"] == "Retry-After"
    await runtime.hub.pipeline.drain()
    assert await runtime.hub.store.messages.count_documents({"text": "question 3"}) == 0
    # Another chat from the same address still has its own count.
    bob = await widget_session(client, name="Bob")
    await say(client, bob, "hello")
    # Once the time it was told has passed, the same message (same client id) goes in, once.
    clock.now += seconds
    again = await post(client, ann, "question 3", client_id="refused-message-1")
    assert again.status == 202, await again.text()
    await runtime.hub.pipeline.drain()
    assert await runtime.hub.store.messages.count_documents({"text": "question 3"}) == 1


async def test_every_chat_from_one_address_shares_the_address_limit(
        client: TestClient[Any, Any], runtime: Runtime, caplog: pytest.LogCaptureFixture) -> None:
    assert runtime.hub is not None
    widget = widget_of(runtime)
    widget.per_chat.clock = widget.per_address.clock = StoppedClock()
    for n in range(5):  # five new chats from one address, a message each: a script's "conversation bombing"
        await say(client, await widget_session(client), f"hi from chat {n}")
    late = await widget_session(client)
    refused = await post(client, late, "hi from chat 5")
    assert refused.status == 429 and int(refused.headers["Retry-After"]) >= 1
    file = await client.post("/api/widget/files", data={"client_id": uuid.uuid4().hex, "file": b"%PDF-1.4 tiny"},
                             headers={"Authorization": f"Bearer {late}"})
    assert file.status == 429  # files count too, refused before their upload is read
    told = [r for r in caplog.records if "over the rate limit" in r.getMessage()]
    assert len(told) == 1 and "127.0.0.1" in told[0].getMessage()  # the operator hears once, not per request
    await runtime.hub.pipeline.drain()
    assert await runtime.hub.store.messages.count_documents({"direction": "in"}) == 5


async def test_a_message_the_hub_does_not_take_does_not_count(
        client: TestClient[Any, Any], runtime: Runtime) -> None:
    """Refused as invalid, or the database down (the same path: any error after admission), a message is given
    back: the widget's resends of it must not use up the chat's limit."""
    assert runtime.hub is not None
    widget = widget_of(runtime)
    widget.per_chat.clock = widget.per_address.clock = StoppedClock()
    token = await widget_session(client)
    for _ in range(6):  # twice the chat's limit of 3, each refused by the hub after admission
        blank = await post(client, token, "   ")
        assert blank.status == 400 and "text is required" in (await blank.json())["error"]
    for n in range(3):
        await say(client, token, f"question {n}")  # the chat's whole limit is still there
    assert (await post(client, token, "question 3")).status == 429


async def test_the_default_limits_let_people_type_and_stop_a_flood(
        mongo_uri: str, tmp_path: Path, shop_bot: Any) -> None:
    settings = make_settings(mongo_uri, tmp_path)
    settings.channels["widget"].pop("rate_limits", None)
    async with running(settings, shop_bot) as runtime:
        async with http_client(runtime) as client:
            widget = widget_of(runtime)
            clock = StoppedClock()
            widget.per_chat.clock = widget.per_address.clock = clock
            token = await widget_session(client)
            burst = PER_CHAT_LIMITS[0]["messages"]
            for n in range(burst):  # a burst of quick messages, as fast as anyone presses Enter
                await say(client, token, f"line {n}")
            assert (await post(client, token, "one too many")).status == 429
            clock.now += PER_CHAT_LIMITS[0]["seconds"] * 2
            assert (await post(client, token, "later")).status == 202


async def test_refusals_carry_the_cors_headers_of_the_site(client: TestClient[Any, Any]) -> None:
    expired = await client.post("/api/widget/messages", json={"text": "hi", "client_id": uuid.uuid4().hex},
                                headers={"Authorization": "Bearer not-a-token", "Origin": SHOP})
    assert expired.status == 401  # the widget renews its token on this, so the page must be able to read it
    assert expired.headers["Access-Control-Allow-Origin"] == SHOP
    assert "Access-Control-Expose-Headers" not in expired.headers
    unknown = await client.post("/api/widget/session", json={"site": "nowhere"}, headers={"Origin": SHOP})
    assert unknown.status == 404 and unknown.headers["Access-Control-Allow-Origin"] == SHOP


async def test_a_wrong_limit_stops_the_hub_with_a_clear_error(mongo_uri: str, tmp_path: Path, shop_bot: Any) -> None:
    settings = make_settings(mongo_uri, tmp_path)
    settings.channels["widget"]["rate_limits"] = {"per_chat": "10/minute"}
    with pytest.raises(ConfigError, match=r"channels\.widget: rate_limits\.per_chat: a list of"):
        async with running(settings, shop_bot):
            pass


async def test_history_reads_have_limits_of_their_own(mongo_uri: str, tmp_path: Path, shop_bot: Any) -> None:
    """Each read of the history costs the database (the widget reads it every 3 s while its socket is down): a
    script polling as fast as it can is told to wait, apart from the messages' limits."""
    settings = make_settings(mongo_uri, tmp_path)
    settings.channels["widget"]["rate_limits"] = {"reads_per_chat": [{"messages": 2, "seconds": 60}],
                                                  "reads_per_address": [{"messages": 3, "seconds": 60}]}
    async with running(settings, shop_bot) as runtime, http_client(runtime) as client:
        widget = widget_of(runtime)
        clock = StoppedClock()
        widget.reads_per_chat.clock = widget.reads_per_address.clock = clock

        async def read(token: str) -> Any:
            return await client.get("/api/widget/messages", headers={"Authorization": f"Bearer {token}",
                                                                     "Origin": SHOP})

        ann, bob = await widget_session(client, name="Ann"), await widget_session(client, name="Bob")
        assert [(await read(ann)).status for _ in range(3)] == [200, 200, 429]  # the chat's two
        refused = await read(ann)
        body = await refused.json()
        assert "too many history reads" in body["error"] and body["retry_after"] == int(refused.headers["Retry-After"])
        assert refused.headers["Access-Control-Allow-Origin"] == SHOP
        assert (await read(bob)).status == 200  # another chat: its own count, the address's third
        assert (await read(bob)).status == 429  # the address's three are used
        await say(client, ann, "still here")  # reads never use up the messages' limits
        clock.now += 60
        assert (await read(ann)).status == 200
