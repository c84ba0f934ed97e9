"""Customer satisfaction (CSAT): one 1-5 rating per solved ticket, from whichever channel carries it.

- **Buttons** (widget, Slack, Telegram): quick replies with the payload `csat:N`; a press is the
  ticket's rating, never a message for the bot or an agent.
- **SMS**: the request says "Reply 1-5"; an inbound SMS that is exactly one digit 1-5 while the
  customer's latest solved ticket waits for its rating is that rating.
- **Email**: one signed link per score to the hub's public page `/csat/<token>` (agents_ui.csat).
  The token is a JWT (PyJWT, HS256) under a key derived from the hub secret, bound to the ticket
  number and the score, expiring after `LINK_LIFETIME_SECONDS`.

The rating is stored once (`TicketService.rate`: a conditional update `csat: null` -> value), with
the channel it came from; a second rating from any channel is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time

import jwt

#: A quick-reply payload that is a rating.
PAYLOAD = re.compile(r"^csat:([1-5])$")
#: An email rating link works this long after the request was sent.
LINK_LIFETIME_SECONDS = 14 * 24 * 3600
AUDIENCE = "switchboard:csat"


def score_of(payload: str | None) -> int | None:
    """The score of a `csat:N` payload, else None."""
    found = PAYLOAD.match((payload or "").strip())
    return int(found.group(1)) if found else None


def sms_score(text: str) -> int | None:
    """An SMS that is exactly one digit 1-5 (a trailing dot allowed): the score, else None."""
    typed = text.strip().rstrip(".").strip()
    return int(typed) if len(typed) == 1 and typed in "12345" else None


class LinkError(ValueError):
    """A rating link that is forged, damaged or expired."""


class CsatLinks:
    """Signed, expiring email rating links, one per score, bound to a ticket."""

    def __init__(self, secret: str, base_url: str, lifetime_seconds: int = LINK_LIFETIME_SECONDS) -> None:
        if not secret:
            raise ValueError("a hub secret is needed to sign rating links")
        # A key of its own, so a rating token is never valid where the hub secret signs anything else.
        self._key = hmac.new(secret.encode(), b"switchboard csat links v1", hashlib.sha256).digest()
        self.base_url = base_url.rstrip("/")
        self.lifetime_seconds = lifetime_seconds

    def token(self, ticket_number: int, score: int, now: float | None = None) -> str:
        issued = int(now if now is not None else time.time())
        claims = {"aud": AUDIENCE, "sub": str(ticket_number), "score": score, "iat": issued,
                  "exp": issued + self.lifetime_seconds}
        return jwt.encode(claims, self._key, algorithm="HS256")

    def url(self, ticket_number: int, score: int, now: float | None = None) -> str:
        return f"{self.base_url}/csat/{self.token(ticket_number, score, now)}"

    def verify(self, token: str) -> tuple[int, int]:
        """(ticket number, score) of a valid token; LinkError otherwise."""
        try:
            claims = jwt.decode(token, self._key, algorithms=["HS256"], audience=AUDIENCE,
                                options={"require": ["exp", "sub", "aud"]})
        except jwt.ExpiredSignatureError as exc:
            raise LinkError("this rating link has expired") from exc
        except jwt.PyJWTError as exc:
            raise LinkError("this rating link is not valid") from exc
        number, score = claims.get("sub"), claims.get("score")
        if not isinstance(number, str) or not number.isdigit() or not isinstance(score, int) or not 1 <= score <= 5:
            raise LinkError("this rating link is not valid")
        return int(number), score
