"""The embedded database under supervision: a dead one is restarted, `/healthz` tells the state, files are private."""

from __future__ import annotations

import asyncio
import os
import signal
import stat
from pathlib import Path
from typing import Any

from pymongo import AsyncMongoClient

from switchboard.bootstrap import Runtime
from switchboard.embedded import EmbeddedServer
from tests.conftest import http_client, make_settings
from tests.helpers import eventually


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_a_killed_database_is_restarted_and_healthz_reports_each_state(tmp_path: Path, shop_bot: Any) -> None:
    runtime = Runtime(make_settings("", tmp_path / "var", mongodb_uri=None))
    await runtime.start(bot=shop_bot)
    try:
        assert runtime.embedded is not None and runtime.embedded.process is not None
        async with http_client(runtime) as client:
            token = (await (await client.post("/api/widget/session", json={"site": "demo"})).json())["token"]
            auth = {"Authorization": f"Bearer {token}"}
            first = await client.post("/api/widget/messages", json={"text": "hello", "client_id": "before-kill"},
                                      headers=auth)
            assert first.status == 202
            assert (await (await client.get("/healthz")).json()) == {"status": "ok", "database": "ok"}

            # Hold the restart: the storage directory is replaced by a file, then the server dies.
            storage = runtime.embedded.storage
            aside = storage.with_name("db.aside")
            storage.rename(aside)
            storage.write_text("not a database")
            os.kill(runtime.embedded.process.pid, signal.SIGKILL)

            async def restarting() -> dict[str, Any] | None:
                resp = await client.get("/healthz")
                body: dict[str, Any] = await resp.json()
                return body if resp.status == 503 and body["database"] == "restarting" and body["attempt"] >= 2 \
                    else None

            report = await eventually(restarting, timeout=30, what="/healthz to report restart attempts")
            assert report["status"] == "degraded" and report["since"]
            assert "error" not in report  # its paths go to the log, not to an unauthenticated page
            assert runtime.supervisor is not None and str(storage) in str(runtime.supervisor.status.last_error)

            storage.unlink()
            aside.rename(storage)  # the next attempt finds its data again

            async def healthy() -> bool:
                resp = await client.get("/healthz")
                return resp.status == 200 and (await resp.json())["database"] == "ok"

            await eventually(healthy, timeout=30, what="/healthz to report the database back")
            again = await client.post("/api/widget/messages", json={"text": "still there?", "client_id": "after-kill"},
                                      headers=auth)
            assert again.status == 202, await again.text()
            assert runtime.hub is not None
            assert await runtime.hub.store.messages.count_documents({"direction": "in"}) == 2
    finally:
        await runtime.stop()


async def test_database_files_are_readable_by_their_owner_only(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    data_dir.mkdir(mode=0o755)
    server = EmbeddedServer(data_dir)
    await server.start()
    server.stop()
    files = [f for f in server.storage.iterdir() if f.is_file()]
    assert files and {_mode(f) for f in files} == {0o600}, {f.name: oct(_mode(f)) for f in files}
    assert _mode(data_dir) == 0o700 and _mode(server.storage) == 0o700
    assert _mode(server.log_file) == 0o600

    # A data directory from before this rule is tightened on the next start.
    data_dir.chmod(0o755)
    server.storage.chmod(0o755)
    for file in files:
        file.chmod(0o644)
    await server.start()
    server.stop()
    assert _mode(data_dir) == 0o700 and _mode(server.storage) == 0o700
    assert {_mode(f) for f in server.storage.iterdir() if f.is_file()} == {0o600}


async def test_a_stray_secantusd_toml_does_not_configure_the_embedded_database(tmp_path: Path,
                                                                              monkeypatch: Any) -> None:
    """secantusd-py looks for a secantusd.toml in the working directory and the home directory when it is not told
    which file to read: one meant for another server must not turn on authentication or drop the replica-set
    topology the hub's change streams need."""
    foreign = '[server]\nauth = true\nstandalone = true\n'
    (tmp_path / "secantusd.toml").write_text(foreign)
    (tmp_path / ".secantus").mkdir()
    (tmp_path / ".secantus" / "secantusd.toml").write_text(foreign)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    server = EmbeddedServer(tmp_path / "var")
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(await server.start())
    try:
        db = client["stray_config"]
        async with await db.things.watch() as stream:  # refused by a standalone server
            await db.things.insert_one({"_id": 1})  # refused without credentials under `auth`
            change = await asyncio.wait_for(stream.next(), timeout=20)
            assert change["documentKey"] == {"_id": 1}
        assert _mode(server.config_file) == 0o600
    finally:
        await client.close()
        server.stop()


async def test_a_database_that_stays_dead_is_reported_down_and_the_hub_told_to_exit(
    tmp_path: Path, shop_bot: Any
) -> None:
    reasons: list[str] = []
    runtime = Runtime(make_settings("", tmp_path / "var", mongodb_uri=None, embedded_restart_give_up_seconds=1.5),
                      on_fatal=reasons.append)
    await runtime.start(bot=shop_bot)
    try:
        assert runtime.embedded is not None and runtime.embedded.process is not None
        storage = runtime.embedded.storage
        storage.rename(storage.with_name("db.aside"))
        storage.write_text("not a database")
        os.kill(runtime.embedded.process.pid, signal.SIGKILL)
        async with http_client(runtime) as client:
            async def down() -> dict[str, Any] | None:
                resp = await client.get("/healthz")
                body: dict[str, Any] = await resp.json()
                return body if resp.status == 503 and body["status"] == "down" else None

            report = await eventually(down, timeout=30, what="/healthz to report the database down")
        assert report["database"] == "down" and report["attempt"] >= 2 and report["since"]
        [reason] = reasons
        assert reason.startswith("the embedded database could not be restarted within 1.5s"), reason
        assert "\n" not in reason
    finally:
        await runtime.stop()


def test_restart_and_lock_wait_settings_must_be_positive_seconds(monkeypatch: Any) -> None:
    from switchboard.config import ConfigError, load_settings

    monkeypatch.setenv("SWITCHBOARD_EMBEDDED_LOCK_WAIT_SECONDS", "soon")
    try:
        load_settings()
    except ConfigError as exc:
        assert "hub.embedded_lock_wait_seconds must be a positive number of seconds" in str(exc)
    else:
        raise AssertionError("a non-number was accepted")
