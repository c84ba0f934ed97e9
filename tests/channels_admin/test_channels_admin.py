"""The admins' Channels page API against real stand-ins: status, credential checks, test messages, secrets."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hub.models import Role
from switchboard.bootstrap import Runtime
from switchboard.channel_secrets import COLLECTION, ChannelSecrets, ChannelSecretsError
from switchboard.channels_admin import load_channel_configs
from switchboard.config import ConfigError, Settings
from tests.channels_admin.conftest import KEY, Admin
from tests.conftest import http_client, login
from tests.helpers import eventually
from tests.log_capture import serve_logs
from tests.slack.standin import SlackStandIn
from tests.telegram.standin import Failure, TelegramStandIn, Webhook
from tests.test_widget_flow import say, widget_session

NEW_SLACK_TOKEN = "xoxb-9999999999-8888888888-ReplacedInTheDesk"


async def delivered(admin: Admin, message_id: str, status: str) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        resp = await admin.client.get(f"/api/admin/channels/tests/{message_id}")
        assert resp.status == 200, await resp.text()
        body: dict[str, Any] = await resp.json()
        return body if body["status"] == status else None

    return await eventually(check, what=f"test message {status}")


async def test_status_shows_messages_in_and_out_backlog_and_a_failed_delivery(
        admin: Admin, slack_api: SlackStandIn, telegram_api: TelegramStandIn) -> None:
    hub = admin.runtime.hub
    assert hub is not None
    widget = await admin.card("widget")
    assert widget["running"] and widget["channels"][0]["last_in"] is None and widget["connected"] is None
    token = await widget_session(admin.client)
    await say(admin.client, token, "hello")
    await hub.pipeline.drain()

    async def answered() -> dict[str, Any] | None:
        card = await admin.card("widget")
        return card if card["channels"][0]["last_out"] else None

    widget = await eventually(answered, what="the bot's answer delivered")
    assert widget["channels"][0]["last_in"] and widget["connected"] is True
    # A test message Telegram refuses for good: the channel's last error, one failed entry, not connected.
    telegram_api.fail_next("sendMessage", Failure(400, "Bad Request: chat not found"))
    resp = await admin.post("telegram/test", {"destination": "424242"})
    assert resp.status == 202, await resp.text()
    failed = await delivered(admin, (await resp.json())["message_id"], "failed")
    assert "Chat not found" in failed["error"]
    telegram = await admin.card("telegram")
    assert "Chat not found" in telegram["channels"][0]["last_error"]
    assert telegram["channels"][0]["failed"] == 1 and telegram["connected"] is False
    # A delivery held at Slack is the channel's backlog until it goes out.
    hold = slack_api.hold("chat.postMessage")
    resp = await admin.post("slack/test", {"destination": "C0SUPPORT1"})
    await hold.arrived.wait()
    assert (await admin.card("slack"))["channels"][0]["waiting"] == 1
    hold.release()
    await delivered(admin, (await resp.json())["message_id"], "sent")
    slack = await admin.card("slack")
    assert slack["channels"][0]["waiting"] == 0 and slack["channels"][0]["last_out"] and slack["connected"] is True
    # Written to the shared status documents for the other hub processes.
    await hub.channel_status.flush()
    stored = await hub.store.db["channel_status"].find_one({"_id": "telegram"})
    assert stored is not None and "Chat not found" in stored["last_error"]
    assert (await hub.store.db["channel_status"].find_one({"_id": "widget"}) or {}).get("last_in")


async def test_test_message_goes_through_the_outbox_and_is_recorded(admin: Admin, slack_api: SlackStandIn) -> None:
    hub = admin.runtime.hub
    assert hub is not None
    for body, reason in (({"destination": "#general"}, "Slack channel ID"), ({}, "destination")):
        resp = await admin.post("slack/test", body)
        assert resp.status in (400, 422) and reason in await resp.text()
    resp = await admin.post("slack/test", {"destination": "C0SUPPORT1"})
    assert resp.status == 202, await resp.text()
    message_id = (await resp.json())["message_id"]
    await delivered(admin, message_id, "sent")
    posted = slack_api.successful("chat.postMessage")[-1]
    assert posted.body["channel"] == "C0SUPPORT1" and "test message from Switchboard" in posted.body["text"]
    outbox = await hub.store.outbox.find_one({"channel": "slack"})
    assert outbox is not None and outbox["status"] == "sent"
    conversation = await hub.store.conversations.find_one({"_id": outbox["conversation_id"]})
    assert conversation is not None and conversation["admin_test"] and not conversation["open"]
    audit = await hub.store.audit.find_one({"action": "channel.test_sent"})
    assert audit is not None and audit["target"]["name"] == "slack" and audit["actor"]["username"] == "ada"


async def test_credential_checks_pass_against_the_providers(admin: Admin, telegram_api: TelegramStandIn) -> None:
    telegram_api.webhook = Webhook(url="http://127.0.0.1:8080/webhooks/telegram/support")
    expected = {"slack": "auth.test", "telegram": "getWebhookInfo", "phone": "account fetch", "email": "IMAP support"}
    for name, what in expected.items():
        resp = await admin.post(f"{name}/check")
        assert resp.status == 200, await resp.text()
        result = await resp.json()
        assert result["ok"], result
        assert any(what in line["what"] for line in result["lines"]), result
    email = await admin.card("email")
    assert email["last_check"]["ok"] and "logged in" in email["last_check"]["detail"]
    assert email["connected"] is True


async def test_wrong_credentials_fail_with_a_reason_and_stored_secrets_are_checked_at_once(
        admin: Admin, channel_settings: Settings) -> None:
    wrong = {"slack": {"bot_token": "xoxb-0000-0000-WrongToken"},
             "telegram": {"bots.support.token": "7000000001:WrongTokenWrongTokenWrongTokenWrong"},
             "phone": {"auth_token": "wrong-auth-token"},
             "email": {"relay.password": "wrong-relay-password", "mailboxes.support.imap.password": "wrong-imap"}}
    for name, fields in wrong.items():
        for field, value in fields.items():
            resp = await admin.post(f"{name}/secrets", {"field": field, "value": value})
            assert resp.status == 200, await resp.text()
    reasons = {"slack": "invalid_auth", "telegram": "Unauthorized", "phone": "401",
               "email": "refused the login"}
    with serve_logs(channel_settings) as logs:
        for name, reason in reasons.items():
            resp = await admin.post(f"{name}/check")
            assert resp.status == 200
            text = await resp.text()
            result = json.loads(text)
            assert not result["ok"] and "Traceback" not in text
            assert any(reason in line["detail"] for line in result["lines"] if not line["ok"]), result
    email = await admin.post("email/check")
    assert sum(not line["ok"] for line in (await email.json())["lines"]) == 2  # the relay and the IMAP login
    for fields in wrong.values():
        for value in fields.values():
            assert value not in logs.getvalue()
    card = await admin.card("slack")
    assert card["last_check"]["ok"] is False and "invalid_auth" in card["last_check"]["detail"]


async def test_secrets_are_write_only_encrypted_audited_and_applied_at_the_next_start(
        admin: Admin, channel_settings: Settings, shop_bot: Any) -> None:
    hub = admin.runtime.hub
    assert hub is not None
    resp = await admin.post("slack/secrets", {"field": "bot_token", "value": NEW_SLACK_TOKEN})
    assert resp.status == 200, await resp.text()
    assert NEW_SLACK_TOKEN not in await resp.text()
    for body, status in (({"field": "api_base_url", "value": "x"}, 400), ({"field": "bot_token", "value": ""}, 422)):
        assert (await admin.post("slack/secrets", body)).status == status
    listing = await admin.client.get("/api/admin/channels")
    text = await listing.text()
    assert NEW_SLACK_TOKEN not in text and "TestTokenForStandIn" not in text  # neither the stored nor the file's
    slack = next(c for c in json.loads(text)["channels"] if c["name"] == "slack")
    token = next(s for s in slack["secrets"] if s["field"] == "bot_token")
    assert token["set"] and token["source"] == "stored" and token["pending_restart"] and token["changed_at"]
    assert next(s for s in slack["secrets"] if s["field"] == "app_token")["set"] is False
    # At rest: only ciphertext; under another key it does not decrypt, and start-up says why in one line.
    raw = await hub.store.db[COLLECTION].find_one({"_id": "slack"})
    assert raw is not None and NEW_SLACK_TOKEN not in repr(raw) and "9999999999" not in repr(raw)
    with pytest.raises(ChannelSecretsError, match="not the key it was stored with"):
        await ChannelSecrets(hub.store, "another-key-of-enough-length-0123456789").apply(channel_settings.channels)
    channel_settings.secret_key = "another-key-of-enough-length-0123456789"
    with pytest.raises(ConfigError, match="cannot be decrypted"):
        await load_channel_configs(hub.store, channel_settings)
    channel_settings.secret_key = ""
    with pytest.raises(ConfigError, match="SWITCHBOARD_SECRET_KEY"):
        await load_channel_configs(hub.store, channel_settings)
    channel_settings.secret_key = KEY
    audit = await hub.store.audit.find_one({"action": "channel.secret_set"})
    assert audit is not None and audit["details"] == {"field": "bot_token"} and NEW_SLACK_TOKEN not in repr(audit)
    # The next start builds the Slack adapter with the stored token.
    second = Runtime(channel_settings)
    await second.start(bot=shop_bot)
    try:
        assert second.channel_configs.sections["slack"]["bot_token"] == NEW_SLACK_TOKEN
        slack_channel = next(c for c in second.channels if c.name == "slack")
        assert slack_channel.config.bot_token == NEW_SLACK_TOKEN  # type: ignore[attr-defined]
    finally:
        await second.stop()
    # Forgetting it brings the file's value back.
    assert (await admin.post("slack/secrets", {"field": "bot_token", "value": None})).status == 200
    assert next(s for s in (await admin.card("slack"))["secrets"] if s["field"] == "bot_token")["source"] == "config"


async def test_without_a_key_secrets_cannot_be_edited_and_only_admins_see_the_page(
        channels_runtime: Runtime, channel_settings: Settings) -> None:
    channel_settings.secret_key = ""
    assert channels_runtime.hub is not None
    async with http_client(channels_runtime) as client:
        await channels_runtime.hub.accounts.create("sam", "sam's long password", name="Sam",
                                                   roles=[Role.SUPERVISOR, Role.AGENT])
        csrf = await login(client, "sam", "sam's long password")
        assert (await client.get("/api/admin/channels")).status == 403
        assert (await client.post("/api/admin/channels/slack/check", headers={"X-CSRF-Token": csrf})).status == 403
    async with http_client(channels_runtime) as client:
        await channels_runtime.hub.accounts.create("ada", "ada's long password", name="Ada", roles=[Role.ADMIN])
        admin = Admin(client, {"X-CSRF-Token": await login(client, "ada", "ada's long password")}, channels_runtime)
        page = await admin.get()
        assert page["secrets_editable"] is False and "SWITCHBOARD_SECRET_KEY" in page["secrets_note"]
        resp = await admin.post("slack/secrets", {"field": "bot_token", "value": NEW_SLACK_TOKEN})
        assert resp.status == 409 and "SWITCHBOARD_SECRET_KEY" in await resp.text()
        assert (await admin.post("nosuch/check")).status == 404
