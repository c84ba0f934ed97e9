"""Socket Mode: the hub connects out to the Slack stand-in's WebSocket and gets envelopes there.

The stand-in hands out the URL from `apps.connections.open` and speaks the Socket Mode
protocol (hello, `events_api` / `interactive` envelopes, acknowledgements by envelope id,
`disconnect`); the payloads are the same captured events the HTTP tests post.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from channels.slack.channel import SlackChannel
from channels.slack.config import SlackConfig, SlackConfigError
from channels.slack.socket_mode import SlackAppTokenRefused
from hub.blobs import BlobStore
from switchboard.bootstrap import Runtime
from switchboard.config import ConfigError, Settings
from tests.conftest import _drop, http_client, running
from tests.helpers import eventually
from tests.slack.conftest import APP_TOKEN, BOT_TOKEN, PATH, SIGNING_SECRET, assert_delivery_times_pressed, sign
from tests.slack.standin import Failure, SlackStandIn, SocketConnection, fixture

DM_ID = "T0SHOP0001:D0CUSTDM01:1718961060.123459"
DM_THREAD = "1718961060.123459"


def socket_config(slack_api: SlackStandIn, **overrides: Any) -> dict[str, Any]:
    """Socket Mode only: an app-level token and no signing secret (no public URL to receive on)."""
    return {"enabled": True, "socket_mode": True, "app_token": APP_TOKEN, "bot_token": BOT_TOKEN,
            "api_base_url": f"{slack_api.base_url}/api/", "file_base_url": slack_api.base_url, **overrides}


@pytest.fixture
async def socket_runtime(settings: Settings, shop_bot: Any, slack_api: SlackStandIn) -> AsyncIterator[Runtime]:
    settings.channels["slack"] = socket_config(slack_api)
    async with running(settings, shop_bot) as rt:
        yield rt


@pytest.fixture
async def link(socket_runtime: Runtime, slack_api: SlackStandIn) -> SocketConnection:
    """The WebSocket the hub opened when it started."""
    return await slack_api.connection()


async def inbound(runtime: Runtime) -> list[dict[str, Any]]:
    assert runtime.hub is not None
    return await runtime.hub.store.messages.find({"channel": "slack", "direction": "in"},
                                                 sort=[("created_at", 1)]).to_list()


async def bot_answers(runtime: Runtime) -> list[dict[str, Any]]:
    assert runtime.hub is not None
    return await runtime.hub.store.messages.find({"channel": "slack", "direction": "out"},
                                                 sort=[("created_at", 1)]).to_list()


def opens(slack_api: SlackStandIn) -> list[int | str]:
    """Every `apps.connections.open` call in order: "ok", or the HTTP status of a failed one."""
    return ["ok" if c.ok else c.status for c in slack_api.calls if c.method == "apps.connections.open"]


def http_event(payload: dict[str, Any], secret: str = SIGNING_SECRET) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload).encode()
    return body, {"Content-Type": "application/json", **sign(body, secret=secret)}


async def test_a_dm_envelope_is_acked_once_stored_and_answered_in_its_thread(
    socket_runtime: Runtime, slack_api: SlackStandIn, link: SocketConnection
) -> None:
    [opened] = slack_api.successful("apps.connections.open")
    assert opened.authorization == f"Bearer {APP_TOKEN}"
    assert link.number == 1

    envelope_id = await slack_api.send_envelope("events_api", fixture("message_im.json"))
    [ack] = await slack_api.ack(envelope_id)
    assert ack.frame == {"envelope_id": envelope_id}
    # Acknowledged only once kept: the message is stored by the time the ack reaches Slack.
    [message] = await inbound(socket_runtime)
    assert message["external_id"] == DM_ID
    assert message["text"] == "what are your opening hours?"
    assert message["metadata"]["slack"]["event_id"] == "Ev0IMHOURS01"
    assert message["metadata"]["slack"]["retry_num"] is None  # retry_attempt 0: a first delivery
    hub = socket_runtime.hub
    assert hub is not None
    conversation = await hub.store.conversations.find_one({"_id": message["conversation_id"]})
    assert conversation is not None
    assert conversation["channel_data"] == {"channel": "D0CUSTDM01", "thread_ts": DM_THREAD, "team": "T0SHOP0001"}
    contact = await hub.store.contacts.find_one({"_id": message["contact_id"]})
    assert contact is not None
    assert (contact["name"], contact["emails"]) == ("Dana Scully", ["dana.scully@example.com"])

    # The bot answers through the Web API with the bot token, in the customer's thread.
    call = await asyncio.wait_for(slack_api.posted.get(), timeout=15)
    assert call.authorization == f"Bearer {BOT_TOKEN}"
    assert (call.body["channel"], call.body["thread_ts"]) == ("D0CUSTDM01", DM_THREAD)

    async def sent() -> list[dict[str, Any]]:
        return [m for m in await bot_answers(socket_runtime) if m["delivery"]["status"] == "sent"]

    [answer] = await eventually(sent, what="the bot's answer marked sent")
    assert call.body["text"] == answer["text"] and answer["text"]
    assert answer["conversation_id"] == conversation["_id"]
    question = await hub.store.messages.find_one({"_id": message["_id"]})
    assert question is not None and question["nlu"]["intent"] == "opening_hours"


async def test_a_button_press_envelope_is_the_customers_answer_in_the_same_thread(
    socket_runtime: Runtime, slack_api: SlackStandIn, link: SocketConnection
) -> None:
    await slack_api.ack(await slack_api.send_envelope("events_api", fixture("message_im.json")))
    await asyncio.wait_for(slack_api.posted.get(), timeout=15)  # the bot's answer
    [first] = await inbound(socket_runtime)

    click_id = await slack_api.send_envelope("interactive", fixture("block_actions_quick_reply.json"))
    [ack] = await slack_api.ack(click_id)
    assert ack.frame == {"envelope_id": click_id}
    assert socket_runtime.hub is not None
    await assert_delivery_times_pressed(socket_runtime.hub, first["conversation_id"])


async def test_the_same_envelope_delivered_twice_is_stored_once_with_its_files(
    socket_runtime: Runtime, slack_api: SlackStandIn, link: SocketConnection
) -> None:
    receipt = b"%PDF-1.4 test receipt\n%%"
    slack_api.files["/files-pri/T0SHOP0001-F0RECEIPT1/download/receipt.pdf"] = (receipt, "application/pdf")
    payload = fixture("message_file_share.json")
    envelope_id = str(uuid.uuid4())
    # Redelivered while the first delivery is still being ingested...
    await slack_api.send_envelope("events_api", payload, envelope_id=envelope_id)
    await slack_api.send_envelope("events_api", payload, envelope_id=envelope_id, retry_attempt=1,
                                  retry_reason="timeout")
    acks = await slack_api.ack(envelope_id, count=2)
    assert [a.frame for a in acks] == [{"envelope_id": envelope_id}] * 2
    hub = socket_runtime.hub
    assert hub is not None
    await hub.pipeline.drain()
    [message] = await inbound(socket_runtime)
    assert message["external_id"] == "T0SHOP0001:D0CUSTDM01:1718963001.000500"
    assert message["text"] == "here is the receipt"
    pdf, photo = message["attachments"]
    stored = await BlobStore(hub.store).get(pdf["blob_id"])
    assert stored is not None and stored[0] == receipt
    assert "blob_id" not in photo  # not on the stand-in: kept as its link, as over HTTP
    answers = len(await bot_answers(socket_runtime))
    downloads = len(slack_api.file_requests)
    assert downloads >= 2

    # ...and once more after it was kept: acknowledged with nothing downloaded or stored again.
    await slack_api.send_envelope("events_api", payload, envelope_id=envelope_id, retry_attempt=2,
                                  retry_reason="timeout")
    assert len(await slack_api.ack(envelope_id, count=3)) == 3
    await hub.pipeline.drain()
    assert len(await inbound(socket_runtime)) == 1
    assert len(await bot_answers(socket_runtime)) == answers
    assert len(slack_api.file_requests) == downloads


async def test_after_a_disconnect_or_a_dropped_link_the_hub_reconnects_and_keeps_processing(
    socket_runtime: Runtime, slack_api: SlackStandIn, link: SocketConnection
) -> None:
    recycled = await slack_api.disconnect("refresh_requested")
    assert recycled is link
    second = await slack_api.connection()
    assert second.number == 2
    assert opens(slack_api) == ["ok", "ok"]  # a fresh URL: the first one was single-use
    await asyncio.wait_for(link.closed.wait(), timeout=15)  # the hub closed the recycled link itself

    envelope_id = await slack_api.send_envelope("events_api", fixture("message_im.json"), connection=second)
    [ack] = await slack_api.ack(envelope_id)
    assert ack.connection == 2
    [message] = await inbound(socket_runtime)
    assert message["external_id"] == DM_ID

    # A link Slack closes without warning is replaced too.
    dropped = await slack_api.drop()
    assert dropped is second
    third = await slack_api.connection()
    assert third.number == 3
    assert opens(slack_api) == ["ok", "ok", "ok"]
    reply_id = await slack_api.send_envelope("events_api", fixture("message_im_thread_reply.json"), connection=third)
    [ack] = await slack_api.ack(reply_id)
    assert ack.connection == 3
    first, reply = await inbound(socket_runtime)
    assert reply["external_id"] == "T0SHOP0001:D0CUSTDM01:1718961125.000200"
    assert reply["conversation_id"] == first["conversation_id"]

    # Both questions are answered in the customer's thread, across the reconnections.
    assert socket_runtime.hub is not None
    await socket_runtime.hub.pipeline.drain()
    answers = await bot_answers(socket_runtime)

    async def all_sent() -> bool:
        return all(m["delivery"]["status"] == "sent" for m in await bot_answers(socket_runtime))

    await eventually(all_sent, what="the bot's answers to be sent")
    assert len(answers) == 2
    posts = slack_api.successful("chat.postMessage")
    assert [(c.body["channel"], c.body["thread_ts"]) for c in posts] == [("D0CUSTDM01", DM_THREAD)] * 2
    assert [c.body["text"] for c in posts] == [m["text"] for m in answers]


async def test_an_envelope_the_hub_failed_on_is_not_acked_and_its_redelivery_is_kept(
    socket_runtime: Runtime, slack_api: SlackStandIn, link: SocketConnection, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="channels.slack.socket_mode")
    slack_api.fail_next("auth.test", Failure(503))
    payload = fixture("message_im.json")
    failed = await slack_api.send_envelope("events_api", payload)

    async def given_up() -> bool:
        return any(failed in r.getMessage() and "not acknowledged" in r.getMessage() for r in caplog.records)

    await eventually(given_up, what="the failed envelope to be left unacknowledged")
    assert slack_api.acks_of(failed) == []
    assert await inbound(socket_runtime) == []

    retried = await slack_api.send_envelope("events_api", payload, retry_attempt=1, retry_reason="timeout")
    await slack_api.ack(retried)
    [message] = await inbound(socket_runtime)
    assert message["external_id"] == DM_ID
    assert message["metadata"]["slack"]["retry_num"] == "1"

    # A refused (malformed) event is acknowledged: a redelivery would be refused the same way.
    no_ts = {"type": "event_callback", "team_id": "T0SHOP0001", "event_id": "Ev0BROKEN01",
             "event": {"type": "message", "user": "U0CUST0001", "text": "hi", "channel": "D0CUSTDM01"}}
    malformed = await slack_api.send_envelope("events_api", no_ts)
    [ack] = await slack_api.ack(malformed)
    assert ack.frame == {"envelope_id": malformed}
    assert any(malformed in r.getMessage() and "refused" in r.getMessage() for r in caplog.records)
    assert len(await inbound(socket_runtime)) == 1
    assert slack_api.acks_of(failed) == []


async def test_without_a_signing_secret_no_http_route_is_served(socket_runtime: Runtime,
                                                                link: SocketConnection) -> None:
    async with http_client(socket_runtime) as client:
        for secret in ("", SIGNING_SECRET):
            body, headers = http_event(fixture("message_im.json"), secret)
            resp = await client.post(PATH, data=body, headers=headers)
            assert resp.status == 404
    assert await inbound(socket_runtime) == []


async def test_with_a_signing_secret_http_still_works_and_a_message_over_both_is_stored_once(
    settings: Settings, shop_bot: Any, slack_api: SlackStandIn
) -> None:
    settings.channels["slack"] = socket_config(slack_api, signing_secret=SIGNING_SECRET)
    async with running(settings, shop_bot) as rt, http_client(rt) as client:
        await slack_api.connection()
        body, headers = http_event(fixture("message_im.json"))
        resp = await client.post(PATH, data=body, headers=headers)
        assert resp.status == 200, await resp.text()
        forged_body, forged = http_event(fixture("message_im.json"), secret="not-the-signing-secret")
        assert (await client.post(PATH, data=forged_body, headers=forged)).status == 401
        # The same event over the WebSocket (Slack switching transports mid-retry) is a no-op.
        envelope_id = await slack_api.send_envelope("events_api", fixture("message_im.json"), retry_attempt=1,
                                                    retry_reason="timeout")
        [ack] = await slack_api.ack(envelope_id)
        assert ack.frame == {"envelope_id": envelope_id}
        [message] = await inbound(rt)
        assert message["external_id"] == DM_ID
        assert message["metadata"]["slack"]["retry_num"] is None  # the HTTP delivery is the one kept


async def test_a_refused_app_token_fails_start_with_a_clear_error(settings: Settings, shop_bot: Any,
                                                                  slack_api: SlackStandIn) -> None:
    wrong = "xapp-1-A0SWITCHB1-9999999999-RevokedAppToken"
    settings.channels["slack"] = socket_config(slack_api, app_token=wrong)
    rt = Runtime(settings)
    try:
        with pytest.raises(ConfigError) as refused:  # `switchboard serve` prints it on one line
            await rt.start(bot=shop_bot)
    finally:
        await rt.stop()
        await _drop(settings)
    assert isinstance(refused.value.__cause__, SlackAppTokenRefused)
    reason = str(refused.value)
    assert "channels.slack.app_token" in reason
    assert "invalid_auth" in reason
    assert "connections:write" in reason
    [call] = [c for c in slack_api.calls if c.method == "apps.connections.open"]
    assert call.authorization == f"Bearer {wrong}"
    assert not call.ok
    assert slack_api.connections == []


async def test_slack_unreachable_at_start_is_retried_in_the_background_and_stop_closes_the_link(
    settings: Settings, shop_bot: Any, slack_api: SlackStandIn
) -> None:
    slack_api.fail_next("apps.connections.open", Failure(503))
    settings.channels["slack"] = socket_config(slack_api)
    async with running(settings, shop_bot) as rt:  # a Slack outage does not keep the hub down
        link = await slack_api.connection()
        assert opens(slack_api) == [503, "ok"]
        envelope_id = await slack_api.send_envelope("events_api", fixture("message_im.json"))
        await slack_api.ack(envelope_id)
        [message] = await inbound(rt)
        assert message["external_id"] == DM_ID
    # Stopped: the hub closed its WebSocket and did not ask for another one.
    await asyncio.wait_for(link.closed.wait(), timeout=15)
    assert opens(slack_api) == [503, "ok"]
    assert all(c.ws.closed for c in slack_api.connections)


async def test_stop_lets_an_envelope_being_ingested_finish_and_ack_and_leaves_a_new_one_to_slack(
    settings: Settings, shop_bot: Any, slack_api: SlackStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="channels.slack.socket_mode")
    settings.channels["slack"] = socket_config(slack_api)
    rt = Runtime(settings)
    await rt.start(bot=shop_bot)
    stopping: asyncio.Task[None] | None = None
    gate = slack_api.hold("users.info")
    try:
        [channel] = [c for c in rt.channels if isinstance(c, SlackChannel)]
        link = await slack_api.connection()
        in_flight = await slack_api.send_envelope("events_api", fixture("message_im.json"))
        await asyncio.wait_for(gate.arrived.wait(), timeout=15)  # mid-ingest: looking the author up
        stopping = asyncio.create_task(rt.stop())

        async def closing() -> bool:
            return channel.socket_mode is not None and channel.socket_mode.closing

        await eventually(closing, what="the Slack channel to start stopping")
        late = await slack_api.send_envelope("events_api", fixture("message_im_thread_reply.json"))

        async def left_to_slack() -> bool:
            return any(late in r.getMessage() and "left unacknowledged" in r.getMessage() for r in caplog.records)

        await eventually(left_to_slack, what="the late envelope to be refused")
        gate.release()
        await asyncio.wait_for(stopping, timeout=30)
    finally:
        gate.release()
        await (stopping if stopping is not None else rt.stop())
        await _drop(settings)
    # The envelope under way was kept and acknowledged on the still-open link, then the link was closed.
    assert [a.frame for a in slack_api.acks_of(in_flight)] == [{"envelope_id": in_flight}]
    assert slack_api.acks_of(late) == []  # Slack redelivers it to the next connection
    await asyncio.wait_for(link.closed.wait(), timeout=15)
    assert opens(slack_api) == ["ok"]


def test_socket_mode_config_needs_an_app_level_token_and_no_signing_secret() -> None:
    base = {"bot_token": BOT_TOKEN}
    with pytest.raises(SlackConfigError, match="app_token"):
        SlackConfig.from_mapping({**base, "socket_mode": True})
    with pytest.raises(SlackConfigError, match=r"app-level token \(xapp-"):
        SlackConfig.from_mapping({**base, "socket_mode": True, "app_token": BOT_TOKEN})
    with pytest.raises(SlackConfigError, match="signing_secret is required"):
        SlackConfig.from_mapping(base)
    with pytest.raises(SlackConfigError, match="socket_mode must be true or false"):
        SlackConfig.from_mapping({**base, "socket_mode": "sometimes", "app_token": APP_TOKEN})
    on = SlackConfig.from_mapping({**base, "socket_mode": "true", "app_token": APP_TOKEN})
    assert (on.socket_mode, on.app_token, on.serves_http) == (True, APP_TOKEN, False)
    # From an unset environment variable (`${SLACK_SOCKET_MODE:-false}`): plain HTTP, which needs the secret.
    off = SlackConfig.from_mapping({**base, "socket_mode": "false", "app_token": APP_TOKEN,
                                    "signing_secret": SIGNING_SECRET})
    assert (off.socket_mode, off.app_token, off.serves_http) == (False, None, True)
