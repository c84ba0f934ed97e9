"""Outbound mail through the configured relay with aiosmtplib; the outbox retries transient failures.

A relay that is down, times out or answers 4xx raises a transient `SendError`
(the hub's outbox retries with backoff); a 5xx refusal of the sender, the
recipient or the content is permanent and shows on the message as failed.

A relay that refuses the hub itself (its login with 535, `MAIL FROM` with 5xx, no
AUTH or STARTTLS where `channels.email.relay` asks for them) is a configuration
mistake: retrying cannot fix it, so it is permanent too, with a reason that names the
setting to check. Only a temporary refusal (454 "try again later") is retried.
"""

from __future__ import annotations

import logging
import ssl
from email.message import EmailMessage
from email.utils import parseaddr

import aiosmtplib

from channels.email.addresses import clean_address, split_plus
from channels.email.compose import compose, compose_notice, copies, message_id_for
from channels.email.config import EmailConfig, RelayConfig
from hub.csat import CsatLinks
from hub.models import OutboundMessage, SendError, SendResult
from hub.ports import FILES_BYTES

log = logging.getLogger(__name__)


def relay_tls_context(relay: RelayConfig) -> ssl.SSLContext | None:
    if relay.security == "none":
        return None
    context = ssl.create_default_context(cafile=relay.ca_file or None)
    if not relay.validate_certs:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


#: Where a refusal of the hub's own login or sender address is fixed.
_CHECK_RELAY = "check channels.email.relay"
#: `MAIL FROM` answers that mean "log in first" (RFC 4954): the relay needs credentials we did not send.
_AUTH_REQUIRED = frozenset({530})


def _refusal(code: int, text: str, what: str) -> SendError:
    reason = f"relay refused {what}: {code} {text}".strip()[:500]
    return SendError(reason, transient=400 <= code < 500)


def _login_refused(code: int, text: str) -> SendError:
    """535 (bad credentials), 534/538 (mechanism or TLS needed): permanent; 454 (temporary): retried."""
    if 400 <= code < 500:
        return SendError(f"relay could not check the hub's login right now: {code} {text}"[:500], transient=True)
    return SendError(f"relay refused the hub's login: {code} {text} ({_CHECK_RELAY}.username and password)"[:500],
                     transient=False)


def _sender_refused(code: int, text: str, sender: str) -> SendError:
    """A 5xx to `MAIL FROM` refuses every message we would send: the relay's settings, not this reply."""
    if 400 <= code < 500:
        return _refusal(code, text, f"the sender address {sender}")
    if code in _AUTH_REQUIRED:
        hint = f"{_CHECK_RELAY}.username and password: the relay requires a login"
    else:
        hint = f"{_CHECK_RELAY}.bounce_address and the mailbox address: the relay does not let the hub send as it"
    return SendError(f"relay refused the sender address {sender}: {code} {text} ({hint})"[:500], transient=False)


