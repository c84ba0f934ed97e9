"""The embedded default database: a `secantusd-py` child process on a free loopback port.

secantusdb is GPL-2.0, so it is only ever run as a separate program (the
`embedded` extra installs it); nothing in this project imports it.

Its files hold every customer conversation, so the data directory is 0700 and the
server runs with umask 077 (its files 0600). The storage directory is locked by
WiredTiger (a POSIX lock on `WiredTiger.lock`) for as long as a server has it open;
`start` waits, bounded, for a previous server that is still shutting down.

Because of that lock an admin command cannot open the storage while a hub runs, so the
hub's server records its URI in `<data_dir>/embedded.json` (`running_record`): admin
commands use the running hub's database instead of starting their own.

The server's settings are the hub's alone: it is started with `--config <data_dir>/secantusd.toml`, a file
the hub rewrites at each start, which turns off secantusd-py's search for a `secantusd.toml` in the working
directory, `~/.secantus/` and `/etc/secantus/`. A file there, meant for another server, would otherwise set
this one's authentication, TLS or topology, and the hub would fail against its own database.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import fcntl
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pymongo import AsyncMongoClient
from pymongo.errors import PyMongoError

log = logging.getLogger(__name__)


RECORD_NAME = "embedded.json"
CONFIG_NAME = "secantusd.toml"
CONFIG_TEXT = """\
# Written by Switchboard at each start of its embedded database (switchboard/embedded.py): edits are lost.
# Passed with --config so that no other secantusd.toml (./, ~/.secantus/, /etc/secantus/) configures it.
# The server's defaults apply; the hub passes its host, port, storage path and log level as flags.
"""


class EmbeddedError(Exception):
    pass


@dataclass(frozen=True)
class RunningRecord:
    """What a running hub wrote about its embedded server: where it answers, and its process."""

    uri: str
    pid: int


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def running_record(data_dir: Path) -> RunningRecord | None:
    """The record in `data_dir` of the server running on it, or None.

    None too when the record is unreadable or stale: its process is gone (a killed hub leaves
    the file behind) or nothing holds the storage (a pid reused by another program).
    """
    try:
        doc = json.loads((data_dir / RECORD_NAME).read_text(encoding="utf-8"))
        record = RunningRecord(uri=doc["uri"], pid=doc["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not (isinstance(record.uri, str) and isinstance(record.pid, int) and record.pid > 0):
        return None
    if not _alive(record.pid) or storage_holder(data_dir / "db") is None:
        return None
    return record


def _die_with_parent(parent: int) -> Callable[[], None] | None:
    """On Linux, a hook that makes the kernel SIGKILL the server when the hub process dies.

    `stop()` ends the server cleanly (SIGTERM) on a clean exit; this covers the unclean ones
    (SIGKILL, a crash), which would otherwise leave an orphaned database holding its port and
    data directory, so the next start fails. SIGKILL rather than SIGTERM: the server's clean
    stop once hung for over 30 s on a loaded CI machine after its hub was killed, still
    holding the storage; a killed server cannot hang, and WiredTiger recovers its journal on
    the next start as after a power cut (every accepted message was journalled with `j: true`;
    tests/test_database_kill.py kills the server under load and loses none).
    PR_SET_PDEATHSIG fires when the forking thread ends: `start` runs on the event loop's
    thread, which lives as long as the hub.
    """
    if not sys.platform.startswith("linux"):
        return None

    def hook() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
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


def storage_holder(storage: Path) -> int | None:
    """The pid holding WiredTiger's lock on `storage`, 0 if held by an unknown process, None if free.

    WiredTiger takes a POSIX record lock on `WiredTiger.lock` for as long as the
    storage is open; probing it with a non-blocking `lockf` tells whether a server
    (say, the previous hub's child still shutting down) has it. The pid, for the
    message only, comes from /proc/locks where there is one.
    """
    lock_file = storage / "WiredTiger.lock"
    try:
        fd = os.open(lock_file, os.O_RDWR)
    except OSError:  # no storage yet, or not a directory: nobody holds it
        return None
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return _lock_pid(lock_file) or 0
    else:
        fcntl.lockf(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _lock_pid(lock_file: Path) -> int | None:
    try:
        inode = lock_file.stat().st_ino
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        # "1: POSIX  ADVISORY  WRITE 10555 fe:00:2162728 0 0" (blocked waiters have "->" after the number)
        if len(fields) >= 6 and "->" not in fields and fields[5].rsplit(":", 1)[-1] == str(inode):
            return int(fields[4])
    return None


def _private(path: Path, mode: int) -> None:
    """Create `path` as a directory readable by the owner only, or tighten an existing one."""
    path.mkdir(mode=mode, parents=True, exist_ok=True)
    path.chmod(mode)


class EmbeddedServer:
    """Start, wait for, and cleanly stop a secantusd-py server storing under `data_dir`.

    `start` may be called again after the server died: it reuses the same port and
    data directory, so a connected driver reconnects on its own. With `record` (the hub's
    server) it writes `embedded.json` once the server answers and removes it on stop; an
    admin command's own short-lived server does not, so nothing else comes to rely on it.
    """

    def __init__(self, data_dir: Path, host: str = "127.0.0.1", port: int | None = None,
                 log_file: Path | None = None, record: bool = True, extra_args: Sequence[str] = ()) -> None:
        self.data_dir = data_dir
        #: More of secantusd-py's own options (the tests' fail points need `--enable-test-commands`).
        self.extra_args = tuple(extra_args)
        self.record = record
        self.host = host
        self.port = port or free_port(host)
        self.log_file = log_file or data_dir / "secantusd.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def storage(self) -> Path:
        return self.data_dir / "db"

    @property
    def config_file(self) -> Path:
        return self.data_dir / CONFIG_NAME

    @property
    def uri(self) -> str:
        # retryWrites=false: secantusd-py records every retryable write and scans the
        # records on each one, so writes slow down as they accumulate (issue 13). The hub
        # does not need them: ingest is idempotent through unique keys, transactions retry
        # on their own, and a failed outbox update only means a retry after the lease.
        return f"mongodb://{self.host}:{self.port}/?directConnection=true&retryWrites=false"

    async def start(self, startup_seconds: float = 60.0, lock_wait_seconds: float = 30.0) -> str:
        """Start the server (again) and return its URI once it answers `ping`."""
        try:
            _private(self.data_dir, 0o700)
            _private(self.storage, 0o700)
            for file in self.storage.iterdir():  # files written before they were made private
                if file.is_file():
                    file.chmod(0o600)
            self._write_config()
        except OSError as exc:
            raise EmbeddedError(f"cannot use {self.storage} for the database: {exc}") from exc
        await self._wait_for_lock(lock_wait_seconds)
        log_fd = os.open(self.log_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            # Popen only forks and execs (no waiting), so it does not block the loop.
            self.process = subprocess.Popen(  # noqa: S603, ASYNC220 - fixed program, our own arguments
                [find_server(), "--config", str(self.config_file), "--host", self.host, "--port", str(self.port),
                 "--storage-path", str(self.storage), "--log-level", "WARNING", *self.extra_args],
                stdout=log_fd, stderr=subprocess.STDOUT, start_new_session=True, umask=0o077,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
                preexec_fn=_die_with_parent(os.getpid()),  # start runs on the loop (main) thread
            )
        finally:
            os.close(log_fd)
        try:
            await self._wait_ready(startup_seconds)
        except BaseException:
            self.kill()
            raise
        if self.record and self.process is not None:
            self._write_record(self.process.pid)
        return self.uri

    @property
    def record_file(self) -> Path:
        return self.data_dir / RECORD_NAME

    def _write_config(self) -> None:
        """The server's own configuration file (see the module), readable by the owner only."""
        fd = os.open(self.config_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(CONFIG_TEXT)

    def _write_record(self, pid: int) -> None:
        """Write `embedded.json` atomically (a reader never sees half of it), readable by the owner only."""
        doc = {"uri": self.uri, "pid": pid}
        fd, tmp = tempfile.mkstemp(dir=self.data_dir, prefix=".embedded.", suffix=".tmp")  # mode 0600
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(doc, handle)
            os.replace(tmp, self.record_file)
        except OSError as exc:  # admin commands then wait for the storage and fail in one line; the hub is fine
            log.warning("cannot record the database URI in %s: %s", self.record_file, exc)
            with contextlib.suppress(OSError):
                os.unlink(tmp)

    def _forget(self, pid: int) -> None:
        """Remove `embedded.json` if it is ours (not one a newer hub on this data dir wrote meanwhile)."""
        record = None
        with contextlib.suppress(OSError, ValueError):
            record = json.loads(self.record_file.read_text(encoding="utf-8"))
        if isinstance(record, dict) and record.get("pid") == pid:
            with contextlib.suppress(OSError):
                self.record_file.unlink()

    async def _wait_for_lock(self, seconds: float) -> None:
        """Wait, bounded, until no other server holds the storage (one log line if we must wait)."""
        holder = storage_holder(self.storage)
        if holder is None:
            return
        who = f" (pid {holder})" if holder else ""
        log.warning("waiting for the previous database process%s to release %s…", who, self.storage)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while (holder := storage_holder(self.storage)) is not None:
            if loop.time() > deadline:
                who = f" (pid {holder})" if holder else ""
                raise EmbeddedError(f"the previous database process{who} still holds {self.storage} "
                                    f"after {seconds:g}s; stop it and start again")
            await asyncio.sleep(0.2)  # the lock has no event to wait on
        log.warning("the previous database process released %s", self.storage)

    async def _wait_ready(self, startup_seconds: float) -> None:
        """Poll `ping` until the server answers (bounded; fails fast if the process died)."""
        client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(self.uri, serverSelectionTimeoutMS=500)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + startup_seconds
        try:
            while True:
                assert self.process is not None
                if self.process.poll() is not None:
                    raise EmbeddedError(f"secantusd-py exited with {self.process.returncode}: "
                                        f"{self._last_log_line()} (see {self.log_file})")
                try:
                    await client.admin.command("ping")
                    return
                except PyMongoError:
                    if loop.time() > deadline:
                        raise EmbeddedError(f"secantusd-py did not answer within {startup_seconds:g}s") from None
                    await asyncio.sleep(0.2)
        finally:
            await client.close()

    def _last_log_line(self) -> str:
        try:
            with self.log_file.open("rb") as handle:
                handle.seek(max(0, self.log_file.stat().st_size - 4096))
                lines = handle.read().decode(errors="replace").strip().splitlines()
        except OSError:
            return "no log"
        return lines[-1] if lines else "no output"

    async def wait_exit(self) -> int:
        """Return once the current server process has exited (its exit status).

        Uses a pidfd where the platform has one (an event, no polling); else polls.
        """
        proc = self.process
        if proc is None:
            raise EmbeddedError("the embedded database is not running")
        fd = None
        if proc.poll() is None:
            with contextlib.suppress(AttributeError, OSError):
                fd = os.pidfd_open(proc.pid)
        while fd is None:  # no pidfd here: poll
            if proc.poll() is not None:
                return proc.returncode
            await asyncio.sleep(0.5)
        loop = asyncio.get_running_loop()
        exited: asyncio.Future[None] = loop.create_future()
        loop.add_reader(fd, lambda: exited.done() or exited.set_result(None))
        try:
            await exited
        finally:
            loop.remove_reader(fd)
            os.close(fd)
        return proc.wait()

    def kill(self) -> None:
        """SIGKILL the server (a start that failed half-way); its storage is recovered on the next start."""
        proc, self.process = self.process, None
        if proc is not None and self.record:
            self._forget(proc.pid)
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM (clean WiredTiger shutdown), then SIGKILL if it hangs."""
        proc, self.process = self.process, None
        if proc is not None and self.record:
            self._forget(proc.pid)  # first: no admin command starts on a server that is stopping
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


@contextlib.asynccontextmanager
async def fresh_server() -> AsyncIterator[str]:
    """The URI of a fresh embedded server in a temporary directory, stopped and removed afterwards
    (benchmarks that measure on an empty database)."""
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedServer(Path(tmp))
        uri = await server.start()
        try:
            yield uri
        finally:
            server.stop()
