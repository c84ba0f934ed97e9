"""Long bot jobs (training, evaluation) with progress every desk can watch live.

A job is a `training_jobs` document (status, progress 0..1, message) that the REST API
serves, and each progress step is also appended to `events` as a `bot.training` event:
the realtime bus follows `events` with a change stream, so every desk WebSocket, on every
hub process, gets the progress bar moving. Progress reports are coalesced: however
often a backend reports, at most one write is in flight and the newest value wins.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from bot.nlu.base import ProgressCallback
from bot.versions import Author
from hub.models import utcnow
from hub.store import Doc, ObjectId, PyMongoError, Store

log = logging.getLogger(__name__)

JOBS = "training_jobs"
#: Event type of every progress step (and of the final state) of a job.
EVENT_PROGRESS = "bot.training"

RUNNING, SUCCEEDED, FAILED = "running", "succeeded", "failed"

Work = Callable[[ProgressCallback], Awaitable[dict[str, Any]]]
Spawn = Callable[[Coroutine[Any, Any, None], str], None]


@dataclass(frozen=True)
class JobView:
    id: str
    kind: str
    status: str
    progress: float
    message: str
    training_version: int | None
    result: dict[str, Any]
    error: str | None

    @staticmethod
    def from_doc(doc: Doc) -> JobView:
        return JobView(str(doc["_id"]), doc["kind"], doc["status"], float(doc.get("progress", 0.0)),
                       str(doc.get("message", "")), doc.get("training_version"), dict(doc.get("result") or {}),
                       doc.get("error"))

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "status": self.status, "progress": self.progress,
                "message": self.message, "training_version": self.training_version, "result": self.result,
                "error": self.error}


class JobProgress:
    """Progress of one job: a thread-safe callback in, coalesced database writes out."""

    def __init__(self, store: Store, job_id: ObjectId, kind: str, training_version: int | None) -> None:
        self.store = store
        self.job_id = job_id
        self.kind = kind
        self.training_version = training_version
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._pending: tuple[float, str] | None = None
        self._wake = asyncio.Event()
        self._closing = False
        self._last = 0.0
        self._writer = asyncio.create_task(self._write_loop())

    def report(self, fraction: float, message: str) -> None:
        """`ProgressCallback`: callable from any thread (marshalled onto the event loop)."""
        value = min(max(float(fraction), 0.0), 1.0)
        if threading.get_ident() == self._loop_thread:
            self._set(value, str(message))
        else:
            self._loop.call_soon_threadsafe(self._set, value, str(message))

    def scaled(self, start: float, end: float) -> ProgressCallback:
        """A callback mapping a step's own 0..1 onto [start, end] of the job."""
        return lambda fraction, message: self.report(start + (end - start) * fraction, message)

    def _set(self, fraction: float, message: str) -> None:
        self._pending = (fraction, message)
        self._wake.set()

    async def _write_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            pending, self._pending = self._pending, None
            if pending is not None:
                await self._write(RUNNING, *pending)
            if self._closing and self._pending is None:
                return

    async def _write(self, status: str, fraction: float, message: str, **extra: Any) -> None:
        now = utcnow()
        self._last = fraction
        try:
            await self.store.db[JOBS].update_one(
                {"_id": self.job_id},
                {"$set": {"status": status, "progress": fraction, "message": message, "updated_at": now, **extra}},
            )
            await self.store.append_event(EVENT_PROGRESS, now, job_id=str(self.job_id), kind=self.kind,
                                          status=status, progress=fraction, message=message,
                                          training_version=self.training_version,
                                          result=extra.get("result"), error=extra.get("error"))
        except PyMongoError as exc:  # progress is informative: the job goes on
            log.warning("bot job %s: could not record progress (%s)", self.job_id, exc)

    async def finish(self, status: str, message: str, **extra: Any) -> None:
        """Flush the last progress step, then record the final state."""
        self._closing = True
        self._wake.set()
        await self._writer
        await self._write(status, 1.0 if status == SUCCEEDED else self._last, message, finished_at=utcnow(), **extra)


class JobBusy(Exception):
    """A job of this kind is already running in this process."""


class JobRunner:
    """Starts jobs as background tasks; one job of each kind at a time per process."""

    def __init__(self, store: Store, spawn: Spawn | None = None) -> None:
        self.store = store
        self._spawn = spawn
        self._running: dict[str, ObjectId] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def use_spawner(self, spawn: Spawn) -> None:
        """Run jobs as the hub's background tasks (cancelled when the hub stops)."""
        self._spawn = spawn

    def running(self, kind: str) -> str | None:
        job = self._running.get(kind)
        return str(job) if job else None

    async def start(self, kind: str, training_version: int | None, author: Author, work: Work) -> str:
        if kind in self._running:
            raise JobBusy(f"a {kind} job is already running ({self._running[kind]})")
        now = utcnow()
        job_id = ObjectId()
        self._running[kind] = job_id
        try:
            await self.store.db[JOBS].insert_one({
                "_id": job_id, "kind": kind, "status": RUNNING, "progress": 0.0, "message": "queued",
                "training_version": training_version, "by": author.to_doc(), "started_at": now, "updated_at": now,
            })
        except BaseException:
            self._running.pop(kind, None)
            raise
        coro = self._run(kind, job_id, training_version, work)
        if self._spawn is not None:
            self._spawn(coro, f"bot-{kind}-{job_id}")
        else:
            task = asyncio.create_task(coro)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return str(job_id)

    async def _run(self, kind: str, job_id: ObjectId, training_version: int | None, work: Work) -> None:
        """Run the work, then release the kind BEFORE writing the final status: whoever sees
        "succeeded" or "failed" (a trainer's progress bar) may start the next job at once."""
        progress = JobProgress(self.store, job_id, kind, training_version)
        try:
            result = await work(progress.report)
        except asyncio.CancelledError:
            self._release(kind, job_id)
            with contextlib.suppress(PyMongoError):
                await progress.finish(FAILED, "stopped with the hub", error="hub stopped")
            raise
        except Exception as exc:  # recorded on the job and shown to the trainer, not swallowed
            log.exception("bot %s job %s failed", kind, job_id)
            self._release(kind, job_id)
            await progress.finish(FAILED, f"failed: {exc}", error=str(exc) or type(exc).__name__)
        else:
            self._release(kind, job_id)
            await progress.finish(SUCCEEDED, "done", result=result)
        finally:
            self._release(kind, job_id)

    def _release(self, kind: str, job_id: ObjectId) -> None:
        """Free the kind if this job still holds it (a next job may have taken it already)."""
        if self._running.get(kind) == job_id:
            del self._running[kind]

    async def get(self, job_id: str) -> JobView | None:
        if not ObjectId.is_valid(job_id):
            return None
        doc = await self.store.db[JOBS].find_one({"_id": ObjectId(job_id)})
        return JobView.from_doc(doc) if doc else None

    async def latest(self) -> JobView | None:
        doc = await self.store.db[JOBS].find_one({}, sort=[("started_at", -1)])
        return JobView.from_doc(doc) if doc else None

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
