"""`switchboard backup` beside a running hub, `switchboard restore` into a fresh data dir: all of it back.

Real processes: `switchboard serve` on the embedded default, the commands as subprocesses, the
data compared document by document and the restored hub serving the same ticket and file.
"""

from __future__ import annotations

import io
import json
import re
import tarfile
from pathlib import Path
from typing import Any

import aiohttp
from bson import decode_file_iter
from pymongo import AsyncMongoClient

from switchboard.backup import FORMAT, FORMAT_VERSION
from switchboard.embedded import EmbeddedServer, free_port, running_record
from tests.helpers import eventually
from tests.test_cli import start_serve, stop_serve
from tests.test_users_cli import desk, login, one_line_failure, switchboard

PHOTO = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40  # every byte value: a binary file must come back exact
COMPARED = ("tickets", "messages", "contacts", "conversations", "attachments.files", "attachments.chunks",
            "agents", "counters", "queues")


async def _seed(port: int) -> None:
    """A visitor with a damaged item and a photo (escalated by the bot)."""
    base = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession(base, headers={"Origin": base}) as http:
        r = await http.post("/api/widget/session", json={"site": "demo", "name": "Dana Weiss",
                                                         "email": "dana@example.com"})
        headers = {"Authorization": f"Bearer {(await r.json())['token']}"}
        r = await http.post("/api/widget/messages", json={"text": "my item arrived damaged",
                                                          "client_id": "backup-test-0001"}, headers=headers)
        assert r.status == 202, await r.text()
        form = aiohttp.FormData()
        form.add_field("file", PHOTO, filename="crushed box.png", content_type="image/png")
        form.add_field("client_id", "backup-test-0002")
        r = await http.post("/api/widget/files", data=form, headers=headers)
        assert r.status == 202, await r.text()


def _in_backup(path: Path) -> dict[str, list[dict[str, Any]]]:
    """The documents the backup file holds, per compared collection, in `_id` order."""
    with tarfile.open(path) as tar:
        out = {}
        for name in COMPARED:
            member = tar.extractfile(f"collections/{name}.bson")
            assert member is not None, name
            out[name] = sorted(decode_file_iter(member), key=lambda doc: doc["_id"])
        return out


async def _documents(uri: str) -> dict[str, list[dict[str, Any]]]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri)
    try:
        db = client["switchboard"]
        return {name: await db[name].find({}).sort("_id", 1).to_list() for name in COMPARED}
    finally:
        await client.close()


async def test_backup_beside_a_running_hub_then_restore_into_a_fresh_data_dir(tmp_path: Path) -> None:
    source, target, out = tmp_path / "source", tmp_path / "target", tmp_path / "desk.sbbackup"
    port = free_port()
    proc, banner = await start_serve(source, port)
    user, password = re.search(r"username: (\S+)\s+password: (\S+)", "\n".join(banner)).groups()  # type: ignore
    try:
        await _seed(port)
        record = running_record(source)
        assert record is not None

        async def escalated_with_photo() -> bool:
            docs = await _documents(record.uri)
            return bool(docs["tickets"] and docs["attachments.files"])

        await eventually(escalated_with_photo, what="the ticket and its photo stored")
        code, stdout, stderr = await switchboard("backup", "--out", str(out), data_dir=source)
        assert code == 0, stderr
        assert f"backup written to {out}" in stdout and "consistent by checkpoint" in stdout
        assert out.stat().st_mode & 0o777 == 0o600  # it holds customer data

        # Not while a hub runs on the data dir: a restore replaces what it holds.
        code, _stdout, stderr = await switchboard("restore", str(out), data_dir=source)
        one_line_failure(code, stderr, f"a hub is running on {source.resolve()}: stop it first")
    finally:
        assert await stop_serve(proc) == 0

    code, stdout, stderr = await switchboard("restore", str(out), data_dir=target)
    assert code == 0, stderr
    assert f"restored {out}" in stdout
    server = EmbeddedServer(target, record=False)
    restored = await _documents(await server.start())
    server.stop()
    assert restored == _in_backup(out)  # every ticket, message, contact, user and file, field for field

    # A second restore on top is refused unless asked to replace.
    code, _stdout, stderr = await switchboard("restore", str(out), data_dir=target)
    one_line_failure(code, stderr, "already holds data")
    code, _stdout, stderr = await switchboard("restore", str(out), "--replace", data_dir=target)
    assert code == 0, stderr

    # The restored hub serves the ticket and the photo, to the same admin login.
    port = free_port()
    proc, _banner = await start_serve(target, port)
    try:
        async with desk(port) as http:
            assert await login(http, user, password) == 200
            [ticket] = (await (await http.get("/api/tickets")).json())["tickets"]
            assert ticket["subject"] == "my item arrived damaged"
            detail = await (await http.get(f"/api/tickets/{ticket['id']}")).json()
            [photo] = [a for m in detail["messages"] for a in m.get("attachments") or []]
            assert photo["filename"] == "crushed box.png"
            async with http.get(f"/api/attachments/{photo['blob_id']}") as response:
                assert await response.read() == PHOTO
    finally:
        assert await stop_serve(proc) == 0


def _backup_file(path: Path, manifest: dict[str, Any]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        data = json.dumps(manifest).encode()
        info = tarfile.TarInfo("manifest.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return path


async def test_restore_refuses_what_this_release_cannot_read(tmp_path: Path) -> None:
    newer = _backup_file(tmp_path / "newer.sbbackup", {"format": FORMAT, "version": FORMAT_VERSION + 1,
                                                       "collections": {}})
    code, _out, err = await switchboard("restore", str(newer), data_dir=tmp_path / "a")
    one_line_failure(code, err, f"format version {FORMAT_VERSION + 1}, written by a newer Switchboard")
    future_schema = _backup_file(tmp_path / "schema.sbbackup", {"format": FORMAT, "version": FORMAT_VERSION,
                                                                "schema_version": 999, "collections": {}})
    code, _out, err = await switchboard("restore", str(future_schema), data_dir=tmp_path / "a")
    one_line_failure(code, err, "schema version 999, from a newer Switchboard")
    (tmp_path / "junk.sbbackup").write_bytes(b"not a tar at all")
    code, _out, err = await switchboard("restore", str(tmp_path / "junk.sbbackup"), data_dir=tmp_path / "a")
    one_line_failure(code, err, "cannot read")
    code, _out, err = await switchboard("restore", str(tmp_path / "missing.sbbackup"), data_dir=tmp_path / "a")
    one_line_failure(code, err, "no backup file")
