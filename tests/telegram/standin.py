"""A local stand-in of the Telegram Bot API: real HTTP on 127.0.0.1, Telegram's JSON shapes.

Methods live at `/bot<token>/<method>`, files at `/file/bot<token>/<file_path>`,
like api.telegram.org. Unknown tokens get Telegram's 401; the next calls of a
method can be told to fail (429 with `parameters.retry_after`, 5xx, 400/403).
Uploads (`sendDocument`, `sendMediaGroup`) are read as multipart/form-data the way
the Bot API takes them: a file part named after the parameter, or one named in an
`attach://<name>` reference inside the `media` JSON of an album.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import BodyPartReader, hdrs, web
from aiohttp.test_utils import TestServer

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> dict[str, Any]:
    return dict(json.loads((FIXTURES / name).read_text(encoding="utf-8")))


@dataclass(frozen=True)
class Upload:
    """A file part of a multipart/form-data request."""

    part: str
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class SentDocument:
    """A document Telegram would have posted in the chat: what the customer sees."""

    message_id: int
    chat_id: int
    caption: str | None
    filename: str
    content_type: str
    data: bytes


@dataclass
class Call:
    token: str
    method: str
    params: dict[str, Any]
    status: int
    #: File parts of a multipart request, by part name.
    uploads: dict[str, Upload] = field(default_factory=dict)
    #: For a successful sendDocument/sendMediaGroup: the documents posted, in order.
    documents: list[SentDocument] = field(default_factory=list)
    #: What a successful call answered with (a `Message` for the send methods).
    result: Any = None

    @property
    def ok(self) -> bool:
        return self.status == 200


@dataclass
class Failure:
    status: int
    description: str
    retry_after: int | None = None


@dataclass
class StoredFile:
    file_id: str
    file_unique_id: str
    file_path: str
    data: bytes


@dataclass
class Webhook:
    url: str = ""
    secret_token: str | None = None
    allowed_updates: list[str] = field(default_factory=list)


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class BadRequest(Exception):
    """The Bot API's 400 for the call, with this description."""


