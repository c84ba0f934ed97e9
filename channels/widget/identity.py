"""Visitor tokens, signed file links and identity verification for the web chat widget.

A visitor token is a short-lived JWT signed by the hub, so a browser cannot claim another
visitor's conversation, and a token that leaks stops working. A site that knows who its
user is proves it in one of two ways:

- preferred: its backend signs a JWT (HS256, the site's identity secret) carrying `sub`
  (user id), optionally `email` and `name`, and `exp`. Only attributes signed this way
  are *verified*: a verified email may link the visitor to an existing contact.
- legacy: `user_hash = HMAC-SHA256(identity secret, user_id)` as Intercom and Chatwoot do.
  It proves the user id only; an email or name the browser sends with it stays unverified.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import jwt

#: Audiences keep the hub's JWTs apart: a file link is never a visitor token and vice versa.
VISITOR_AUDIENCE = "switchboard:widget-visitor"
FILE_AUDIENCE = "switchboard:widget-file"
ALGORITHM = "HS256"
#: Clock skew tolerated between the site's backend and the hub.
LEEWAY_SECONDS = 30
#: RFC 7518 §3.2: an HS256 key shorter than the hash is refused for user JWTs.
MIN_JWT_SECRET_BYTES = 32


class TokenError(Exception):
    """A visitor token or file link the hub did not issue, or no longer honours."""


class IdentityError(Exception):
    """The site's proof of who the visitor is was refused; the message says why."""


@dataclass(frozen=True)
class Visitor:
    site: str
    #: `visitor:<random>` for anonymous visitors, `user:<site user id>` for verified ones.
    ident: str
    #: The site proved the user id (user JWT or user_hash).
    verified: bool
    name: str | None = None
    email: str | None = None
    #: The site's backend signed `email` and `name` (user JWT); never true for what a browser typed.
    email_verified: bool = False
    #: When the token this visitor was read from expires (Unix time); 0 if not read from a token.
    expires_at: int = field(default=0, compare=False)

    @property
    def key(self) -> str:
        """The channel's external id for this person, and the conversation thread key."""
        return f"{self.site}:{self.ident}"


def _key(secret: str, purpose: str) -> bytes:
    """One key per purpose, derived from the hub secret, so no token can stand in for another kind."""
    return hmac.new(secret.encode(), f"switchboard widget {purpose} v1".encode(), hashlib.sha256).digest()


def issue_token(secret: str, visitor: Visitor, ttl_seconds: int) -> str:
    now = int(time.time())
    claims = {"aud": VISITOR_AUDIENCE, "site": visitor.site, "sub": visitor.ident, "uv": visitor.verified,
              "name": visitor.name, "email": visitor.email, "ev": visitor.email_verified,
              "iat": now, "exp": now + ttl_seconds}
    return jwt.encode(claims, _key(secret, "visitor"), algorithm=ALGORITHM)


def read_token(secret: str, token: str) -> Visitor:
    try:
        data = jwt.decode(token, _key(secret, "visitor"), algorithms=[ALGORITHM], audience=VISITOR_AUDIENCE,
                          options={"require": ["exp", "sub", "aud"]})
        return Visitor(site=str(data["site"]), ident=str(data["sub"]), verified=bool(data.get("uv")),
                       name=data.get("name"), email=data.get("email"), email_verified=bool(data.get("ev")),
                       expires_at=int(data["exp"]))
    except jwt.ExpiredSignatureError as exc:
        raise TokenError("expired") from exc
    except (jwt.InvalidTokenError, KeyError) as exc:
        raise TokenError("malformed or forged token") from exc


def issue_file_link(secret: str, visitor: Visitor, blob_id: str, ttl_seconds: int) -> str:
    """A download credential for one file of one visitor, short-lived: links carry no headers."""
    exp = int(time.time()) + ttl_seconds
    return jwt.encode({"aud": FILE_AUDIENCE, "sub": visitor.key, "blob": blob_id, "exp": exp},
                      _key(secret, "file"), algorithm=ALGORITHM)


