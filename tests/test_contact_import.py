"""Contacts from a CSV file (hub.contactimport, POST /api/contacts/import): new rows create contacts their next email
or text joins, known addresses update their contact, refused rows are reported by line with the reason and the
rest imported; a check writes nothing; importing the same file again changes nothing; a file that is not contacts
is refused whole."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp.test_utils import TestClient

from hub.models import InboundMessage, Role, Sender
from switchboard.bootstrap import Runtime
from tests.conftest import login
from tests.test_ticket_list import open_ticket

ANA = Sender("ana@example.com", display_name="Ana Lima", email="ana@example.com")
BEN = Sender("+14155550100", phone="+14155550100")

FILE = """Name,Email,Phone,Tags,Company name,Plan
Grace Hopper,Grace@Example.com,+49 30 1234567,vip; navy,Acme,gold
Ana Lima-Souza,ana@example.com,,,Initech,
Bad Address,not-an-address,,,,

Nobody,,,,Umbrella,
Linus T,,0044 20 7946 0000,,,
Two People,ana@example.com,+14155550100,,,
{long},long@example.com,,,,
""".replace("{long}", "N" * 201)


async def as_supervisor(client: TestClient[Any, Any], runtime: Runtime) -> dict[str, str]:
    assert runtime.hub is not None
    await runtime.hub.accounts.create("sam", "sam's long password", name="Sam Lead", roles=[Role.SUPERVISOR])
    return {"X-CSRF-Token": await login(client, "sam", "sam's long password")}


async def post(client: TestClient[Any, Any], headers: dict[str, str], text: str, dry_run: bool = False) -> Any:
    return await client.post("/api/contacts/import", json={"csv": text, "dry_run": dry_run}, headers=headers)


async def test_a_csv_file_creates_and_updates_contacts(client: TestClient[Any, Any], runtime: Runtime) -> None:
    hub = runtime.hub
    assert hub is not None
    ana_ticket = await open_ticket(runtime, "email", ANA, "Where is my order?")
    await open_ticket(runtime, "sms", BEN, "Hello")
    headers = await as_supervisor(client, runtime)
    before = await hub.store.contacts.count_documents({})

    checked = await post(client, headers, FILE, dry_run=True)
    assert checked.status == 200, await checked.text()
    report = await checked.json()
    assert (report["created"], report["updated"], len(report["refused"])) == (2, 1, 4)
    assert await hub.store.contacts.count_documents({}) == before  # a check writes nothing

    resp = await post(client, headers, FILE)
    assert resp.status == 200, await resp.text()
    report = await resp.json()
    assert (report["created"], report["updated"], report["unchanged"]) == (2, 1, 0)
    assert report["refused"] == [
        {"line": 4, "reason": "'not-an-address' is not an email address"},
        {"line": 6, "reason": "no email and no phone"},
        {"line": 8, "reason": "ana@example.com belongs to Ana Lima-Souza and +14155550100 to +14155550100: "
                              "merge the two contacts first"},
        {"line": 9, "reason": "name: at most 200 characters"}]
    assert await hub.store.contacts.count_documents({}) == before + 2

    grace = await hub.store.contacts.find_one({"emails": "grace@example.com"})
    assert grace is not None and grace["name"] == "Grace Hopper"
    assert grace["phones"] == ["+49301234567"] and grace["tags"] == ["navy", "vip"]
    assert grace["attributes"] == {"company_name": "Acme", "plan": "gold"}
    ana = await hub.store.contacts.find_one({"_id": ana_ticket["contact_id"]})
    assert ana is not None and ana["name"] == "Ana Lima-Souza" and ana["attributes"] == {"company_name": "Initech"}
    linus = await hub.store.contacts.find_one({"phones": "+442079460000"})
    assert linus is not None and linus["name"] == "Linus T"

    # their first email joins the imported record
    await hub.ingest(InboundMessage(channel="email", external_id=uuid.uuid4().hex, thread_key=uuid.uuid4().hex,
                                    sender=Sender("grace@example.com", display_name="G. Hopper"),
                                    text="Hello, my order 12 is late"))
    await hub.pipeline.drain()
    message = await hub.store.messages.find_one({"text": "Hello, my order 12 is late"})
    assert message is not None and message["contact_id"] == grace["_id"]

    again = await (await post(client, headers, FILE)).json()  # the same file again: nothing changes
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 3)
    actions = [e["action"] async for e in hub.store.audit.find({"action": "contacts.imported"})]
    assert actions == ["contacts.imported", "contacts.imported"]


async def test_the_check_says_what_the_import_then_does(client: TestClient[Any, Any], runtime: Runtime) -> None:
    """A check's counts are the import's: a new address on three lines is one contact created, then updated once
    and left unchanged; a known contact the row does not change is unchanged, not updated. Until 2026-12-08 the
    check counted the new address as three contacts created, and every known one as updated."""
    hub = runtime.hub
    assert hub is not None
    await open_ticket(runtime, "email", ANA, "Where is my order?")
    headers = await as_supervisor(client, runtime)
    text = ("Email,Name,Plan\nnew@example.com,New One,gold\nnew@example.com,New One,platinum\n"
            "new@example.com,New One,platinum\nana@example.com,Ana Lima,\nana@example.com,Ana Lima,gold\n")
    said = []
    for _ in range(2):  # the second time, the file's first line changes the plan back from platinum to gold
        checked = await (await post(client, headers, text, dry_run=True)).json()
        done = await (await post(client, headers, text)).json()
        assert {**checked, "dry_run": False} == done
        said.append((done["created"], done["updated"], done["unchanged"]))
    assert said == [(1, 2, 2), (0, 2, 3)]


async def test_a_semicolon_file_from_a_spreadsheet_is_read(client: TestClient[Any, Any], runtime: Runtime) -> None:
    hub = runtime.hub
    assert hub is not None
    headers = await as_supervisor(client, runtime)
    resp = await post(client, headers, "\ufeffE-mail;Name;Customer since\r\nzoe@example.org;Zoë Ålund;2019\r\n")
    assert resp.status == 400 and "one of them is email or phone" in (await resp.json())["error"]
    resp = await post(client, headers, "\ufeffEmail;Name;Customer since\r\nzoe@example.org;Zoë Ålund;2019\r\n")
    assert resp.status == 200 and (await resp.json())["created"] == 1, await resp.text()
    zoe = await hub.store.contacts.find_one({"emails": "zoe@example.org"})
    assert zoe is not None and zoe["name"] == "Zoë Ålund" and zoe["attributes"] == {"customer_since": "2019"}


async def test_what_is_not_a_file_of_contacts_is_refused(client: TestClient[Any, Any], runtime: Runtime) -> None:
    hub = runtime.hub
    assert hub is not None
    headers = await as_supervisor(client, runtime)
    for text, reason in (("", None), ("Email,Email\na@example.com,b@example.com\n", "two columns have the same name"),
                         ("Email,2nd phone\na@example.com,1\n", "column '2nd phone' cannot be an attribute"),
                         ("Email\n" + "".join(f"u{i}@example.com\n" for i in range(1001)), "at most 1000 contacts"),
                         ('Email,Note\na@example.com,"' + "x" * 140_000 + '"\n', "cannot be read as CSV: field")):
        resp = await post(client, headers, text)
        if reason is None:
            assert resp.status == 422
        else:
            assert resp.status == 400 and reason in (await resp.json())["error"], await resp.text()
    assert (await client.post("/api/contacts/import", json={"csv": 5}, headers=headers)).status == 422
    assert await hub.store.contacts.count_documents({}) == 0
    await hub.accounts.create("alice", "alice's long password", name="Alice", roles=[Role.AGENT])
    csrf = await login(client, "alice", "alice's long password")
    refused = await post(client, {"X-CSRF-Token": csrf}, "Email\na@example.com\n")
    assert refused.status == 403  # agents edit contacts one by one; an import is a supervisor's


async def test_the_export_is_read_back_by_the_import(client: TestClient[Any, Any], runtime: Runtime) -> None:
    """GET /api/contacts/export.csv: every live contact in the import's columns (a merged-away one left out), cells a
    spreadsheet will not run; imported back, it changes nothing; audited with its row count."""
    import csv
    import io

    hub = runtime.hub
    assert hub is not None
    headers = await as_supervisor(client, runtime)
    assert (await post(client, headers, FILE)).status == 200
    evil = await open_ticket(runtime, "email", Sender("eve@example.net", display_name='=HYPERLINK("http://x")'),
                             "hi")
    dup = await open_ticket(runtime, "email", Sender("grace.h@example.org", display_name="G H"), "hello")
    grace = await hub.store.contacts.find_one({"emails": "grace@example.com"})
    assert grace is not None
    await hub.merges.merge(grace["_id"], dup["contact_id"], {"name": "Sam Lead"})

    resp = await client.get("/api/contacts/export.csv")
    assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/csv")
    text = await resp.text()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == ["name", "email", "phone", "tags", "company_name", "plan"]
    by_email = {r["email"]: r for r in rows}
    assert by_email["grace@example.com"] == {"name": "Grace Hopper", "email": "grace@example.com",
                                             "phone": "+49301234567", "tags": "navy; vip",
                                             "company_name": "Acme", "plan": "gold"}
    assert by_email["eve@example.net"]["name"] == "'=HYPERLINK(\"http://x\")"  # shown, never run
    assert "grace.h@example.org" not in by_email  # merged into Grace: her record holds it
    live = await hub.store.contacts.count_documents({"merged_into": None})
    assert len(rows) == live
    assert evil["contact_id"] in {c["_id"] async for c in hub.store.contacts.find({"emails": "eve@example.net"})}

    back = await (await post(client, headers, text)).json()
    assert (back["created"], back["updated"], back["refused"]) == (0, 0, [])  # Eve's name read back without the quote
    assert back["unchanged"] == len(rows)
    audited = await hub.store.audit.find_one({"action": "contacts.exported"})
    assert audited is not None and audited["details"]["rows"] == len(rows)
    await hub.accounts.create("alice", "alice's long password", name="Alice", roles=[Role.AGENT])
    await login(client, "alice", "alice's long password")
    assert (await client.get("/api/contacts/export.csv")).status == 403
