"""A local stand-in for Twilio's Messages API: the same HTTP the official SDK speaks, on 127.0.0.1.

`POST /2010-04-01/Accounts/{AccountSid}/Messages.json`, HTTP Basic auth
AccountSid:AuthToken, a form body with To/From/Body (and one `MediaUrl` field per file for
an MMS, as the SDK sends a list); it answers like Twilio does
(201 and the message resource as JSON, or Twilio's error JSON). Tests script the
answers (`script`) and read what arrived (`requests`, `next_request`).
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return data


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any] | None = None  # None: a created message resource
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ApiRequest:
    method: str
    path: str
    account_sid: str
    auth: tuple[str, str] | None
    #: The form's fields (for a repeated field, its last value).
    form: dict[str, str]
    answered: int
    #: The message SID the stand-in created (201 answers only).
    sid: str | None = None
    #: Every `MediaUrl` field, in order (Twilio takes up to ten, repeated under the same name).
    media_urls: tuple[str, ...] = ()


class TwilioStandIn:
    def __init__(self, account_sid: str, auth_token: str) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.script: list[Answer] = []
        self.requests: list[ApiRequest] = []
        self.created: list[ApiRequest] = []
        self._arrivals: asyncio.Queue[ApiRequest] = asyncio.Queue()
        self._sids = itertools.count(1)
        self._server: TestServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.port}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/2010-04-01/Accounts/{account_sid}/Messages.json", self.create_message)
        self._server = TestServer(app, host="127.0.0.1")
        await self._server.start_server()

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.close()

    async def next_request(self, timeout: float = 10.0) -> ApiRequest:
        """The next request that reached the stand-in (waits on its arrival, bounded)."""
        return await asyncio.wait_for(self._arrivals.get(), timeout)

    def pending(self) -> int:
        return self._arrivals.qsize()

    async def create_message(self, request: web.Request) -> web.Response:
        posted = await request.post()
        form = {k: str(v) for k, v in posted.items()}
        media_urls = tuple(str(v) for v in posted.getall("MediaUrl", []))
        auth = _basic_auth(request.headers.get("Authorization", ""))
        if auth != (self.account_sid, self.auth_token) or request.match_info["account_sid"] != self.account_sid:
            answer = Answer(401, fixture("api_error_20003.json"))
        elif self.script:
            answer = self.script.pop(0)
        else:
            answer = Answer(201)
        body = answer.body if answer.body is not None else self._resource(form, len(media_urls))
        record = ApiRequest(request.method, request.path, request.match_info["account_sid"], auth, form,
                            answer.status, sid=body.get("sid") if answer.status == 201 else None,
                            media_urls=media_urls)
        self.requests.append(record)
        if answer.status == 201:
            self.created.append(record)
        self._arrivals.put_nowait(record)
        return web.json_response(body, status=answer.status, headers=answer.headers)

    def _resource(self, form: dict[str, str], num_media: int) -> dict[str, Any]:
        sid = f"SM{next(self._sids):032x}"
        text = json.dumps(fixture("api_message_created.json")).replace("Messages/REPLACED", f"Messages/{sid}")
        resource: dict[str, Any] = json.loads(text)
        resource.update(sid=sid, body=form.get("Body", ""), to=form.get("To", ""), num_media=str(num_media),
                        **{"from": form.get("From", "")})
        return resource


def _basic_auth(header: str) -> tuple[str, str] | None:
    if not header.startswith("Basic "):
        return None
    user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    return user, password
