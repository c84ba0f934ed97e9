"""Customers with messages, files and tickets, stored through the real ingest pipeline."""

from __future__ import annotations

import uuid
from typing import Any

from hub.models import Attachment, InboundMessage, Sender
from switchboard.bootstrap import Runtime


async def customer_writes(runtime: Runtime, external_id: str, text: str, *, channel: str = "widget",
                          name: str = "Dana Scully", email: str | None = None,
                          files: tuple[tuple[str, bytes], ...] = ()) -> Any:
    """One inbound message from `external_id` on `channel` (the bot has answered when this returns)."""
    assert runtime.hub is not None
    result = await runtime.hub.ingest(InboundMessage(
        channel=channel, external_id=uuid.uuid4().hex, thread_key=external_id,
        sender=Sender(external_id=external_id, display_name=name, email=email, email_verified=email is not None),
        text=text, attachments=tuple(Attachment(filename=f, content_type="image/png", data=d, size=len(d))
                                     for f, d in files),
        subject="Order 4711 for " + name,
    ))
    await runtime.hub.pipeline.drain()
    return result
