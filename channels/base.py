"""What a channel adapter gives the composition root, and what it gets from it.

Each `channels/<name>/__init__.py` exposes `create(context: ChannelContext) -> Channel`.
The root imports only the channels enabled in the configuration, so a vendor SDK
is never imported unless its channel is used.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from aiohttp import web

from httpkit.bodies import read_object
from httpkit.errors import error

if TYPE_CHECKING:
    from hub.hub import Hub
    from hub.ports import OutboundSender

log = logging.getLogger(__name__)


@dataclass
class ChannelContext:
    hub: Hub
    #: This channel's section of the configuration file.
    config: dict[str, Any]
    #: The URL providers and browsers reach the hub at (webhook signatures are computed on it).
    public_url: str
    #: The hub's own signing secret (visitor tokens and the like).
    secret: str
    #: Where a channel keeps state across restarts (e.g. IMAP UIDs), under the data dir.
    data_dir: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


class Channel(Protocol):
    name: str

    def routes(self) -> list[web.RouteDef]:
        """HTTP routes (webhooks, widget API) this channel serves."""
        ...

    def senders(self) -> list[OutboundSender]:
        """Outbound senders, one per hub channel name this adapter delivers (often just one)."""
        ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class ChannelConfigError(ValueError):
    """A channel's configuration (or a credential its provider refused at start) is unusable;
    `switchboard serve` prints it as a one-line error instead of a traceback."""


def bad_request(reason: str, status: int = 400) -> web.HTTPException:
    """A 4xx whose JSON body says what was wrong with the payload (`httpkit.errors.error`)."""
    return error(status, reason)


async def read_json(request: web.Request, max_bytes: int = 1 << 20) -> dict[str, Any]:
    """The request's JSON object (size- and depth-limited, no schema), or a 4xx that says why not.
    For provider webhooks whose payload the provider defines; our own APIs use `httpkit.bodies.accepts`."""
    return await read_object(request, max_bytes)


@dataclass(frozen=True)
class CheckLine:
    """One result of an admin's credential check: what was checked, whether it passed, and why (never a secret)."""

    what: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class PasteUrl:
    """A URL (or address) an admin pastes into a provider's console, and where it goes."""

    label: str
    value: str
    note: str = ""


@dataclass(frozen=True)
class TestTarget:
    """Where an admin's test message goes: the conversation fields its channel's sender reads."""

    channel: str
    recipient: str
    thread_key: str
    channel_data: dict[str, Any] = field(default_factory=dict)
    inbox: str | None = None
