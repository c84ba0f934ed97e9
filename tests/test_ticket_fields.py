"""Admins' ticket fields (hub.ticketfields): an admin defines them, agents fill them in on the ticket; each change is
a line in the timeline and an event; what a field does not take is refused with the reason; a text value finds the
ticket in the list's search; a deleted field is no longer listed or settable, and its key keeps its kind; erasing the
customer erases the values."""

from __future__ import annotations

from typing import Any, get_args

from aiohttp.test_utils import TestClient

from agents_ui.schemas import FieldKind
from hub.models import Role, Sender, utcnow
from hub.ticketfields import FIELDS_CHANGED, KINDS, FieldDef, FieldError, checked_value
from hub.tickets import TicketError
from switchboard.bootstrap import Runtime
from tests.conftest import login
from tests.helpers import eventually
from tests.test_automation import automation_lines
from tests.test_ticket_list import assert_list_fields_current, listed, open_ticket
from tests.test_ticket_reads import ANA

FIELDS = {
    "order_number": {"label": "Order number", "kind": "text", "description": "From the confirmation email"},
    "product": {"label": "Product", "kind": "list", "options": ["Kettle", "Toaster", "Blender"]},
    "refund_approved": {"label": "Refund approved", "kind": "checkbox"},
    "amount": {"label": "Amount", "kind": "number"},
    "delivered_on": {"label": "Delivered on", "kind": "date"},
    "tracking": {"label": "Tracking page", "kind": "link"},
}


async def define(client: TestClient[Any, Any], csrf: str, key: str, body: dict[str, Any]) -> Any:
    return await client.put(f"/api/admin/ticket-fields/{key}", json=body, headers={"X-CSRF-Token": csrf})


async def admin_defines_fields(client: TestClient[Any, Any], runtime: Runtime) -> str:
    """Sam, an admin, defines FIELDS; his CSRF token (the client is signed in as him)."""
    assert runtime.hub is not None
    await runtime.hub.accounts.create("sam", "sam's long password", name="Sam Lead", roles=[Role.ADMIN])
    csrf = await login(client, "sam", "sam's long password")
    for key, body in FIELDS.items():
        resp = await define(client, csrf, key, body)
        assert resp.status == 200, await resp.text()
    return csrf


async def edit(client: TestClient[Any, Any], csrf: str, ticket: Any, fields: dict[str, Any]) -> Any:
    return await client.patch(f"/api/tickets/{ticket['_id']}", json={"fields": fields},
                              headers={"X-CSRF-Token": csrf})


async def lines(runtime: Runtime, ticket: Any) -> list[str]:
    assert runtime.hub is not None
    return [m["text"] async for m in runtime.hub.store.messages.find(
        {"conversation_id": {"$in": ticket["conversation_ids"]}, "metadata.change": {"$exists": True}},
        sort=[("created_at", 1), ("_id", 1)])]


def test_the_schema_offers_the_kinds_the_hub_takes() -> None:
    assert set(get_args(FieldKind)) == set(KINDS)


def test_each_kind_takes_its_values_and_says_what_it_wants() -> None:
    def check(kind: str, value: Any, options: tuple[str, ...] = ()) -> Any:
        return checked_value(FieldDef("f", "Field", kind, options), value)

    assert check("text", "  A-1001  x ") == "A-1001 x"
    assert check("number", 12.0) == 12 and isinstance(check("number", 12.0), int) and check("number", 2.5) == 2.5
    assert check("date", "2026-12-07") == "2026-12-07"
    assert check("list", "Kettle", ("Kettle",)) == "Kettle"
    assert check("checkbox", False) is False
    assert check("link", "https://track.example.com/A1") == "https://track.example.com/A1"
    assert check("text", "") is None and check("date", None) is None
    for kind, value, says in [("number", "12", "is a number"), ("number", True, "is a number"),
                              ("number", float("inf"), "is a number"), ("number", 10**400, "at most 15 digits"),
                              ("date", "2026-13-01", "YYYY-MM-DD"),
                              ("date", "20261207", "YYYY-MM-DD"), ("list", "Fridge", "one of Kettle"),
                              ("checkbox", "yes", "true or false"), ("link", "javascript:alert(1)", "http"),
                              ("link", "https://", "http"), ("text", "x" * 501, "at most 500"), ("text", 5, "a text")]:
        try:
            check(kind, value, ("Kettle",))
        except FieldError as exc:
            assert says in str(exc), (kind, value, exc)
        else:
            raise AssertionError(f"{kind} took {value!r}")


