"""Keeps the embedded database running: notices its exit, restarts it with backoff, or gives up.

Without this a crashed `secantusd-py` child left the hub answering 503 for ever. The
server is restarted on the same port and data directory, so the hub's driver
reconnects by itself. If it cannot be brought back within `give_up_seconds`, the
`on_give_up` callback (the `serve` command: exit non-zero, so systemd or Docker
restarts the whole process) gets a one-line reason; `/healthz` reports each state.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from switchboard.embedded import EmbeddedError, EmbeddedServer

log = logging.getLogger(__name__)

State = Literal["ok", "restarting", "down"]


@dataclass
class DatabaseStatus:
    """What `/healthz` reports about the embedded database."""

    state: State = "ok"
    #: The restart attempt in progress (1 = the first), while restarting or after giving up.
    attempt: int = 0
    #: When the database was found dead (restarting, down).
    since: datetime | None = None
    last_error: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The public part (`/healthz` is unauthenticated: the error, with its paths, goes to the log only)."""
        doc: dict[str, Any] = {"database": self.state}
        if self.state != "ok":
            doc["attempt"] = self.attempt
            doc["since"] = self.since.isoformat() if self.since else None
        return doc


class DatabaseSupervisor:
    def __init__(self, server: EmbeddedServer, give_up_seconds: float = 120.0,
                 on_give_up: Callable[[str], None] | None = None,
                 first_delay: float = 0.25, max_delay: float = 5.0) -> None:
        self.server = server
        self.give_up_seconds = give_up_seconds
        self.on_give_up = on_give_up
        self.first_delay = first_delay
        self.max_delay = max_delay
        self.status = DatabaseStatus()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Watch the running server (call after its first successful start)."""
        self._task = asyncio.create_task(self._run(), name="embedded-database-supervisor")

    async def stop(self) -> None:
        """Stop watching (before stopping the server on purpose)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        try:
            while True:
                code = await self.server.wait_exit()
                log.error("the embedded database (secantusd-py) exited with status %s; restarting it", code)
                if not await self._restart():
                    return
        except Exception as exc:  # a bug here must not leave the hub silently without a database
            log.exception("the embedded database supervisor failed")
            self.status.last_error = f"supervisor failed: {exc!r}"
            self._give_up()

    async def _restart(self) -> bool:
        """Restart attempts with exponential backoff until one works (True) or time is up (False)."""
        loop = asyncio.get_running_loop()
        began = loop.time()
        self.status = DatabaseStatus("restarting", attempt=0, since=datetime.now(UTC))
        delay = self.first_delay
        while True:
            self.status.attempt += 1
            remaining = self.give_up_seconds - (loop.time() - began)
            try:
                await self.server.start(startup_seconds=max(1.0, min(60.0, remaining)),
                                        lock_wait_seconds=max(1.0, remaining))
            except (EmbeddedError, OSError) as exc:
                self.status.last_error = str(exc)
                log.warning("embedded database restart attempt %d failed: %s", self.status.attempt, exc)
            else:
                log.warning("the embedded database is back (restart attempt %d)", self.status.attempt)
                self.status = DatabaseStatus()
                return True
            remaining = self.give_up_seconds - (loop.time() - began)
            if remaining <= 0:
                return self._give_up()
            await asyncio.sleep(min(delay, remaining))  # backoff between attempts
            delay = min(self.max_delay, delay * 2)

    def _give_up(self) -> bool:
        self.status.state = "down"
        self.status.since = self.status.since or datetime.now(UTC)
        reason = (f"the embedded database could not be restarted within {self.give_up_seconds:g}s "
                  f"({self.status.attempt} attempts); last error: {self.status.last_error}")
        log.error("%s", reason)
        if self.on_give_up is not None:
            self.on_give_up(reason)
        return False
