"""Which of our mailboxes an address belongs to, and the reply token a plus-address carries.

`support+<token>@example.com` is `support@example.com` with the conversation's
token; the SMTP listener accepts exactly these (and refuses everything else at
RCPT time), and threading reads the token from them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from channels.email.addresses import clean_address, split_plus
from channels.email.config import EmailConfig, MailboxConfig

#: The shape of `hub.conversations.new_token()`; other plus-tags (`support+billing@`) are not tokens.
_TOKEN = re.compile(r"^[a-z0-9]{8,64}$")


@dataclass(frozen=True)
class Recipient:
    mailbox: MailboxConfig
    token: str | None


class Directory:
    def __init__(self, config: EmailConfig) -> None:
        self.by_address = {a: box for box in config.mailboxes.values() for a in box.addresses()}

    def match(self, address: str) -> Recipient | None:
        """The mailbox an address reaches (with its reply token), or None when it is not ours."""
        clean = clean_address(address)
        if clean is None:
            return None
        base, tag = split_plus(clean)
        mailbox = self.by_address.get(base)
        if mailbox is None:
            return None
        token = tag if tag and _TOKEN.match(tag) else None
        return Recipient(mailbox, token)

    def is_ours(self, address: str | None) -> bool:
        return bool(address) and self.match(address or "") is not None

    def pick(self, addresses: tuple[str, ...] | list[str], default: MailboxConfig | None = None) -> Recipient | None:
        """The recipient a message is for: the first one carrying a token, else the first of ours."""
        matches = [m for m in (self.match(a) for a in addresses) if m is not None]
        if default is not None:
            matches = [m for m in matches if m.mailbox.name == default.name] or [Recipient(default, None)]
        with_token = [m for m in matches if m.token]
        return (with_token or matches or [None])[0]
