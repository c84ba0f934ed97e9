"""One shape for every client error: a JSON object `{"error": reason}` with the right status."""

from __future__ import annotations

import json

from aiohttp import web

_CLASSES: dict[int, type[web.HTTPException]] = {
    400: web.HTTPBadRequest, 401: web.HTTPUnauthorized, 403: web.HTTPForbidden, 404: web.HTTPNotFound,
    409: web.HTTPConflict, 415: web.HTTPUnsupportedMediaType,
    422: web.HTTPUnprocessableEntity, 429: web.HTTPTooManyRequests,
}


def error(status: int, reason: str) -> web.HTTPException:
    """An HTTP error to raise whose JSON body says what was wrong, for people and programs alike."""
    text = json.dumps({"error": reason})
    if status == 413:  # its constructor wants sizes; the reason says them
        return web.HTTPRequestEntityTooLarge(max_size=0, actual_size=0, text=text, content_type="application/json")
    return _CLASSES[status](text=text, content_type="application/json")


def retry_later(status: int, reason: str, seconds: int) -> web.HTTPException:
    """A 429/503 that tells the client when to try again: the `Retry-After` header, and `retry_after` in the
    body for a page on another origin, which reads only the headers a response exposes to it."""
    cls = web.HTTPServiceUnavailable if status == 503 else _CLASSES[status]
    exc = cls(text=json.dumps({"error": reason, "retry_after": seconds}), content_type="application/json")
    exc.headers["Retry-After"] = str(seconds)
    return exc
