"""An admin's test message on a channel: stored and delivered through the outbox like any reply.

The message goes into a conversation of its own, opened closed (it never reaches a queue or the bot)
and marked `admin_test`, for a contact resolved from the destination like a customer's; so the
attempt, its delivery status and any provider error are recorded where every other message's are.
"""

from __future__ import annotations

from typing import Any

from hub.contacts import ContactService
from hub.conversations import new_token
from hub.models import AuthorKind, ConversationState, Sender, utcnow
from hub.outbox import Outbox
from hub.store import Doc, ObjectId, Store

TEXT = "This is a test message from Switchboard, sent by {name} from the Channels page. No reply is needed."


class ChannelTests:
    def __init__(self, store: Store, contacts: ContactService, outbox: Outbox) -> None:
        self.store = store
        self.contacts = contacts
        self.outbox = outbox

    async def send(self, channel: str, recipient: str, thread_key: str, channel_data: dict[str, Any],
                   inbox: str | None, actor: Doc) -> Doc:
        """Queue the test message; returns the stored message (its `delivery` tells how it went)."""
        now = utcnow()
        contact = await self.contacts.resolve(channel, Sender(external_id=recipient))
        conversation: Doc = {
            "token": new_token(), "contact_id": contact["_id"], "channel": channel,
            "thread_key": f"{thread_key}:{ObjectId()}", "inbox": inbox, "recipient": recipient,
            "subject": "Switchboard test message", "state": ConversationState.CLOSED.value, "open": False,
            "bot": {"state": {}, "turns": 0}, "channel_data": channel_data, "started_at": now,
            "last_message_at": now, "closed_at": now, "admin_test": True,
        }
        conversation["_id"] = (await self.store.conversations.insert_one(conversation)).inserted_id
        message = await self.outbox.post(conversation, AuthorKind.SYSTEM, TEXT.format(name=actor.get("name")
                                                                                       or actor.get("username")),
                                         author_name="Switchboard", touch_conversation=False)
        return message

    async def delivery(self, message_id: ObjectId) -> Doc | None:
        """The test message's delivery (status, attempts, error), or None when it is not a test message."""
        message = await self.store.messages.find_one({"_id": message_id}, {"delivery": 1, "conversation_id": 1,
                                                                         "channel": 1})
        if message is None:
            return None
        conversation = await self.store.conversations.find_one({"_id": message["conversation_id"]},
                                                               {"admin_test": 1})
        if not conversation or not conversation.get("admin_test"):
            return None
        return {"channel": message["channel"], **message.get("delivery", {})}
