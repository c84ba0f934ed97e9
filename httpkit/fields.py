"""Constrained field types for request bodies, reused by every schema.

Every string rejects lone surrogates (they cannot be stored: the BSON encoder fails on
them, so one poisoned visitor name made each later message of that visitor a 500), and
names shown to people reject bidirectional control characters (U+202A-U+202E,
U+2066-U+2069), which make a name display as something else. Integers are bounded so
that no value reaches the database beyond a 32-bit range. Types are strict: `"5"` is not 5
and `true` is not 1, so a wrong type is a 422 rather than a guess.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, Strict

from hub.models import Role
from hub.names import BIDI_CONTROLS, MAX_COUNT, MAX_NAME, MAX_USERNAME, SURROGATES

#: For the JSON Schema: what a displayed name may not contain (checked by `no_bidi_controls`).
NO_BIDI = "^[^\u202a-\u202e\u2066-\u2069]*$"


def no_surrogates(value: str) -> str:
    if SURROGATES.search(value):
        raise ValueError("text must be valid Unicode (no lone surrogates)")
    return value


def no_bidi_controls(value: str) -> str:
    if BIDI_CONTROLS.search(value):
        raise ValueError("bidirectional control characters are not allowed in names")
    return value


#: Free text a person typed (a message, a note): valid Unicode, bounded.
Text = Annotated[str, Strict(), Field(max_length=10_000), AfterValidator(no_surrogates)]
#: A whole file's text (imported YAML).
LongText = Annotated[str, Strict(), Field(max_length=8 * 1024 * 1024), AfterValidator(no_surrogates)]
#: A short single value (an id, a status, a shortcut, a channel name).
Token = Annotated[str, Strict(), Field(max_length=200), AfterValidator(no_surrogates)]
#: A password or token as given: valid Unicode, bounded, otherwise untouched.
Secret = Annotated[str, Strict(), Field(max_length=4096), AfterValidator(no_surrogates)]
#: A name shown to other people: no bidi controls, at most 200 characters.
Name = Annotated[str, Strict(), Field(max_length=MAX_NAME, json_schema_extra={"pattern": NO_BIDI}),
                 AfterValidator(no_surrogates), AfterValidator(no_bidi_controls)]
#: A login name: 1-64 characters, no bidi controls.
Username = Annotated[str, Strict(),
                     Field(min_length=1, max_length=MAX_USERNAME, json_schema_extra={"pattern": NO_BIDI}),
                     AfterValidator(no_surrogates), AfterValidator(no_bidi_controls)]
Email = Annotated[str, Strict(), Field(max_length=320, json_schema_extra={"pattern": NO_BIDI}),
                  AfterValidator(no_surrogates), AfterValidator(no_bidi_controls)]
#: A count, version or capacity: 0 <= n < 2^31.
Count = Annotated[int, Strict(), Field(ge=0, le=MAX_COUNT)]
Flag = Annotated[bool, Strict()]
Score = Annotated[int, Strict(), Field(ge=1, le=5)]
Roles = Annotated[list[Role], Field(min_length=1, max_length=len(Role))]


class Body(BaseModel):
    """A request body: unknown fields are refused (a typo is a 422, not silently ignored)."""

    model_config = ConfigDict(extra="forbid")