class EmailSender:
    channel = "email"
    #: What an agent types to write to someone first (hub.outbound's refusal names it).
    address_kind = "an email address"
    #: Agents' files go out as MIME attachments.
    files = FILES_BYTES
    #: An agent's reply carries their signature (hub.signatures), as mail does.
    signed = True

    @property
    def can_start(self) -> bool:
        """An agent can write first only through a relay (hub.ports.starts_conversations)."""
        return self.relay is not None

    @staticmethod
    def address_for(typed: str) -> str | None:
        """An agent writes first to a mailbox (hub.outbound): the address typed, checked and lower-cased."""
        return clean_address(typed)

    def copy_for(self, typed: str) -> str | None:
        """An agent's reply copies an address they typed (hub.ports.copy_address): checked and lower-cased, never one
        of the hub's own mailboxes (the copy would come back in as a customer's mail). A pasted "Name <address>" is
        its address."""
        address = clean_address(parseaddr(typed)[1] or typed)
        own = self.config.own_addresses()
        return None if address is None or address in own or split_plus(address)[0] in own else address

    def __init__(self, config: EmailConfig, csat_links: CsatLinks | None = None) -> None:
        self.config = config
        #: Signs the one-click rating links of a CSAT request (hub.csat); None: the scores as plain options.
        self.csat_links = csat_links
        self.relay = config.relay
        self._tls = relay_tls_context(config.relay) if config.relay else None

    async def send(self, message: OutboundMessage) -> SendResult:
        if self.relay is None:
            raise SendError("no SMTP relay configured (channels.email.relay)", transient=False)
        recipient = clean_address(str(message.metadata.get("reply_to") or message.recipient))
        if recipient is None:
            raise SendError(f"not a deliverable address: {message.recipient!r}", transient=False)
        mailbox = self.config.mailbox(message.inbox)
        mail = compose(message, mailbox, self.config.domain, self.csat_links)
        # the copies ride in the same transaction: a relay refusing one of them still delivers to the customer
        await self._relay(mail, self.relay.bounce_address or mailbox.address, recipient, copies(message, recipient))
        provider_id = message_id_for(message, self.config.domain)
        log.info("email: sent %s to %s via %s:%s", provider_id, recipient, self.relay.host, self.relay.port)
        return SendResult(provider_id=provider_id)

    async def send_notice(self, to: str, subject: str, text: str) -> None:
        """The hub's own email to a desk user (hub.newsmail: their news while away), from the default mailbox."""
        if self.relay is None:
            raise SendError("no SMTP relay configured (channels.email.relay)", transient=False)
        recipient = clean_address(to)
        if recipient is None:
            raise SendError(f"not a deliverable address: {to!r}", transient=False)
        mailbox = self.config.mailbox(None)
        mail = compose_notice(recipient, subject, text, mailbox, self.config.domain)
        await self._relay(mail, self.relay.bounce_address or mailbox.address, recipient)
        log.info("email: sent a desk notice to %s", recipient)

    async def _relay(self, mail: EmailMessage, sender: str, recipient: str, cc: list[str] | None = None) -> None:
        """Hand one mail to the relay; its refusals as `SendError`, transient or not (the module's docstring).
        `cc`: more recipients of the same mail. Refusing copies is no refusal of the mail (logged); refusing the
        customer's own address is, whatever the copies did."""
        relay = self.relay
        assert relay is not None
        try:
            refused, _ = await aiosmtplib.send(
                mail,
                sender=sender,
                recipients=[recipient, *(cc or [])],
                hostname=relay.host,
                port=relay.port,
                username=relay.username or None,
                password=relay.password or None,
                use_tls=relay.security == "tls",
                start_tls=relay.security == "starttls",
                tls_context=self._tls,
                timeout=relay.timeout,
                local_hostname=relay.local_hostname,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            first = exc.recipients[0] if exc.recipients else None
            raise (_refusal(first.code, first.message, f"recipient {recipient}") if first
                   else SendError("relay refused the recipient", transient=False)) from exc
        except aiosmtplib.SMTPSenderRefused as exc:
            raise _sender_refused(exc.code, exc.message, sender) from exc
        except (aiosmtplib.SMTPDataError, aiosmtplib.SMTPRecipientRefused) as exc:
            raise _refusal(exc.code, exc.message, "the message") from exc
        except aiosmtplib.SMTPAuthenticationError as exc:
            raise _login_refused(exc.code, exc.message) from exc
        except aiosmtplib.SMTPResponseException as exc:
            raise SendError(f"relay error {exc.code} {exc.message}"[:500], transient=True) from exc
        except aiosmtplib.SMTPNotSupported as exc:  # e.g. SMTPUTF8 for a non-ASCII address: this message only
            raise SendError(f"relay cannot take this message: {exc}"[:500], transient=False) from exc
        except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError, aiosmtplib.SMTPConnectError,
                OSError, TimeoutError) as exc:
            raise SendError(f"relay unreachable: {type(exc).__name__}: {exc}"[:500], transient=True) from exc
        except aiosmtplib.SMTPException as exc:
            # aiosmtplib's own refusals to go on: the relay offers no AUTH or STARTTLS that the settings ask for.
            raise SendError(f"relay does not support what {_CHECK_RELAY} asks: {exc}"[:500], transient=False) from exc
        if recipient in refused:  # the copies went; the customer's own address did not: not delivered
            code, text = refused[recipient]
            raise _refusal(code, text, f"recipient {recipient}")
        for address, (code, text) in refused.items():
            log.warning("email: the relay refused a copy to %s (%s %s)", address, code, text)
