"""Outbound SMS through the official twilio SDK's async REST client, at a configurable API base URL.

The SDK builds `https://api.twilio.com/2010-04-01/...` URLs itself; `RebasedHttpClient`
is the SDK's documented extension point (an `AsyncHttpClient` given to `Client`),
wrapping the SDK's own aiohttp transport and only moving requests to the configured
base URL (a regional edge, a test stand-in). It also notes each response's
`Retry-After`, which the SDK's exceptions do not carry, so a 429 is retried when
Twilio asks. `rebase` is also how customers' MMS media and recordings are fetched
(`inbound_media.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http import AsyncHttpClient
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response

from hub.models import SendError

if TYPE_CHECKING:
    from twilio.rest import Client

log = logging.getLogger(__name__)

#: Twilio error codes that mean "this recipient does not want (or cannot get) our texts".
UNSUBSCRIBED = 21610
PERMANENT_RECIPIENT_ERRORS = {21211: "invalid 'To' number", 21614: "'To' is not a mobile number",
                              21612: "cannot route to this number", 21408: "region not enabled"}


class RecipientOptedOut(SendError):
    """Twilio refused because the recipient texted STOP to this number (error 21610)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, transient=False)


@dataclass
class _Seen:
    """What the transport saw of the last response within one send (per task, via a ContextVar)."""

    status: int | None = None
    retry_after: float | None = None


_seen: contextvars.ContextVar[_Seen | None] = contextvars.ContextVar("twilio_last_response", default=None)


def rebase(url: str, base_url: str) -> str:
    """`url`'s path and query on `base_url` (scheme, host, port and path prefix) instead of its own host."""
    base = urlsplit(base_url.rstrip("/"))
    parts = urlsplit(url)
    return urlunsplit((base.scheme, base.netloc, base.path + parts.path, parts.query, ""))


class RebasedHttpClient(AsyncHttpClient):
    """Sends the SDK's requests to `base_url` instead of the `*.twilio.com` host it built."""

    def __init__(self, transport: AsyncTwilioHttpClient, base_url: str) -> None:
        super().__init__(logger=log, is_async=True, timeout=None)
        self._transport = transport
        self._base_url = base_url

    def rebase(self, url: str) -> str:
        return rebase(url, self._base_url)

    async def request(
        self,
        method: str,
        uri: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - the SDK's HttpClient interface passes it
        allow_redirects: bool = False,
    ) -> Response:
        response = await self._transport.request(method, self.rebase(uri), params=params, data=data,
                                                 headers=headers, auth=auth, timeout=timeout,
                                                 allow_redirects=allow_redirects)
        seen = _seen.get()
        if seen is not None:
            seen.status = response.status_code
            seen.retry_after = _retry_after(response.headers)
        return response

    async def close(self) -> None:
        await self._transport.close()


class TwilioMessages:
    """`messages.create_async`, and the list a retry looks in, with Twilio's failures mapped onto the
    outbox's transient/permanent split."""

    def __init__(self, account_sid: str, auth_token: str, api_base_url: str, timeout_seconds: float) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.api_base_url = api_base_url
        self.timeout_seconds = timeout_seconds
        self._http: RebasedHttpClient | None = None
        self._client: Client | None = None

    async def start(self) -> None:
        """Build the client inside the running loop (the SDK's transport opens an aiohttp session)."""
        from twilio.rest import Client

        self._http = RebasedHttpClient(AsyncTwilioHttpClient(), self.api_base_url)
        self._client = Client(self.account_sid, self.auth_token, account_sid=self.account_sid,
                              http_client=self._http)

    async def stop(self) -> None:
        if self._http is not None:
            await self._http.close()
        self._http = self._client = None

    async def send(self, to: str, from_: str, body: str, status_callback: str | None,
                   media_urls: Sequence[str] = ()) -> str:
        """Create one message (an MMS when `media_urls` are given: text and files in one call); its SID."""
        extra: dict[str, Any] = {"status_callback": status_callback} if status_callback else {}
        if media_urls:
            extra["media_url"] = list(media_urls)  # the SDK posts one `MediaUrl` field per URL
        if body or not media_urls:
            extra["body"] = body  # a files-only MMS has no Body at all
        async with self._call() as client:
            message = await client.messages.create_async(to=to, from_=from_, **extra)
        return str(message.sid)

    async def recent(self, to: str, from_: str, limit: int) -> list[SentMessage]:
        """The newest messages Twilio holds from `from_` to `to`, newest first, at most `limit` (one page).

        No date filter: Twilio filters only on the date *sent*, which a message still queued does not have."""
        async with self._call() as client:
            found = await client.messages.list_async(to=to, from_=from_, limit=limit, page_size=limit)
        return [SentMessage(sid=str(m.sid), body=m.body or "", status=str(m.status or ""), created=m.date_created)
                for m in found]

    @contextlib.asynccontextmanager
    async def _call(self) -> AsyncIterator[Client]:
        """The client, with Twilio's failures mapped onto `SendError` (and `Retry-After` kept)."""
        if self._client is None:
            raise SendError("the phone channel has not started", transient=True)
        seen = _Seen()
        token = _seen.set(seen)
        try:
            async with asyncio.timeout(self.timeout_seconds):
                yield self._client
        except (TwilioRestException, TwilioServiceException) as exc:
            raise classify(exc, seen.retry_after) from exc
        except TwilioException as exc:  # a list page refused: the SDK says only "Unable to fetch page"
            status = seen.status or 0
            reason = f"Twilio {status}: {exc.args[0] if exc.args else exc}"
            raise SendError(reason, transient=status == 429 or status >= 500, retry_after=seen.retry_after) from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise SendError(f"Twilio API unreachable: {type(exc).__name__}: {exc}", transient=True) from exc
        finally:
            _seen.reset(token)


@dataclass(frozen=True)
class SentMessage:
    """A message Twilio holds, as its list answers it."""

    sid: str
    body: str
    status: str
    created: datetime | None


def classify(exc: TwilioRestException | TwilioServiceException, retry_after: float | None) -> SendError:
    """429 and 5xx are worth retrying (after `Retry-After`); other refusals are final."""
    status = int(exc.status)
    code = int(exc.code) if exc.code is not None else None
    detail = getattr(exc, "msg", None) or getattr(exc, "detail", None) or getattr(exc, "title", "")
    reason = f"Twilio {status} (code {code}): {detail}"
    if status == 429 or status >= 500:
        return SendError(reason, transient=True, retry_after=retry_after)
    if code == UNSUBSCRIBED:
        return RecipientOptedOut(f"recipient opted out ({reason})")
    if code in PERMANENT_RECIPIENT_ERRORS:
        return SendError(f"{PERMANENT_RECIPIENT_ERRORS[code]} ({reason})", transient=False)
    return SendError(reason, transient=False)


def _retry_after(headers: Any) -> float | None:
    value = headers.get("Retry-After") if headers is not None else None
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP-date: the outbox's own backoff applies
