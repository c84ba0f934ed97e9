"""The JSON bodies (and WebSocket frames) the widget API accepts; the same models feed `/api/openapi.json`.

Every string is checked for valid Unicode: a visitor's name travels in their token into each
message they send, so one lone surrogate used to break every later message of that visitor.
"""

from __future__ import annotations

import functools
import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field, create_model

from httpkit.fields import Body, Email, Flag, Name, Score, Secret, Text, Token

#: Part of the message's external id (`<visitor key>:<client id>`): no ':' so two visitors' ids cannot collide.
CLIENT_ID_PATTERN = r"^[A-Za-z0-9_-]{8,64}$"
ClientId = Annotated[Token, Field(pattern=CLIENT_ID_PATTERN)]


class Session(Body):
    site: Token
    token: Secret | None = Field(None, description="the visitor token of an earlier session, to resume or renew it")
    renew: Flag = Field(False, description="renew a signed-in visitor's token (the page that holds it)")
    user_jwt: Secret | None = Field(None, description="a JWT (HS256) the site's backend signed: sub, email, name, exp")
    user_id: Token | None = None
    user_hash: Token | None = Field(None, description="HMAC-SHA256 of user_id with the site's identity secret")
    name: Name | None = None
    email: Email | None = None


#: How a site's pre-chat form treats a field (`channels.widget.sites.<site>.prechat`).
PrechatMode = Literal["required", "optional", "off"]
_EMAIL_SHAPE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def _filled(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value.strip()


def _email_shaped(value: str) -> str:
    if not _EMAIL_SHAPE.fullmatch(value.strip()):
        raise ValueError("must be an email address (name@example.com)")
    return value.strip()


_PRECHAT_FIELDS: dict[str, Any] = {
    "name": Annotated[Name, AfterValidator(_filled)],
    "email": Annotated[Email, AfterValidator(_email_shaped)],
}


@functools.lru_cache(maxsize=16)
def prechat_form(name: PrechatMode, email: PrechatMode) -> type[BaseModel]:
    """The session body a new anonymous visitor sends on a site with this pre-chat form:
    a required field present and not blank, an email shaped like one (else 422 naming the field)."""
    fields: dict[str, Any] = {}
    for field, mode in (("name", name), ("email", email)):
        kind = _PRECHAT_FIELDS[field]
        if mode == "required":
            fields[field] = (kind, ...)
        elif mode == "optional":
            fields[field] = (kind | None, None)
    return create_model("PrechatForm", __base__=Session, **fields)


#: A quick reply's payload (Rasa's `/intent` convention): what the bot reads; the customer's words are its title.
QUICK_REPLY_PATTERN = r"^/[A-Za-z0-9_.:-]{1,100}$"


class Message(Body):
    text: Text = ""
    client_id: ClientId | None = Field(None, description="8-64 letters, digits, - or _, one per message: safe retries")
    payload: Annotated[str, Field(pattern=QUICK_REPLY_PATTERN)] | None = Field(
        None, description="the payload of the quick reply the customer pressed; `text` is its title")
    first: bool = Field(False, description="this browser has sent nothing yet: the hub creates the visitor's contact "
                                           "without looking for it first (a wrong guess only costs a read)")


class Auth(Body):
    """The first frame on the widget's WebSocket: nothing else is accepted before it."""

    type: Literal["auth"]
    token: Secret = Field(description="the visitor token from POST /api/widget/session")
    fresh: Flag = Field(False, description="this page made the visitor's session and has sent nothing yet: the hub "
                                           "does not look for a chat to resume (a wrong claim only hides the "
                                           "visitor's own wait banner)")


class Frame(Message):
    """A message sent on the widget's WebSocket."""

    type: Token


class Rating(Body):
    message_id: Token = Field(description="the rating request message")
    score: Score
    comment: Text | None = None