async def test_an_admin_defines_fields_and_an_agent_fills_them_in(client: TestClient[Any, Any],
                                                                  runtime: Runtime) -> None:
    hub = runtime.hub
    assert hub is not None
    csrf = await admin_defines_fields(client, runtime)
    listing = await client.get("/api/ticket-fields")
    assert [f["key"] for f in (await listing.json())["fields"]] == list(FIELDS)  # in the order defined
    assert (await listing.json())["fields"][1]["options"] == ["Kettle", "Toaster", "Blender"]

    ticket = await open_ticket(runtime, "email", ANA, "My kettle arrived broken", subject="Broken kettle")
    resp = await edit(client, csrf, ticket, {"order_number": "A-1001", "product": "Kettle", "amount": 49.5,
                                             "refund_approved": False})
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["ticket"]["fields"] == {"order_number": "A-1001", "product": "Kettle",
                                                       "amount": 49.5, "refund_approved": False}
    resp = await edit(client, csrf, ticket, {"refund_approved": True, "order_number": None,
                                             "delivered_on": "2026-12-01", "product": "Kettle"})
    assert resp.status == 200, await resp.text()
    stored = await hub.store.tickets.find_one({"_id": ticket["_id"]})
    assert stored is not None and stored["fields"] == {"product": "Kettle", "amount": 49.5, "refund_approved": True,
                                                       "delivered_on": "2026-12-01"}
    assert (await lines(runtime, ticket))[-2:] == [
        "Sam Lead set Order number to A-1001; set Product to Kettle; set Amount to 49.5; "
        "set Refund approved to no.",
        "Sam Lead changed Refund approved from no to yes; cleared Order number; set Delivered on to 2026-12-01."]
    events = [e["data"] async for e in hub.store.events.find({"type": "ticket.field_changed",
                                                                "ticket_id": ticket["_id"]})]
    assert {"field": "order_number", "label": "Order number", "from": "A-1001", "to": None} in events
    assert len(events) == 7

    # the same values again: no change, no line
    before = await lines(runtime, ticket)
    assert (await edit(client, csrf, ticket, {"product": "Kettle"})).status == 200
    assert await lines(runtime, ticket) == before

    # what a field does not take, with the reason, and nothing changed
    for fields, says in [({"product": "Fridge"}, "Product is one of Kettle, Toaster, Blender"),
                         ({"amount": "49"}, "Amount is a number"), ({"colour": "red"}, "no ticket field 'colour'"),
                         ({"tracking": "ftp://x"}, "http"), ({"delivered_on": "yesterday"}, "YYYY-MM-DD")]:
        bad = await edit(client, csrf, ticket, fields)
        assert bad.status == 422 and says in await bad.text(), (fields, await bad.text())
    bad = await client.patch(f"/api/tickets/{ticket['_id']}", json={"fields": {"amount": [1]}},
                             headers={"X-CSRF-Token": csrf})
    assert bad.status == 422 and "fields" in await bad.text()
    assert (await hub.store.tickets.find_one({"_id": ticket["_id"]}))["fields"] == stored["fields"]

    # a text value is a search word of the ticket
    assert (await edit(client, csrf, ticket, {"order_number": "B-7788"})).status == 200
    assert await listed(client, "q=B-7788") == [ticket["number"]]

    # erasing the customer erases what agents wrote about them in the fields, and the lines that said it
    await hub.privacy.erase(ticket["contact_id"])
    erased = await hub.store.tickets.find_one({"_id": ticket["_id"]})
    assert erased is not None and "fields" not in erased
    assert not [m async for m in hub.store.messages.find({"conversation_id": {"$in": ticket["conversation_ids"]},
                                                          "text": {"$regex": "B-7788"}})]
    assert await listed(client, "q=B-7788&status=new,open,pending,solved,closed") == []