class TelegramStandIn:
    def __init__(self, token: str) -> None:
        self.token = token
        self.bot_id = int(token.split(":", 1)[0])
        self.calls: list[Call] = []
        self.file_downloads: list[str] = []
        self.failures: dict[str, list[Failure]] = {}
        self.files: dict[str, StoredFile] = {}
        self.webhook = Webhook()
        self.sent: asyncio.Queue[Call] = asyncio.Queue()
        self._message_ids = itertools.count(100)
        app = web.Application()
        app.router.add_route("*", "/{bottoken:bot[^/]+}/{method}", self._method)
        app.router.add_get("/file/{bottoken:bot[^/]+}/{path:.+}", self._file)
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

    def add_file(self, file_id: str, file_unique_id: str, file_path: str, data: bytes) -> None:
        self.files[file_id] = StoredFile(file_id, file_unique_id, file_path, data)

    def successful(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method and c.ok]

    async def _method(self, request: web.Request) -> web.Response:
        token = request.match_info["bottoken"].removeprefix("bot")
        method = request.match_info["method"]
        params: dict[str, Any] = dict(request.query)
        uploads: dict[str, Upload] = {}
        if request.can_read_body:
            if request.content_type == "application/json":
                params.update(await request.json())
            elif request.content_type == "multipart/form-data":
                uploads = await self._read_multipart(request, params)
            else:
                params.update(dict(await request.post()))
        if token != self.token:
            return self._error(Call(token, method, params, 401, uploads), "Unauthorized")
        pending = self.failures.get(method)
        if pending:
            failure = pending.pop(0)
            return self._error(Call(token, method, params, failure.status, uploads), failure.description,
                               failure.retry_after)
        handler = getattr(self, f"_api_{method}", None)
        if handler is None:
            return self._error(Call(token, method, params, 404, uploads), "Not Found")
        call = Call(token, method, params, 200, uploads)
        try:
            return handler(call)
        except BadRequest as exc:
            return self._error(Call(token, method, params, 400, uploads), f"Bad Request: {exc}")

    @staticmethod
    async def _read_multipart(request: web.Request, params: dict[str, Any]) -> dict[str, Upload]:
        """Form fields into `params`; file parts (those with a filename) returned by part name."""
        uploads: dict[str, Upload] = {}
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader) or part.name is None:
                raise web.HTTPBadRequest(text="nested or unnamed multipart part")
            if part.filename is None:
                params[part.name] = await part.text()
            else:
                uploads[part.name] = Upload(part.name, part.filename,
                                            part.headers.get(hdrs.CONTENT_TYPE, "application/octet-stream"),
                                            bytes(await part.read()))
        return uploads

    def _error(self, call: Call, description: str, retry_after: int | None = None) -> web.Response:
        self.calls.append(call)
        body: dict[str, Any] = {"ok": False, "error_code": call.status, "description": description}
        if retry_after is not None:
            body["parameters"] = {"retry_after": retry_after}
        return web.json_response(body, status=call.status)

    def _ok(self, call: Call, result: Any) -> web.Response:
        call.result = result
        self.calls.append(call)
        return web.json_response({"ok": True, "result": result})

    def _bot_user(self) -> dict[str, Any]:
        return {"id": self.bot_id, "is_bot": True, "first_name": "Shop Support", "username": "shop_support_bot"}

    def _api_getMe(self, call: Call) -> web.Response:
        return self._ok(call, {**self._bot_user(), "can_join_groups": True, "can_read_all_group_messages": False,
                               "supports_inline_queries": False})

    def _message(self, chat_id: int, **content: Any) -> dict[str, Any]:
        return {"message_id": next(self._message_ids), "from": self._bot_user(),
                "chat": {"id": chat_id, "first_name": "Ada", "last_name": "Lovelace",
                         "username": "ada_l", "type": "private"},
                "date": int(time.time()), **content}

    def _api_sendMessage(self, call: Call) -> web.Response:
        text = str(call.params.get("text") or "")
        if not text:
            return self._error(Call(call.token, call.method, call.params, 400), "Bad Request: message text is empty")
        if utf16_len(text) > 4096:
            return self._error(Call(call.token, call.method, call.params, 400), "Bad Request: message is too long")
        message = self._message(int(call.params["chat_id"]), text=text)
        if call.params.get("reply_markup"):
            message["reply_markup"] = json.loads(call.params["reply_markup"])
        response = self._ok(call, message)
        self.sent.put_nowait(call)
        return response

    def _api_sendDocument(self, call: Call) -> web.Response:
        chat_id = int(call.params["chat_id"])
        upload = self._upload(call, "document", call.params.get("document"))
        message = self._document_message(call, chat_id, upload, _caption(call.params.get("caption")))
        if call.params.get("reply_markup"):
            message["reply_markup"] = json.loads(call.params["reply_markup"])
        response = self._ok(call, message)
        self.sent.put_nowait(call)
        return response

    def _api_sendMediaGroup(self, call: Call) -> web.Response:
        chat_id = int(call.params["chat_id"])
        try:
            media = json.loads(str(call.params.get("media") or ""))
        except ValueError as exc:
            raise BadRequest("can't parse media JSON object") from exc
        if not isinstance(media, list) or not 2 <= len(media) <= 10:
            raise BadRequest("wrong number of messages in a media group: it must be 2-10")
        if any(not isinstance(item, dict) or item.get("type") != "document" for item in media):
            raise BadRequest("only documents can be sent in this stand-in's albums")
        uploads = [self._upload(call, None, item.get("media")) for item in media]
        group = f"{next(self._message_ids)}0000"
        messages = [self._document_message(call, chat_id, upload, _caption(item.get("caption")),
                                           media_group_id=group)
                    for item, upload in zip(media, uploads, strict=True)]
        response = self._ok(call, messages)
        self.sent.put_nowait(call)
        return response

    @staticmethod
    def _upload(call: Call, part: str | None, value: Any) -> Upload:
        """The uploaded file a parameter refers to: its own part, or an `attach://<part>` reference."""
        if isinstance(value, str) and value.startswith("attach://"):
            part = value.removeprefix("attach://")
        elif value is not None or part is None:
            raise BadRequest("only files uploaded with multipart/form-data are accepted here")
        upload = call.uploads.get(part)
        if upload is None:
            raise BadRequest(f"file part {part!r} is missing from the request")
        return upload

    def _document_message(self, call: Call, chat_id: int, upload: Upload, caption: str | None,
                          **extra: Any) -> dict[str, Any]:
        message = self._message(chat_id, document={
            "file_id": f"BQACAgQAAxkBAAI{len(self.calls)}-{len(call.documents)}",
            "file_unique_id": f"AgAD{len(self.calls)}{len(call.documents)}", "file_name": upload.filename,
            "mime_type": upload.content_type, "file_size": len(upload.data)}, **extra)
        if caption:
            message["caption"] = caption
        call.documents.append(SentDocument(message["message_id"], chat_id, caption, upload.filename,
                                           upload.content_type, upload.data))
        return message

    def _api_getFile(self, call: Call) -> web.Response:
        stored = self.files.get(str(call.params.get("file_id")))
        if stored is None:
            return self._error(Call(call.token, call.method, call.params, 400), "Bad Request: invalid file_id")
        return self._ok(call, {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id,
                               "file_size": len(stored.data), "file_path": stored.file_path})

    def _api_answerCallbackQuery(self, call: Call) -> web.Response:
        return self._ok(call, True)

    def _api_setWebhook(self, call: Call) -> web.Response:
        allowed = call.params.get("allowed_updates")
        self.webhook = Webhook(url=str(call.params.get("url") or ""), secret_token=call.params.get("secret_token"),
                               allowed_updates=json.loads(allowed) if isinstance(allowed, str) else allowed or [])
        self.calls.append(call)
        return web.json_response({"ok": True, "result": True, "description": "Webhook was set"})

    def _api_getWebhookInfo(self, call: Call) -> web.Response:
        return self._ok(call, {"url": self.webhook.url, "has_custom_certificate": False, "pending_update_count": 0,
                               "max_connections": 40, "ip_address": "149.154.167.220",
                               "allowed_updates": self.webhook.allowed_updates})

    async def _file(self, request: web.Request) -> web.Response:
        token = request.match_info["bottoken"].removeprefix("bot")
        path = request.match_info["path"]
        self.file_downloads.append(path)
        if token != self.token:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        stored = next((f for f in self.files.values() if f.file_path == path), None)
        if stored is None:
            return web.json_response({"ok": False, "error_code": 404, "description": "Not Found"}, status=404)
        return web.Response(body=stored.data, content_type="application/octet-stream")


def _caption(value: Any) -> str | None:
    caption = str(value) if value else None
    if caption is not None and utf16_len(caption) > 1024:
        raise BadRequest("message caption is too long")
    return caption
