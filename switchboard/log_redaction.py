"""Credentials never reach a log line: every log record is scrubbed the moment it is created.

Libraries log what they send: httpx logs each Bot API URL (`/bot<token>/sendMessage`) at INFO,
slack-sdk logs request parameters and responses (with Socket Mode's `?ticket=` URL) at DEBUG,
python-telegram-bot logs call parameters (a webhook's `secret_token`), exceptions carry URLs.
`install_log_redaction` (called once by `switchboard serve`) scrubs all of it in one place:

- **configured secrets, by value:** every string in the settings under a key that names a secret
  (`*token*`, `*secret*`, `*password*`, `*auth*`, ...), the hub secret and the database URI's
  password, also in the forms they take on the wire (URL-quoted, JSON- or bytes-escaped, base64);
- **credential shapes, by pattern** (`PATTERNS`), for secrets the settings do not hold: Telegram bot
  tokens, Slack `xox?-`/`xapp-` tokens, our `sbt_` API tokens, `user:password@` in URLs,
  `Authorization`/`Bearer`/`Basic` values, `token=`/`sig=`/`signature=`/`ticket=` query values and
  `"password": "..."`-style pairs in logged dicts.

It is a `LogRecord` factory rather than a handler filter: a filter covers only the handlers it was
added to (a filter on the root *logger* does not even see records propagated from child loggers), so a
handler added later (by a library, `logging.config`, a test harness, an operator's syslog handler) would
print secrets. The factory runs once per record, for every logger, before any handler sees it.
"""

from __future__ import annotations

import base64
import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from switchboard.config import Settings, ensure_secret

#: What a redacted value is replaced with.
MASK = "[redacted]"
#: Configuration keys whose string values are secrets (matched anywhere in the key, any case).
SECRET_KEY = re.compile(r"token|secret|passw(?:or)?d|auth(?!or)|credential|api_?key", re.IGNORECASE)
#: Shorter values are not redacted by value (they would mask ordinary words and numbers); patterns still apply.
MIN_SECRET_LENGTH = 6

_QUERY_KEYS = (r"(?:access_token|refresh_token|token|sig|signature|ticket|secret|password|api_key|apikey"
               r"|x-amz-signature|x-amz-credential|x-goog-signature)")
_PAIR_KEYS = r"[\w-]*(?:token|secret|passw(?:or)?d|signature|api_?key|authorization)[\w-]*"

Replacement = str | Callable[[re.Match[str]], str]


def _keep_scheme(match: re.Match[str]) -> str:
    scheme = f"{match[2]} " if match[2] else ""
    return f"{match[1]}{scheme}{MASK}"


#: (pattern, replacement): credential shapes, redacted whether or not they are configured here.
PATTERNS: tuple[tuple[re.Pattern[str], Replacement], ...] = (
    # Telegram bot token `<bot id>:<35 characters>`, alone or in `/bot<token>/method` URLs (the id is kept).
    (re.compile(r"(?<![0-9])([0-9]{5,}):[A-Za-z0-9_-]{30,}"), rf"\1:{MASK}"),
    # Slack bot/user/app/refresh tokens (xoxb-, xoxp-, xoxa-, xoxr-, xoxe-, xapp-).
    (re.compile(r"\b(xox[a-z]|xapp)-[A-Za-z0-9-]+"), rf"\1-{MASK}"),
    # Switchboard's own API tokens.
    (re.compile(r"\bsbt_[A-Za-z0-9_-]+"), f"sbt_{MASK}"),
    # `scheme://user:password@host` (database URIs, Twilio's AC...:token@ URLs): the user is kept.
    (re.compile(r"([a-z][a-z0-9+.-]*://[^\s:/?#@]+):[^\s/?#@]*@", re.IGNORECASE), rf"\1:{MASK}@"),
    # Authorization header values, whatever the scheme (also `'Authorization': '...'` in a dict repr).
    (re.compile(r"((?:proxy-)?authorization['\"]?\s*[:=]\s*['\"]?)(?:(bearer|basic|bot|token|digest)\s+)?"
                r"[^\s'\",;}]+", re.IGNORECASE), _keep_scheme),
    (re.compile(r"\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}", re.IGNORECASE), rf"\1 {MASK}"),
    # `token=...` (the widget's visitor token), signed links' `sig=`/`signature=`, Socket Mode's `ticket=`,
    # `password=...` in form bodies.
    (re.compile(rf"((?<![\w.-]){_QUERY_KEYS}=)[^&\s#'\"]+", re.IGNORECASE), rf"\1{MASK}"),
    # `"password": "..."`, `'secret_token': '...'` in logged dicts and JSON.
    (re.compile(rf"(['\"]{_PAIR_KEYS}['\"]\s*:\s*['\"])[^'\"]*", re.IGNORECASE), rf"\1{MASK}"),
    # SMTP/IMAP authentication arguments (`AUTH PLAIN <base64>`).
    (re.compile(r"\b(AUTH\s+(?:PLAIN|LOGIN|XOAUTH2|OAUTHBEARER|CRAM-MD5)\s+)[A-Za-z0-9+/=]{4,}", re.IGNORECASE),
     rf"\1{MASK}"),
)


