"""An agent's signature under their replies by email, as any mail client puts one.

Chatwoot calls it the message signature (each agent's own, under their email replies); Zammad gives each group
one. Here each agent writes their own on the Account page ("Alice Ng / Customer care, Example Shop"), and the hub
adds it to a reply that goes out on a channel whose messages are mails (`hub.ports.signs`: the email channel), in
the stored text itself: the timeline shows what the customer got, and the customer's next mail quotes it below the
"-- " line mail clients and the hub's own quote stripping know (channels/email/quoting.py). Not under a private
note, nor under a chat message, where a signature in every bubble reads as noise.
"""

from __future__ import annotations

from hub.store import Doc, ObjectId, Store

#: The longest signature, in characters, and in lines (a signature is a few lines, not a letterhead).
MAX_CHARS = 1000
MAX_LINES = 10
#: The signature delimiter (RFC 3676 4.3: dash, dash, space), on a line of its own after a blank line.
DELIMITER = "\n\n-- \n"


class SignatureError(ValueError):
    """A signature the hub will not keep: the reason, for the agent who wrote it."""


def signed(text: str, agent: Doc) -> str:
    """`text` with the agent's signature under it (as it is, without one)."""
    signature = str(agent.get("signature") or "").strip()
    if not signature:
        return text
    return f"{text}{DELIMITER}{signature}" if text else f"-- \n{signature}"


def checked(text: str) -> str:
    """A signature as kept: trimmed, each line's end trimmed, within `MAX_CHARS` and `MAX_LINES`."""
    lines = [line.rstrip() for line in text.strip().splitlines()]
    if len(lines) > MAX_LINES:
        raise SignatureError(f"a signature is at most {MAX_LINES} lines")
    kept = "\n".join(lines)
    if len(kept) > MAX_CHARS:
        raise SignatureError(f"a signature is at most {MAX_CHARS} characters")
    return kept


class Signatures:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def set(self, agent_id: ObjectId, text: str) -> str:
        """Keep the agent's signature (empty: none); `SignatureError` for one too long."""
        kept = checked(text)
        update = {"$set": {"signature": kept}} if kept else {"$unset": {"signature": ""}}
        await self.store.agents.update_one({"_id": agent_id}, update)
        return kept
