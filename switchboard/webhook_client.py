"""The HTTP adapter of hub.webhooks' `WebhookTransport` port: one aiohttp client session for all deliveries."""

from __future__ import annotations

import aiohttp

from hub.models import SendError

TIMEOUT_SECONDS = 10.0


class AiohttpWebhookTransport:
    """POSTs a signed body and returns the status. Redirects are not followed (a receiver that
    moved must be re-registered), and a receiver's answer body is never read beyond its status."""

    def __init__(self, timeout_seconds: float = TIMEOUT_SECONDS) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._session: aiohttp.ClientSession | None = None

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        try:
            async with self._session.post(url, data=body, headers=headers, allow_redirects=False) as response:
                return response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise SendError(f"no answer: {type(exc).__name__}: {exc}", transient=True) from exc

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
