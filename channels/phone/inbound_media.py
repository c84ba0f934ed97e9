"""Customers' MMS media and voicemail recordings, downloaded from Twilio so the hub keeps the bytes.

Twilio's webhooks carry only URLs (`MediaUrl{i}`, `RecordingUrl`). Agents can open a file
only once the hub stores it (the pipeline puts `Attachment.data` in GridFS), so the phone
webhooks fetch each file *before* ingesting the message and pass the bytes along; the
Twilio URL stays on the attachment.

- **Where.** A URL on `https://api.twilio.com` is fetched through `api_base_url` (the same
  rebasing the SDK's requests get, `channels.phone.rest.rebase`): a regional edge, or the
  tests' stand-in.
- **Credentials.** HTTP Basic AccountSid:AuthToken (needed when the account enables "HTTP
  Basic Authentication for media access") goes only to the origins in
  `credential_origins`: `https://api.twilio.com` and the scheme, host and port of
  `api_base_url`. Any other origin, such as the CDN Twilio redirects media to (whose links
  are presigned), or a URL on a host we do not know, is fetched without it. Redirects are
  followed by hand (at most `MAX_REDIRECTS`) so that this is decided again at every hop;
  no cookies are kept.
- **Limits.** At most `max_bytes` per file (the announced Content-Length, then the bytes
  actually read) and `timeout_seconds` per file, redirects included; the files of one
  message are fetched concurrently, so a webhook waits about one timeout at worst.
- **Failures never lose the message.** A file that cannot be fetched is kept as its URL
  only, and `Fetched.dropped` says why (for `metadata["dropped_attachments"]`, which the
  desk shows as "not stored: <file> (<reason>)").
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import aiohttp
from yarl import URL

from channels.phone.rest import rebase
from hub.models import Attachment

log = logging.getLogger(__name__)

TWILIO_API = URL("https://api.twilio.com")
MAX_REDIRECTS = 5
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_CHUNK = 64 * 1024


class DownloadFailed(Exception):
    """A file could not be fetched; `reason` is shown to agents."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Fetched:
    """The attachments to ingest (with `data` when fetched) and, for the others, why not."""

    attachments: tuple[Attachment, ...]
    dropped: list[dict[str, Any]] = field(default_factory=list)

    def add_to(self, metadata: dict[str, Any]) -> dict[str, Any]:
        """`metadata` with `dropped_attachments` set when some file was kept as a URL only."""
        if self.dropped:
            metadata["dropped_attachments"] = self.dropped
        return metadata


def _origin(url: URL) -> tuple[str, str, int | None]:
    return (url.scheme, (url.host or "").lower(), url.port)


class TwilioMediaFetcher:
    def __init__(self, account_sid: str, auth_token: str, api_base_url: str, *, max_bytes: int,
                 timeout_seconds: float) -> None:
        self.api_base_url = api_base_url.rstrip("/")
        self.max_bytes = max_bytes
        self.timeout_seconds = timeout_seconds
        self._authorization = aiohttp.BasicAuth(account_sid, auth_token).encode()
        #: Where our credentials may go; nowhere else.
        self.credential_origins = frozenset({_origin(TWILIO_API), _origin(URL(self.api_base_url))})
        self._session: aiohttp.ClientSession | None = None

    # -- plumbing -------------------------------------------------------------------------
    def _http(self) -> aiohttp.ClientSession:
        """One session for the channel's lifetime, made on first use (inside the running loop)."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar(),
                                                  timeout=aiohttp.ClientTimeout(total=None))
        return self._session

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
        self._session = None

    def target(self, url: URL) -> URL:
        """Where to fetch `url`: Twilio's API host moves to `api_base_url`, any other host stays."""
        if _origin(url) == _origin(TWILIO_API):
            return URL(rebase(str(url), self.api_base_url), encoded=True)
        return url

    def sends_credentials(self, url: URL) -> bool:
        return _origin(url) in self.credential_origins

    # -- downloads ------------------------------------------------------------------------
    async def download(self, url: str) -> bytes:
        """The file's bytes (redirects followed, size and time bounded), or DownloadFailed with a reason."""
        try:
            async with asyncio.timeout(self.timeout_seconds):
                return await self._follow(URL(url))
        except TimeoutError as exc:
            raise DownloadFailed(f"no answer within {self.timeout_seconds:g} s") from exc
        except aiohttp.ClientError as exc:
            raise DownloadFailed(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__) from exc
        except ValueError as exc:  # yarl/aiohttp on a malformed URL or Location
            raise DownloadFailed(f"invalid URL: {exc}") from exc

    async def _follow(self, url: URL) -> bytes:
        current = self.target(url)
        for _hop in range(MAX_REDIRECTS + 1):
            if current.scheme not in ("http", "https") or not current.host:
                raise DownloadFailed("not an http(s) URL")
            headers = {"Authorization": self._authorization} if self.sends_credentials(current) else {}
            async with self._http().get(current, headers=headers, allow_redirects=False) as resp:
                if resp.status in _REDIRECT_STATUSES:
                    location = resp.headers.get("Location")
                    if not location:
                        raise DownloadFailed(f"HTTP {resp.status} without a Location")
                    current = self.target(current.join(URL(location)))
                    continue
                if resp.status != 200:
                    raise DownloadFailed(f"HTTP {resp.status}")
                if resp.content_length is not None and resp.content_length > self.max_bytes:
                    raise DownloadFailed(self._too_large())
                data = bytearray()
                async for chunk in resp.content.iter_chunked(_CHUNK):
                    data += chunk
                    if len(data) > self.max_bytes:
                        raise DownloadFailed(self._too_large())
                return bytes(data)
        raise DownloadFailed(f"more than {MAX_REDIRECTS} redirects")

    def _too_large(self) -> str:
        return f"larger than the {self.max_bytes} byte limit"

    async def fetch(self, attachments: Sequence[Attachment], *, fetch_from: Sequence[str] | None = None) -> Fetched:
        """Each attachment with its bytes, fetched from its `url` (or the matching `fetch_from` URL)."""
        sources = list(fetch_from) if fetch_from is not None else [a.url or "" for a in attachments]
        results = await asyncio.gather(*(self._one(a, src) for a, src in zip(attachments, sources, strict=True)))
        return Fetched(tuple(a for a, _ in results), [d for _, d in results if d is not None])

    async def _one(self, attachment: Attachment, source: str) -> tuple[Attachment, dict[str, Any] | None]:
        try:
            if not source:
                raise DownloadFailed("no URL")
            data = await self.download(source)
        except DownloadFailed as exc:
            log.warning("phone: %s (%s) not stored: %s; keeping its URL", attachment.filename, attachment.url,
                        exc.reason)
            return self._dropped(attachment, exc.reason)
        except Exception as exc:  # a bug here must not cost the customer's message: keep the URL
            log.exception("phone: downloading %s (%s) failed unexpectedly", attachment.filename, attachment.url)
            return self._dropped(attachment, f"download failed ({type(exc).__name__})")
        return replace(attachment, data=data, size=len(data)), None

    @staticmethod
    def _dropped(attachment: Attachment, reason: str) -> tuple[Attachment, dict[str, Any]]:
        return replace(attachment, data=None), {"filename": attachment.filename,
                                                "content_type": attachment.content_type,
                                                "url": attachment.url, "reason": reason}
