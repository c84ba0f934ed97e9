"""Twilio webhook authentication: `X-Twilio-Signature` checked with the twilio package's own validator.

Twilio signs the URL it requested plus the sorted POST parameters with the account's
Auth Token (HMAC-SHA1). Behind a proxy the hub sees another host and scheme than
Twilio used, so the URL is rebuilt from the configured public base URL and the raw
path and query of the request, exactly as Twilio sent them.
"""

from __future__ import annotations

from aiohttp import web
from multidict import MultiDict, MultiDictProxy

from channels.base import bad_request

MAX_FORM_BYTES = 64 * 1024
SIGNATURE_HEADER = "X-Twilio-Signature"


class TwilioSignature:
    def __init__(self, auth_token: str, public_url: str, account_sid: str) -> None:
        from twilio.request_validator import RequestValidator

        self._validator = RequestValidator(auth_token)
        self.public_url = public_url.rstrip("/")
        self.account_sid = account_sid

    def url_of(self, request: web.Request) -> str:
        """The URL Twilio requested, as it signed it."""
        return self.public_url + request.raw_path

    async def verified_form(self, request: web.Request) -> MultiDictProxy[str]:
        """The webhook's form parameters, once the signature proves Twilio sent them (else 403)."""
        if request.content_length is not None and request.content_length > MAX_FORM_BYTES:
            raise bad_request("payload too large", 413)
        if request.content_type != "application/x-www-form-urlencoded":
            raise bad_request("expected an application/x-www-form-urlencoded Twilio webhook")
        signature = request.headers.get(SIGNATURE_HEADER, "")
        if not signature:
            raise bad_request(f"missing {SIGNATURE_HEADER}", 403)
        raw = await request.post()
        form: MultiDictProxy[str] = MultiDictProxy(_text_only(raw))
        if not self._validator.validate(self.url_of(request), form, signature):
            raise bad_request("invalid Twilio signature", 403)
        if form.get("AccountSid") != self.account_sid:
            raise bad_request("webhook for another Twilio account", 403)
        return form


def _text_only(raw: MultiDictProxy[object]) -> MultiDict[str]:
    """Twilio posts url-encoded text fields only; anything else is malformed."""
    out: MultiDict[str] = MultiDict()
    for key, value in raw.items():
        if not isinstance(value, str):
            raise bad_request(f"unexpected file field {key!r}")
        out.add(key, value)
    return out
