"""Third-party browser code, served from the Python packages that ship it (never copied into the repo).

`GET /static/vendor/plotly.min.js`: plotly.js from the `plotly` wheel (``plotly/package_data``),
read once per process through importlib.resources and cached by browsers for a day.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from importlib import resources

from aiohttp import web

#: URL path -> (package, resource path inside it).
VENDORED = {"plotly.min.js": ("plotly", "package_data/plotly.min.js")}


@functools.cache
def _read(name: str) -> bytes | None:
    package, path = VENDORED[name]
    try:
        return (resources.files(package) / path).read_bytes()
    except (ModuleNotFoundError, FileNotFoundError):
        return None


def _handler(name: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def vendor_file(_request: web.Request) -> web.Response:
        body = _read(name)
        if body is None:
            raise web.HTTPNotFound()
        return web.Response(body=body, content_type="application/javascript", charset="utf-8",
                            headers={"Cache-Control": "public, max-age=86400"})

    return vendor_file


def routes() -> list[web.RouteDef]:
    return [web.get(f"/static/vendor/{name}", _handler(name)) for name in VENDORED]
