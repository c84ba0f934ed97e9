"""Posting webhooks the way Twilio does: form-encoded, signed with the Auth Token over the public URL."""

from __future__ import annotations

import base64
import hashlib
import hmac
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import urlsplit

from aiohttp.test_utils import TestClient

ACCOUNT_SID = "AC1f0e5a8c2b7d4e6f9a3c5b7d9e1f2a4c"
AUTH_TOKEN = "9b2f4d6a8c0e2b4d6f8a0c2e4b6d8f0a"
#: The hub sits behind a proxy: Twilio calls this URL, the test client reaches loopback.
PUBLIC_URL = "https://support.example.com"
CUSTOMER = "+14155550123"
OUR_NUMBER = "+14155550100"


def twilio_signature(token: str, url: str, params: dict[str, str]) -> str:
    """Twilio's documented algorithm: URL + each POST key and value, sorted by key; HMAC-SHA1; base64."""
    payload = url + "".join(f"{key}{value}" for key, value in sorted(params.items()))
    return base64.b64encode(hmac.new(token.encode(), payload.encode(), hashlib.sha1).digest()).decode()


async def post_webhook(client: TestClient[Any, Any], url_or_path: str, params: dict[str, str], *,
                       token: str = AUTH_TOKEN, signed_url: str | None = None,
                       signature: str | None = None) -> Any:
    """POST `params` to the hub as Twilio would, for the public URL (or path) given."""
    if url_or_path.startswith("http"):
        assert url_or_path.startswith(PUBLIC_URL), url_or_path
        path = url_or_path[len(PUBLIC_URL):]
    else:
        path = url_or_path
    headers = {}
    sig = signature if signature is not None else twilio_signature(token, signed_url or PUBLIC_URL + path, params)
    if sig:
        headers["X-Twilio-Signature"] = sig
    return await client.post(path, data=params, headers=headers)


def twiml(text: str) -> ET.Element:
    return ET.fromstring(text)  # noqa: S314 - the hub's own TwiML, in a test


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def said(element: ET.Element) -> list[str]:
    return [s.text or "" for s in element.iter("Say")]