def wire_forms(secret: str) -> set[str]:
    """The secret as it may appear in a log line: as is, URL-quoted, JSON- or IMAP-quoted (also inside a
    logged bytes repr, where aioimaplib's own scrubbing misses a password with `"` or `\\`), base64."""
    quoted = secret.replace("\\", "\\\\").replace('"', '\\"')
    forms = {secret, quoted, quote(secret, safe=""), json.dumps(secret)[1:-1],
             base64.b64encode(secret.encode("utf-8")).decode("ascii")}
    return forms | {repr(form.encode("utf-8"))[2:-1] for form in (secret, quoted)}


class Redactor:
    """Replaces known secret values and credential-shaped text with `MASK`."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._values: set[str] = set()
        self._exact: re.Pattern[str] | None = None
        self.add(*secrets)

    def add(self, *secrets: str) -> None:
        """More values to redact (e.g. a secret only known after start-up)."""
        for secret in secrets:
            if isinstance(secret, str) and len(secret) >= MIN_SECRET_LENGTH:
                self._values |= {form for form in wire_forms(secret) if len(form) >= MIN_SECRET_LENGTH}
        if self._values:
            # Longest first, so a secret that contains another is masked whole.
            alternatives = sorted(self._values, key=len, reverse=True)
            self._exact = re.compile("|".join(re.escape(value) for value in alternatives))

    def redact(self, text: str) -> str:
        if self._exact is not None:
            text = self._exact.sub(MASK, text)
        for pattern, replacement in PATTERNS:
            text = pattern.sub(replacement, text)
        return text

    def scrub(self, record: logging.LogRecord) -> None:
        """Redact the record in place: its formatted message, exception text and stack."""
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: let the handler report it, with redacted parts
            record.msg = self.redact(str(record.msg))
            record.args = tuple(self.redact(str(arg)) for arg in _args(record.args))
        else:
            record.msg, record.args = self.redact(message), ()
        if record.exc_info and record.exc_info[0] is not None:
            record.exc_text = self.redact(logging.Formatter().formatException(record.exc_info))
            # Formatters print `exc_text` when set; dropping `exc_info` keeps any from re-rendering the raw one.
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)


def _args(args: Any) -> Iterator[Any]:
    if isinstance(args, Mapping):
        return iter(args.values())
    return iter(args if isinstance(args, tuple) else (args,))


def secrets_in(settings: Settings) -> set[str]:
    """Every secret value in the loaded settings, found by key name, so new config keys are covered too."""
    found = {s for s in (settings.secret, settings.secret_key) if s}
    password = urlsplit(settings.mongodb_uri).password if settings.mongodb_uri else None
    if password:
        found |= {password, unquote(password)}  # as written in the URI (percent-encoded) and as sent
    for section in (settings.channels, settings.bot, settings.outbox):
        found |= set(_secret_values(section))
    return found


def _secret_values(value: Any, key: str = "") -> Iterator[str]:
    if isinstance(value, Mapping):
        for child_key, child in value.items():
            yield from _secret_values(child, str(child_key))
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _secret_values(item, key)
    elif isinstance(value, str) and SECRET_KEY.search(key):
        yield value


class RedactionHandle:
    """What `install_log_redaction` returns: the redactor (to `add` secrets) and a way to undo it (tests)."""

    def __init__(self, redactor: Redactor, previous: Callable[..., logging.LogRecord]) -> None:
        self.redactor = redactor
        self._previous = previous
        self.active = True

    def factory(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = self._previous(*args, **kwargs)
        if self.active:
            self.redactor.scrub(record)
        return record

    def uninstall(self) -> None:
        """Stop redacting; restores the previous factory unless another was installed on top since."""
        self.active = False
        if logging.getLogRecordFactory() == self.factory:
            logging.setLogRecordFactory(self._previous)


def install_log_redaction(settings: Settings) -> RedactionHandle:
    """Scrub every log record of this process from now on, of the settings' secrets and credential shapes."""
    ensure_secret(settings)  # the hub secret may be generated on first start: know it before anything logs
    handle = RedactionHandle(Redactor(secrets_in(settings)), logging.getLogRecordFactory())
    logging.setLogRecordFactory(handle.factory)
    return handle


def redact_also(*secrets: str) -> None:
    """Add secrets learnt after start-up (channel secrets stored in the database) to the installed redactor."""
    handle = getattr(logging.getLogRecordFactory(), "__self__", None)
    if isinstance(handle, RedactionHandle):
        handle.redactor.add(*secrets)
