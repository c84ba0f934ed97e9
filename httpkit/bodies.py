"""Validated JSON request bodies: `@accepts(Model)` on a handler, `body_of`/`fields_of` inside it.

A body passes four gates before a handler sees it, each answering `{"error": reason}`:
size (413), JSON nesting depth counted on the raw bytes before any parser recurses (400:
deeply nested JSON used to be a RecursionError 500), well-formed UTF-8 JSON object (400),
and the pydantic model (422, the reason names the field). The decorator records the model
on the handler (`handler.request_body`), which is where `/api/openapi.json` takes each
route's request schema from, so the document and the validation cannot drift apart.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from httpkit.errors import error
from hub.names import SURROGATES

#: Deepest nesting of arrays and objects accepted (real bodies here use 3).
MAX_DEPTH = 32
#: Default body size limit; a route may pass its own to `accepts`.
MAX_BYTES = 1 << 20
#: The attribute of a handler that names its body model (read by the OpenAPI generator).
BODY_ATTR = "request_body"

M = TypeVar("M", bound=BaseModel)
H = TypeVar("H", bound=Callable[..., Awaitable[web.StreamResponse]])
_BODY = web.RequestKey("httpkit_body", BaseModel)
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = bytes(range(256)).translate(None, b"[]{}")


def too_deep(raw: bytes, limit: int = MAX_DEPTH) -> bool:
    """Whether arrays and objects in `raw` nest deeper than `limit`, decided without parsing
    (strings are skipped, so brackets inside them do not count)."""
    brackets = _STRING.sub(b"", raw).translate(None, _BRACKETS)
    if brackets.count(b"[") + brackets.count(b"{") <= limit:
        return False
    depth = 0
    for byte in brackets:
        depth += 1 if byte in b"[{" else -1
        if depth > limit:
            return True
    return False


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_object(raw: bytes | str, max_depth: int = MAX_DEPTH) -> dict[str, Any]:
    """`raw` as a JSON object, or a 400 saying why not (too deep, not UTF-8, malformed, not an object)."""
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    if not data.strip():
        raise error(400, "a JSON object body is required")
    if too_deep(data, max_depth):
        raise error(400, f"JSON nested deeper than {max_depth} levels")
    try:
        value = json.loads(data.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError as exc:
        raise error(400, f"body is not UTF-8: {exc.reason}") from exc
    except ValueError as exc:  # JSONDecodeError, too many digits, NaN
        raise error(400, f"malformed JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise error(400, "expected a JSON object")
    _check_storable(value, "")
    return value


def _check_storable(value: Any, where: str) -> None:
    """Refuse what the database cannot store, anywhere in the body (unknown fields too): lone
    surrogates in any string, and keys with a NUL byte or a leading `$`."""
    items: Any = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        path = f"{where}.{key}" if where else str(key)
        if any(isinstance(s, str) and SURROGATES.search(s) for s in (key, item)):
            raise error(422, f"{path}: text must be valid Unicode (no lone surrogates)")
        if isinstance(key, str) and ("\x00" in key or key.startswith("$")):
            raise error(422, f"{path!r}: field names may not contain NUL or start with '$'")
        if isinstance(item, dict | list):
            _check_storable(item, path)


def validate(model: type[M], value: dict[str, Any]) -> M:
    """`value` as a `model`, or a 422 naming each wrong field."""
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        raise error(422, describe(exc)) from exc


def describe(exc: ValidationError, limit: int = 3) -> str:
    """`field.path: what is wrong` for the first few errors (never the rejected value itself)."""
    reasons = []
    for item in exc.errors(include_url=False, include_input=False)[:limit]:
        where = ".".join(str(p) for p in item["loc"]) or "body"
        reasons.append(f"{where}: {item['msg'].removeprefix('Value error, ')}")
    more = exc.error_count() - limit
    return "; ".join(reasons) + (f" (and {more} more)" if more > 0 else "")


async def read_body(request: web.Request, model: type[M], max_bytes: int = MAX_BYTES) -> M:
    """The request's body validated as `model` (size, depth, JSON object, schema: see the module doc)."""
    return validate(model, await read_object(request, max_bytes))


async def read_object(request: web.Request, max_bytes: int = MAX_BYTES) -> dict[str, Any]:
    """The request's body as a JSON object, size- and depth-limited, without a schema (provider webhooks)."""
    if request.content_length is not None and request.content_length > max_bytes:
        raise error(413, f"bodies here are limited to {max_bytes} bytes")
    raw = await request.read()
    if len(raw) > max_bytes:
        raise error(413, f"bodies here are limited to {max_bytes} bytes")
    return parse_object(raw)


def accepts(model: type[BaseModel], *, max_bytes: int = MAX_BYTES) -> Callable[[H], H]:
    """Validate the JSON body as `model` before the handler runs; the handler reads it with `body_of`.

    Works on plain handlers and on methods (the request is the last positional argument).
    Place it below `@requires(...)`, so that a caller without a session learns that first.
    """

    def decorate(handler: H) -> H:
        @wraps(handler)
        async def wrapper(*args: Any) -> web.StreamResponse:
            request: web.Request = args[-1]
            request[_BODY] = await read_body(request, model, max_bytes)
            return await handler(*args)

        wrapper.__dict__[BODY_ATTR] = model
        return wrapper  # type: ignore[return-value]

    return decorate


def body_of(request: web.Request, model: type[M]) -> M:
    """The validated body of a handler decorated with `@accepts(model)`."""
    body = request[_BODY]
    if not isinstance(body, model):
        raise TypeError(f"the handler accepts {type(body).__name__}, not {model.__name__}")
    return body


def fields_of(request: web.Request) -> dict[str, Any]:
    """The validated body as a dict of the fields the client sent (absent fields stay absent, so a
    handler's `body.get(name, default)` keeps its meaning)."""
    return request[_BODY].model_dump(exclude_unset=True)


def request_model(handler: Any) -> type[BaseModel] | None:
    """The body model `@accepts` recorded on a route handler (None: the route takes no JSON body)."""
    model: type[BaseModel] | None = getattr(handler, BODY_ATTR, None)
    return model
