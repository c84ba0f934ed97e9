"""The relay and IMAP passwords never reach a log line: aiosmtplib to the relay, aioimaplib to Dovecot.

aioimaplib masks the password of its own LOGIN line, but only as typed: one with `"` or `\\`
is sent quoted and escaped, and that form used to be logged as is.
"""

from __future__ import annotations

from typing import Any

from switchboard.config import Settings
from switchboard.log_redaction import MASK
from tests.conftest import _drop
from tests.email.conftest import TlsFiles, customer_mail, email_config, start_email_hub
from tests.email.dovecot import USER, Dovecot
from tests.email.relay import RelayStandIn
from tests.helpers import eventually
from tests.log_capture import serve_logs

#: A wrong IMAP password with the characters IMAP quoting escapes.
IMAP_PASSWORD = 'not-"the"\\imap-password'
RELAY_PASSWORD = "relay-secret"


async def test_smtp_relay_and_imap_logins_log_without_passwords(
    settings: Settings, relay: RelayStandIn, tls_files: TlsFiles, dovecot: Dovecot, shop_bot: Any
) -> None:
    config = email_config(relay.port, tls_files.cert)
    assert config["relay"]["password"] == RELAY_PASSWORD
    config["mailboxes"]["support"]["imap"] = {
        "host": "127.0.0.1", "port": dovecot.port, "tls": False, "username": USER, "password": IMAP_PASSWORD,
        "folder": "INBOX", "poll_seconds": 600, "timeout": 10}
    settings.channels["email"] = config
    with serve_logs(settings) as logs:
        email_hub = await start_email_hub(settings, shop_bot)
        try:
            await email_hub.deliver(customer_mail("Opening hours?", "what are your opening hours?"))
            await email_hub.settle()
            relayed = await relay.next()  # the bot's reply, sent with the relay login
            assert relayed.authenticated_as == "hub"

            async def login_refused() -> bool:
                return "LOGIN failed" in logs.getvalue()

            await eventually(login_refused, what="the refused IMAP login logged")
        finally:
            await email_hub.runtime.stop()
            await _drop(settings)
    text = logs.getvalue()
    # No form of either password is in the log...
    assert "the\\" not in text and "imap-password" not in text
    assert RELAY_PASSWORD not in text
    # ...while aioimaplib's DEBUG line of the LOGIN command, the poller's warning and the sender's line are.
    assert f"LOGIN {USER} " in text and MASK in text
    assert "email: sent" in text
