"""Files over HTTP, for the desk and the channels: reading an upload, headers for a download.

Uploads come from browsers: the name is reduced to a base name (a client's path never
reaches storage), a percent-encoded name is decoded (RFC 7578 allows it, aiohttp's client
does it), the size is enforced while reading, and other form fields come back as text.
A malformed form (no boundary, a broken part) is a 400 with a reason, never a 500.
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass, field
from pathlib import PurePath
from urllib.parse import unquote

from aiohttp import BodyPartReader, hdrs, web

FILE_FIELD = "file"


class UploadError(Exception):
    """The upload is not acceptable; `status` is the HTTP status to answer with."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class Upload:
    filename: str
    content_type: str
    data: bytes
    #: The form's other (text) fields, e.g. a client id or a caption.
    fields: dict[str, str] = field(default_factory=dict)


async def read_upload(request: web.Request, max_bytes: int, max_field_chars: int = 10_000) -> Upload:
    """The one file in field `file` (plus text fields), or `UploadError` saying what is wrong."""
    if not request.content_type.startswith("multipart/"):
        raise UploadError(400, f"send the file as multipart/form-data in a field named {FILE_FIELD!r}")
    try:
        return await _read_form(request, max_bytes, max_field_chars)
    except (ValueError, LookupError, AssertionError, UnicodeError) as exc:
        # aiohttp's multipart reader reports a missing or bad boundary and broken parts this way.
        raise UploadError(400, f"malformed multipart/form-data: {exc}") from exc


async def _read_form(request: web.Request, max_bytes: int, max_field_chars: int) -> Upload:
    reader = await request.multipart()
    fields: dict[str, str] = {}
    upload: Upload | None = None
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            raise UploadError(400, "nested multipart bodies are not accepted")
        if part.name == FILE_FIELD and part.filename is not None:
            if upload is not None:
                raise UploadError(400, "one file per request")
            upload = await _read_file(part, max_bytes)
        elif part.name:
            text = (await part.read(decode=True)).decode("utf-8", errors="replace")
            if len(text) > max_field_chars:
                raise UploadError(413, f"field {part.name!r} is longer than {max_field_chars} characters")
            fields[part.name] = text
    if upload is None:
        raise UploadError(400, f"no file in a field named {FILE_FIELD!r}")
    return Upload(upload.filename, upload.content_type, upload.data, fields)


async def _read_file(part: BodyPartReader, max_bytes: int) -> Upload:
    filename = PurePath(unquote(part.filename or "").replace("\\", "/")).name[:200] or "attachment"
    content_type = (part.headers.get(hdrs.CONTENT_TYPE) or mimetypes.guess_type(filename)[0]
                    or "application/octet-stream")
    data = bytearray()
    while chunk := await part.read_chunk(1 << 16):
        data += chunk
        if len(data) > max_bytes:
            raise UploadError(413, f"files are limited to {max_bytes} bytes")
    if not data:
        raise UploadError(400, "the file is empty")
    return Upload(filename, content_type, bytes(data))


def file_headers(filename: str, *, inline: bool = False) -> dict[str, str]:
    """Headers for serving a stored file: a name safe inside the quoted header, no type
    sniffing, no shared caches. `inline` only where the content type is checked (MMS media)."""
    safe = "".join(c for c in filename if c.isalnum() or c in "._- ")[:120] or "attachment"
    return {"Content-Disposition": f'{"inline" if inline else "attachment"}; filename="{safe}"',
            "X-Content-Type-Options": "nosniff", "Cache-Control": "private"}
