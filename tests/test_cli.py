"""The README's run command: `switchboard serve` on the embedded default, as a real process."""

from __future__ import annotations

import asyncio
import fcntl
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp

from switchboard.embedded import free_port
from tests.helpers import eventually

ROOT = Path(__file__).resolve().parent.parent
SWITCHBOARD = str(Path(sys.executable).with_name("switchboard"))


async def spawn_serve(data_dir: Path, port: int, *args: str,
                      env: dict[str, str] | None = None) -> asyncio.subprocess.Process:
    """`switchboard serve` as a real process on the embedded default (output on its stdout)."""
    env = {k: v for k, v in os.environ.items() if k not in ("MONGODB_URI", "SWITCHBOARD_CONFIG")} | (env or {})
    return await asyncio.create_subprocess_exec(
        SWITCHBOARD, "serve", "--data-dir", str(data_dir), "--port", str(port), "--log-level", "WARNING", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, cwd=ROOT, env=env,
    )


async def read_until(proc: asyncio.subprocess.Process, prefix: str, lines: list[str]) -> str:
    """Read output lines (into `lines`) until one contains `prefix`; fail if serve exits first."""
    assert proc.stdout is not None
    while True:
        raw = await asyncio.wait_for(proc.stdout.readline(), timeout=120)
        if not raw:
            raise AssertionError("serve exited early:\n" + "\n".join(lines))
        line = raw.decode().rstrip()
        lines.append(line)
        if prefix in line:
            return line


async def read_banner(proc: asyncio.subprocess.Process, lines: list[str]) -> None:
    await read_until(proc, "Switchboard is running", lines)
    # On a first start the admin login follows at once; `--` ends the banner either way.
    await read_until(proc, "-- ", lines)


async def start_serve(
    data_dir: Path, port: int, *args: str, env: dict[str, str] | None = None
) -> tuple[asyncio.subprocess.Process, list[str]]:
    """`switchboard serve` as a real process, once it printed its banner: (process, banner lines)."""
    proc = await spawn_serve(data_dir, port, *args, env=env)
    lines: list[str] = []
    await read_banner(proc, lines)
    return proc, lines


async def stop_serve(proc: asyncio.subprocess.Process) -> int:
    proc.send_signal(signal.SIGTERM)
    return await asyncio.wait_for(proc.wait(), timeout=60)


async def test_serve_prints_the_desk_url_and_admin_login_and_keeps_data(tmp_path: Path) -> None:
    assert shutil.which(SWITCHBOARD) or Path(SWITCHBOARD).exists()
    port = free_port()
    proc, lines = await start_serve(tmp_path / "var", port)
    try:
        output = "\n".join(lines)
        assert f"http://127.0.0.1:{port}/desk" in output
        match = re.search(r"username: (\S+)\s+password: (\S+)", output)
        assert match, output
        user, password = match.groups()
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as http:
            health = await http.get("/healthz")
            assert (await health.json())["database"] == "ok"
            assert "Switchboard chat widget" in await (await http.get("/widget.js")).text()
            login = await http.post("/api/auth/login", json={"username": user, "password": password})
            assert login.status == 200
    finally:
        assert await stop_serve(proc) == 0
    assert (tmp_path / "var" / "db").is_dir()

    proc, lines = await start_serve(tmp_path / "var", port)
    try:
        assert "password" not in "\n".join(lines)  # the admin exists already: not created or shown again
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as http:
            login = await http.post("/api/auth/login", json={"username": user, "password": password})
            assert login.status == 200
    finally:
        assert await stop_serve(proc) == 0


