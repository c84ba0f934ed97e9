"""Socket Mode: Slack's events and button presses over an outbound WebSocket, for hubs with no public URL.

slack-bolt's `AsyncSocketModeHandler` (slack-sdk's aiohttp `SocketModeClient`) runs on the
same `AsyncApp` as the HTTP endpoint, so an envelope's payload goes through exactly the same
listeners (`SlackInbound.on_message_event`, `on_button_click`) and the same idempotent ingest.

- **Connecting.** `apps.connections.open` (app-level token `xapp-...`, scope `connections:write`,
  through the configured `api_base_url`) hands out a single-use `wss://` URL. `start()` asks for
  the first one itself: if Slack *refuses the token* (`invalid_auth`, `not_allowed_token_type`,
  a revoked token...), `start()` raises `SlackAppTokenRefused`, since retrying cannot fix a
  configuration mistake. If Slack is only unreachable or failing (network, 5xx, 429), `start()`
  logs it and the client keeps trying in the background, so a Slack outage never keeps the
  rest of the hub down.
- **Acknowledging.** Bolt runs with `process_before_response=True`, so an envelope is
  acknowledged (`{"envelope_id": ...}`) only after its listener returned, i.e. once the message is
  stored: an ack means "kept", as a 200 does over HTTP. A failure on our side (5xx, e.g. Slack
  could not tell us who we are) is *not* acknowledged, so Slack redelivers the envelope (with
  `retry_attempt`, passed on as `X-Slack-Retry-Num`); the redelivery is de-duplicated on the
  message's `team:channel:ts`. A refusal (4xx: a malformed event, a payload type we do not
  handle) is acknowledged and logged, because a redelivery would be refused the same way.
- **Reconnecting.** Slack sends `disconnect` (`refresh_requested`, `warning`) before it
  recycles a connection; slack-sdk then asks for a new URL and reconnects, as it does when the
  connection drops or stops answering pings.
- **Stopping.** `stop()` takes no new envelope (unacknowledged, Slack redelivers it), lets the
  ones being ingested finish and acknowledge (bounded by `timeout_seconds`), then closes the
  WebSocket and the client's tasks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import aiohttp
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.adapter.socket_mode.async_internals import send_async_response
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from channels.slack.api import error_code, status_code
from channels.slack.config import SlackConfig, SlackConfigError
from channels.slack.sender import TRANSIENT_ERRORS

log = logging.getLogger(__name__)


class SlackAppTokenRefused(SlackConfigError):
    """Slack refused `channels.slack.app_token` when asked for a Socket Mode connection."""


class SlackSocketMode:
    def __init__(self, config: SlackConfig, app: AsyncApp) -> None:
        if not config.app_token:
            raise SlackConfigError("channels.slack.app_token is required for socket_mode")
        self.config = config
        self.app = app
        self.handler: _Handler | None = None
        self._connecting: asyncio.Task[None] | None = None
        #: Envelopes being dispatched to Bolt (waited for on stop, so their acks still go out).
        self._inflight: set[asyncio.Task[Any]] = set()
        self.closing = False

    async def start(self) -> None:
        """Open the first connection, or fail at once if Slack refuses the app token."""
        self.closing = False
        # slack-sdk's client starts its message task and aiohttp session on creation: made here, in the loop.
        web = AsyncWebClient(base_url=self.config.api_base_url, timeout=int(self.config.timeout_seconds),
                             retry_handlers=[])
        handler = _Handler(self, self.app, app_token=self.config.app_token, logger=log, web_client=web)
        self.handler = handler
        try:
            handler.client.wss_uri = await self._open_url(web)
        except SlackAppTokenRefused:
            await self._close()
            raise
        # A WebSocket that cannot be reached yet must not hold the hub's start: connect in the background.
        self._connecting = asyncio.create_task(handler.connect_async(), name="slack-socket-mode-connect")

    async def _open_url(self, web: AsyncWebClient) -> str | None:
        """The first `wss://` URL, or None (the client retries) when Slack cannot be reached right now."""
        try:
            resp = await web.apps_connections_open(app_token=self.config.app_token or "")
        except SlackApiError as exc:
            code, status = error_code(exc), status_code(exc)
            if (status is not None and (status == 429 or status >= 500)) or code in TRANSIENT_ERRORS:
                log.warning("slack: Socket Mode: apps.connections.open failed (%s); retrying in the background",
                            code or f"HTTP {status}")
                return None
            raise SlackAppTokenRefused(
                f"Slack refused channels.slack.app_token for Socket Mode (apps.connections.open: "
                f"{code or f'HTTP {status}'}). Use an app-level token (xapp-...) of this app with the "
                f"connections:write scope (Basic Information > App-Level Tokens), and enable Socket Mode "
                f"in the app's settings") from exc
        except (SlackClientError, aiohttp.ClientError, TimeoutError, OSError) as exc:
            log.warning("slack: Socket Mode: Slack unreachable (%s); retrying in the background",
                        exc or type(exc).__name__)
            return None
        url = resp.get("url")
        return str(url) if url else None

    async def stop(self) -> None:
        if self.handler is None:
            return
        self.closing = True
        if self._inflight:
            await asyncio.wait(set(self._inflight), timeout=self.config.timeout_seconds)
        await self._close()

    async def _close(self) -> None:
        handler, self.handler = self.handler, None
        connecting, self._connecting = self._connecting, None
        if handler is None:
            return
        client = handler.client
        await handler.close_async()  # no more reconnects; closes the WebSocket and the aiohttp session
        tasks = [t for t in (connecting, client.message_processor, client.current_session_monitor,
                             client.message_receiver) if t is not None and not t.done()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


class _Handler(AsyncSocketModeHandler):
    """Bolt's handler with the hub's acknowledgement rules (see the module docstring)."""

    def __init__(self, owner: SlackSocketMode, app: AsyncApp, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.owner = owner

    async def handle(self, client: AsyncBaseSocketModeClient, req: SocketModeRequest) -> None:
        if self.owner.closing:
            log.info("slack: stopping; envelope %s (%s) left unacknowledged for Slack to redeliver",
                     req.envelope_id, req.type)
            return
        task = asyncio.current_task()
        if task is not None:
            self.owner._inflight.add(task)
        try:
            await self._dispatch(client, req)
        finally:
            if task is not None:
                self.owner._inflight.discard(task)

    async def _dispatch(self, client: AsyncBaseSocketModeClient, req: SocketModeRequest) -> None:
        started = time.time()
        headers: dict[str, str | list[str]] | None = None
        if req.retry_attempt:  # 0 on a first delivery: no retry header, as over HTTP
            headers = {"x-slack-retry-num": str(req.retry_attempt), "x-slack-retry-reason": req.retry_reason or ""}
        request = AsyncBoltRequest(mode="socket_mode", body=req.payload, headers=headers)
        response = await self.app.async_dispatch(request)
        if response.status == 200:
            await send_async_response(client, req, response, started)
        elif 400 <= response.status < 500:
            log.warning("slack: envelope %s (%s) refused with %s %s; acknowledged, a redelivery would fail the same",
                        req.envelope_id, req.type, response.status, response.body)
            await client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
        else:
            log.warning("slack: envelope %s (%s) failed with %s; not acknowledged, Slack will redeliver it",
                        req.envelope_id, req.type, response.status)
