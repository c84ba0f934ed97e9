"""The email channel's configuration (`channels.email` in switchboard.yml), read into typed values.

Everything is checked once at start-up, so a typo in an address or a port fails
loudly then instead of as a refused mail at three in the morning.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from channels.base import ChannelConfigError
from httpkit.ratelimit import Rule, rules_from

DEFAULT_ACK = ("Thank you for your message. We have opened ticket #{number} for it and will get back to you "
               "as soon as we can. Please keep [#{number}] in the subject if you write again.")


class EmailConfigError(ChannelConfigError):
    """The `channels.email` section cannot be used as written."""


@dataclass(frozen=True)
class ImapConfig:
    """A provider mailbox polled over IMAP (implicit TLS on 993 unless `tls: false`)."""

    host: str
    username: str
    password: str
    port: int = 993
    tls: bool = True
    #: A CA bundle for a private IMAP server's certificate (empty: the system store).
    ca_file: str | None = None
    folder: str = "INBOX"
    #: After ingest: `seen` flags the message \\Seen, `move` moves it to `move_to`.
    after: str = "seen"
    move_to: str = "Processed"
    #: On first connection (or after UIDVALIDITY changed): `unseen` mail only, `all`, or `none` (new mail only).
    backlog: str = "unseen"
    poll_seconds: float = 60.0
    #: Use IMAP IDLE (push) when the server offers it; polling stays as the fallback.
    idle: bool = True
    idle_seconds: float = 600.0
    timeout: float = 30.0


@dataclass(frozen=True)
class MailboxConfig:
    """One support address (an "inbox" in the hub): where mail arrives and replies come from."""

    name: str
    address: str
    aliases: tuple[str, ...] = ()
    from_name: str | None = None
    #: Let the bot answer mail to this address; off = every mail opens a ticket for agents.
    bot: bool = True
    #: With the bot off: acknowledge each new ticket to the customer with its number.
    auto_ack: bool = False
    auto_ack_text: str = DEFAULT_ACK
    #: The queue tickets opened for this mailbox go to (bot off); the hub's default when empty.
    queue: str | None = None
    imap: ImapConfig | None = None

    @property
    def local_part(self) -> str:
        return self.address.split("@", 1)[0]

    @property
    def domain(self) -> str:
        return self.address.split("@", 1)[1]

    def addresses(self) -> tuple[str, ...]:
        return (self.address, *self.aliases)


@dataclass(frozen=True)
class ListenerConfig:
    """The hub's own SMTP server that an MTA or a provider's forwarding delivers to."""

    enabled: bool = False
    host: str = "127.0.0.1"
    #: 0 picks a free port (tests); 25 needs privileges, so MTAs usually relay to 2525.
    port: int = 2525
    #: The name the server greets with (EHLO); never looked up in DNS at runtime.
    hostname: str = "localhost"
    tls_cert: str | None = None
    tls_key: str | None = None
    require_starttls: bool = False
    timeout: float = 300.0


@dataclass(frozen=True)
class RelayConfig:
    """The SMTP relay (smarthost) outbound mail goes through."""

    host: str = "127.0.0.1"
    port: int = 587
    #: `starttls` (587), `tls` (implicit TLS, 465) or `none` (a local MTA on loopback only).
    security: str = "starttls"
    username: str | None = None
    password: str | None = None
    ca_file: str | None = None
    validate_certs: bool = True
    timeout: float = 30.0
    #: The envelope sender (where bounces go); the mailbox address when empty.
    bounce_address: str | None = None
    #: Our name in EHLO; set it, so nothing blocks on a DNS lookup of the local host name.
    local_hostname: str = "localhost"


@dataclass(frozen=True)
class EmailConfig:
    mailboxes: dict[str, MailboxConfig]
    listener: ListenerConfig = field(default_factory=ListenerConfig)
    relay: RelayConfig | None = None
    #: The right-hand side of the Message-IDs we generate.
    domain: str = "localhost"
    #: The largest message accepted (SMTP SIZE; bigger IMAP messages are ingested without their files).
    max_message_bytes: int = 25 * 1024 * 1024
    #: Files larger than this are listed on the message but not stored.
    max_attachment_bytes: int = 10 * 1024 * 1024
    #: How much of the original text and HTML is kept with a message for agents to view.
    max_original_chars: int = 512 * 1024
    #: How often the bot answers one sender (`bot_answers_per_sender`, per hub process): past it the sender's
    #: mail goes to agents unanswered, so a robot that ignores `Auto-Submitted` cannot keep a loop going.
    bot_answers_per_sender: tuple[Rule, ...] = (Rule(20, 3600),)

    def own_addresses(self) -> frozenset[str]:
        """Every address that is us: a mail from one of them is a loop, never a customer."""
        own = {a for m in self.mailboxes.values() for a in m.addresses()}
        if self.relay and self.relay.bounce_address:
            own.add(self.relay.bounce_address.lower())
        return frozenset(own)

    def mailbox(self, name: str | None) -> MailboxConfig:
        if name and name in self.mailboxes:
            return self.mailboxes[name]
        return next(iter(self.mailboxes.values()))


def _address(value: Any, where: str) -> str:
    text = str(value or "").strip().lower()
    local, at, domain = text.partition("@")
    if not at or not local or not domain or "+" in local or " " in text:
        raise EmailConfigError(f"{where}: {value!r} is not a plain address like support@example.com")
    return text


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _scalar(value: Any, kind: str, where: str) -> Any:
    """`${ENV}` substitution yields strings: turn them into the field's declared type."""
    if value is None or kind.startswith(("str", "tuple", "ImapConfig", "dict")):
        return value
    try:
        if kind.startswith("bool"):
            text = str(value).strip().lower()
            if text not in _TRUE | _FALSE:
                raise ValueError(value)
            return text in _TRUE
        if kind.startswith("int"):
            return int(value)
        if kind.startswith("float"):
            return float(value)
    except (TypeError, ValueError) as exc:
        raise EmailConfigError(f"{where}: {value!r} is not a valid {kind.split(' ')[0]}") from exc
    return value