async def test_definitions_are_checked_kept_and_only_for_admins(client: TestClient[Any, Any],
                                                                runtime: Runtime) -> None:
    hub = runtime.hub
    assert hub is not None
    csrf = await admin_defines_fields(client, runtime)
    for key, body, says in [
            ("Order", {"label": "Order", "kind": "text"}, "lower-case"),
            ("size", {"label": "Size", "kind": "list"}, "1 to 50 choices"),
            ("size", {"label": "Size", "kind": "list", "options": ["S", "S"]}, "all different"),
            ("note", {"label": "Note", "kind": "text", "options": ["a"]}, "only a list field"),
            ("amount", {"label": "Amount", "kind": "text"}, "kind cannot change")]:
        resp = await define(client, csrf, key, body)
        assert resp.status == 400 and says in await resp.text(), (key, await resp.text())
    wrong = await define(client, csrf, "size", {"label": "Size", "kind": "colour"})
    assert wrong.status == 422 and "kind" in await wrong.text()

    # a new label and choices for a field that has values: the values stay
    ticket = await open_ticket(runtime, "email", ANA, "Which toaster fits?")
    assert (await edit(client, csrf, ticket, {"product": "Toaster"})).status == 200
    renamed = await define(client, csrf, "product", {"label": "Item", "kind": "list",
                                                     "options": ["Kettle", "Toaster", "Fridge"]})
    assert renamed.status == 200
    assert (await edit(client, csrf, ticket, {"product": "Fridge"})).status == 200
    assert (await lines(runtime, ticket))[-1] == "Sam Lead changed Item from Toaster to Fridge."

    # deleted: not listed, not settable; the value stays on the ticket
    assert (await client.delete("/api/admin/ticket-fields/product", headers={"X-CSRF-Token": csrf})).status == 200
    assert (await client.delete("/api/admin/ticket-fields/product", headers={"X-CSRF-Token": csrf})).status == 404
    assert "product" not in [f["key"] for f in (await (await client.get("/api/ticket-fields")).json())["fields"]]
    assert (await edit(client, csrf, ticket, {"product": "Kettle"})).status == 422
    assert (await hub.store.tickets.find_one({"_id": ticket["_id"]}))["fields"] == {"product": "Fridge"}
    again = await define(client, csrf, "product", {"label": "Product", "kind": "text"})  # its key keeps its kind
    assert again.status == 400 and "product was a list field" in await again.text()
    assert (await define(client, csrf, "product", {"label": "Product", "kind": "list",
                                                   "options": ["Kettle", "Fridge"]})).status == 200
    assert [f["key"] for f in (await (await client.get("/api/ticket-fields")).json())["fields"]][-1] == "product"
    assert (await client.delete("/api/admin/ticket-fields/product", headers={"X-CSRF-Token": csrf})).status == 200
    actions = [r["action"] async for r in hub.store.audit.find({"action": {"$regex": "^ticket_field"}})]
    assert actions.count("ticket_field.saved") == len(FIELDS) + 2 and actions.count("ticket_field.deleted") == 2

    # an agent reads the fields but does not define them
    await hub.accounts.create("alice", "alice's long password", name="Alice", roles=[Role.AGENT])
    agent_csrf = await login(client, "alice", "alice's long password")
    assert (await client.get("/api/ticket-fields")).status == 200
    assert (await define(client, agent_csrf, "colour", {"label": "Colour", "kind": "text"})).status == 403
    assert (await edit(client, agent_csrf, ticket, {"amount": 3})).status == 200


