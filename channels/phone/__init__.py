"""Phone channel: Twilio SMS/MMS and voice calls (hub channels `sms` and `voice`).

The twilio SDK is imported only when `create` runs, i.e. only when `channels.phone`
is enabled in the configuration.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from channels.base import ChannelContext

if TYPE_CHECKING:
    from channels.phone.channel import PhoneChannel


def create(context: ChannelContext) -> PhoneChannel:
    from channels.phone.channel import PhoneChannel

    return PhoneChannel(context)


__all__ = ["create"]
