"""Who a widget visitor is comes only from what the site's backend signed (issue 9, item 1)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from aiohttp.test_utils import TestClient

from channels.widget.identity import user_hash as legacy_hash
from hub.models import Sender
from switchboard.bootstrap import Runtime
from switchboard.config import Settings
from tests.conftest import make_settings
from tests.helpers import eventually
from tests.test_widget_flow import history, open_widget_ws, say

SECRET = "a-site-identity-secret-of-32-bytes-or-more"


@pytest.fixture
def settings(mongo_uri: str, tmp_path: Path) -> Settings:
    settings = make_settings(mongo_uri, tmp_path)
    settings.channels["widget"]["sites"]["demo"]["identity_secret"] = SECRET
    return settings


def signed(claims: dict[str, Any], secret: str = SECRET, algorithm: str = "HS256", lifetime: int = 600) -> str:
    """What the site's backend renders as data-user-jwt."""
    now = int(time.time())
    return jwt.encode({"iat": now, "exp": now + lifetime, **claims}, secret, algorithm=algorithm)


async def session(client: TestClient[Any, Any], **body: Any) -> str:
    resp = await client.post("/api/widget/session", json={"site": "demo", **body})
    assert resp.status == 200, await resp.text()
    return str((await resp.json())["token"])


async def contact_of(runtime: Runtime, key: str) -> dict[str, Any]:
    assert runtime.hub is not None
    contact = await runtime.hub.store.contacts.find_one({"identities.external_id": key})
    assert contact is not None, key
    return contact


async def ticket_of(runtime: Runtime, contact: dict[str, Any]) -> dict[str, Any]:
    assert runtime.hub is not None
    ticket = await runtime.hub.store.tickets.find_one({"contact_id": contact["_id"]})
    assert ticket is not None
    return ticket


async def reply(client: TestClient[Any, Any], csrf: str, ticket: dict[str, Any], text: str) -> None:
    resp = await client.post(f"/api/tickets/{ticket['_id']}/reply", json={"text": text},
                             headers={"X-CSRF-Token": csrf})
    assert resp.status == 201, await resp.text()


async def test_a_hashed_user_claiming_a_customers_email_never_reaches_that_customer(
    client: TestClient[Any, Any], runtime: Runtime, agent: dict[str, Any]
) -> None:
    """The attack of issue 9: B signs in to the site as themselves and types A's email."""
    hub = runtime.hub
    assert hub is not None
    ann = await session(client, user_jwt=signed({"sub": "a", "email": "Ann@Example.com", "name": "Ann"}))
    await say(client, ann, "I want to talk to a human please")
    await say(client, ann, "it is about the refund for order 12345")
    await hub.pipeline.drain()
    ann_contact = await contact_of(runtime, "demo:user:a")
    assert ann_contact["emails"] == ["ann@example.com"] and ann_contact["name"] == "Ann"
    ann_ticket = await ticket_of(runtime, ann_contact)

    mallory = await session(client, user_id="b", user_hash=legacy_hash(SECRET, "b"), email="ann@example.com",
                            name="Ann")
    await say(client, mallory, "I want a human")
    await hub.pipeline.drain()
    mallory_contact = await contact_of(runtime, "demo:user:b")
    assert mallory_contact["_id"] != ann_contact["_id"]
    assert mallory_contact["emails"] == []  # an unverified email is not an address of the contact
    assert [i["external_id"] for i in (await hub.contacts.get(ann_contact["_id"]) or {})["identities"]] == [
        "demo:user:a"]
    mallory_ticket = await ticket_of(runtime, mallory_contact)
    assert mallory_ticket["_id"] != ann_ticket["_id"]
    assert not set(mallory_ticket["conversation_ids"]) & set(ann_ticket["conversation_ids"])

    async with await open_widget_ws(client, mallory) as ws:
        await reply(client, agent["csrf"], ann_ticket, "Ann, your refund of 42 EUR is on its way")
        await reply(client, agent["csrf"], mallory_ticket, "Hello B, how can I help?")
        # The bus delivers in order: everything B's socket got before B's own reply is all it got of Ann's.
        frames = [await asyncio.wait_for(ws.receive_json(), timeout=10)]
        while frames[-1].get("message", {}).get("text") != "Hello B, how can I help?":
            frames.append(await asyncio.wait_for(ws.receive_json(), timeout=10))
    assert not [f for f in frames if "refund" in str(f)]
    mallory_texts = [m["text"] for m in await history(client, mallory)]
    assert "Hello B, how can I help?" in mallory_texts
    assert not [t for t in mallory_texts if "refund" in t or "12345" in t]
    assert "Ann, your refund of 42 EUR is on its way" in [m["text"] for m in await history(client, ann)]


