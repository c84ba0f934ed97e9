"""A local stand-in for Twilio's Messages API: the same HTTP the official SDK speaks, on 127.0.0.1.

`POST /2010-04-01/Accounts/{AccountSid}/Messages.json`, HTTP Basic auth
AccountSid:AuthToken, a form body with To/From/Body (and one `MediaUrl` field per file for
an MMS, as the SDK sends a list); it answers like Twilio does
(201 and the message resource as JSON, or Twilio's error JSON). Tests script the
answers (`script`) and read what arrived (`requests`, `next_request`). A scripted error
`after_accepting` creates the message first, as when Twilio took it and its answer was lost.
`GET .../Messages.json` lists what was created, newest first, filtered by `To` and `From`
(`lookups` records each list request; `lookup_script` scripts their answers).

It also serves customers' MMS media and call recordings (`serve_media`) at their Twilio
paths (`GET /2010-04-01/Accounts/{AccountSid}/...`), behind the same Basic auth, either
directly or, like Twilio, by a 307 redirect to a presigned link on a CDN: a second server
on another port (another origin), which refuses any `Authorization` header as S3 does
with presigned URLs. `fail_media` makes the next fetches of a path fail; every media
request, on either server, is recorded in `media_requests`.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

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
    #: An error answered after the message was created (Twilio took it; the answer is lost).
    after_accepting: bool = False


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


@dataclass(frozen=True)
class MediaFile:
    data: bytes
    content_type: str
    #: Answer the API request with a redirect to the CDN server (as Twilio does), instead of the bytes.
    via_cdn: bool = False
    #: Send the bytes chunked, without a Content-Length.
    chunked: bool = False


@dataclass(frozen=True)
class MediaRequest:
    #: "api" (the Twilio API origin, `url`) or "cdn" (the CDN origin, `cdn_url`).
    server: str
    path: str
    auth: tuple[str, str] | None
    #: Whether any `Authorization` header came (Basic or not).
    authorization: bool
    answered: int


class TwilioStandIn:
    def __init__(self, account_sid: str, auth_token: str) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.script: list[Answer] = []
        self.requests: list[ApiRequest] = []
        self.created: list[ApiRequest] = []
        #: The message resources created, oldest first (what the list answers).
        self.resources: list[dict[str, Any]] = []
        #: The list requests (their query), and the answers scripted for the next ones.
        self.lookups: list[dict[str, str]] = []
        self.lookup_script: list[Answer] = []
        #: Files served at their Twilio path (`/2010-04-01/Accounts/...`).
        self.media: dict[str, MediaFile] = {}
        #: Statuses the next fetches of a path answer with, in order, before the file is served.
        self.media_failures: dict[str, list[int]] = {}
        self.media_requests: list[MediaRequest] = []
        self._cdn_links: dict[str, str] = {}
        self._arrivals: asyncio.Queue[ApiRequest] = asyncio.Queue()
        self._sids = itertools.count(1)
        self._server: TestServer | None = None
        self._cdn: TestServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.port}"

    @property
    def cdn_url(self) -> str:
        assert self._cdn is not None
        return f"http://127.0.0.1:{self._cdn.port}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/2010-04-01/Accounts/{account_sid}/Messages.json", self.create_message)
        app.router.add_get("/2010-04-01/Accounts/{account_sid}/Messages.json", self.list_messages)
        app.router.add_get("/2010-04-01/Accounts/{account_sid}.json", self.fetch_account)
        app.router.add_get("/2010-04-01/Accounts/{account_sid}/{rest:.+}", self.get_media)
        self._server = TestServer(app, host="127.0.0.1")
        await self._server.start_server()
        cdn = web.Application()
        cdn.router.add_get("/cdn/{token}", self.get_cdn)
        self._cdn = TestServer(cdn, host="127.0.0.1")
        await self._cdn.start_server()

    async def stop(self) -> None:
        for server in (self._server, self._cdn):
            if server is not None:
                await server.close()

    # -- media and recordings ---------------------------------------------------------------
    def serve_media(self, url_or_path: str, data: bytes, content_type: str, *, via_cdn: bool = False,
                    chunked: bool = False) -> str:
        """Serve `data` at the path of a Twilio URL (e.g. a webhook's `MediaUrl0`); returns the path."""
        path = urlsplit(url_or_path).path
        self.media[path] = MediaFile(data, content_type, via_cdn, chunked)
        return path

    def fail_media(self, url_or_path: str, *statuses: int) -> None:
        """The next fetches of this path answer these statuses (one each), then the file is served."""
        self.media_failures.setdefault(urlsplit(url_or_path).path, []).extend(statuses)

    def media_requests_for(self, path: str) -> list[MediaRequest]:
        """The API requests for `path` and the CDN requests they were redirected to."""
        links = {f"/cdn/{token}" for token, target in self._cdn_links.items() if target == path}
        return [r for r in self.media_requests if r.path == path or (r.server == "cdn" and r.path in links)]

    async def get_media(self, request: web.Request) -> web.StreamResponse:
        auth = _basic_auth(request.headers.get("Authorization", ""))
        path = request.path
        failures = self.media_failures.get(path)
        found = self.media.get(path)
        if auth != (self.account_sid, self.auth_token) or request.match_info["account_sid"] != self.account_sid:
            response = web.json_response(fixture("api_error_20003.json"), status=401)
        elif failures:
            status = failures.pop(0)
            response = web.json_response({"code": 20500, "message": "stand-in failure", "status": status},
                                         status=status)
        elif found is None:
            response = web.json_response({"code": 20404, "message": "The requested resource was not found",
                                          "status": 404}, status=404)
        elif found.via_cdn:
            token = secrets.token_hex(8)
            self._cdn_links[token] = path
            response = web.Response(status=307, headers={"Location": f"{self.cdn_url}/cdn/{token}?X-Amz-Signature=x"})
        else:
            return await self._send(request, "api", auth, found)
        self._record("api", request, auth, response.status)
        return response

    async def get_cdn(self, request: web.Request) -> web.StreamResponse:
        auth = _basic_auth(request.headers.get("Authorization", ""))
        target = self._cdn_links.get(request.match_info["token"])
        found = self.media.get(target) if target is not None else None
        if "Authorization" in request.headers:
            # S3 refuses a presigned URL that also carries an Authorization header.
            response = web.Response(status=400, text="Only one auth mechanism allowed")
        elif found is None:
            response = web.Response(status=404, text="NoSuchKey")
        else:
            return await self._send(request, "cdn", auth, found)
        self._record("cdn", request, auth, response.status)
        return response

    def _record(self, server: str, request: web.Request, auth: tuple[str, str] | None, status: int) -> None:
        self.media_requests.append(MediaRequest(server, request.path, auth, "Authorization" in request.headers,
                                                status))

    async def _send(self, request: web.Request, server: str, auth: tuple[str, str] | None,
                    found: MediaFile) -> web.StreamResponse:
        """The file; the request is recorded first (the client may stop reading before the end)."""
        self._record(server, request, auth, 200)
        if not found.chunked:
            return web.Response(body=found.data, content_type=found.content_type)
        response = web.StreamResponse(headers={"Content-Type": found.content_type})
        response.enable_chunked_encoding()
        await response.prepare(request)
        try:
            for start in range(0, len(found.data), 256 * 1024):
                await response.write(found.data[start:start + 256 * 1024])
            await response.write_eof()
        except ConnectionResetError:
            pass  # the client stopped reading (a download over its size limit)
        return response

    async def next_request(self, timeout: float = 10.0) -> ApiRequest:
        """The next request that reached the stand-in (waits on its arrival, bounded)."""
        return await asyncio.wait_for(self._arrivals.get(), timeout)

    def pending(self) -> int:
        return self._arrivals.qsize()

    async def fetch_account(self, request: web.Request) -> web.Response:
        """The account resource (the hub's credential check fetches it); 401 with Twilio's error otherwise."""
        auth = _basic_auth(request.headers.get("Authorization", ""))
        if auth != (self.account_sid, self.auth_token) or request.match_info["account_sid"] != self.account_sid:
            return web.json_response(fixture("api_error_20003.json"), status=401)
        return web.json_response({"sid": self.account_sid, "friendly_name": "Shop support", "status": "active",
                                  "type": "Full", "date_created": "Mon, 01 Jan 2024 00:00:00 +0000",
                                  "uri": f"/2010-04-01/Accounts/{self.account_sid}.json"})

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
        created = answer.status == 201 or answer.after_accepting
        resource = self._resource(form, len(media_urls)) if created else None
        body = answer.body if answer.body is not None else resource
        assert body is not None, "a scripted error needs its body"
        record = ApiRequest(request.method, request.path, request.match_info["account_sid"], auth, form,
                            answer.status, sid=resource["sid"] if resource else None, media_urls=media_urls)
        self.requests.append(record)
        if resource is not None:
            self.created.append(record)
            self.resources.append(resource)
        self._arrivals.put_nowait(record)
        return web.json_response(body, status=answer.status, headers=answer.headers)

    async def list_messages(self, request: web.Request) -> web.Response:
        """Twilio's list of Message resources: one page, newest first, filtered by `To` and `From`."""
        auth = _basic_auth(request.headers.get("Authorization", ""))
        query = dict(request.query)
        self.lookups.append(query)
        if auth != (self.account_sid, self.auth_token) or request.match_info["account_sid"] != self.account_sid:
            return web.json_response(fixture("api_error_20003.json"), status=401)
        if self.lookup_script:
            answer = self.lookup_script.pop(0)
            return web.json_response(answer.body, status=answer.status, headers=answer.headers)
        size = int(query.get("PageSize", "50"))
        found = [r for r in reversed(self.resources)
                 if r["to"] == query.get("To", r["to"]) and r["from"] == query.get("From", r["from"])][:size]
        uri = request.path_qs
        return web.json_response({"messages": found, "start": 0, "end": max(len(found) - 1, 0), "page": 0,
                                  "page_size": size, "uri": uri, "first_page_uri": uri, "next_page_uri": None,
                                  "previous_page_uri": None})

    def _resource(self, form: dict[str, str], num_media: int) -> dict[str, Any]:
        sid = f"SM{next(self._sids):032x}"
        text = json.dumps(fixture("api_message_created.json")).replace("Messages/REPLACED", f"Messages/{sid}")
        resource: dict[str, Any] = json.loads(text)
        resource.update(sid=sid, body=form.get("Body", ""), to=form.get("To", ""), num_media=str(num_media),
                        date_created=format_datetime(datetime.now(UTC)), **{"from": form.get("From", "")})
        return resource


def _basic_auth(header: str) -> tuple[str, str] | None:
    if not header.startswith("Basic "):
        return None
    user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    return user, password
