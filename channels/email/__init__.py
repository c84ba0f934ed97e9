"""Email: inbound by SMTP (the hub's own listener) and IMAP, outbound through an SMTP relay.

See docs/channels/email.md. aiosmtpd, aiosmtplib and aioimaplib are imported
only when this channel is enabled (the composition root imports this package then).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from channels.base import ChannelContext
    from channels.email.channel import EmailChannel


def create(context: ChannelContext) -> EmailChannel:
    from channels.email.channel import EmailChannel

    return EmailChannel(context)


__all__ = ["create"]
