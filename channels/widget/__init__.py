"""The web chat widget: an embeddable script, a REST API, and a WebSocket for live messages."""

from __future__ import annotations

from channels.base import ChannelContext
from channels.widget.http import WidgetChannel


def create(context: ChannelContext) -> WidgetChannel:
    return WidgetChannel(context)


__all__ = ["WidgetChannel", "create"]
