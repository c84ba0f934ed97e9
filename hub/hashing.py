"""Password hashing off the event loop, in a small bounded thread pool.

argon2 is deliberately slow (tens of milliseconds of CPU per hash). Run on the event
loop, a burst of logins stalls every other request of the process; run in an unbounded
pool, a flood still queues unbounded work. So hashing runs in `workers` threads and at
most `max_pending` calls may be queued or running: beyond that `HashingBusy` is raised at
once and the caller answers "try again shortly" instead of piling up.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

T = TypeVar("T")


class HashingBusy(Exception):
    """Too many hash computations are queued already: retry after a moment."""

    retry_after = 1


class HashingPool:
    def __init__(self, workers: int = 2, max_pending: int = 8, hasher: PasswordHasher | None = None) -> None:
        self.hasher = hasher or PasswordHasher()
        self.max_pending = max_pending
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="argon2")
        self._pending = 0
        #: Checked against when the username is unknown, so timing does not reveal which exist.
        self.dummy_hash = self.hasher.hash(secrets.token_urlsafe(16))

    def check_room(self) -> None:
        """Raise `HashingBusy` now if a hash would be refused, before the caller does other work."""
        if self._pending >= self.max_pending:
            raise HashingBusy(f"{self._pending} password checks are queued; try again in a moment")

    @property
    def pending(self) -> int:
        """Hash computations queued or running now."""
        return self._pending

    async def _run(self, fn: Callable[..., T], *args: str) -> T:
        self.check_room()
        self._pending += 1  # only the loop thread touches the counter: no lock needed
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)
        finally:
            self._pending -= 1

    async def hash(self, password: str) -> str:
        return await self._run(self.hasher.hash, password)

    async def verify(self, password_hash: str, password: str) -> bool:
        return await self._run(self._verify, password_hash, password)

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self.hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        return self.hasher.check_needs_rehash(password_hash)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def token_digest(token: str) -> str:
    """How a random bearer secret (session cookie, setup link, pending login, recovery code) is stored:
    its SHA-256, so a database copy holds nothing that can be presented. (Passwords: `HashingPool`.)"""
    return hashlib.sha256(token.encode()).hexdigest()
