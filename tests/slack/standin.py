"""A local stand-in of the Slack Web API and file host: real HTTP on 127.0.0.1, Slack's JSON shapes.

It checks the bot token like Slack does (`invalid_auth` with HTTP 200), records
every call, and can be told to answer the next calls of a method with a failure
(429 with Retry-After, 5xx, or an `ok: false` error).
"""

from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> dict[str, Any]:
    return dict(json.loads((FIXTURES / name).read_text(encoding="utf-8")))


@dataclass
class Call:
    method: str
    http_method: str
    authorization: str | None
    body: dict[str, Any]
    status: int
    ok: bool


@dataclass
class Failure:
    status: int
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)


class SlackStandIn:
    def __init__(self, token: str) -> None:
        self.token = token
        self.calls: list[Call] = []
        self.failures: dict[str, list[Failure]] = {}
        self.users = {"U0CUST0001": fixture("users_info_customer.json"),
                      "U0PARTNR01": fixture("users_info_partner.json")}
        self.files: dict[str, tuple[bytes, str]] = {}
        self.file_requests: list[tuple[str, str | None]] = []
        self.posted: asyncio.Queue[Call] = asyncio.Queue()
        self._ts = itertools.count(1)
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_get("/files-pri/{tail:.*}", self._file)
        self.server = TestServer(app, host="127.0.0.1")

    async def start(self) -> None:
        await self.server.start_server()

    async def close(self) -> None:
        await self.server.close()

    @property
    def base_url(self) -> str:
        return str(self.server.make_url("")).rstrip("/")

    def fail_next(self, method: str, *failures: Failure) -> None:
        self.failures.setdefault(method, []).extend(failures)

    def successful(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method and c.ok]

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        body: dict[str, Any] = dict(request.query)
        if request.can_read_body:
            if request.content_type == "application/json":
                body.update(await request.json())
            else:
                body.update(dict(await request.post()))
        auth = request.headers.get("Authorization")
        pending = self.failures.get(method)
        if pending:
            failure = pending.pop(0)
            self.calls.append(Call(method, request.method, auth, body, failure.status, ok=False))
            if failure.body is None:
                return web.Response(status=failure.status, text="<html>upstream error</html>",
                                    content_type="text/html", headers=failure.headers)
            return web.json_response(failure.body, status=failure.status, headers=failure.headers)
        if auth != f"Bearer {self.token}":
            self.calls.append(Call(method, request.method, auth, body, 200, ok=False))
            return web.json_response({"ok": False, "error": "invalid_auth"})
        answer = self._answer(method, body)
        call = Call(method, request.method, auth, body, 200, ok=bool(answer.get("ok")))
        self.calls.append(call)
        if method == "chat.postMessage" and call.ok:
            self.posted.put_nowait(call)
        return web.json_response(answer)

    def _answer(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        if method == "auth.test":
            return fixture("auth_test.json")
        if method == "users.info":
            return self.users.get(str(body.get("user")), {"ok": False, "error": "user_not_found"})
        if method == "chat.postMessage":
            if not body.get("channel"):
                return {"ok": False, "error": "channel_not_found"}
            if not body.get("text") and not body.get("blocks"):
                return {"ok": False, "error": "no_text"}
            ts = f"1718970000.{next(self._ts):06d}"
            message = {"user": "U0SBBOT001", "type": "message", "ts": ts, "bot_id": "B0SBBOT001",
                       "app_id": "A0SWITCHB1", "text": body.get("text", ""), "team": "T0SHOP0001"}
            if body.get("thread_ts"):
                message["thread_ts"] = body["thread_ts"]
            if body.get("blocks"):
                message["blocks"] = body["blocks"]
            return {"ok": True, "channel": body["channel"], "ts": ts, "message": message,
                    "response_metadata": {"warnings": []}}
        return {"ok": False, "error": "unknown_method"}

    async def _file(self, request: web.Request) -> web.Response:
        path = "/files-pri/" + request.match_info["tail"]
        auth = request.headers.get("Authorization")
        self.file_requests.append((path, auth))
        if auth != f"Bearer {self.token}":
            # What files.slack.com does without a valid token: its sign-in page, status 200.
            return web.Response(text="<!DOCTYPE html><html><body>Sign in to Slack</body></html>",
                                content_type="text/html")
        if path not in self.files:
            return web.Response(status=404, text="file_not_found")
        data, content_type = self.files[path]
        return web.Response(body=data, content_type=content_type)
