"""The small interfaces through which channels, bots and the UI plug into the hub."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from hub.models import BotTurn, Decision, OutboundMessage, SendResult


@runtime_checkable
class OutboundSender(Protocol):
    """Delivers one message on one channel.

    Raise `hub.models.SendError(transient=True, retry_after=...)` for failures worth
    retrying (timeouts, 429, 5xx) and `transient=False` for permanent refusals.
    """

    channel: str

    async def send(self, message: OutboundMessage) -> SendResult: ...


@runtime_checkable
class Bot(Protocol):
    """Message and conversation in, decision out."""

    async def decide(self, turn: BotTurn) -> Decision: ...
