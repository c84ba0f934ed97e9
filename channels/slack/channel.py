"""The Slack channel as the composition root sees it: one webhook route, one sender."""

from __future__ import annotations

from aiohttp import web

from channels.base import ChannelContext
from channels.slack.api import SlackApi
from channels.slack.app import SlackEndpoint, build_bolt_app
from channels.slack.config import CHANNEL, SlackConfig
from channels.slack.inbound import SlackInbound
from channels.slack.sender import SlackSender


class SlackChannel:
    name = CHANNEL

    def __init__(self, context: ChannelContext) -> None:
        self.config = SlackConfig.from_mapping(context.config)
        self.api = SlackApi(self.config)
        self.inbound = SlackInbound(context.hub, self.api, self.config)
        self.endpoint = SlackEndpoint(self.config, build_bolt_app(self.config, self.api, self.inbound))
        self.sender = SlackSender(self.api)

    def routes(self) -> list[web.RouteDef]:
        # Events API and Interactivity (quick-reply buttons) both point at this one URL.
        return [web.post(self.config.path, self.endpoint.handle)]

    def senders(self) -> list[SlackSender]:
        return [self.sender]

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        await self.api.close()