async def test_a_macro_sets_fields_in_one_click(client: TestClient[Any, Any], runtime: Runtime) -> None:
    hub = runtime.hub
    assert hub is not None
    csrf = await admin_defines_fields(client, runtime)
    headers = {"X-CSRF-Token": csrf}
    saved = await client.post("/api/macros", headers=headers, json={"name": "Kettle refund", "actions": {
        "fields": {"product": "Kettle", "refund_approved": True}, "status": "pending"}})
    assert saved.status == 201, await saved.text()
    for fields, says in [({"colour": "red"}, "no ticket field 'colour'"), ({"product": "Fridge"}, "one of Kettle"),
                         ({"amount": None}, "a value for Amount")]:
        refused = await client.post("/api/macros", headers=headers, json={"name": "Bad", "actions": {"fields": fields}})
        assert refused.status == 400 and says in await refused.text(), (fields, await refused.text())
    ticket = await open_ticket(runtime, "email", ANA, "My kettle arrived broken")
    resp = await client.post(f"/api/tickets/{ticket['_id']}/macros/{(await saved.json())['macro']['id']}",
                             headers=headers)
    assert resp.status == 200 and (await resp.json())["failed"] == [], await resp.text()
    after = await hub.tickets.get(ticket["_id"])
    assert after["fields"] == {"product": "Kettle", "refund_approved": True} and after["status"] == "pending"
    assert "Sam Lead set Product to Kettle and set Refund approved to yes." in await lines(runtime, ticket)

    # a rule sets them too, on a customer's new ticket, in its one line
    await hub.automation.save_rule({"name": "Toasters", "event": "ticket.created",
                                    "conditions": {"text": "toaster"}, "actions": {"fields": {"product": "Toaster"}}})

    async def rules_read() -> bool:  # the hub's rule cache follows the change on its bus
        return bool(hub.automation._rules)

    await eventually(rules_read, what="the rule cache")
    toaster = await open_ticket(runtime, "email", Sender("bo@example.org", email="bo@example.org"),
                                "My toaster burns everything")

    async def run_line() -> list[str]:  # written after the run's changes
        return await automation_lines(runtime, toaster)

    assert await eventually(run_line, what="the rule's run") == ["Automation 'Toasters' set Product to Toaster"]
    assert (await hub.tickets.get(toaster["_id"]))["fields"] == {"product": "Toaster"}


async def test_the_list_filters_by_a_fields_value(client: TestClient[Any, Any], runtime: Runtime) -> None:
    hub = runtime.hub
    assert hub is not None
    csrf = await admin_defines_fields(client, runtime)
    kettle = await open_ticket(runtime, "email", ANA, "My kettle arrived broken")
    toaster = await open_ticket(runtime, "email", Sender("bo@example.org", email="bo@example.org"),
                                "My toaster burns everything")
    assert (await edit(client, csrf, kettle, {"product": "Kettle", "refund_approved": True})).status == 200
    assert (await edit(client, csrf, toaster, {"product": "Toaster", "refund_approved": False})).status == 200
    assert await listed(client, "field=product%3DKettle") == [kettle["number"]]
    assert await listed(client, "field=refund_approved%3Dfalse") == [toaster["number"]]
    assert await listed(client, "field=product%3DKettle&channel=sms") == []
    await hub.tickets.set_status(kettle["_id"], "solved", None)
    assert await listed(client, "field=product%3DKettle") == []  # the live desk by default
    assert await listed(client, "field=product%3DKettle&status=solved") == [kettle["number"]]
    assert (await edit(client, csrf, toaster, {"product": None})).status == 200
    assert await listed(client, "field=product%3DToaster") == []  # cleared: no longer found by it
    bad = await client.get("/api/tickets?field=Product")
    assert bad.status == 400 and "product=Kettle" in await bad.text()
    await assert_list_fields_current(hub)


async def test_the_bulk_bar_sets_a_field_on_each_ticket(client: TestClient[Any, Any], runtime: Runtime) -> None:
    hub = runtime.hub
    assert hub is not None
    csrf = await admin_defines_fields(client, runtime)
    one = await open_ticket(runtime, "email", ANA, "My kettle arrived broken")
    two = await open_ticket(runtime, "email", Sender("bo@example.org", email="bo@example.org"), "Kettle broken too")
    ids = [str(one["_id"]), str(two["_id"])]

    async def bulk(body: dict[str, Any], token: str = csrf) -> Any:
        return await client.post("/api/tickets/bulk", json={"ticket_ids": ids, **body}, headers={"X-CSRF-Token": token})

    resp = await bulk({"fields": {"product": "Kettle", "refund_approved": True}})
    assert resp.status == 200 and [d["number"] for d in (await resp.json())["done"]] == [one["number"], two["number"]]
    for ticket in (one, two):
        assert (await hub.tickets.get(ticket["_id"]))["fields"] == {"product": "Kettle", "refund_approved": True}
    refused = await (await bulk({"fields": {"product": "Fridge"}})).json()
    assert refused["done"] == [] and {f["error"] for f in refused["failed"]} == {
        "Product is one of Kettle, Toaster, Blender"}  # each ticket says why, nothing changed
    await client.post("/api/auth/logout", headers={"X-CSRF-Token": csrf})
    await hub.accounts.create("sue", "sue's long password", name="Sue", roles=[Role.SUPERVISOR])
    sue = await login(client, "sue", "sue's long password")
    only = await bulk({"fields": {"product": "Toaster"}}, sue)
    assert only.status == 403 and "fields" in await only.text()


