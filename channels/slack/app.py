"""The Slack Events API endpoint: slack-bolt's AsyncApp behind its aiohttp adapter.

The same AsyncApp also serves Socket Mode (`channels/slack/socket_mode.py`): its listeners
below are the one ingest path for events and button presses, however Slack delivers them.

Bolt verifies the signing secret (and the 5-minute timestamp window), answers the
URL-verification handshake, drops the app's own events, and routes events to the
listeners below. `process_before_response=True` makes Bolt run a listener to the
end before answering, so Slack's 200 is sent only once `hub.ingest` has stored the
message; a failure answers 500 and Slack retries (the retry is de-duplicated).
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any
from urllib.parse import parse_qs

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from channels.base import bad_request
from channels.slack.api import SlackApi
from channels.slack.config import SlackConfig
from channels.slack.events import QUICK_REPLY_ACTION, MalformedEvent
from channels.slack.inbound import SlackInbound

log = logging.getLogger(__name__)
MAX_BODY = 1 << 20


def build_bolt_app(config: SlackConfig, api: SlackApi, inbound: SlackInbound) -> AsyncApp:
    async def authorize(enterprise_id: str | None, team_id: str | None) -> AuthorizeResult:
        # Single workspace: the configured bot token; the ids from auth.test let Bolt drop our own events.
        me = await api.identity()
        return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id or me.team_id,
                               bot_token=config.bot_token, bot_id=me.bot_id, bot_user_id=me.user_id)

    app = AsyncApp(
        name="switchboard-slack",
        signing_secret=config.signing_secret,
        client=AsyncWebClient(base_url=config.api_base_url, retry_handlers=[]),
        authorize=authorize,
        process_before_response=True,
        logger=log,
    )

    async def on_message(body: dict[str, Any], request: AsyncBoltRequest) -> BoltResponse | None:
        retry = request.headers.get("x-slack-retry-num", [None])[0]
        try:
            await inbound.on_message_event(body, retry_num=retry)
        except MalformedEvent as exc:
            return _reject(str(exc))
        return None

    async def on_click(body: dict[str, Any], ack: Any) -> BoltResponse | None:
        try:
            await inbound.on_button_click(body)
        except MalformedEvent as exc:
            return _reject(str(exc))
        await ack()
        return None

    async def on_other_event(body: dict[str, Any]) -> None:
        """Events we subscribe to but do not act on are acknowledged, so Slack does not retry them."""
        log.debug("slack: ignoring %s event", (body.get("event") or {}).get("type"))

    app.event("message")(on_message)
    app.event("app_mention")(on_message)
    app.action(QUICK_REPLY_ACTION)(on_click)
    app.event(re.compile(r".+"))(on_other_event)
    return app


def _reject(reason: str) -> BoltResponse:
    return BoltResponse(status=400, body=json.dumps({"error": reason}), headers={"content-type": "application/json"})


class SlackEndpoint:
    """The aiohttp handler: size and signature checks, then Bolt."""

    def __init__(self, config: SlackConfig, app: AsyncApp) -> None:
        if not config.signing_secret:
            # An empty HMAC key is one anybody can sign with: no secret, no HTTP endpoint.
            raise ValueError("the Slack HTTP endpoint needs channels.slack.signing_secret")
        self.app = app
        self.verifier = SignatureVerifier(signing_secret=config.signing_secret)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.content_length is not None and request.content_length > MAX_BODY:
            raise bad_request("payload too large", 413)
        body = await request.read()
        timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
        signature = request.headers.get("X-Slack-Signature", "")
        # Checked here too (Bolt checks again), so a forged body is a 401 before we even parse it.
        if not timestamp.isdigit() or not self.verifier.is_valid(body, timestamp, signature):
            raise bad_request("invalid Slack signature or stale timestamp", 401)
        try:
            raw = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise bad_request(f"body is not UTF-8: {exc}") from exc
        _check_body(raw, request.content_type)
        # Bolt's internal control headers must never come from the network.
        headers = {k: v for k, v in request.headers.items() if not k.lower().startswith("x-slack-bolt-")}
        bolt_request = AsyncBoltRequest(body=raw, query=request.query_string, headers=headers)
        return await to_aiohttp_response(await self.app.async_dispatch(bolt_request))


def _check_body(raw: str, content_type: str) -> None:
    """A JSON event body, or a form whose `payload` (interactivity) is a JSON object; else a 400 saying why.

    Other forms (Slack's `ssl_check`) are left to Bolt.
    """
    try:
        if content_type == "application/json" or raw.startswith("{"):
            decoded: Any = json.loads(raw)
        else:
            payload = parse_qs(raw).get("payload")
            if not payload:
                return
            decoded = json.loads(payload[0])
    except json.JSONDecodeError as exc:
        raise bad_request(f"malformed JSON: {exc}") from exc
    if not isinstance(decoded, dict):
        raise bad_request("expected a JSON object")
