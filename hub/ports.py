"""The small interfaces through which channels, bots and the UI plug into the hub."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from hub.models import BotTurn, Decision, OutboundMessage, SendResult


@runtime_checkable
class OutboundSender(Protocol):
    """Delivers one message on one channel.

    Raise `hub.models.SendError(transient=True, retry_after=...)` for failures worth
    retrying (timeouts, 429, 5xx) and `transient=False` for permanent refusals.

    Files an agent attaches reach a sender as `OutboundMessage.attachments`. A sender says
    how it takes them with an optional `files` attribute (see `file_delivery`): `"bytes"`
    (the hub loads each file's `data`: email, Slack, Telegram), `"link"` (only `blob_id`:
    the channel serves the file itself, as the widget and MMS do) or `"none"` (the default:
    the desk refuses attachments on such a channel, e.g. a phone call).
    """

    channel: str

    async def send(self, message: OutboundMessage) -> SendResult: ...


FILES_NONE, FILES_LINK, FILES_BYTES = "none", "link", "bytes"


def delivered_by_store(sender: OutboundSender | None) -> bool:
    """Whether storing a message is its delivery (`delivers_by_store = True`: the chat widget, whose
    browser reads the store through the realtime bus). Such a message is written as sent and takes no
    outbox entry, claim or status update: three to eight database commands fewer per answer."""
    return bool(getattr(sender, "delivers_by_store", False))


def signs(sender: OutboundSender | None) -> bool:
    """Whether an agent's reply on this channel carries their signature (hub.signatures): its messages are mails
    (a sender's `signed` attribute, True for email)."""
    return bool(getattr(sender, "signed", False)) if sender is not None else False


def address_for(sender: OutboundSender | None, typed: str) -> str | None:
    """The channel's handle for the address an agent typed to write to someone first (hub.outbound), or None when it
    is not one. A sender that can start a conversation has an `address_for` method (email: a mailbox address,
    lower-cased; SMS: a number in E.164); one without it cannot (a chat waits for the customer to open it). Its
    `address_kind` says what that is, for the refusal ("is not an email address")."""
    method = getattr(sender, "address_for", None)
    return method(typed) if callable(method) else None


#: The most people an agent's reply copies (email's Cc), whether the customer's mail copied them or the agent did.
MAX_COPIES = 10


def copy_address(sender: OutboundSender | None, typed: str) -> str | None:
    """The address an agent typed to copy a reply to (email's Cc), checked by the channel: None when the channel
    copies nobody (a sender without `copy_for`: a chat has one reader) or when it is not one the channel copies (not
    an address, or one of the hub's own mailboxes, which would bring the reply back in)."""
    method = getattr(sender, "copy_for", None)
    return method(typed) if callable(method) else None


def takes_copies(sender: OutboundSender | None) -> bool:
    """Whether a reply on this sender's channel can copy other people (it has `copy_for`: email)."""
    return callable(getattr(sender, "copy_for", None))


def starts_conversations(sender: OutboundSender | None) -> bool:
    """Whether an agent can write first on this sender's channel now: it has `address_for`, and its `can_start`
    (when it has one: email's is whether a relay is set) is true."""
    return callable(getattr(sender, "address_for", None)) and bool(getattr(sender, "can_start", True))


def shares_threads(sender: OutboundSender | None) -> bool:
    """Whether a conversation an agent starts on this channel joins the thread the customer's own messages make
    (`start_thread`: SMS), where one may be open already; otherwise it is a thread of its own."""
    return callable(getattr(sender, "start_thread", None))


async def start_thread(sender: OutboundSender | None, address: str,
                       conversation_id: object) -> tuple[str, str | None, dict[str, Any]]:
    """The thread key, inbox and channel data of a conversation an agent starts with `address` (hub.outbound). A
    sender whose customers' answers are found by their thread key says them (`start_thread`: SMS, the pair of
    numbers, and ours as the inbox) and may refuse there (`SendError`: a number that sent STOP); by default a thread
    of its own, which the answer finds by its hints (email: the reply address and the ticket number)."""
    if shares_threads(sender):
        key, inbox, data = await sender.start_thread(address)  # type: ignore[union-attr]
        return str(key), inbox, dict(data)
    return f"{getattr(sender, 'channel', 'channel')}:started-{conversation_id}", None, {}


def file_delivery(sender: OutboundSender | None) -> str:
    """How `sender` takes attachments: "bytes", "link" or "none"."""
    return str(getattr(sender, "files", FILES_NONE)) if sender is not None else FILES_NONE


class NewsMailer(Protocol):
    """Sends the hub's own email to a desk user (hub.newsmail): plain text, from the support address.

    Raise `hub.models.SendError` when it could not be sent (the next round tries again)."""

    async def send_notice(self, to: str, subject: str, text: str) -> None: ...


@runtime_checkable
class Bot(Protocol):
    """Message and conversation in, decision out."""

    async def decide(self, turn: BotTurn) -> Decision: ...
