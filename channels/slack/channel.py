"""The Slack channel as the composition root sees it: the webhook route and/or Socket Mode, one sender."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from channels.base import ChannelContext
from channels.slack.api import SlackApi
from channels.slack.app import SlackEndpoint, build_bolt_app
from channels.slack.config import CHANNEL, SlackConfig
from channels.slack.inbound import SlackInbound
from channels.slack.sender import SlackSender

if TYPE_CHECKING:
    from channels.slack.socket_mode import SlackSocketMode


class SlackChannel:
    name = CHANNEL

    def __init__(self, context: ChannelContext) -> None:
        self.config = SlackConfig.from_mapping(context.config)
        self.api = SlackApi(self.config)
        self.inbound = SlackInbound(context.hub, self.api, self.config)
        # One Bolt app, one set of listeners, whichever way Slack delivers (HTTP, Socket Mode, or both).
        self.bolt = build_bolt_app(self.config, self.api, self.inbound)
        self.endpoint = SlackEndpoint(self.config, self.bolt) if self.config.serves_http else None
        self.sender = SlackSender(self.api)
        self.socket_mode: SlackSocketMode | None = None
        if self.config.socket_mode:
            from channels.slack.socket_mode import SlackSocketMode

            self.socket_mode = SlackSocketMode(self.config, self.bolt)

    def routes(self) -> list[web.RouteDef]:
        # Events API and Interactivity (quick-reply buttons) both point at this one URL. Without a
        # signing secret (Socket Mode only) nothing could be verified, so there is no route at all.
        if self.endpoint is None:
            return []
        return [web.post(self.config.path, self.endpoint.handle)]

    def senders(self) -> list[SlackSender]:
        return [self.sender]

    async def start(self) -> None:
        if self.socket_mode is not None:
            await self.socket_mode.start()

    async def stop(self) -> None:
        if self.socket_mode is not None:
            await self.socket_mode.stop()
        await self.api.close()
