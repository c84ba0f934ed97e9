"""Slack: the company's Slack app (DMs, shared Slack Connect channels, @mentions) as a support channel.

slack-bolt and slack-sdk are imported only when `create` runs, i.e. only when the
channel is enabled in the configuration.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from channels.base import ChannelContext

if TYPE_CHECKING:
    from channels.slack.channel import SlackChannel


def create(context: ChannelContext) -> SlackChannel:
    from channels.slack.channel import SlackChannel

    return SlackChannel(context)


__all__ = ["create"]
