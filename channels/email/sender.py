"""Outbound mail through the configured relay with aiosmtplib; the outbox retries transient failures.

A relay that is down, times out or answers 4xx raises a transient `SendError`
(the hub's outbox retries with backoff); a 5xx refusal of the sender, the
recipient or the content is permanent and shows on the message as failed.
"""

from __future__ import annotations

import logging
import ssl

import aiosmtplib

from channels.email.addresses import clean_address
from channels.email.compose import compose, message_id_for
from channels.email.config import EmailConfig, RelayConfig
from hub.models import OutboundMessage, SendError, SendResult
from hub.ports import FILES_BYTES

log = logging.getLogger(__name__)


def _tls_context(relay: RelayConfig) -> ssl.SSLContext | None:
    if relay.security == "none":
        return None
    context = ssl.create_default_context(cafile=relay.ca_file or None)
    if not relay.validate_certs:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _refusal(code: int, text: str, what: str) -> SendError:
    reason = f"relay refused {what}: {code} {text}".strip()[:500]
    return SendError(reason, transient=400 <= code < 500)


class EmailSender:
    channel = "email"
    #: Agents' files go out as MIME attachments.
    files = FILES_BYTES

    def __init__(self, config: EmailConfig) -> None:
        self.config = config
        self.relay = config.relay
        self._tls = _tls_context(config.relay) if config.relay else None

    async def send(self, message: OutboundMessage) -> SendResult:
        if self.relay is None:
            raise SendError("no SMTP relay configured (channels.email.relay)", transient=False)
        recipient = clean_address(str(message.metadata.get("reply_to") or message.recipient))
        if recipient is None:
            raise SendError(f"not a deliverable address: {message.recipient!r}", transient=False)
        mailbox = self.config.mailbox(message.inbox)
        mail = compose(message, mailbox, self.config.domain)
        relay = self.relay
        try:
            await aiosmtplib.send(
                mail,
                sender=relay.bounce_address or mailbox.address,
                recipients=[recipient],
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
        except (aiosmtplib.SMTPSenderRefused, aiosmtplib.SMTPDataError, aiosmtplib.SMTPRecipientRefused) as exc:
            raise _refusal(exc.code, exc.message, "the message") from exc
        except aiosmtplib.SMTPAuthenticationError as exc:
            # Wrong credentials are fixed by an administrator, not by the customer: keep retrying.
            raise SendError(f"relay authentication failed: {exc.code} {exc.message}", transient=True) from exc
        except aiosmtplib.SMTPResponseException as exc:
            raise SendError(f"relay error {exc.code} {exc.message}"[:500], transient=True) from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise SendError(f"relay unreachable: {type(exc).__name__}: {exc}"[:500], transient=True) from exc
        provider_id = message_id_for(message, self.config.domain)
        log.info("email: sent %s to %s via %s:%s", provider_id, recipient, relay.host, relay.port)
        return SendResult(provider_id=provider_id)
