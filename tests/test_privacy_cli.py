"""`switchboard contacts export|erase` and `switchboard retention run` as real processes on the test database."""

from __future__ import annotations

import asyncio
import io
import json
import os
import sys
import zipfile
from datetime import timedelta
from pathlib import Path

from hub.models import utcnow
from hub.privacy import ERASED_TEXT
from hub.store import ObjectId
from switchboard.bootstrap import Runtime
from tests.privacy_helpers import customer_writes

ROOT = Path(__file__).resolve().parent.parent


async def switchboard(runtime: Runtime, tmp_path: Path, *args: str, retention: str = "{}") -> tuple[int, str, str]:
    """Run the command against the hub's database: (exit code, stdout, stderr)."""
    config = tmp_path / "switchboard.yml"
    config.write_text(f"hub:\n  db_name: {runtime.settings.db_name}\nretention: {retention}\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("MONGODB_URI", None)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "switchboard.cli", *args, "--config", str(config),
        "--mongodb-uri", str(runtime.settings.mongodb_uri), cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_export_then_erase_from_the_command_line(runtime: Runtime, tmp_path: Path) -> None:
    assert runtime.hub is not None
    result = await customer_writes(runtime, "visitor-cli", "my phone is 555-0199", files=(("id.png", b"\x89PNG id"),))
    contact_id = result.contact_id
    out_file = tmp_path / "dana.zip"

    code, out, err = await switchboard(runtime, tmp_path, "contacts", "export", contact_id, "--out", str(out_file))
    assert code == 0, err
    assert "wrote" in out
    archive = zipfile.ZipFile(io.BytesIO(out_file.read_bytes()))
    document = json.loads(archive.read("contact.json"))
    assert "my phone is 555-0199" in [m["text"] for m in document["messages"]]
    assert archive.read(document["files"][0]["path"]) == b"\x89PNG id"

    code, _, err = await switchboard(runtime, tmp_path, "contacts", "erase", contact_id)
    assert code == 1 and err.strip() == "switchboard: erasure cannot be undone: add --yes to confirm"
    code, out, err = await switchboard(runtime, tmp_path, "contacts", "erase", contact_id, "--yes")
    assert code == 0, err
    assert "1 file(s) deleted" in out
    texts = {m["text"] for m in await runtime.hub.store.messages.find({"contact_id": ObjectId(contact_id)}).to_list()}
    assert texts == {ERASED_TEXT}
    code, out, _ = await switchboard(runtime, tmp_path, "contacts", "erase", contact_id, "--yes")
    assert code == 0 and "erased already" in out
    entries = await runtime.hub.store.audit.find({"details.via": "cli"}).to_list()
    assert sorted(e["action"] for e in entries) == ["contact.erased", "contact.exported"]


async def test_expected_failures_are_one_line(runtime: Runtime, tmp_path: Path) -> None:
    for args, says in ((("contacts", "export", "nope", "--out", str(tmp_path / "x.zip")), "not a contact id"),
                       (("contacts", "erase", str(ObjectId()), "--yes"), "no such contact"),
                       (("contacts", "export", str(ObjectId()), "--out", str(tmp_path / "x.zip")), "no such contact")):
        code, _, err = await switchboard(runtime, tmp_path, *args)
        assert code == 1 and says in err and len(err.strip().splitlines()) == 1, err
    code, _, err = await switchboard(runtime, tmp_path, "retention", "run", retention="{widget: {days: 0}}")
    assert code == 1 and "retention.widget.days" in err and "Traceback" not in err


async def test_retention_run_from_the_command_line(runtime: Runtime, tmp_path: Path) -> None:
    assert runtime.hub is not None
    result = await customer_writes(runtime, "visitor-old", "an old question")
    conversation_id = ObjectId(result.conversation_id)
    assert await runtime.hub.end_conversation(conversation_id) == "closed"
    await runtime.hub.store.conversations.update_one(  # closed long ago
        {"_id": conversation_id}, {"$set": {"closed_at": utcnow() - timedelta(days=400)}})
    await runtime.hub.store.events.insert_one({"type": "ticket.created", "at": utcnow() - timedelta(days=31)})
    await runtime.hub.aggregates.catch_up()  # the event log is trimmed only behind what the aggregates read
    code, out, err = await switchboard(runtime, tmp_path, "retention", "run",
                                       retention="{widget: {days: 365, action: anonymise}}")
    assert code == 0, err
    assert "widget: anonymise after 365 days: 1 conversation(s)" in out
    assert "event log: 1 event(s) older than 30 days deleted" in out
    texts = {m["text"] for m in await runtime.hub.store.messages.find({"conversation_id": conversation_id}).to_list()}
    assert texts == {ERASED_TEXT}


async def test_users_add_from_the_command_line_is_audited(runtime: Runtime, tmp_path: Path) -> None:
    assert runtime.hub is not None
    config = tmp_path / "switchboard.yml"
    config.write_text(f"hub:\n  db_name: {runtime.settings.db_name}\n", encoding="utf-8")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "switchboard.cli", "users", "add", "zoe", "--name", "Zoe", "--role", "supervisor",
        "--password-stdin",
        "--config", str(config), "--mongodb-uri", str(runtime.settings.mongodb_uri), cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)}, start_new_session=True,  # no terminal: the password comes on stdin
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(b"zoe's long password\n"), timeout=120)
    assert proc.returncode == 0, err.decode()
    assert "created zoe (supervisor)" in out.decode()
    [entry] = await runtime.hub.store.audit.find({"action": "agent.created"}).to_list()
    assert entry["actor"] is None and entry["details"] == {"username": "zoe", "roles": ["supervisor"], "via": "cli"}
    assert entry["target"]["name"] == "Zoe"
