"""`switchboard users …` as real processes, beside a real running `switchboard serve` and without one."""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import re
import stat
import subprocess
from pathlib import Path

import aiohttp

from switchboard.embedded import free_port
from tests.test_cli import ROOT, SWITCHBOARD, start_serve, stop_serve


async def switchboard(*args: str, data_dir: Path, stdin: str | None = None) -> tuple[int, str, str]:
    """Run `switchboard ARGS --data-dir DATA_DIR` with no terminal: (exit code, stdout, stderr)."""
    env = {k: v for k, v in os.environ.items() if k not in ("MONGODB_URI", "SWITCHBOARD_CONFIG")}
    proc = await asyncio.create_subprocess_exec(
        SWITCHBOARD, *args, "--data-dir", str(data_dir), cwd=ROOT, env=env, start_new_session=True,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate((stdin or "").encode()), timeout=120)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def one_line_failure(code: int, err: str, text: str) -> None:
    """An expected failure: exit 1 and exactly one `switchboard: …` line on stderr, no traceback."""
    assert code == 1, err
    assert err.splitlines() == [err.strip()] and err.startswith("switchboard: ") and text in err, err


def desk(port: int) -> aiohttp.ClientSession:
    """A desk client that keeps its session cookie (aiohttp's jar drops cookies of IP hosts by default)."""
    return aiohttp.ClientSession(f"http://127.0.0.1:{port}", cookie_jar=aiohttp.CookieJar(unsafe=True))


async def login(http: aiohttp.ClientSession, username: str, password: str) -> int:
    async with http.post("/api/auth/login", json={"username": username, "password": password}) as response:
        return response.status


async def me(http: aiohttp.ClientSession) -> int:
    async with http.get("/api/me") as response:
        return response.status


async def test_users_commands_work_beside_a_running_hub(tmp_path: Path) -> None:
    data_dir, port = tmp_path / "var", free_port()
    proc, banner = await start_serve(data_dir, port)
    record = data_dir / "embedded.json"
    try:
        match = re.search(r"username: (\S+)\s+password: (\S+)", "\n".join(banner))
        assert match
        admin_user, admin_password = match.groups()
        # The running hub recorded where its database answers, for the owner only.
        assert stat.S_IMODE(record.stat().st_mode) == 0o600
        assert json.loads(record.read_text())["uri"].startswith("mongodb://127.0.0.1:")

        code, out, err = await switchboard("users", "add", "alice", "--role", "agent", "--name", "Alice",
                                           "--password-stdin", data_dir=data_dir, stdin="alice's long password\n")
        assert code == 0, err
        assert out.splitlines() == ["created alice (agent)"]  # her password is not echoed

        async with desk(port) as alice, desk(port) as admin:
            assert await login(alice, "alice", "alice's long password") == 200
            assert await me(alice) == 200
            code, out, err = await switchboard("users", "disable", "alice", data_dir=data_dir)
            assert code == 0, err
            assert out.strip() == "disabled alice; their sessions ended and a running hub hands their tickets back"
            assert await me(alice) == 401  # her open session ended at once
            assert await login(alice, "alice", "alice's long password") == 401

            code, out, err = await switchboard("users", "enable", "alice", data_dir=data_dir)
            assert code == 0 and out.strip() == "enabled alice", err
            assert await login(alice, "alice", "alice's long password") == 200

            code, out, err = await switchboard("users", "reset-password", "alice", data_dir=data_dir)
            assert code == 0, err
            [new_password] = re.findall(r"^password: (\S+)  \(shown once\)$", out, re.MULTILINE)
            assert await me(alice) == 401  # a reset ends her sessions too
            assert await login(alice, "alice", "alice's long password") == 401
            assert await login(alice, "alice", new_password) == 200

            code, out, err = await switchboard("users", "list", data_dir=data_dir)
            assert code == 0, err
            assert re.search(r"^alice\s+Alice\s+agent\s+5\s+active$", out, re.MULTILINE), out
            assert re.search(rf"^{admin_user}\s+Administrator\s+admin,supervisor,trainer,agent\s+5\s+active$",
                             out, re.MULTILINE), out

            # Every change is in the hub's audit trail, done from the command line.
            assert await login(admin, admin_user, admin_password) == 200
            async with admin.get("/api/admin/audit", params={"limit": "200"}) as response:
                entries = (await response.json())["entries"]
            by_cli = [(e["action"], e["details"]) for e in reversed(entries) if e["details"].get("via") == "cli"]
            assert by_cli == [
                ("agent.created", {"username": "alice", "roles": ["agent"], "via": "cli"}),
                ("agent.updated", {"username": "alice", "disabled": {"from": None, "to": True}, "via": "cli"}),
                ("agent.updated", {"username": "alice", "disabled": {"from": True, "to": False}, "via": "cli"}),
                ("agent.password_reset", {"username": "alice", "via": "cli"}),
            ]

        # Expected failures: one line, exit 1.
        code, _out, err = await switchboard("users", "add", "alice", "--password-stdin", data_dir=data_dir,
                                            stdin="another long password\n")
        one_line_failure(code, err, "switchboard: user 'alice' exists")
        code, _out, err = await switchboard("users", "disable", "nobody", data_dir=data_dir)
        one_line_failure(code, err, "switchboard: no user 'nobody'")
        code, _out, err = await switchboard("users", "reset-password", "nobody", data_dir=data_dir)
        one_line_failure(code, err, "switchboard: no user 'nobody'")
        code, _out, err = await switchboard("users", "add", "bob", "--role", "boss", data_dir=data_dir)
        one_line_failure(code, err, "unknown role 'boss'; roles are agent, trainer, supervisor, admin")
        code, _out, err = await switchboard("users", "add", "bob", "--password-stdin", data_dir=data_dir,
                                            stdin="short\n")
        one_line_failure(code, err, "at least 8 characters")
        code, _out, err = await switchboard("users", "reset-password", "alice", "--password-stdin",
                                            data_dir=data_dir, stdin="short\n")
        one_line_failure(code, err, "at least 8 characters")
        code, _out, err = await switchboard("users", "add", "bob", "--password-stdin", data_dir=data_dir)
        one_line_failure(code, err, "--password-stdin: nothing on stdin")
    finally:
        assert await stop_serve(proc) == 0
    assert not record.exists()  # a clean stop takes the record with it


