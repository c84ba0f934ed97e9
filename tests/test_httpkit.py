"""The body gates of `httpkit.bodies` as pure functions: depth counted on raw bytes, storable text; and the end of a
socket's writing task (`httpkit.sockets`)."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest
from aiohttp import web

from httpkit.bodies import MAX_DEPTH, parse_object, too_deep
from httpkit.sockets import stop_writer


def _reason(exc: web.HTTPException) -> str:
    assert exc.text is not None
    return str(json.loads(exc.text)["error"])


def test_depth_counts_only_structure_not_brackets_in_strings() -> None:
    at_limit = b"[" * MAX_DEPTH + b"]" * MAX_DEPTH
    assert not too_deep(at_limit) and too_deep(b"[" + at_limit + b"]")
    assert not too_deep(json.dumps({"text": "[{" * 500, "quoted": '"[[[[' * 50}).encode())
    # An escaped quote does not end the string, so the brackets after it are still text.
    assert not too_deep(b'{"a": "\\"' + b"[" * 100 + b'"}')
    assert too_deep(b'{"a": ' + b'{"b": ' * MAX_DEPTH + b"1" + b"}" * (MAX_DEPTH + 1))


@pytest.mark.parametrize(("raw", "status", "words"), [
    (b'{"a": "\\ud800"}', 422, "a: text must be valid Unicode"),
    (b'{"a": [{"\\udfff": 1}]}', 422, "a.0.\udfff"),
    (b'{"a": {"b\\u0000c": 1}}', 422, "NUL"),
    (b'{"$where": "1"}', 422, "'$where'"),
    (b"[" * 5_000 + b"]" * 5_000, 400, "nested deeper than 32"),
    (b'{"a": -Infinity}', 400, "malformed JSON"),
])
def test_bodies_the_database_cannot_store_are_refused_with_the_field(raw: bytes, status: int, words: str) -> None:
    with pytest.raises(web.HTTPException) as caught:
        parse_object(raw)
    assert caught.value.status == status
    assert words in _reason(caught.value)


def test_a_valid_body_passes_unchanged() -> None:
    body = {"name": "Zoë 🦊", "nested": [[{"ok": True}]], "n": 2**40, "text": "[not structure]"}
    assert parse_object(json.dumps(body).encode()) == body


async def test_a_writing_task_ends_quietly_however_it_ended(caplog: pytest.LogCaptureFixture) -> None:
    """Running (cancelled), gone under a write (a peer that left), or failed (logged): `stop_writer` returns, so the
    handler's cleanup after it runs."""
    forever = asyncio.Event()

    async def waits() -> None:
        await forever.wait()

    async def raises(exc: Exception) -> None:
        raise exc

    running = asyncio.create_task(waits())
    gone = asyncio.create_task(raises(ConnectionResetError("Cannot write to closing transport")))
    broken = asyncio.create_task(raises(ValueError("a bug")))
    await asyncio.wait([gone, broken])  # both ended before they are stopped
    with caplog.at_level(logging.ERROR, logger="httpkit.sockets"):
        for task in (running, gone, broken, None):
            await stop_writer(task)
    assert running.cancelled() and gone.done() and broken.done()
    assert [r.exc_info[1].args[0] for r in caplog.records if r.exc_info and r.exc_info[1]] == ["a bug"]
