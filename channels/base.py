"""What a channel adapter gives the composition root, and what it gets from it.

Each `channels/<name>/__init__.py` exposes `create(context: ChannelContext) -> Channel`.
The root imports only the channels enabled in the configuration, so a vendor SDK
is never imported unless its channel is used.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from aiohttp import web

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
    """A 4xx whose JSON body says what was wrong with the payload."""
    cls = {400: web.HTTPBadRequest, 401: web.HTTPUnauthorized, 403: web.HTTPForbidden, 409: web.HTTPConflict,
           404: web.HTTPNotFound, 413: web.HTTPRequestEntityTooLarge, 422: web.HTTPUnprocessableEntity}[status]
    if status == 413:
        return web.HTTPRequestEntityTooLarge(max_size=0, actual_size=0, text=json.dumps({"error": reason}),
                                             content_type="application/json")
    return cls(text=json.dumps({"error": reason}), content_type="application/json")


async def read_json(request: web.Request, max_bytes: int = 1 << 20) -> dict[str, Any]:
    """The request's JSON object, or a 4xx that says why not."""
    if request.content_length is not None and request.content_length > max_bytes:
        raise bad_request("payload too large", 413)
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise bad_request(f"malformed JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise bad_request("expected a JSON object")
    return body
