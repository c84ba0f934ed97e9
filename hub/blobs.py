"""Attachment bytes in GridFS, so files live beside the conversations that carry them."""

from __future__ import annotations

from gridfs import AsyncGridFSBucket
from gridfs.errors import NoFile

from hub.store import ObjectId, Store


class BlobStore:
    def __init__(self, store: Store) -> None:
        self.bucket = AsyncGridFSBucket(store.db, bucket_name="attachments")

    async def put(self, filename: str, content_type: str, data: bytes) -> str:
        blob_id = await self.bucket.upload_from_stream(filename, data, metadata={"content_type": content_type})
        return str(blob_id)

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
