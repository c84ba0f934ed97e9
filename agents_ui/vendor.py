"""Third-party browser code the hub serves from installed packages (never a CDN, never a copy in the repo).

`GET /static/vendor/plotly.min.js`: the bundle the `plotly` PyPI wheel ships
(`plotly/package_data/plotly.min.js`), read once through importlib.resources, gzipped once, and
served with an ETag naming the package version and a week's public cache.
"""

from __future__ import annotations

import gzip
import importlib.metadata
import importlib.resources
from functools import cache

from aiohttp import web

CACHE_CONTROL = "public, max-age=604800"


@cache
def _plotly() -> tuple[bytes, bytes, str]:
    raw = (importlib.resources.files("plotly") / "package_data" / "plotly.min.js").read_bytes()
    return raw, gzip.compress(raw, 6), f'"plotly-{importlib.metadata.version("plotly")}"'


async def plotly_js(request: web.Request) -> web.Response:
    """The plotly.js bundle of the installed `plotly` package (public: library code, no data)."""
    raw, packed, etag = _plotly()
    headers = {"Cache-Control": CACHE_CONTROL, "ETag": etag}
    if request.headers.get("If-None-Match") == etag:
        return web.Response(status=304, headers=headers)
    if "gzip" in request.headers.get("Accept-Encoding", ""):
        headers.update({"Content-Encoding": "gzip", "Vary": "Accept-Encoding"})
        return web.Response(body=packed, content_type="text/javascript", headers=headers)
    return web.Response(body=raw, content_type="text/javascript", headers=headers)


def routes() -> list[web.RouteDef]:
    return [web.get("/static/vendor/plotly.min.js", plotly_js)]
