"""Unit tests of log redaction: which values and shapes are masked, in messages, arguments and tracebacks."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest

from switchboard.config import Settings
from switchboard.log_redaction import MASK, Redactor, install_log_redaction, secrets_in
from tests.log_capture import serve_logs

log = logging.getLogger("tests.log_redaction")

TELEGRAM = "7000000001:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"


@pytest.mark.parametrize(("line", "expected"), [
    (f'HTTP Request: POST https://api.telegram.org/bot{TELEGRAM}/sendMessage "HTTP/1.1 200 OK"',
     f'HTTP Request: POST https://api.telegram.org/bot7000000001:{MASK}/sendMessage "HTTP/1.1 200 OK"'),
    ("token xoxb-1111111111-2222222222-AbCdEf and xoxp-1-2-3-abc", f"token xoxb-{MASK} and xoxp-{MASK}"),
    ("app token xapp-1-A0SWITCHB1-3333333333-Tok", f"app token xapp-{MASK}"),
    ("Authorization: Bearer sbt_Zm9vYmFyYmF6cXV4", f"Authorization: Bearer {MASK}"),
    ("using sbt_Zm9vYmFyYmF6cXV4 for the export", f"using sbt_{MASK} for the export"),
    ("headers: {'Authorization': 'Basic QUMxMjM6c2VjcmV0dG9rZW4=', 'Accept': '*/*'}",
     f"headers: {{'Authorization': '{MASK}', 'Accept': '*/*'}}"),
    ("Proxy-Authorization: Digest username=x", f"Proxy-Authorization: Digest {MASK}"),
    ("connecting to mongodb://switchboard:hunter2-Pa55@db1:27017,db2/?replicaSet=rs0",
     f"connecting to mongodb://switchboard:{MASK}@db1:27017,db2/?replicaSet=rs0"),
    ("GET https://AC1f0e5a8c:9b2f4d6a8c0e@api.twilio.com/2010-04-01", f"GET https://AC1f0e5a8c:{MASK}@api.twilio.com/2010-04-01"),
    ('"GET /api/widget/socket?site=demo&token=eyJhbGciOi.eyJzdWIi.sig HTTP/1.1" 101',
     f'"GET /api/widget/socket?site=demo&token={MASK} HTTP/1.1" 101'),
    ("/api/phone/media/65f0?expires=1733100000&sig=9f86d081884c7d65",
     f"/api/phone/media/65f0?expires=1733100000&sig={MASK}"),
    ("/files/1?signature=abc123&X-Amz-Signature=def456", f"/files/1?signature={MASK}&X-Amz-Signature={MASK}"),
    ("wss://wss-primary.slack.com/link/?ticket=1b2c3d-4e5f&app_id=A0", f"wss://wss-primary.slack.com/link/?ticket={MASK}&app_id=A0"),
    ("form: username=hub&password=correct-horse", f"form: username=hub&password={MASK}"),
    ("params {'url': 'https://x', 'secret_token': 'abc-DEF_123'}",
     f"params {{'url': 'https://x', 'secret_token': '{MASK}'}}"),
    ('{"password": "pw with spaces", "username": "alice"}', f'{{"password": "{MASK}", "username": "alice"}}'),
    ("'mail.example.org' >> b'AUTH PLAIN AGh1YgByZWxheS1zZWNyZXQ='", f"'mail.example.org' >> b'AUTH PLAIN {MASK}'"),
])
def test_credential_shapes_are_masked(line: str, expected: str) -> None:
    assert Redactor().redact(line) == expected


@pytest.mark.parametrize("line", [
    "outbox: 6b0f53f7d802264ed6f9a770 failed (Telegram unreachable), attempt 2, retry at 12:34:56",
    "embedded database (secantusd-py) at mongodb://127.0.0.1:44055/, data in var",
    "email: sent sb-65f0@example.com to dana@example.org via 127.0.0.1:2525",
    "slack: users.info U0CUST0001 failed: ratelimited",
    "GET /api/tickets?status=open&queue=general 200",
])
def test_ordinary_lines_are_left_alone(line: str) -> None:
    assert Redactor(["a-configured-secret"]).redact(line) == line


def test_configured_values_are_masked_in_every_form_they_take_on_the_wire() -> None:
    password = 'p@ss "word"\\ü'
    redactor = Redactor([password])
    for form in (password, "p%40ss%20%22word%22%5C%C3%BC", 'p@ss \\"word\\"\\\\ü',
                 repr(b'LOGIN u "p@ss \\"word\\"\\\\' + "ü".encode() + b'"')):
        masked = redactor.redact(f"line with {form} in it")
        assert "word" not in masked and MASK in masked, (form, masked)


def test_short_values_are_not_redacted_by_value() -> None:
    assert Redactor(["12345"]).redact("port 12345") == "port 12345"


def test_every_secret_in_the_settings_is_found_by_its_key_name() -> None:
    settings = Settings(
        secret="hub-signing-secret",
        mongodb_uri="mongodb://switchboard:db-password%401@db:27017/",
        channels={
            "telegram": {"bots": {"support": {"token": TELEGRAM, "secret_token": "tg-webhook-secret"}}},
            "slack": {"bot_token": "xoxb-1-2-3", "signing_secret": "slack-signing", "app_token": "xapp-1-2"},
            "phone": {"account_sid": "AC1f0e5a8c2b7d", "auth_token": "twilio-auth-token"},
            "email": {"relay": {"host": "smtp.example.com", "username": "hub", "password": "relay-password"},
                      "mailboxes": {"support": {"address": "support@example.com",
                                                "imap": {"username": "support", "password": "imap-password"}}}},
            "widget": {"sites": {"demo": {"title": "Demo shop", "identity_secret": "site-identity"}}},
            "future": {"api_keys": ["key-one-value", "key-two-value"], "author": "Some Author"},
        },
    )
    assert secrets_in(settings) == {
        "hub-signing-secret", "db-password%401", "db-password@1", TELEGRAM, "tg-webhook-secret", "xoxb-1-2-3",
        "slack-signing", "xapp-1-2", "twilio-auth-token", "relay-password", "imap-password", "site-identity",
        "key-one-value", "key-two-value",
    }


def test_a_secret_in_an_exception_is_masked_in_the_message_and_the_traceback() -> None:
    settings = Settings(secret="hub-signing-secret", channels={"slack": {"signing_secret": "slack-signing-secret"}})
    with serve_logs(settings) as logs:
        try:
            raise ConnectionError(f"POST https://api.telegram.org/bot{TELEGRAM}/getMe: refused (slack-signing-secret)")
        except ConnectionError as exc:
            log.exception("telegram: %s", exc)
            log.warning("retrying %(what)s", {"what": exc})
    text = logs.getvalue()
    assert TELEGRAM.split(":")[1] not in text and "slack-signing-secret" not in text
    assert "Traceback (most recent call last)" in text and "ConnectionError: POST" in text
    assert text.count(f"bot7000000001:{MASK}/getMe") == 3  # message, traceback, dict-formatted line


def test_a_handler_added_later_and_a_logger_that_does_not_propagate_get_clean_records(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(data_dir=tmp_path)  # no secret configured: the one serve generates is known too
    handle = install_log_redaction(settings)
    stream = io.StringIO()
    isolated = logging.getLogger("tests.log_redaction.isolated")
    handler = logging.StreamHandler(stream)
    isolated.addHandler(handler)
    isolated.propagate = False
    isolated.setLevel(logging.INFO)
    try:
        assert len(settings.secret) >= 32
        isolated.info("the hub secret is %s", settings.secret)
        # One argument short: logging reports the bad record on stderr, with its (redacted) arguments.
        isolated.info("a bad format string %s %s", settings.secret)
        isolated.info(ValueError(f"not a string message: {settings.secret}"))
    finally:
        isolated.removeHandler(handler)
        handle.uninstall()
    text, stderr = stream.getvalue(), capsys.readouterr().err
    assert settings.secret not in text + stderr
    assert f"the hub secret is {MASK}" in text and f"not a string message: {MASK}" in text
    assert "a bad format string" in stderr and MASK in stderr
    assert logging.getLogRecordFactory() is logging.LogRecord  # uninstall restored the default
