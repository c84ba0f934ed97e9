"""Typed keys for what the composition root stores on the aiohttp application."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from hub.hub import Hub

HUB = web.AppKey("hub", Hub)
#: Free-form objects the root shares with UI modules (settings, runtime, bot service).
EXTRAS = web.AppKey("extras", dict[str, Any])
#: `scheme://host[:port]` of the configured public URL ("" when none): the origin browsers use.
PUBLIC_ORIGIN = web.AppKey("public_origin", str)
