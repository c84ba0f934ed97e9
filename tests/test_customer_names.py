"""Who the customer is: the desk and canned responses name every customer, never by an internal id;
a site's pre-chat form asks anonymous visitors who they are, and the hub enforces what it requires."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from channels.widget.identity import user_hash
from hub.models import Role
from hub.store import ObjectId
from switchboard.bootstrap import Runtime
from tests.conftest import http_client, login, make_settings, running
from tests.test_widget_flow import escalate, say, widget_session

SECRET = "site-identity-secret"
GREETING = {"shortcut": "hello", "title": "Hello", "text": "Hi {{customer.first_name}} ({{customer.name}})"}


async def _greeting_for(client: TestClient[Any, Any], runtime: Runtime, ticket_id: str) -> str:
    """The canned greeting as an agent's desk shows it filled for `ticket_id`."""
    assert runtime.hub is not None
    await runtime.hub.responses.create(GREETING, by=ObjectId())
    listed = await (await client.get("/api/responses", params={"ticket": ticket_id})).json()
    return str(listed["responses"][0]["rendered"])


async def test_an_anonymous_visitor_is_visitor_n_in_the_list_the_ticket_and_a_canned_response(
    client: TestClient[Any, Any], runtime: Runtime, agent: dict[str, Any]
) -> None:
    assert runtime.hub is not None
    _token, ticket = await escalate(client, runtime)
    contact = await runtime.hub.store.contacts.find_one({"_id": ticket["contact_id"]})
    assert contact is not None and contact["name"] is None and isinstance(contact["number"], int)
    expected = f"Visitor {contact['number']}"
    visitor_key = contact["identities"][0]["external_id"]

    listing = await client.get("/api/tickets")
    assert [t["contact_name"] for t in (await listing.json())["tickets"]] == [expected]
    detail = await client.get(f"/api/tickets/{ticket['_id']}")
    data = await detail.json()
    assert data["contact"]["display_name"] == expected
    assert {m["author"]["name"] for m in data["messages"] if m["author"]["kind"] == "customer"} == {expected}
    assert await _greeting_for(client, runtime, str(ticket["_id"])) == f"Hi there ({expected})"
    for body in (await listing.text(), str([m["author"] for m in data["messages"]]), data["contact"]["display_name"]):
        assert visitor_key not in body


async def test_a_contact_stored_under_its_id_is_shown_by_number_and_the_fallback_word_is_configurable(
    mongo_uri: str, tmp_path: Path, shop_bot: Any
) -> None:
    """Data from before the fix: the contact's and its messages' stored name is the visitor id."""
    settings = make_settings(mongo_uri, tmp_path, responses={"name_fallback": "friend"})
    async with running(settings, shop_bot) as runtime, http_client(runtime) as client:
        assert runtime.hub is not None
        await runtime.hub.accounts.create("alice", "correct horse battery", name="Alice", roles=[Role.AGENT])
        await login(client, "alice", "correct horse battery")
        _token, ticket = await escalate(client, runtime)
        contact = await runtime.hub.store.contacts.find_one({"_id": ticket["contact_id"]})
        assert contact is not None
        key = contact["identities"][0]["external_id"]
        await runtime.hub.store.contacts.update_one({"_id": contact["_id"]},
                                                    {"$set": {"name": key}, "$unset": {"number": ""}})
        await runtime.hub.store.messages.update_many({"contact_id": contact["_id"]}, {"$set": {"author.name": key}})

        listed = (await (await client.get("/api/tickets")).json())["tickets"]
        shown = listed[0]["contact_name"]
        assert shown.startswith("Visitor ") and shown[len("Visitor "):].isdigit() and key not in shown
        data = await (await client.get(f"/api/tickets/{ticket['_id']}")).json()
        assert data["contact"]["display_name"] == shown
        assert {m["author"]["name"] for m in data["messages"] if m["author"]["kind"] == "customer"} == {shown}
        assert await _greeting_for(client, runtime, str(ticket["_id"])) == f"Hi friend ({shown})"


async def test_a_named_visitor_is_greeted_by_first_name(
    client: TestClient[Any, Any], runtime: Runtime, agent: dict[str, Any]
) -> None:
    token = await widget_session(client, name="Grace Hopper")
    await say(client, token, "I want a human")
    assert runtime.hub is not None
    await runtime.hub.pipeline.drain()
    listed = (await (await client.get("/api/tickets")).json())["tickets"]
    assert listed[0]["contact_name"] == "Grace Hopper"
    assert await _greeting_for(client, runtime, listed[0]["id"]) == "Hi Grace (Grace Hopper)"


async def test_the_pre_chat_form_is_enforced_by_the_hub_and_skipped_for_verified_users(
    mongo_uri: str, tmp_path: Path, shop_bot: Any
) -> None:
    settings = make_settings(mongo_uri, tmp_path)
    settings.channels["widget"]["sites"]["demo"]["prechat"] = {"enabled": True, "name": "required",
                                                               "email": "required"}
    async with running(settings, shop_bot) as runtime, http_client(runtime) as client:
        assert runtime.hub is not None
        site = await (await client.get("/api/widget/sites/demo")).json()
        assert site["prechat"] == {"name": "required", "email": "required"}
        assert (await client.get("/api/widget/sites/nowhere")).status == 404

        for body, field in (({}, "name"), ({"name": "   ", "email": "ann@example.com"}, "name"),
                            ({"name": "Ann"}, "email"), ({"name": "Ann", "email": "not an address"}, "email")):
            refused = await client.post("/api/widget/session", json={"site": "demo", **body})
            assert refused.status == 422, await refused.text()
            assert (await refused.json())["error"].startswith(field + ":")

        # A customer the hub knows by a verified address: a visitor typing it is not linked to them.
        await runtime.hub.contacts.store.contacts.insert_one(
            {"name": "Real Ann", "emails": ["ann@example.com"], "phones": [], "identities": []})
        token = await widget_session(client, name=" Ann Typed ", email="Ann@Example.com")
        await say(client, token, "I want a human")
        await runtime.hub.pipeline.drain()
        ticket = await runtime.hub.store.tickets.find_one({})
        assert ticket is not None
        contact = await runtime.hub.store.contacts.find_one({"_id": ticket["contact_id"]})
        assert contact is not None
        assert (contact["name"], contact["emails"], contact["claimed_email"]) == ("Ann Typed", [], "ann@example.com")

        # The visitor's own token resumes without the form; a signed-in user never sees it.
        resumed = await client.post("/api/widget/session", json={"site": "demo", "token": token})
        assert resumed.status == 200 and (await resumed.json())["resumed"] is True
        verified = await client.post("/api/widget/session", json={"site": "demo", "user_id": "u-1",
                                                                  "user_hash": user_hash(SECRET, "u-1")})
        assert verified.status == 200 and (await verified.json())["verified"] is True
