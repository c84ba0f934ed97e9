"""Running behind a reverse proxy: which `X-Forwarded-*` headers to believe.

A TLS-terminating proxy (nginx, Caddy) talks plain HTTP to the hub, so without help the
hub sees scheme `http`, its own host and the proxy's address. When `hub.trusted_proxies`
lists the proxy, aiohttp-remotes' `XForwardedStrict` rewrites the request's scheme, host
and remote address from the proxy's `X-Forwarded-Proto`/`-Host`/`-For` (exactly one hop).
From any other peer these headers are ignored: the request keeps what the socket says,
so nobody can claim to be https, another host or another address by sending a header.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from ipaddress import ip_address
from typing import NoReturn

from aiohttp import web
from aiohttp_remotes import XForwardedStrict
from aiohttp_remotes.exceptions import UntrustedIP
from aiohttp_remotes.utils import check_ip, parse_trusted_element

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
log = logging.getLogger(__name__)
#: Peers an untrusted-forwarding warning is given for, at most (then the log has said enough).
MAX_WARNED = 20


class TrustedProxies(XForwardedStrict):
    def __init__(self, proxies: Sequence[str]) -> None:
        super().__init__([list(proxies)])
        self._proxies = parse_trusted_element(proxies)

    def is_proxy(self, request: web.Request) -> bool:
        peer = request.transport.get_extra_info("peername") if request.transport else None
        if not peer:
            return False
        try:
            check_ip(self._proxies, ip_address(peer[0]))
        except (UntrustedIP, ValueError):
            return False
        return True

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        # A direct request from the proxy's own host (a health check) carries no X-Forwarded-For.
        if "X-Forwarded-For" not in request.headers or not self.is_proxy(request):
            return await handler(request)
        return await super().middleware(request, handler)

    async def raise_error(self, request: web.Request) -> NoReturn:
        raise web.HTTPBadRequest(text=json.dumps({"error": "X-Forwarded-* headers from the proxy do not describe "
                                                           "exactly one hop (set X-Forwarded-For to $remote_addr)"}),
                                 content_type="application/json")


class UntrustedForwarding:
    """Without `hub.trusted_proxies`: warn, once per peer, when a request from a loopback or private address
    carries `X-Forwarded-For`. That is most likely a reverse proxy the hub was not told about, and then every
    client has the proxy's address: the login limits' per-address counter and the widget's per-address
    message limit count all clients together (one guesser holds everyone's logins back), and the audit log
    records the proxy. The headers stay ignored; only the operator is told."""

    def __init__(self) -> None:
        self._warned: set[str] = set()

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if "X-Forwarded-For" in request.headers and len(self._warned) < MAX_WARNED:
            peer = request.remote or ""
            try:
                behind = ip_address(peer).is_private or ip_address(peer).is_loopback
            except ValueError:
                behind = False
            if behind and peer not in self._warned:
                self._warned.add(peer)
                log.warning("requests from %s carry X-Forwarded-For, which is ignored: hub.trusted_proxies is "
                            "empty. If the hub runs behind a reverse proxy at %s, list it there; until then every "
                            "client counts as %s (login and widget limits per address, the audit log)",
                            peer, peer, peer)
        return await handler(request)


def parse_proxies(value: str | Sequence[str] | None) -> list[str]:
    """`hub.trusted_proxies` as a list: YAML list, or a comma-separated string from the environment.

    Each entry must be an address or network (`127.0.0.1`, `10.0.0.0/8`); a typo is a start-up error.
    """
    if not value:
        return []
    items = [v.strip() for v in (value.split(",") if isinstance(value, str) else value) if str(v).strip()]
    parse_trusted_element(items)  # raises ValueError naming the bad entry
    return items