def _servers_on(storage: Path) -> list[int]:
    """Pids of the secantusd-py processes serving `storage` (read from /proc, Linux)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:  # gone meanwhile
            continue
        if str(storage).encode() in argv and any(b"secantusd" in a for a in argv):
            pids.append(int(entry.name))
    return pids


async def test_a_killed_hub_takes_its_embedded_database_with_it(tmp_path: Path) -> None:
    """SIGKILL leaves no clean-up to the hub: the database must not outlive it, holding the data dir."""
    proc, _lines = await start_serve(tmp_path / "var", free_port())
    storage = tmp_path / "var" / "db"
    try:
        [server] = _servers_on(storage)
    finally:
        proc.kill()
        await proc.wait()

    async def gone() -> bool:
        return not _servers_on(storage)

    await eventually(gone, timeout=30, what=f"the embedded database (pid {server}) to exit with the hub")
    # and the next start works on the same data
    proc, _lines = await start_serve(tmp_path / "var", free_port())
    assert await stop_serve(proc) == 0


def test_docker_compose_file_is_valid() -> None:
    """Debian's docker-compose parses and checks the file without an engine."""
    result = subprocess.run(["docker-compose", "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
                            capture_output=True, text=True, env={**os.environ, "SWITCHBOARD_SECRET": "x" * 32},
                            check=False)
    assert result.returncode == 0, result.stderr
    rendered = subprocess.run(["docker-compose", "-f", str(ROOT / "docker-compose.yml"), "config"],
                              capture_output=True, text=True, env={**os.environ, "SWITCHBOARD_SECRET": "x" * 32},
                              check=True).stdout
    assert "replicaSet=rs0" in rendered and "--replSet" in rendered
    missing = subprocess.run(["docker-compose", "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
                             capture_output=True, text=True,
                             env={k: v for k, v in os.environ.items() if k != "SWITCHBOARD_SECRET"}, check=False)
    assert missing.returncode != 0 and "SWITCHBOARD_SECRET" in missing.stderr


async def test_a_restart_right_after_a_crash_waits_for_the_old_database(tmp_path: Path) -> None:
    """A start right after a crash comes up; one whose storage is still held waits for it, bounded."""
    data_dir, storage, port = tmp_path / "var", tmp_path / "var" / "db", free_port()
    proc, _lines = await start_serve(data_dir, port)
    proc.kill()
    await proc.wait()
    proc, _lines = await start_serve(data_dir, port)  # at once: it comes up
    assert await stop_serve(proc) == 0

    # A previous server that does not let go: here this test holds WiredTiger's lock the way it does.
    fd = os.open(storage / "WiredTiger.lock", os.O_RDWR)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        me = os.getpid()
        failing = await spawn_serve(data_dir, port, env={"SWITCHBOARD_EMBEDDED_LOCK_WAIT_SECONDS": "2"})
        output = (await asyncio.wait_for(failing.communicate(), timeout=120))[0].decode()
        assert failing.returncode == 1, output
        assert f"waiting for the previous database process (pid {me}) to release {storage}…" in output
        assert output.strip().splitlines()[-1] == (f"switchboard: the previous database process (pid {me}) "
                                                   f"still holds {storage} after 2s; stop it and start again")
        assert "Traceback" not in output

        # One that lets go while the next start waits: that start comes up.
        proc = await spawn_serve(data_dir, port)
        lines: list[str] = []
        await read_until(proc, f"waiting for the previous database process (pid {me})", lines)
    finally:
        os.close(fd)  # releases the lock
    await read_banner(proc, lines)
    assert any("released" in line for line in lines), lines
    assert await stop_serve(proc) == 0


async def test_serve_exits_non_zero_when_its_database_cannot_be_brought_back(tmp_path: Path) -> None:
    data_dir, storage, port = tmp_path / "var", tmp_path / "var" / "db", free_port()
    env = {"SWITCHBOARD_EMBEDDED_GIVE_UP_SECONDS": "3"}
    proc, _lines = await start_serve(data_dir, port, env=env)
    try:
        [server] = _servers_on(storage)
        storage.rename(storage.with_name("db.aside"))
        storage.write_text("not a database")  # every restart fails
        os.kill(server, signal.SIGKILL)
        assert proc.stdout is not None
        output = (await asyncio.wait_for(proc.stdout.read(), timeout=60)).decode()
        assert await asyncio.wait_for(proc.wait(), timeout=30) == 1, output
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert "restart attempt 1 failed" in output
    last = output.strip().splitlines()[-1]
    assert last.startswith("switchboard: the embedded database could not be restarted within 3s ("), output
    assert "Traceback" not in output