def _known(section: dict[str, Any], cls: type, where: str) -> dict[str, Any]:
    fields = cls.__dataclass_fields__
    unknown = set(section) - set(fields)
    if unknown:
        raise EmailConfigError(f"{where}: unknown keys {sorted(unknown)}")
    return {k: _scalar(v, str(fields[k].type), f"{where}.{k}") for k, v in section.items()}


def _imap(raw: dict[str, Any], where: str) -> ImapConfig:
    values = _known(raw, ImapConfig, where)
    for key in ("host", "username", "password"):
        if not values.get(key):
            raise EmailConfigError(f"{where}: `{key}` is required")
    imap = ImapConfig(**values)
    if imap.after not in ("seen", "move"):
        raise EmailConfigError(f"{where}: `after` must be `seen` or `move`, not {imap.after!r}")
    if imap.backlog not in ("unseen", "all", "none"):
        raise EmailConfigError(f"{where}: `backlog` must be `unseen`, `all` or `none`, not {imap.backlog!r}")
    return imap


def parse_config(raw: dict[str, Any]) -> EmailConfig:
    """Read the `channels.email` section; raise `EmailConfigError` saying what is wrong."""
    raw = {k: v for k, v in raw.items() if k != "enabled"}
    boxes_raw = raw.pop("mailboxes", None)
    if not isinstance(boxes_raw, dict) or not boxes_raw:
        raise EmailConfigError("channels.email.mailboxes: configure at least one mailbox (name: {address: ...})")
    mailboxes: dict[str, MailboxConfig] = {}
    seen: set[str] = set()
    for name, box in boxes_raw.items():
        where = f"channels.email.mailboxes.{name}"
        values = _known(dict(box or {}), MailboxConfig, where)
        values["name"] = str(name)
        values["address"] = _address(values.get("address"), f"{where}.address")
        values["aliases"] = tuple(_address(a, f"{where}.aliases") for a in values.get("aliases") or ())
        if values.get("imap"):
            values["imap"] = _imap(dict(values["imap"]), f"{where}.imap")
        mailbox = MailboxConfig(**values)
        for address in mailbox.addresses():
            if address in seen:
                raise EmailConfigError(f"{where}: {address} is configured twice")
            seen.add(address)
        mailboxes[mailbox.name] = mailbox
    listener = ListenerConfig(**_known(dict(raw.pop("smtp_listener", None) or {}), ListenerConfig,
                                       "channels.email.smtp_listener"))
    if bool(listener.tls_cert) != bool(listener.tls_key):
        raise EmailConfigError("channels.email.smtp_listener: set both `tls_cert` and `tls_key`, or neither")
    relay = None
    if raw.get("relay"):
        relay = RelayConfig(**_known(dict(raw.pop("relay")), RelayConfig, "channels.email.relay"))
        if relay.security not in ("starttls", "tls", "none"):
            raise EmailConfigError("channels.email.relay.security must be `starttls`, `tls` or `none`")
    raw.pop("relay", None)
    domain = str(raw.pop("domain", "") or next(iter(mailboxes.values())).domain)
    limits = {}
    if "bot_answers_per_sender" in raw:
        try:
            limits["bot_answers_per_sender"] = rules_from(raw.pop("bot_answers_per_sender"),
                                                          "channels.email.bot_answers_per_sender")
        except ValueError as exc:
            raise EmailConfigError(str(exc)) from exc
    rest = _known(raw, EmailConfig, "channels.email")
    return EmailConfig(mailboxes=mailboxes, listener=listener, relay=relay, domain=domain, **limits, **rest)
