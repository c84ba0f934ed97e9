"""Attachment bytes in GridFS, so files live beside the conversations that carry them."""

from __future__ import annotations

from typing import Any

from gridfs import AsyncGridFSBucket
from gridfs.errors import NoFile

from hub.store import Doc, ObjectId, Store


class BlobStore:
    def __init__(self, store: Store) -> None:
        self.bucket = AsyncGridFSBucket(store.db, bucket_name="attachments")
        self.files = store.db["attachments.files"]

    async def put(self, filename: str, content_type: str, data: bytes, **metadata: Any) -> str:
        """Store a file; `metadata` (e.g. the ticket an agent uploaded it for) is kept beside it."""
        blob_id = await self.bucket.upload_from_stream(
            filename, data, metadata={"content_type": content_type, **metadata}
        )
        return str(blob_id)

    async def info(self, blob_id: str) -> Doc | None:
        """A stored file's description without its bytes: filename, length, metadata."""
        if not ObjectId.is_valid(blob_id):
            return None
        return await self.files.find_one({"_id": ObjectId(blob_id)}, projection={"filename": 1, "length": 1,
                                                                                  "metadata": 1})

    async def get(self, blob_id: str) -> tuple[bytes, str, str] | None:
        """(data, filename, content type) or None."""
        if not ObjectId.is_valid(blob_id):
            return None
        try:
            stream = await self.bucket.open_download_stream(ObjectId(blob_id))
        except NoFile:
            return None
        data = await stream.read()
        meta = stream.metadata or {}
        return data, stream.filename or "attachment", str(meta.get("content_type", "application/octet-stream"))

    async def delete(self, blob_id: str) -> bool:
        """Remove a file and its bytes (erasure, retention); False if it was not there."""
        if not ObjectId.is_valid(blob_id):
            return False
        try:
            await self.bucket.delete(ObjectId(blob_id))
        except NoFile:
            return False
        return True
