"""The audit trail over real HTTP: logins, admin and supervisor actions, filters, CSV, admins only."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
import socket
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from agents_ui.audit import EXPORT_PAGE
from hub.audit import ACTION_WORDS, AuditQuery, BadCursor
from hub.models import Role, utcnow
from hub.store import ObjectId
from switchboard.bootstrap import Runtime
from tests.conftest import login
from tests.helpers import eventually
from tests.privacy_helpers import customer_writes


async def _setup(runtime: Runtime) -> None:
    assert runtime.hub is not None
    await runtime.hub.accounts.create("root", "a long admin password", name="Ada Admin", roles=[Role.ADMIN])
    await runtime.hub.accounts.create("sup", "a long supervisor password", name="Sam Super",
                                      roles=[Role.SUPERVISOR, Role.AGENT])


async def test_logins_are_recorded_with_username_and_ip(runtime: Runtime, client: TestClient[Any, Any]) -> None:
    await _setup(runtime)
    assert runtime.hub is not None
    bad = await client.post("/api/auth/login", json={"username": "root", "password": "not the password"})
    assert bad.status == 401
    ghost = await client.post("/api/auth/login", json={"username": "Nobody", "password": "whatever it is"})
    assert ghost.status == 401
    await login(client, "root", "a long admin password")

    resp = await client.get("/api/admin/audit", params={"action": "login.failed"})
    assert resp.status == 200, await resp.text()
    failed = (await resp.json())["entries"]
    assert [e["details"]["username"] for e in failed] == ["nobody", "root"]  # newest first
    assert all(e["ip"] == "127.0.0.1" and e["actor"] == "anonymous" for e in failed)
    ok = (await (await client.get("/api/admin/audit", params={"action": "login"})).json())["entries"]
    assert [(e["actor"], e["ip"]) for e in ok] == [("Ada Admin", "127.0.0.1")]
    stored = await runtime.hub.store.audit.find({"action": "login"}).to_list()
    assert "password" not in str(stored)


async def test_admin_and_supervisor_actions_are_recorded(runtime: Runtime, client: TestClient[Any, Any]) -> None:
    await _setup(runtime)
    assert runtime.hub is not None
    csrf = await login(client, "root", "a long admin password")
    created = await client.post("/api/agents", json={"username": "carol", "password": "a long password 3",
                                                     "name": "Carol", "roles": ["agent", "trainer"]},
                                headers={"X-CSRF-Token": csrf})
    assert created.status == 201
    csrf = await login(client, "sup", "a long supervisor password")
    response = await client.post("/api/responses", json={"shortcut": "hi", "title": "Hello", "text": "Hello!"},
                                 headers={"X-CSRF-Token": csrf})
    assert response.status == 201
    rid = (await response.json())["response"]["id"]
    assert (await client.put(f"/api/responses/{rid}", json={"shortcut": "hi", "title": "Hi", "text": "Hi!"},
                             headers={"X-CSRF-Token": csrf})).status == 200
    assert (await client.delete(f"/api/responses/{rid}", headers={"X-CSRF-Token": csrf})).status == 200

    # a supervisor hands a waiting ticket to Carol
    result = await customer_writes(runtime, "visitor-7", "I want to talk to a human")
    ticket = await runtime.hub.store.tickets.find_one({"contact_id": ObjectId(result.contact_id)})
    carol = await runtime.hub.store.agents.find_one({"username": "carol"})
    assert ticket is not None and carol is not None
    assigned = await client.post(f"/api/tickets/{ticket['_id']}/assign", json={"agent_id": str(carol["_id"])},
                                 headers={"X-CSRF-Token": csrf})
    assert assigned.status == 200, await assigned.text()

    await login(client, "root", "a long admin password")
    entries = (await (await client.get("/api/admin/audit", params={"limit": "100"})).json())["entries"]
    by_action = {e["action"]: e for e in entries}
    agent = by_action["agent.created"]
    assert agent["actor"] == "Ada Admin" and agent["target"] == "user Carol"
    assert agent["details"]["roles"] == ["agent", "trainer"]
    assert [by_action[a]["target"] for a in ("response.created", "response.updated", "response.deleted")] == \
        ["canned response /hi"] * 3
    assert by_action["response.deleted"]["actor"] == "Sam Super"
    handed = by_action["ticket.assigned"]
    assert (handed["actor"], handed["target"], handed["details"]) == ("Sam Super", f"ticket #{ticket['number']}",
                                                                      {"assignee": "carol"})
    assert not any(re.search(r"[0-9a-f]{24}", e["target"] + e["actor"]) for e in entries)  # names, not ids


async def test_role_changes_are_recorded_and_only_admins_make_them(
        runtime: Runtime, client: TestClient[Any, Any]) -> None:
    await _setup(runtime)
    assert runtime.hub is not None
    sam = await runtime.hub.store.agents.find_one({"username": "sup"})
    assert sam is not None
    csrf = await login(client, "sup", "a long supervisor password")
    refused = await client.patch(f"/api/agents/{sam['_id']}", json={"roles": ["admin"]},
                                 headers={"X-CSRF-Token": csrf})
    assert refused.status == 403
    csrf = await login(client, "root", "a long admin password")
    root = await runtime.hub.store.agents.find_one({"username": "root"})
    assert root is not None
    for bad, says in (({"roles": ["wizard"]}, "roles"), ({"roles": "admin"}, "roles"), ({"capacity": -1}, "capacity"),
                      ({"capacity": 2**63}, "capacity"), ({"disabled": "yes"}, "disabled"), ({"name": ""}, "name"),
                      ({"name": "  "}, "name")):
        resp = await client.patch(f"/api/agents/{sam['_id']}", json=bad, headers={"X-CSRF-Token": csrf})
        assert resp.status == 422 and says in (await resp.json())["error"], bad
    own = await client.patch(f"/api/agents/{root['_id']}", json={"roles": ["agent"]}, headers={"X-CSRF-Token": csrf})
    assert own.status == 400
    resp = await client.patch(f"/api/agents/{sam['_id']}", json={"roles": ["agent"], "capacity": 3},
                              headers={"X-CSRF-Token": csrf})
    assert resp.status == 200 and (await resp.json())["agent"]["roles"] == ["agent"]
    [entry] = (await (await client.get("/api/admin/audit", params={"action": "agent.roles_changed"})).json())["entries"]
    assert entry["actor"] == "Ada Admin" and entry["target"] == "user Sam Super"
    assert entry["details"]["roles"] == {"from": ["supervisor", "agent"], "to": ["agent"]}
    assert entry["details"]["capacity"] == {"from": 5, "to": 3}

    # Disabling a user ends their sessions at once.
    async with aiohttp.ClientSession(str(client.make_url("")), cookie_jar=aiohttp.CookieJar(unsafe=True)) as other:
        await login(other, "sup", "a long supervisor password")  # type: ignore[arg-type]
        assert (await other.get("/api/me")).status == 200
        resp = await client.patch(f"/api/agents/{sam['_id']}", json={"disabled": True},
                                  headers={"X-CSRF-Token": csrf})
        assert resp.status == 200
        assert (await other.get("/api/me")).status == 401


async def test_filters_paging_and_csv(runtime: Runtime, client: TestClient[Any, Any]) -> None:
    await _setup(runtime)
    assert runtime.hub is not None
    audit = runtime.hub.audit
    for i in range(5):
        await audit.record("contact.exported", target={"type": "contact", "id": None}, details={"n": i})
    await audit.record("login.failed", ip="10.0.0.9", target="=HYPERLINK(\"x\")", details={"username": "=x"})
    await login(client, "root", "a long admin password")

    pages, after = [], None
    while True:  # pages of two by cursor, newest first, each entry once
        page = await (await client.get("/api/admin/audit", params={
            "action": "contact.exported", "limit": "2", **({"after": after} if after else {})})).json()
        pages.append([e["details"]["n"] for e in page["entries"]])
        after = page["next_cursor"]
        if after is None:
            break
    assert pages == [[4, 3], [2, 1], [0]]
    mine = await (await client.get("/api/admin/audit", params={"actor": "root"})).json()
    assert {e["action"] for e in mine["entries"]} == {"login"} and mine["next_cursor"] is None
    future = (utcnow() + timedelta(days=1)).isoformat()
    later = await (await client.get("/api/admin/audit", params={"from": future})).json()
    assert later["entries"] == [] and later["next_cursor"] is None
    today = await (await client.get("/api/admin/audit", params={"to": utcnow().date().isoformat()})).json()
    assert len(today["entries"]) == 7  # a bare date `to` includes that day
    for bad in ({"from": "yesterday"}, {"limit": "5000"}, {"actor": "no-such-user"}, {"after": "-1"},
                {"after": "12-zz"}, {"after": "999999999999999-" + "a" * 24}):
        resp = await client.get("/api/admin/audit", params=bad)
        assert resp.status == 400 and (await resp.json())["error"], bad

    resp = await client.get("/api/admin/audit.csv", params={"action": "login.failed"})
    assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(await resp.text())))
    assert [r["ip"] for r in rows] == ["10.0.0.9"]
    assert rows[0]["target"] == "'=HYPERLINK(\"x\")"  # a spreadsheet shows it, never runs it
    # the export is recorded once its last row is out, so the client may read the end before the entry lands
    await eventually(lambda: runtime.hub.store.audit.find_one({"action": "audit.exported"}),  # type: ignore[union-attr]
                     what="the export's audit entry")
    assert (await runtime.hub.store.audit.count_documents({"action": "audit.exported"})) == 1


async def test_the_csv_export_streams_every_matching_entry_page_after_page(
        runtime: Runtime, client: TestClient[Any, Any]) -> None:
    """More entries than one round of the export holds: all of them arrive, newest first, each once, in a
    streamed (chunked) response, and the export records how many rows it sent."""
    await _setup(runtime)
    assert runtime.hub is not None
    now, total = utcnow(), EXPORT_PAGE * 2 + 7
    await runtime.hub.store.audit.insert_many([
        {"at": now - timedelta(seconds=3 * n), "action": "agent.updated", "actor": None, "target": None,
         "details": {"n": n}} for n in range(total)])
    await runtime.hub.audit.record("agent.created", details={"n": -1})  # another action: not exported
    await login(client, "root", "a long admin password")
    resp = await client.get("/api/admin/audit.csv", params={"action": "agent.updated"})
    assert resp.status == 200 and resp.headers.get("Transfer-Encoding") == "chunked"
    rows = list(csv.DictReader(io.StringIO(await resp.text())))
    assert [json.loads(r["details"])["n"] for r in rows] == list(range(total))
    recorded = await eventually(lambda: runtime.hub.store.audit.find_one(  # type: ignore[union-attr]
        {"action": "audit.exported"}), what="the export's audit entry")  # written once the last row is out
    assert recorded["details"]["rows"] == total and "complete" not in recorded["details"]


async def test_an_export_cut_short_is_recorded_with_the_rows_it_sent(
        runtime: Runtime, client: TestClient[Any, Any]) -> None:
    """The admin's browser goes away mid-download: the export stops and is still recorded, with the rows
    it had sent and `complete: false`. The file is larger than every buffer between the two ends: the
    hub's send buffer (the kernel's autotuning limit, 4 MB here) and 2 MB more; the reader's receive
    buffer is set small."""
    await _setup(runtime)
    assert runtime.hub is not None
    send_buffer = int(Path("/proc/sys/net/ipv4/tcp_wmem").read_text().split()[2])
    now, total = utcnow(), max(EXPORT_PAGE * 2 + 200, (send_buffer + 2 * 2**20) // 6000 + 1)
    await runtime.hub.store.audit.insert_many([
        {"at": now - timedelta(seconds=n), "action": "agent.updated", "actor": None, "target": None,
         "details": {"n": n, "note": "x" * 6000}} for n in range(total)])
    await login(client, "root", "a long admin password")
    cookies = "; ".join(f"{c.key}={c.value}" for c in client.session.cookie_jar)
    reader_socket = socket.socket()
    reader_socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    reader_socket.setblocking(False)
    await asyncio.get_running_loop().sock_connect(reader_socket, (client.host, client.port))
    reader, writer = await asyncio.open_connection(sock=reader_socket)
    writer.write(f"GET /api/admin/audit.csv?action=agent.updated HTTP/1.1\r\nHost: {client.host}\r\n"
                 f"Cookie: {cookies}\r\n\r\n".encode())
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    await reader.readuntil(b"\r\n")  # the first chunk's size, then the chunk: the CSV's header row
    assert (await reader.readuntil(b"\r\n")).startswith(b"at,action,actor")
    writer.transport.abort()  # unread bytes left behind: the connection is reset

    async def recorded() -> dict[str, Any] | None:
        return await runtime.hub.store.audit.find_one({"action": "audit.exported"})  # type: ignore[union-attr]

    entry = await eventually(recorded, what="the cut-short export's audit entry")
    assert entry["details"]["complete"] is False
    assert 0 <= entry["details"]["rows"] < total and entry["details"]["action"] == "agent.updated"


async def test_pages_reach_back_in_widening_spans_each_entry_once(runtime: Runtime) -> None:
    """Entries seconds, hours, days and years old, three in one millisecond: pages of two by cursor walk
    them newest first, each once; an action and an actor together keep only the entries with both."""
    assert runtime.hub is not None
    audit, now = runtime.hub.audit, utcnow()
    ada, bob = ObjectId(), ObjectId()
    ages = [timedelta(seconds=5)] * 3 + [timedelta(minutes=3), timedelta(hours=5), timedelta(days=2),
                                         timedelta(days=400), timedelta(days=1500)]
    for n, age in enumerate(ages):  # written directly: the trail's own API stamps the time itself
        await runtime.hub.store.audit.insert_one({
            "_id": ObjectId(f"{10 - n:024x}") if n < 3 else ObjectId(), "at": now - age, "action": "agent.updated",
            "actor": {"id": bob if n % 3 == 0 else ada, "username": "x", "name": "X"}, "target": None,
            "details": {"n": n}})
    pages, after = [], None
    while True:
        page = await audit.page(AuditQuery(action="agent.updated", after=after, limit=2))
        pages.append([e["details"]["n"] for e in page.entries])
        if (after := page.next_cursor) is None:
            break
    assert pages == [[0, 1], [2, 3], [4, 5], [6, 7]]  # one millisecond across pages: the larger _id first
    bobs = await audit.page(AuditQuery(action="agent.updated", actor_id=bob, limit=50))
    assert [e["details"]["n"] for e in bobs.entries] == [0, 3, 6] and bobs.next_cursor is None
    recent = await audit.page(AuditQuery(start=now - timedelta(days=3), limit=50))
    assert [e["details"]["n"] for e in recent.entries] == [0, 1, 2, 3, 4, 5]
    with pytest.raises(BadCursor):
        await audit.page(AuditQuery(after="not a cursor"))


async def test_only_admins_see_the_trail(runtime: Runtime, client: TestClient[Any, Any]) -> None:
    await _setup(runtime)
    assert (await client.get("/api/admin/audit")).status == 401
    await login(client, "sup", "a long supervisor password")
    assert (await client.get("/api/admin/audit")).status == 403
    assert (await client.get("/api/admin/audit.csv")).status == 403


def test_the_trail_has_no_update_or_delete_path() -> None:
    """Append-only by construction: every use of the `audit` collection in the code base is a read or an insert."""
    root = Path(__file__).resolve().parent.parent
    used = set()
    for folder in ("hub", "agents_ui", "switchboard", "channels", "bot"):
        for path in (root / folder).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            used |= set(re.findall(r"store\.audit\.(\w+)\(", text))
            if path.name == "audit.py" and path.parent.name == "hub":
                used |= set(re.findall(r"self\.collection\.(\w+)\(", text))
    assert used and used <= {"insert_one", "find", "count_documents", "create_index"}, used


def test_every_action_the_code_records_by_name_has_words_in_the_desk() -> None:
    """The trail's page shows actions in words (`ACTION_WORDS`); an action recorded without them would show as
    its code. The actions the code names literally are checked here (a few are built from a name, and are in
    `ACTION_WORDS` by hand)."""
    root = Path(__file__).resolve().parent.parent
    recorded = set()
    for folder in ("hub", "agents_ui", "switchboard", "channels", "bot"):
        for path in (root / folder).rglob("*.py"):
            recorded |= set(re.findall(r'audit\.record\(\s*"([a-z_.]+)"', path.read_text(encoding="utf-8")))
    assert len(recorded) > 20 and recorded <= set(ACTION_WORDS), recorded - set(ACTION_WORDS)