async def test_a_signed_email_links_to_the_customer_known_from_email(
    client: TestClient[Any, Any], runtime: Runtime
) -> None:
    hub = runtime.hub
    assert hub is not None
    known = await hub.contacts.resolve("email", Sender(external_id="dana@example.com", display_name="Dana"))
    token = await session(client, user_jwt=signed({"sub": "u-7", "email": "DANA@example.com", "aud": "demo"}))
    await say(client, token, "hello from the shop")
    linked = await contact_of(runtime, "demo:user:u-7")
    assert linked["_id"] == known["_id"]
    widget = [i for i in linked["identities"] if i["channel"] == "widget"]
    assert widget == [{"channel": "widget", "external_id": "demo:user:u-7", "verified": True,
                       "added_at": widget[0]["added_at"]}]
    # The same user with only the legacy hash is the same visitor, but adds no address.
    again = await session(client, user_id="u-7", user_hash=legacy_hash(SECRET, "u-7"), email="other@example.com")
    await say(client, again, "me again")
    assert (await contact_of(runtime, "demo:user:u-7"))["emails"] == ["dana@example.com"]


@pytest.mark.parametrize(("name", "token", "reason"), [
    ("wrong secret", lambda: signed({"sub": "a"}, secret="another-secret-that-is-also-32-bytes-long"),
     "signature does not match"),
    ("expired", lambda: signed({"sub": "a", "iat": int(time.time()) - 900, "exp": int(time.time()) - 300}),
     "expired"),
    ("alg none", lambda: jwt.encode({"sub": "a", "email": "ann@example.com", "exp": int(time.time()) + 60}, None,
                                    algorithm="none"), "HS256"),
    ("HS512", lambda: signed({"sub": "a"}, algorithm="HS512", secret=SECRET * 2), "HS256"),
    ("missing sub", lambda: signed({"email": "ann@example.com"}), "'sub'"),
    ("missing exp", lambda: jwt.encode({"sub": "a"}, SECRET, algorithm="HS256"), "'exp'"),
    ("too long lived", lambda: signed({"sub": "a"}, lifetime=30 * 86400), "longer than 3600 seconds"),
    ("another site", lambda: signed({"sub": "a", "aud": "other-shop"}), "audience"),
    ("not a JWT", lambda: "user-a", "invalid"),
])
async def test_a_bad_user_jwt_is_refused_with_a_reason(
    client: TestClient[Any, Any], runtime: Runtime, name: str, token: Any, reason: str
) -> None:
    resp = await client.post("/api/widget/session", json={"site": "demo", "user_jwt": token()})
    assert resp.status == 403, name
    error = (await resp.json())["error"]
    assert error.startswith("identity verification failed") and reason in error, error
    assert runtime.hub is not None
    assert await runtime.hub.store.contacts.count_documents({}) == 0


async def test_a_short_identity_secret_is_refused_for_user_jwt(
    client: TestClient[Any, Any], runtime: Runtime
) -> None:
    assert runtime.sites is not None
    runtime.sites.sites["demo"]["identity_secret"] = "short-secret"  # as a YAML of old could set
    with pytest.warns(jwt.warnings.InsecureKeyLengthWarning):  # PyJWT warns the site's backend too
        weak = signed({"sub": "a"}, secret="short-secret")
    resp = await client.post("/api/widget/session", json={"site": "demo", "user_jwt": weak})
    assert resp.status == 403 and "at least 32 bytes" in (await resp.json())["error"]
    runtime.sites.sites["demo"]["identity_secret"] = ""
    resp = await client.post("/api/widget/session", json={"site": "demo", "user_jwt": signed({"sub": "a"})})
    assert resp.status == 403 and "not configured" in (await resp.json())["error"]


async def test_a_signed_in_user_is_never_taken_for_a_new_visitor(client: TestClient[Any, Any],
                                                                   runtime: Runtime) -> None:
    """The widget says `fresh` for a session its page just made; a signed-in user's chat outlives any page (another
    device may be waiting on an agent), so the hub still looks: the new page shows the wait and is counted there."""
    assert runtime.hub is not None
    phone = await session(client, user_jwt=signed({"sub": "u-9", "name": "Ada"}))
    await say(client, phone, "I want to talk to a human please")
    await runtime.hub.pipeline.drain()
    store = runtime.hub.store

    async def told() -> bool:  # the wait announcer saw the handoff go by: the new socket will not
        return await store.wait_notices.count_documents({"thread_key": "demo:user:u-9"}) == 1

    await eventually(told, what="the wait notice")
    laptop = await session(client, user_jwt=signed({"sub": "u-9", "name": "Ada"}))
    async with await open_widget_ws(client, laptop, fresh=True) as ws:
        frame = await asyncio.wait_for(ws.receive_json(), timeout=10)  # sent before the feed starts
        assert frame["type"] == "wait" and frame["position"] == 1, frame
        assert await runtime.hub.store.presence.count_documents({"customer": "widget:demo:user:u-9"}) == 1
