"""The SLA watcher on a real hub and database, with a frozen clock (times are passed in, never waited for):
warnings then breaches once per ticket and target, pending pauses, business-hours calendars from the
configuration and the admin API, and exactly-once across two hub instances."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from hub.calendars import parse_calendar
from hub.models import Role, Sender
from switchboard.bootstrap import Runtime
from switchboard.config import Settings
from tests.conftest import login, running
from tests.helpers import eventually
from tests.test_ticket_list import listed, open_ticket

MINUTE = timedelta(minutes=1)


async def sla_events(runtime: Runtime, ticket_id: Any) -> list[tuple[str, str]]:
    assert runtime.hub is not None
    return [(e["type"], e["data"]["target"]) async for e in runtime.hub.store.events.find(
        {"ticket_id": ticket_id, "type": {"$in": ["ticket.sla_warning", "ticket.sla_breached"]}})]


async def test_a_warning_then_a_breach_once_each(client: TestClient[Any, Any], agent: dict[str, Any],
                                                 runtime: Runtime) -> None:
    hub = runtime.hub
    assert hub is not None
    counted: list[tuple[str, dict[str, str]]] = []
    prometheus = hub.telemetry.sink
    assert prometheus is not None

    def sink(name: str, labels: dict[str, str]) -> None:
        counted.append((name, labels))
        prometheus(name, labels)

    hub.telemetry.sink = sink
    ticket = await open_ticket(runtime, "email", Sender("ana@example.com", email="ana@example.com"),
                               "My parcel never arrived")
    t0, number = ticket["sla"]["start"], ticket["number"]
    # general: first response in 1 h, the warning at 80 % (48 min); 24/7 (no calendar)
    assert ticket["sla"]["calendar"] == "24/7" and ticket["sla"]["first_response_due"] == t0 + 60 * MINUTE
    assert ticket["sla_next"] == t0 + 48 * MINUTE

    assert (await hub.watch_sla(t0 + 47 * MINUTE)).emitted == []
    assert await listed(client, "sla=ok") == [number]
    assert (await hub.watch_sla(t0 + 49 * MINUTE)).emitted == [(number, "first_response", "warning")]
    assert (await hub.watch_sla(t0 + 50 * MINUTE)).emitted == []  # once
    assert await listed(client, "sla=due_soon") == [number]
    assert (await hub.watch_sla(t0 + 61 * MINUTE)).emitted == [(number, "first_response", "breach")]
    assert (await hub.watch_sla(t0 + 62 * MINUTE)).emitted == []
    assert await listed(client, "sla=breached") == [number]
    stored = await hub.store.tickets.find_one({"_id": ticket["_id"]})
    assert stored is not None and set(stored["sla"]["events"]) == {"first_response_warning", "first_response_breach"}
    assert stored["sla_next"] == t0 + timedelta(hours=24 * 0.8)  # the resolution warning is next

    # the first answer ends the first-response target; the resolution one runs on
    resp = await client.post(f"/api/tickets/{ticket['_id']}/reply", json={"text": "Looking into it"},
                             headers={"X-CSRF-Token": agent["csrf"]})
    assert resp.status == 201
    assert (await hub.watch_sla(t0 + timedelta(hours=20))).emitted == [(number, "resolution", "warning")]
    assert (await hub.watch_sla(t0 + timedelta(hours=25))).emitted == [(number, "resolution", "breach")]
    assert (await hub.watch_sla(t0 + timedelta(days=9))).emitted == []
    assert sorted(await sla_events(runtime, ticket["_id"])) == [
        ("ticket.sla_breached", "first_response"), ("ticket.sla_breached", "resolution"),
        ("ticket.sla_warning", "first_response"), ("ticket.sla_warning", "resolution")]
    assert [(n, labels["kind"], labels["target"]) for n, labels in counted if n == "sla"] == [
        ("sla", "warning", "first_response"), ("sla", "breach", "first_response"),
        ("sla", "warning", "resolution"), ("sla", "breach", "resolution")]
    exposition = prometheus.__self__.exposition().decode()  # type: ignore[attr-defined]
    for kind in ("warnings", "breaches"):
        for target in ("first_response", "resolution"):
            assert f'switchboard_sla_{kind}_total{{queue="{ticket["queue"]}",target="{target}"}} 1.0' in exposition
    done = await hub.store.tickets.find_one({"_id": ticket["_id"]})
    assert done is not None and done["sla_next"] is None
    # the ticket API shows the emitted events (the head's colour) and the list the state
    detail = await (await client.get(f"/api/tickets/{ticket['_id']}")).json()
    assert "resolution_breach" in detail["ticket"]["sla"]["events"]


async def test_pending_pauses_the_clock_and_moves_the_due_time(client: TestClient[Any, Any], agent: dict[str, Any],
                                                               runtime: Runtime) -> None:
    hub = runtime.hub
    assert hub is not None
    ticket = await open_ticket(runtime, "sms", Sender("+4915112345678", phone="+4915112345678"), "Wrong invoice")
    t0 = ticket["sla"]["start"]
    headers = {"X-CSRF-Token": agent["csrf"]}
    assert (await client.post(f"/api/tickets/{ticket['_id']}/status", json={"status": "pending"},
                              headers=headers)).status == 200
    paused = await hub.store.tickets.find_one({"_id": ticket["_id"]})
    assert paused is not None and paused["sla_next"] is None  # nothing is due while pending
    assert (await hub.watch_sla(t0 + 2 * 60 * MINUTE)).emitted == []
    page = await (await client.get("/api/tickets?status=pending")).json()
    assert page["tickets"][0]["sla_state"] == "paused"
    # it was pending for 30 minutes (the clock is moved back rather than waited for)
    since = paused["pending_since"] - 30 * MINUTE
    await hub.store.tickets.update_one({"_id": ticket["_id"]}, {"$set": {"pending_since": since}})
    assert (await client.post(f"/api/tickets/{ticket['_id']}/status", json={"status": "open"},
                              headers=headers)).status == 200
    resumed = await hub.store.tickets.find_one({"_id": ticket["_id"]})
    assert resumed is not None
    moved = resumed["sla"]["first_response_due"] - ticket["sla"]["first_response_due"]
    assert 30 * MINUTE <= moved < 31 * MINUTE
    assert resumed["sla"]["first_response_warn"] - ticket["sla"]["first_response_warn"] == moved
    assert resumed["sla"]["paused_business_seconds"] == moved.total_seconds()
    assert resumed["sla_next"] == resumed["sla"]["first_response_warn"]


async def test_queue_calendar_from_the_configuration(mongo_uri: str, tmp_path: Any, shop_bot: Any) -> None:
    """A queue on office hours: its tickets' due times count only open time in the calendar's zone."""
    from tests.conftest import make_settings

    settings = make_settings(mongo_uri, tmp_path)
    settings.calendars = {"office": {"timezone": "America/New_York", "hours": {"mon": ["09:00-17:00"]}}}
    settings.queues["general"] = dataclasses.replace(settings.queues["general"], calendar="office")
    async with running(settings, shop_bot) as rt:
        assert rt.hub is not None
        ticket = await open_ticket(rt, "email", Sender("bo@example.com", email="bo@example.com"), "Help please")
        office = parse_calendar("office", settings.calendars["office"])
        t0 = ticket["sla"]["start"]
        assert ticket["sla"]["calendar"] == "office"
        assert ticket["sla"]["first_response_due"] == office.add_business_seconds(t0, 3600)
        assert ticket["sla"]["resolution_due"] == office.add_business_seconds(t0, 86400)  # three Mondays on
        stored = await rt.hub.store.calendars.find_one({"_id": "office"})
        assert stored is not None and stored["queues"] == ["general"]


async def test_admins_edit_calendars_and_bad_ones_are_refused(client: TestClient[Any, Any],
                                                               runtime: Runtime) -> None:
    hub = runtime.hub
    assert hub is not None
    await hub.accounts.create("root", "root's password", name="Root", roles=[Role.ADMIN])
    await hub.accounts.create("sam", "sam's password", name="Sam", roles=[Role.AGENT, Role.SUPERVISOR])
    csrf = await login(client, "sam", "sam's password")
    assert (await client.get("/api/admin/calendars")).status == 403
    assert (await client.put("/api/admin/calendars/office", json={"hours": {"mon": ["09:00-17:00"]}},
                             headers={"X-CSRF-Token": csrf})).status == 403
    csrf = await login(client, "root", "root's password")
    headers = {"X-CSRF-Token": csrf}
    good = {"timezone": "Europe/Berlin", "hours": {"mon": ["09:00-12:00", "13:00-17:00"], "fri": ["09:00-15:00"]},
            "holidays": [{"date": "2026-12-25", "yearly": True, "name": "Christmas"}], "queues": ["orders"]}
    for change, reason in (({"timezone": "Europe/Atlantis"}, "not an IANA time zone"),
                           ({"hours": {"mon": ["09:00-12:00", "11:30-14:00"]}}, "overlap"),
                           ({"hours": {"mon": ["25:00-26:00"]}}, "not a time"),
                           ({"holidays": [{"date": "christmas"}]}, "not a date"),
                           ({"queues": ["nowhere"]}, "no queue named nowhere")):
        resp = await client.put("/api/admin/calendars/office", json={**good, **change}, headers=headers)
        assert resp.status == 400, (change, await resp.text())
        assert reason in (await resp.json())["error"]
    assert (await client.put("/api/admin/calendars/Bad%20Name", json=good, headers=headers)).status == 400
    assert (await client.put("/api/admin/calendars/office", json={**good, "colour": "red"},
                             headers=headers)).status == 422
    resp = await client.put("/api/admin/calendars/office", json=good, headers=headers)
    assert resp.status == 200, await resp.text()
    listed_ = (await (await client.get("/api/admin/calendars")).json())
    assert [c["name"] for c in listed_["calendars"]] == ["office"]
    assert listed_["calendars"][0]["hours"]["mon"] == [["09:00", "12:00"], ["13:00", "17:00"]]
    assert {q["name"] for q in listed_["queues"]} >= {"general", "orders"}
    assert (await hub.tickets.calendars.for_queue("orders")).name == "office"
    assert (await hub.tickets.calendars.for_queue("general")).always
    # a queue belongs to one calendar: saving another with it moves it there
    assert (await client.put("/api/admin/calendars/late", json={**good, "queues": ["orders"]},
                             headers=headers)).status == 200
    office = await hub.store.calendars.find_one({"_id": "office"})
    assert office is not None and office["queues"] == []
    assert (await client.delete("/api/admin/calendars/late", headers=headers)).status == 200
    assert (await client.delete("/api/admin/calendars/late", headers=headers)).status == 404
    trail = [(a["action"], a["target"]["name"]) for a in await hub.store.audit.find(
        {"action": {"$in": ["calendar.saved", "calendar.deleted"]}}, sort=[("at", 1)]).to_list()]
    assert trail == [("calendar.saved", "office"), ("calendar.saved", "late"), ("calendar.deleted", "late")]


async def test_two_hubs_emit_each_warning_and_breach_once(runtime: Runtime, settings: Settings,
                                                          shop_bot: Any) -> None:
    """Two hub instances (own clients, buses, background loops) watch one database: rounds racing at the
    same instant emit once; and a due time passing for real is emitted once by whichever loop wakes."""
    hub = runtime.hub
    assert hub is not None
    other = Runtime(settings)
    await other.start(bot=shop_bot)
    try:
        assert other.hub is not None
        tickets = [await open_ticket(runtime, "email", Sender(f"c{i}@example.com", email=f"c{i}@example.com"),
                                     "Where is my refund") for i in range(3)]
        t0 = max(t["sla"]["start"] for t in tickets)
        at = t0 + 61 * MINUTE
        first, second = await asyncio.gather(hub.watch_sla(at), other.hub.watch_sla(at))
        both = [await hub.watch_sla(at + MINUTE), await other.hub.watch_sla(at + MINUTE)]
        assert sorted([first.ran, second.ran]) == [False, True]
        done = first if first.ran else second
        # the breach only: a warning is moot once its target is breached
        assert sorted(done.emitted) == sorted((t["number"], "first_response", "breach") for t in tickets)
        assert all(r.emitted == [] for r in both)
        for t in tickets:
            assert await sla_events(runtime, t["_id"]) == [("ticket.sla_breached", "first_response")]

        # For real: a queue whose first response is due 2 s after escalation; both hubs' loops run with
        # the real clock and wake for it (the change stream tells them of the new ticket's due time).
        fast = dataclasses.replace(hub.tickets.queues["general"], first_response_sla_seconds=2,
                                   sla_warning_ratio=0.5)
        hub.tickets.queues["general"] = other.hub.tickets.queues["general"] = fast
        await hub.store.leases.delete_one({"_id": "sla"})  # the frozen rounds above took it far ahead
        quick = await open_ticket(runtime, "email", Sender("dee@example.com", email="dee@example.com"),
                                  "Quick please")

        async def breached() -> bool:
            return ("ticket.sla_breached", "first_response") in await sla_events(runtime, quick["_id"])

        await eventually(breached, timeout=30, what="the background watcher's breach")
        emitted = await sla_events(runtime, quick["_id"])
        assert sorted(emitted) == [("ticket.sla_breached", "first_response"), ("ticket.sla_warning", "first_response")]
        final = await hub.store.tickets.find_one({"_id": quick["_id"]})
        assert final is not None and final["sla_next"] == final["sla"]["resolution_warn"]  # nothing else soon
    finally:
        await other.stop()


async def test_a_transfer_recomputes_the_due_times_with_the_new_queue(runtime: Runtime) -> None:
    """Moved to a queue with a 2-hour first response on office hours: due = start + 2 business hours
    there (the warnings and breaches already emitted stay emitted)."""
    hub = runtime.hub
    assert hub is not None
    sam = await hub.accounts.create("sam", "sam's password", name="Sam", roles=[Role.AGENT, Role.SUPERVISOR])
    ticket = await open_ticket(runtime, "email", Sender("cy@example.com", email="cy@example.com"), "Help me")
    t0 = ticket["sla"]["start"]
    assert (await hub.watch_sla(t0 + 50 * MINUTE)).emitted == [(ticket["number"], "first_response", "warning")]
    target = "complaints" if ticket["queue"] != "complaints" else "orders"
    hub.tickets.queues[target] = dataclasses.replace(hub.tickets.queues[target], first_response_sla_seconds=7200)
    office = {"timezone": "Asia/Tokyo", "hours": {d: ["09:00-18:00"] for d in ("mon", "tue", "wed", "thu", "fri")}}
    await hub.tickets.calendars.save("tokyo", office, [target], set(hub.tickets.queues))
    moved = await hub.transfers.transfer(ticket["_id"], sam, queue=target, any_ticket=True)
    tokyo = parse_calendar("tokyo", office)
    assert moved["sla"]["calendar"] == "tokyo"
    assert moved["sla"]["first_response_due"] == tokyo.add_business_seconds(t0, 7200)
    assert moved["sla"]["first_response_warn"] == tokyo.add_business_seconds(t0, 7200 * 0.8)
    assert moved["sla"]["events"] == ticket["sla"].get("events", {}) | {"first_response_warning": t0 + 50 * MINUTE}
    stored = await hub.store.tickets.find_one({"_id": ticket["_id"]})
    assert stored is not None and stored["sla_next"] == moved["sla"]["first_response_due"]  # the breach is next