async def test_a_required_field_is_filled_in_before_a_solve(client: TestClient[Any, Any], runtime: Runtime) -> None:
    """Required to solve: the status menu, "Send and solve", the bulk bar and a close are refused while the field is
    empty, naming it, and nothing is written; pending is not a solve; filled in, the solve goes. Another process's
    change reaches this one's live copy through the bus."""
    hub = runtime.hub
    assert hub is not None
    csrf = await admin_defines_fields(client, runtime)
    headers = {"X-CSRF-Token": csrf}
    box = await define(client, csrf, "refund_approved", {**FIELDS["refund_approved"], "required": True})
    assert box.status == 400 and "cannot be required" in await box.text()
    assert (await define(client, csrf, "order_number", {**FIELDS["order_number"], "required": True})).status == 200
    listed_fields = (await (await client.get("/api/ticket-fields")).json())["fields"]
    assert [f["key"] for f in listed_fields if f["required"]] == ["order_number"]
    ticket = await open_ticket(runtime, "email", ANA, "My kettle arrived broken")
    tid = ticket["_id"]
    messages = await hub.store.messages.count_documents({})
    says = "fill in Order number before solving the ticket"

    solve = await client.post(f"/api/tickets/{tid}/status", json={"status": "solved"}, headers=headers)
    assert solve.status == 400 and says in await solve.text()
    close = await client.post(f"/api/tickets/{tid}/status", json={"status": "closed"}, headers=headers)
    assert close.status == 400 and "before closing the ticket" in await close.text()
    reply = await client.post(f"/api/tickets/{tid}/reply", json={"text": "All done.", "status": "solved"},
                              headers=headers)
    assert reply.status == 400 and says in await reply.text()
    bulk = await (await client.post("/api/tickets/bulk", json={"ticket_ids": [str(tid)], "status": "solved"},
                                    headers=headers)).json()
    assert bulk["done"] == [] and [f["error"] for f in bulk["failed"]] == [says]
    assert await hub.store.messages.count_documents({}) == messages  # no reply, no line
    assert (await hub.tickets.get(tid))["status"] != "solved"
    pending = await client.post(f"/api/tickets/{tid}/status", json={"status": "pending"}, headers=headers)
    assert pending.status == 200

    # written first, a ticket cannot start solved while the field is empty: refused before anything is written
    tickets = await hub.store.tickets.count_documents({})
    assert "start it open or pending" in str(await _refused_start(hub))
    assert await hub.store.tickets.count_documents({}) == tickets

    # a macro that only solves is refused that part; one that fills the field in and solves does both
    solve_only = await client.post("/api/macros", headers=headers, json={"name": "Done", "actions": {
        "status": "solved"}})
    applied = await client.post(f"/api/tickets/{tid}/macros/{(await solve_only.json())['macro']['id']}",
                                headers=headers)
    assert applied.status == 200 and (await applied.json())["failed"] == [says]
    fill_and_solve = await client.post("/api/macros", headers=headers, json={"name": "Done with order", "actions": {
        "fields": {"order_number": "A-1001"}, "status": "solved"}})
    applied = await client.post(f"/api/tickets/{tid}/macros/{(await fill_and_solve.json())['macro']['id']}",
                                headers=headers)
    assert applied.status == 200 and (await applied.json())["failed"] == [], await applied.text()
    assert (await hub.tickets.get(tid))["status"] == "solved"
    assert (await client.post(f"/api/tickets/{tid}/status", json={"status": "open"}, headers=headers)).status == 200
    reply = await client.post(f"/api/tickets/{tid}/reply", json={"text": "All done.", "status": "solved"},
                              headers=headers)
    assert reply.status == 201 and (await hub.tickets.get(tid))["status"] == "solved"

    # another process makes the field optional: its event reaches this process's live copy
    again = await open_ticket(runtime, "email", Sender("bo@example.org", email="bo@example.org"), "Kettle broken too")
    await hub.store.ticket_fields.update_one({"_id": "order_number"}, {"$set": {"required": False}})
    await hub.store.append_event(FIELDS_CHANGED, utcnow(), data={"by": "another process"})

    async def optional() -> bool:
        return not hub.tickets.fields.live["order_number"].required

    await eventually(optional, what="the live copy re-read")
    assert (await client.post(f"/api/tickets/{again['_id']}/status", json={"status": "solved"},
                              headers=headers)).status == 200


