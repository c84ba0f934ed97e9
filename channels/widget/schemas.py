"""The JSON bodies (and WebSocket frames) the widget API accepts; the same models feed `/api/openapi.json`.

Every string is checked for valid Unicode: a visitor's name travels in their token into each
message they send, so one lone surrogate used to break every later message of that visitor.
"""

from __future__ import annotations

from pydantic import Field

from httpkit.fields import Body, Email, Flag, Name, Score, Secret, Text, Token


class Session(Body):
    site: Token
    token: Secret | None = Field(None, description="the visitor token of an earlier session, to resume it")
    renew: Flag = Field(False, description="renew `token` (used by the identity-token branch)")
    user_jwt: Secret | None = Field(None, description="a JWT signed by the site's backend (identity-token branch)")
    user_id: Token | None = None
    user_hash: Token | None = Field(None, description="HMAC-SHA256 of user_id with the site's identity secret")
    name: Name | None = None
    email: Email | None = None


class Message(Body):
    text: Text = ""
    client_id: Token | None = Field(None, description="8-64 characters, unique per message: safe retries")


class Frame(Message):
    """A message sent on the widget's WebSocket."""

    type: Token


class Rating(Body):
    message_id: Token = Field(description="the rating request message")
    score: Score
    comment: Text | None = None
