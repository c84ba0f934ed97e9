"""The embedded default database: a `secantusd-py` child process on a free loopback port.

secantusdb is GPL-2.0, so it is only ever run as a separate program (the
`embedded` extra installs it); nothing in this project imports it.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from pymongo import AsyncMongoClient
from pymongo.errors import PyMongoError

log = logging.getLogger(__name__)


class EmbeddedError(Exception):
    pass


def _die_with_parent(parent: int) -> Callable[[], None] | None:
    """On Linux, a hook that makes the server get SIGTERM when the hub process dies.

    `stop()` ends the server on a clean exit; this covers the unclean ones (SIGKILL, a
    crash), which would otherwise leave an orphaned database holding its port and data
    directory, so the next start fails. PR_SET_PDEATHSIG fires when the forking thread
    ends: `start` runs on the event loop's thread, which lives as long as the hub.
    """
    if not sys.platform.startswith("linux"):
        return None

    def hook() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the hub died before the hook ran
            os._exit(1)

    return hook


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def find_server() -> str:
    """The `secantusd-py` program, preferably the one next to this interpreter."""
    beside = Path(sys.executable).with_name("secantusd-py")
    if beside.exists():
        return str(beside)
    found = shutil.which("secantusd-py")
    if found is None:
        raise EmbeddedError("secantusd-py not found: install the 'embedded' extra "
                            "(pip install 'switchboard-hub[embedded]') or set MONGODB_URI")
    return found


class EmbeddedServer:
    """Start, wait for, and cleanly stop a secantusd-py server storing under `data_dir`."""

    def __init__(self, data_dir: Path, host: str = "127.0.0.1", port: int | None = None,
                 log_file: Path | None = None) -> None:
        self.data_dir = data_dir
        self.host = host
        self.port = port or free_port(host)
        self.log_file = log_file or data_dir / "secantusd.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        return f"mongodb://{self.host}:{self.port}/?directConnection=true"

    async def start(self, startup_seconds: float = 60.0) -> str:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        storage = self.data_dir / "db"
        log_handle = self.log_file.open("ab")
        # Popen only forks and execs (no waiting), so it does not block the loop.
        self.process = subprocess.Popen(  # noqa: S603, ASYNC220 - fixed program, our own arguments
            [find_server(), "--host", self.host, "--port", str(self.port), "--storage-path", str(storage),
             "--log-level", "WARNING"],
            stdout=log_handle, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            preexec_fn=_die_with_parent(os.getpid()),  # start runs on the loop (main) thread
        )
        log_handle.close()
        await self._wait_ready(startup_seconds)
        return self.uri

    async def _wait_ready(self, startup_seconds: float) -> None:
        """Poll `ping` until the server answers (bounded; fails fast if the process died)."""
        client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(self.uri, serverSelectionTimeoutMS=500)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + startup_seconds
        try:
            while True:
                assert self.process is not None
                if self.process.poll() is not None:
                    raise EmbeddedError(f"secantusd-py exited with {self.process.returncode}; see {self.log_file}")
                try:
                    await client.admin.command("ping")
                    return
                except PyMongoError:
                    if loop.time() > deadline:
                        raise EmbeddedError(f"secantusd-py did not answer within {startup_seconds}s") from None
                    await asyncio.sleep(0.2)
        finally:
            await client.close()

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM (clean WiredTiger shutdown), then SIGKILL if it hangs."""
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("secantusd-py did not stop in %ss; killing it", timeout)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
