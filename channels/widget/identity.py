"""Visitor tokens and identity verification for the web chat widget.

A visitor token is signed by the hub, so a browser cannot claim another
visitor's conversation. A site that knows who its user is can prove it the way
Intercom and Chatwoot do: its backend renders `user_hash = HMAC-SHA256(site
identity secret, user_id)` into the page, and the hub links such a visitor to the
contact with that verified identity.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass


class TokenError(Exception):
    pass


@dataclass(frozen=True)
class Visitor:
    site: str
    #: `visitor:<random>` for anonymous visitors, `user:<site user id>` for verified ones.
    ident: str
    verified: bool
    name: str | None = None
    email: str | None = None

    @property
    def key(self) -> str:
        """The channel's external id for this person, and the conversation thread key."""
        return f"{self.site}:{self.ident}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue_token(secret: str, visitor: Visitor) -> str:
    payload = _b64(json.dumps({"s": visitor.site, "i": visitor.ident, "v": visitor.verified,
                               "n": visitor.name, "e": visitor.email}, separators=(",", ":")).encode())
    sig = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()
    return f"{payload}.{_b64(sig)}"


def read_token(secret: str, token: str) -> Visitor:
    try:
        payload, sig = token.split(".", 1)
        expected = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(expected, _unb64(sig)):
            raise TokenError("bad signature")
        data = json.loads(_unb64(payload))
        return Visitor(site=data["s"], ident=data["i"], verified=bool(data["v"]), name=data.get("n"),
                       email=data.get("e"))
    except (ValueError, KeyError, TypeError, json.JSONDecodeError) as exc:
        raise TokenError("malformed token") from exc


def new_anonymous(site: str, name: str | None = None, email: str | None = None) -> Visitor:
    return Visitor(site=site, ident=f"visitor:{secrets.token_urlsafe(12)}", verified=False, name=name,
                   email=email)


def user_hash(identity_secret: str, user_id: str) -> str:
    """What the site's backend computes and renders as `data-user-hash`."""
    return hmac.new(identity_secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def verify_user(identity_secret: str, user_id: str, given_hash: str) -> bool:
    if not identity_secret or not user_id or not given_hash:
        return False
    return hmac.compare_digest(user_hash(identity_secret, user_id), given_hash.lower())
