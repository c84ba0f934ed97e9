"""A local stand-in of the Slack Web API and file host: real HTTP on 127.0.0.1, Slack's JSON shapes.

It checks the bot token like Slack does (`invalid_auth` with HTTP 200), records
every call, and can be told to answer the next calls of a method with a failure
(429 with Retry-After, 5xx, or an `ok: false` error).

File uploads follow Slack's external upload flow (what slack-sdk's `files_upload_v2`
does): `files.getUploadURLExternal` hands out an `upload_url` on this server and a file
id, the bytes are POSTed there (raw or multipart; `fail_next("upload", ...)` fails that
step), and `files.completeUploadExternal` shares the uploaded files in a channel, the
one step that posts. Each completed share is recorded in `shared` and `file_posts`.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import BodyPartReader, web
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
        #: Slack's per-file limit; `files.getUploadURLExternal` refuses a larger `length`.
        self.max_upload_bytes = 1024 * 1024 * 1024
        self.uploads: dict[str, Upload] = {}
        self.shared: list[SharedFiles] = []
        self.file_posts: asyncio.Queue[SharedFiles] = asyncio.Queue()
        self._ts = itertools.count(1)
        self._file_ids = itertools.count(1)
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_get("/files-pri/{tail:.*}", self._file)
        app.router.add_post("/upload/v1/{file_id}", self._upload)
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
            return {"ok": True, "channel": body["channel"], "ts": ts, "message": message,
                    "response_metadata": {"warnings": []}}
        if method == "files.getUploadURLExternal":
            return self._upload_url(body)
        if method == "files.completeUploadExternal":
            return self._complete(body)
        return {"ok": False, "error": "unknown_method"}

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