async def _refused_start(hub: Any) -> Exception:
    agent = await hub.store.agents.find_one({"username": "sam"})
    try:
        await hub.new_tickets.start(agent, channel="email", to="cy@example.org", subject="Your kettle",
                                    text="It is repaired.", status="solved")
    except TicketError as exc:
        return exc
    raise AssertionError("a ticket started solved with a required field empty")


async def test_a_field_of_some_queues_is_theirs_alone(client: TestClient[Any, Any], runtime: Runtime) -> None:
    """A field of one queue: required there, not on another queue's ticket; an unknown queue is refused."""
    hub = runtime.hub
    assert hub is not None
    csrf = await admin_defines_fields(client, runtime)
    headers = {"X-CSRF-Token": csrf}
    ticket = await open_ticket(runtime, "email", ANA, "My kettle arrived broken")
    other = await open_ticket(runtime, "email", Sender("bo@example.org", email="bo@example.org"), "Kettle broken too")
    elsewhere = next(q for q in hub.tickets.queues if q != ticket["queue"])
    await hub.store.tickets.update_one({"_id": other["_id"]}, {"$set": {"queue": elsewhere}})
    body = {**FIELDS["order_number"], "required": True}
    bad = await define(client, csrf, "order_number", {**body, "queues": ["nowhere"]})
    assert bad.status == 400 and "no queue 'nowhere'" in await bad.text()
    assert (await define(client, csrf, "order_number", {**body, "queues": [ticket["queue"]]})).status == 200
    listed_fields = {f["key"]: f for f in (await (await client.get("/api/ticket-fields")).json())["fields"]}
    assert listed_fields["order_number"]["queues"] == [ticket["queue"]]

    refused = await client.post(f"/api/tickets/{ticket['_id']}/status", json={"status": "solved"}, headers=headers)
    assert refused.status == 400 and "fill in Order number" in await refused.text()
    solved = await client.post(f"/api/tickets/{other['_id']}/status", json={"status": "solved"}, headers=headers)
    assert solved.status == 200, await solved.text()  # not a field of its queue


async def test_deleting_a_queue_keeps_its_fields_where_they_were(client: TestClient[Any, Any],
                                                                 runtime: Runtime) -> None:
    """A queue that is some field's only queue is not deleted (the field would be on no ticket, or on every one,
    silently): the admin is told which field; a field of several queues loses the deleted one, in every process."""
    hub = runtime.hub
    assert hub is not None
    csrf = await admin_defines_fields(client, runtime)
    headers = {"X-CSRF-Token": csrf}
    created = await client.post("/api/admin/queues", headers=headers, json={"name": "billing"})
    assert created.status == 201, await created.text()
    general = next(q for q in hub.tickets.queues if q != "billing")
    assert (await define(client, csrf, "order_number", {**FIELDS["order_number"], "queues": ["billing"]})).status == 200
    assert (await define(client, csrf, "amount", {**FIELDS["amount"], "queues": ["billing", general]})).status == 200

    refused = await client.delete("/api/admin/queues/billing", headers=headers)
    assert refused.status == 409
    assert "Order number belongs to 'billing' alone" in (await refused.json())["error"]
    assert await hub.store.queues.find_one({"name": "billing"}) is not None

    assert (await define(client, csrf, "order_number", {**FIELDS["order_number"], "queues": []})).status == 200
    assert (await client.delete("/api/admin/queues/billing", headers=headers)).status == 200
    listed_fields = {f["key"]: f for f in (await (await client.get("/api/ticket-fields")).json())["fields"]}
    assert listed_fields["amount"]["queues"] == [general]

    # every process's live copy reads them again: the queue book announces it on the bus
    assert await hub.store.events.count_documents({"type": FIELDS_CHANGED, "data.by": "queuebook"}) == 1

    async def followed() -> bool | None:
        return hub.tickets.fields.live["amount"].queues == (general,) or None
    await eventually(followed, what="the live copy without the deleted queue")