async def test_users_add_without_a_running_hub_starts_the_database_itself(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    data_dir.mkdir()
    # Left behind by a hub that was killed: neither process exists any more.
    dead = subprocess.Popen(["true"])  # its pid is certainly gone once reaped
    dead.wait()
    record = data_dir / "embedded.json"
    record.write_text(json.dumps({"uri": "mongodb://127.0.0.1:1/", "pid": dead.pid}))
    code, out, err = await switchboard("users", "add", "carol", "--role", "supervisor", "--role", "trainer",
                                       "--capacity", "3", data_dir=data_dir)
    assert code == 0, err
    [password] = re.findall(r"^password: (\S+)  \(shown once\)$", out, re.MULTILINE)
    assert len(password) >= 16
    assert "created carol (supervisor, trainer)" in out
    # Our own short-lived server records nothing (a stale record is left as it was, and ignored).
    assert json.loads(record.read_text())["pid"] == dead.pid
    # A live pid that holds no storage (a pid reused by another program) is stale too.
    record.write_text(json.dumps({"uri": "mongodb://127.0.0.1:1/", "pid": os.getpid()}))
    code, out, err = await switchboard("users", "list", data_dir=data_dir)
    assert code == 0, err
    assert re.search(r"^carol\s+carol\s+supervisor,trainer\s+3\s+active$", out, re.MULTILINE), out
    assert (data_dir / "db").is_dir()

    # The hub then starts on that data and carol logs in with the printed password.
    port = free_port()
    proc, _banner = await start_serve(data_dir, port)
    try:
        async with desk(port) as http:
            assert await login(http, "carol", password) == 200
    finally:
        assert await stop_serve(proc) == 0


async def test_an_unreachable_database_is_one_line(tmp_path: Path) -> None:
    code, _out, err = await switchboard("users", "list", "--mongodb-uri",
                                        f"mongodb://127.0.0.1:{free_port()}/?serverSelectionTimeoutMS=300",
                                        data_dir=tmp_path)
    one_line_failure(code, err, "switchboard: cannot reach the database (check --mongodb-uri / MONGODB_URI)")

    # A hub's record whose server holds the storage (this test holds WiredTiger's lock the way it does)
    # but does not answer: the command says so rather than waiting for the storage.
    (tmp_path / "db").mkdir()
    fd = os.open(tmp_path / "db" / "WiredTiger.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        (tmp_path / "embedded.json").write_text(json.dumps({"uri": f"mongodb://127.0.0.1:{free_port()}/",
                                                            "pid": os.getpid()}))
        code, _out, err = await switchboard("users", "list", data_dir=tmp_path)
    finally:
        os.close(fd)
    one_line_failure(code, err, f"switchboard: the database of the hub running on {tmp_path} does not answer")


def test_admin_commands_show_only_their_own_options() -> None:
    for command in (["users", "add"], ["users", "disable"], ["users", "reset-password"], ["users", "list"],
                    ["contacts", "export"], ["retention", "run"], ["backup"], ["restore"]):
        result = subprocess.run([SWITCHBOARD, *command, "--help"], capture_output=True, text=True, check=True,
                                cwd=ROOT)
        assert "--data-dir" in result.stdout and "--mongodb-uri" in result.stdout, result.stdout
        for serve_only in ("--host", "--port", "--log-level"):
            assert serve_only not in result.stdout, (command, result.stdout)
    add_help = subprocess.run([SWITCHBOARD, "users", "add", "--help"], capture_output=True, text=True, check=True,
                              cwd=ROOT).stdout
    assert "--password-stdin" in add_help and "--role ROLE" in add_help
    # nlu-eval's options (scikit-learn) are only loaded for nlu-eval, and still there.
    eval_help = subprocess.run([SWITCHBOARD, "nlu-eval", "--help"], capture_output=True, text=True, check=True,
                               cwd=ROOT).stdout
    assert "--train TRAIN" in eval_help and "--test TEST" in eval_help
    gone = subprocess.run([SWITCHBOARD, "create-agent", "x"], capture_output=True, text=True, check=False, cwd=ROOT)
    assert gone.returncode == 2 and "invalid choice: 'create-agent'" in gone.stderr
