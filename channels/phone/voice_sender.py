"""The `voice` OutboundSender: the bot's words were already spoken in the call's TwiML.

On a call the bot's answer (and the handoff notice) must be in the HTTP response
Twilio is waiting for, so `VoiceWebhooks` speaks them from the store; the outbox
entry only records that. A written agent reply cannot reach a caller whose call is
over, so it is refused permanently and shown to the agent as failed (call back,
or reply on the customer's SMS conversation instead).
"""

from __future__ import annotations

from hub.models import AuthorKind, OutboundMessage, SendError, SendResult

CHANNEL = "voice"


class VoiceSender:
    channel = CHANNEL

    async def send(self, message: OutboundMessage) -> SendResult:
        if message.author_kind in (AuthorKind.BOT, AuthorKind.SYSTEM):
            return SendResult(provider_id=None)
        raise SendError("a phone call cannot carry a written reply: call the customer back or text them",
                        transient=False)