def read_file_link(secret: str, link: str, blob_id: str) -> str:
    """The visitor key the link was issued to, if it is valid for `blob_id`."""
    try:
        data = jwt.decode(link, _key(secret, "file"), algorithms=[ALGORITHM], audience=FILE_AUDIENCE,
                          options={"require": ["exp", "sub", "aud"]})
    except jwt.ExpiredSignatureError as exc:
        raise TokenError("download link expired; open the file from the chat again") from exc
    except jwt.InvalidTokenError as exc:
        raise TokenError("invalid download link") from exc
    if data.get("blob") != blob_id:
        raise TokenError("invalid download link")
    return str(data["sub"])


def new_anonymous(site: str, name: str | None = None, email: str | None = None) -> Visitor:
    return Visitor(site=site, ident=f"visitor:{secrets.token_urlsafe(12)}", verified=False, name=name,
                   email=email)


def user_hash(identity_secret: str, user_id: str) -> str:
    """What the site's backend computes and renders as `data-user-hash` (legacy: proves the id only)."""
    return hmac.new(identity_secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def verify_user(identity_secret: str, user_id: str, given_hash: str) -> bool:
    if not identity_secret or not user_id or not given_hash:
        return False
    return hmac.compare_digest(user_hash(identity_secret, user_id), given_hash.lower())


@dataclass(frozen=True)
class SignedUser:
    """What the site's backend vouched for in a user JWT."""

    user_id: str
    email: str | None
    name: str | None


def verify_user_jwt(identity_secret: str, token: str, site: str, max_lifetime_seconds: int) -> SignedUser:
    """Check a site-signed user JWT: HS256 only, `sub` and `exp` required, lifetime bounded, `aud` = site if set."""
    if not identity_secret:
        raise IdentityError("identity verification is not configured for this site")
    try:
        claims: dict[str, Any] = jwt.decode(
            token, identity_secret, algorithms=[ALGORITHM], leeway=LEEWAY_SECONDS,
            options={"require": ["exp", "sub"], "verify_aud": False, "enforce_minimum_key_length": True},
        )
    except jwt.InvalidKeyError as exc:
        raise IdentityError(f"the site's identity_secret is too short for user_jwt (at least "
                            f"{MIN_JWT_SECRET_BYTES} bytes)") from exc
    except jwt.ExpiredSignatureError as exc:
        raise IdentityError("user_jwt has expired") from exc
    except jwt.InvalidSignatureError as exc:
        raise IdentityError("user_jwt signature does not match the site's identity secret") from exc
    except jwt.InvalidAlgorithmError as exc:
        raise IdentityError("user_jwt must be signed with HS256") from exc
    except jwt.MissingRequiredClaimError as exc:
        raise IdentityError(f"user_jwt lacks the {exc.claim!r} claim") from exc
    except jwt.InvalidTokenError as exc:
        raise IdentityError(f"user_jwt is invalid: {exc}") from exc
    audience = claims.get("aud")
    if audience is not None and site not in ([audience] if isinstance(audience, str) else audience):
        raise IdentityError(f"user_jwt audience is not this site ({site!r})")
    now = time.time()
    issued = claims.get("iat")
    start = issued if isinstance(issued, int | float) else now
    if claims["exp"] - min(start, now) > max_lifetime_seconds + LEEWAY_SECONDS:
        raise IdentityError(f"user_jwt lives longer than {max_lifetime_seconds} seconds; sign shorter-lived tokens")
    user_id, email, name = claims["sub"], claims.get("email"), claims.get("name")
    if not isinstance(user_id, str) or not 1 <= len(user_id.strip()) <= 200:
        raise IdentityError("user_jwt 'sub' must be the user id (1-200 characters)")
    if email is not None and (not isinstance(email, str) or "@" not in email or len(email) > 320):
        raise IdentityError("user_jwt 'email' must be an email address")
    if name is not None and (not isinstance(name, str) or len(name) > 200):
        raise IdentityError("user_jwt 'name' must be a string of at most 200 characters")
    return SignedUser(user_id=user_id.strip(), email=email.strip() if email else None,
                      name=(name.strip() or None) if name else None)
