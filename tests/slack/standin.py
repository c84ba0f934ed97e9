"""A local stand-in of the Slack Web API and file host: real HTTP on 127.0.0.1, Slack's JSON shapes.

It checks the bot token like Slack does (`invalid_auth` with HTTP 200), records
every call, and can be told to answer the next calls of a method with a failure
(429 with Retry-After, 5xx, or an `ok: false` error), or to hold its answers back until released.

File uploads follow Slack's external upload flow (what slack-sdk's `files_upload_v2`
does): `files.getUploadURLExternal` hands out an `upload_url` on this server and a file
id, the bytes are POSTed there (raw or multipart; `fail_next("upload", ...)` fails that
step), and `files.completeUploadExternal` shares the uploaded files in a channel, the
one step that posts. Each completed share is recorded in `shared` and `file_posts`.

What `chat.postMessage` posted (with its `metadata`) can be read back with
`conversations.history` and `conversations.replies` (`oldest`, `limit`, cursor, and the metadata
only with `include_all_metadata`, as Slack does). `Failure(after_accepting=True)` carries the call
out and fails only its answer: a post Slack accepted whose answer was lost.

Socket Mode: `apps.connections.open` takes only the app-level token (a bot token gets
`not_allowed_token_type`, anything else `invalid_auth`) and hands out a single-use
`ws://127.0.0.1:<port>/link/?ticket=...` URL. The WebSocket there says `hello`, then sends
what the test asks for (`send_envelope`: `events_api` or `interactive` envelopes shaped like
Slack's; `disconnect`; `drop` closes the connection from this side), and records every frame
the app sends back: acknowledgements are awaited with `ack(envelope_id)`.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import BodyPartReader, WSMsgType, web
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
class Upload:
    """A file announced with `files.getUploadURLExternal`; `data` once its bytes were POSTed."""

    file_id: str
    filename: str
    length: int
    data: bytes | None = None
    authorization: str | None = None
    completed: bool = False


@dataclass
class SharedFiles:
    """One successful `files.completeUploadExternal`: what was posted, and where."""

    files: list[dict[str, Any]]
    uploads: list[Upload]
    channel_id: str | None
    thread_ts: str | None
    initial_comment: str | None
    authorization: str | None


@dataclass
class SocketConnection:
    """One Socket Mode WebSocket the app opened, numbered from 1 in the order they were opened."""

    number: int
    ws: web.WebSocketResponse
    #: Every JSON frame the app sent on this connection, in order.
    received: list[dict[str, Any]] = field(default_factory=list)
    closed: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class Ack:
    """An acknowledgement the app sent: `{"envelope_id": ...}` plus an optional `payload`."""

    envelope_id: str
    frame: dict[str, Any]
    connection: int


@dataclass
class Hold:
    """Calls of one Web API method wait, once they `arrived`, until the test releases them."""

    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    released: asyncio.Event = field(default_factory=asyncio.Event)

    def release(self) -> None:
        self.released.set()


@dataclass
class Failure:
    status: int
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    #: The call is carried out (a message posted) and only its answer fails: an answer lost on the way back.
    after_accepting: bool = False


class SlackStandIn:
    def __init__(self, token: str, app_token: str) -> None:
        self.token = token
        self.app_token = app_token
        self.calls: list[Call] = []
        self.failures: dict[str, list[Failure]] = {}
        self.holds: dict[str, Hold] = {}
        self.users = {"U0CUST0001": fixture("users_info_customer.json"),
                      "U0PARTNR01": fixture("users_info_partner.json")}
        self.files: dict[str, tuple[bytes, str]] = {}
        self.file_requests: list[tuple[str, str | None]] = []
        self.posted: asyncio.Queue[Call] = asyncio.Queue()
        #: What `chat.postMessage` posted, per channel, with its metadata (read by `conversations.*`).
        self.channel_messages: dict[str, list[dict[str, Any]]] = {}
        #: Slack's per-file limit; `files.getUploadURLExternal` refuses a larger `length`.
        self.max_upload_bytes = 1024 * 1024 * 1024
        self.uploads: dict[str, Upload] = {}
        self.shared: list[SharedFiles] = []
        self.file_posts: asyncio.Queue[SharedFiles] = asyncio.Queue()
        self._ts = itertools.count(1)
        self._file_ids = itertools.count(1)
        #: Socket Mode: tickets handed out by apps.connections.open and not used yet.
        self.tickets: set[str] = set()
        self.connections: list[SocketConnection] = []
        self._opened: asyncio.Queue[SocketConnection] = asyncio.Queue()
        self.acks: list[Ack] = []
        self._acked = asyncio.Condition()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_get("/files-pri/{tail:.*}", self._file)
        app.router.add_post("/upload/v1/{file_id}", self._upload)
        app.router.add_get("/link/", self._socket)
        self.server = TestServer(app, host="127.0.0.1")

    async def start(self) -> None:
        await self.server.start_server()

    async def close(self) -> None:
        for hold in self.holds.values():
            hold.release()
        for connection in self.connections:
            await connection.ws.close()
        await self.server.close()

    @property
    def base_url(self) -> str:
        return str(self.server.make_url("")).rstrip("/")

    def fail_next(self, method: str, *failures: Failure) -> None:
        self.failures.setdefault(method, []).extend(failures)

    def hold(self, method: str) -> Hold:
        """Keep the answers to `method` back until `release()` (to catch the hub mid-request)."""
        hold = self.holds[method] = Hold()
        return hold

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
        hold = self.holds.get(method)
        if hold is not None:
            hold.arrived.set()
            await hold.released.wait()
        pending = self.failures.get(method)
        if pending:
            failure = pending.pop(0)
            if failure.after_accepting:
                self._answer(method, body)
            self.calls.append(Call(method, request.method, auth, body, failure.status, ok=False))
            if failure.body is None:
                return web.Response(status=failure.status, text="<html>upstream error</html>",
                                    content_type="text/html", headers=failure.headers)
            return web.json_response(failure.body, status=failure.status, headers=failure.headers)
        if method == "apps.connections.open":
            answer = self._connections_open(auth)
            self.calls.append(Call(method, request.method, auth, body, 200, ok=bool(answer.get("ok"))))
            return web.json_response(answer)
        if auth != f"Bearer {self.token}":
            self.calls.append(Call(method, request.method, auth, body, 200, ok=False))
            return web.json_response({"ok": False, "error": "invalid_auth"})
        answer = self._answer(method, body)
        call = Call(method, request.method, auth, body, 200, ok=bool(answer.get("ok")))
        self.calls.append(call)
        if method == "chat.postMessage" and call.ok:
            self.posted.put_nowait(call)
        if method == "files.completeUploadExternal" and call.ok:
            self._share(body, auth)
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
            metadata = body.get("metadata")
            if isinstance(metadata, str):  # a form body carries it JSON-encoded (slack-sdk sends JSON)
                metadata = json.loads(metadata)
            self.channel_messages.setdefault(body["channel"], []).append(
                {**message, "metadata": metadata, "_posted_at": time.time()})
            return {"ok": True, "channel": body["channel"], "ts": ts, "message": message,
                    "response_metadata": {"warnings": []}}
        if method in ("conversations.replies", "conversations.history"):
            return self._history(method, body)
        if method == "files.getUploadURLExternal":
            return self._upload_url(body)
        if method == "files.completeUploadExternal":
            return self._complete(body)
        return {"ok": False, "error": "unknown_method"}

    def _history(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        """A channel's messages (`conversations.history`) or one thread's (`conversations.replies`, `ts`),
        from `oldest`, oldest first, `limit` per page with a cursor; metadata only with `include_all_metadata`."""
        channel = str(body.get("channel") or "")
        if channel not in self.channel_messages and not body.get("ts"):
            return {"ok": False, "error": "channel_not_found"}
        messages = self.channel_messages.get(channel, [])
        if method == "conversations.replies":
            messages = [m for m in messages if m.get("thread_ts") == body.get("ts")]
        # Slack's ts is the posting time; the stand-in's are fixed numbers, so `oldest` is held against when
        # each was posted
        oldest = float(body.get("oldest") or 0)
        messages = [m for m in messages if m["_posted_at"] >= oldest]
        start, limit = int(body.get("cursor") or 0), int(body.get("limit") or 100)
        page = messages[start:start + limit]
        with_metadata = str(body.get("include_all_metadata")).lower() in ("true", "1")
        out = [{k: v for k, v in m.items() if not k.startswith("_") and (k != "metadata" or (with_metadata and v))}
               for m in page]
        more = start + limit < len(messages)
        return {"ok": True, "messages": out, "has_more": more,
                "response_metadata": {"next_cursor": str(start + limit) if more else ""}}

    # -- Socket Mode -----------------------------------------------------------------
    def _connections_open(self, auth: str | None) -> dict[str, Any]:
        """A single-use WebSocket URL for the app-level token; Slack's errors for any other token."""
        if not auth:
            return {"ok": False, "error": "not_authed"}
        if auth == f"Bearer {self.token}":
            return {"ok": False, "error": "not_allowed_token_type"}
        if auth != f"Bearer {self.app_token}":
            return {"ok": False, "error": "invalid_auth"}
        ticket = str(uuid.uuid4())
        self.tickets.add(ticket)
        ws_base = self.base_url.replace("http://", "ws://", 1)
        return {"ok": True, "url": f"{ws_base}/link/?ticket={ticket}&app_id=A0SWITCHB1"}

    async def _socket(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        if ticket not in self.tickets:
            return web.Response(status=401, text="invalid or used ticket")
        self.tickets.discard(ticket)
        ws = web.WebSocketResponse()  # answers the client's pings itself
        await ws.prepare(request)
        connection = SocketConnection(number=len(self.connections) + 1, ws=ws)
        self.connections.append(connection)
        await ws.send_json({"type": "hello", "num_connections": 1,
                            "debug_info": {"host": "applink-standin", "build_number": 1,
                                           "approximate_connection_time": 18060},
                            "connection_info": {"app_id": "A0SWITCHB1"}})
        self._opened.put_nowait(connection)
        try:
            async for message in ws:
                if message.type != WSMsgType.TEXT:
                    continue
                frame = json.loads(message.data)
                connection.received.append(frame)
                if isinstance(frame, dict) and frame.get("envelope_id"):
                    async with self._acked:
                        self.acks.append(Ack(str(frame["envelope_id"]), frame, connection.number))
                        self._acked.notify_all()
        finally:
            connection.closed.set()
        return ws

    async def connection(self, timeout: float = 15.0) -> SocketConnection:
        """The next WebSocket the app opens (awaited, in order)."""
        return await asyncio.wait_for(self._opened.get(), timeout)

    @property
    def current(self) -> SocketConnection:
        return next(c for c in reversed(self.connections) if not c.ws.closed)

    async def send_envelope(self, kind: str, payload: dict[str, Any], *, envelope_id: str | None = None,
                            retry_attempt: int = 0, retry_reason: str = "",
                            connection: SocketConnection | None = None) -> str:
        """Deliver `payload` as Slack does in Socket Mode (`events_api` or `interactive`); its envelope id."""
        envelope_id = envelope_id or str(uuid.uuid4())
        envelope: dict[str, Any] = {"envelope_id": envelope_id, "payload": payload, "type": kind,
                                    "accepts_response_payload": False}
        if kind == "events_api":
            envelope.update(retry_attempt=retry_attempt, retry_reason=retry_reason)
        await (connection or self.current).ws.send_json(envelope)
        return envelope_id

    async def disconnect(self, reason: str = "refresh_requested") -> SocketConnection:
        """Tell the app this connection is being recycled, as Slack does before it closes one."""
        connection = self.current
        await connection.ws.send_json({"type": "disconnect", "reason": reason,
                                       "debug_info": {"host": "applink-standin"}})
        return connection

    async def drop(self) -> SocketConnection:
        """Close the current connection from Slack's side, without a `disconnect` first."""
        connection = self.current
        await connection.ws.close()
        return connection

    def acks_of(self, envelope_id: str) -> list[Ack]:
        return [a for a in self.acks if a.envelope_id == envelope_id]

    async def ack(self, envelope_id: str, count: int = 1, timeout: float = 15.0) -> list[Ack]:
        """Wait until the app acknowledged the envelope `count` times; those acknowledgements."""
        async with asyncio.timeout(timeout), self._acked:
            await self._acked.wait_for(lambda: len(self.acks_of(envelope_id)) >= count)
        return self.acks_of(envelope_id)

    # -- files ------------------------------------------------------------------------
    def _upload_url(self, body: dict[str, Any]) -> dict[str, Any]:
        filename = str(body.get("filename") or "")
        try:
            length = int(body.get("length", ""))
        except ValueError:
            return {"ok": False, "error": "invalid_arguments"}
        if not filename or length < 0:
            return {"ok": False, "error": "invalid_arguments"}
        if length > self.max_upload_bytes:
            return {"ok": False, "error": "file_upload_size_restricted"}
        file_id = f"F0UPLOAD{next(self._file_ids):04d}"
        self.uploads[file_id] = Upload(file_id, filename, length)
        return {"ok": True, "upload_url": f"{self.base_url}/upload/v1/{file_id}", "file_id": file_id}

    def _completed_files(self, body: dict[str, Any]) -> list[dict[str, Any]] | None:
        raw = body.get("files")
        try:
            files = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError:
            return None
        if not isinstance(files, list) or not files or not all(isinstance(f, dict) and f.get("id") for f in files):
            return None
        return files

    def _complete(self, body: dict[str, Any]) -> dict[str, Any]:
        files = self._completed_files(body)
        if files is None:
            return {"ok": False, "error": "invalid_arguments"}
        uploads = [self.uploads.get(str(f["id"])) for f in files]
        # Each upload is completed once, and only after its bytes (of the announced length) arrived.
        if any(u is None or u.data is None or u.completed or len(u.data) != u.length for u in uploads):
            return {"ok": False, "error": "file_not_found"}
        return {"ok": True, "files": [{"id": u.file_id, "title": f.get("title") or u.filename, "name": u.filename,
                                       "size": u.length} for f, u in zip(files, uploads, strict=True) if u]}

    def _share(self, body: dict[str, Any], auth: str | None) -> None:
        files = self._completed_files(body) or []
        uploads = [self.uploads[str(f["id"])] for f in files]
        for upload in uploads:
            upload.completed = True
        shared = SharedFiles(files=files, uploads=uploads, channel_id=body.get("channel_id"),
                             thread_ts=body.get("thread_ts"), initial_comment=body.get("initial_comment"),
                             authorization=auth)
        self.shared.append(shared)
        self.file_posts.put_nowait(shared)

    async def _upload(self, request: web.Request) -> web.Response:
        """Slack's upload URL: raw bytes or a multipart file; `OK - <length>` as text/plain."""
        upload = self.uploads.get(request.match_info["file_id"])
        pending = self.failures.get("upload")
        if pending:
            failure = pending.pop(0)
            return web.Response(status=failure.status, text="upload failed", headers=failure.headers)
        if upload is None or upload.completed:
            return web.Response(status=404, text="not found")
        if request.content_type.startswith("multipart/"):
            data = b""
            async for part in await request.multipart():
                if isinstance(part, BodyPartReader) and part.filename:
                    data = await part.read()
                    break
        else:
            data = await request.read()
        upload.data = data
        upload.authorization = request.headers.get("Authorization")
        return web.Response(text=f"OK - {len(data)}", content_type="text/plain")

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
