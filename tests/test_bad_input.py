"""Hostile and clumsy request bodies get a 4xx with a reason, never a 500 (issue 9, items 5 and 11).

Each case here was a 500 (or a silently stored bad value) before bodies were validated
against declared schemas (`httpkit.bodies.accepts`).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from openapi_spec_validator import validate
from openapi_spec_validator.validation import OpenAPIV31SpecValidator

from agents_ui import schemas as desk_schemas
from channels.widget import schemas as widget_schemas
from hub.accounts import AccountError
from hub.models import Role
from switchboard.bootstrap import Runtime
from tests.conftest import login
from tests.test_widget_flow import escalate, open_widget_ws, say, widget_session

JSON = {"Content-Type": "application/json"}
NESTED = "[" * 5_000 + "]" * 5_000  # Python's json recursed past its limit at ~1,000
HUGE = 2**63


async def _error(resp: aiohttp.ClientResponse, status: int, *words: str) -> str:
    text = await resp.text()
    assert resp.status == status, f"{resp.method} {resp.url.path}: {resp.status} {text}"
    reason = str(json.loads(text)["error"])
    for word in words:
        assert word in reason, reason
    return reason


async def _admin(runtime: Runtime, client: TestClient[Any, Any]) -> dict[str, str]:
    assert runtime.hub is not None
    await runtime.hub.accounts.create("root", "admin password 1", name="Root",
                                      roles=[Role.ADMIN, Role.SUPERVISOR, Role.TRAINER, Role.AGENT])
    return {"X-CSRF-Token": await login(client, "root", "admin password 1")}


async def test_deeply_nested_json_is_a_400_on_login_and_on_the_widget(client: TestClient[Any, Any]) -> None:
    deep_object = '{"username": ' + '{"a": ' * 5_000 + "1" + "}" * 5_000 + ', "password": "x"}'
    for body in (NESTED, deep_object):
        await _error(await client.post("/api/auth/login", data=body, headers=JSON), 400, "nested deeper than 32")
    token = await widget_session(client)
    auth = {"Authorization": f"Bearer {token}", **JSON}
    await _error(await client.post("/api/widget/messages", data=NESTED, headers=auth), 400, "nested")
    await _error(await client.post("/api/widget/session", data=NESTED, headers=JSON), 400, "nested")
    # Brackets inside strings are text, not nesting.
    await say(client, token, "[" * 100)


async def test_deep_frames_on_the_widget_websocket_get_an_error_frame(client: TestClient[Any, Any]) -> None:
    token = await widget_session(client)
    async with client.ws_connect("/api/widget/ws") as first:
        await first.send_str(NESTED)  # a deep first frame is refused like a bad token, not a crash
        await first.receive(timeout=10)
        assert first.close_code == 4401
    ws = await open_widget_ws(client, token)
    async with ws:
        await ws.send_str(NESTED)
        frame = await ws.receive_json(timeout=10)
        assert frame["type"] == "error" and "nested" in frame["error"]
        await ws.send_str(json.dumps({"type": "message", "text": "\ud800", "client_id": uuid.uuid4().hex}))
        frame = await ws.receive_json(timeout=10)
        assert frame["type"] == "error" and "surrogate" in frame["error"]
        await ws.send_str(json.dumps({"type": "message", "text": "still here", "client_id": "frame-0001"}))
        while frame.get("type") != "ack":
            frame = await ws.receive_json(timeout=10)
        assert frame["client_id"] == "frame-0001"


async def test_a_lone_surrogate_in_a_visitor_name_is_refused_and_the_visitor_can_still_chat(
    client: TestClient[Any, Any], runtime: Runtime
) -> None:
    poisoned = await client.post("/api/widget/session", data='{"site": "demo", "name": "Eve \\ud800"}', headers=JSON)
    await _error(poisoned, 422, "name", "surrogate")
    token = await widget_session(client, name="Eve")
    auth = {"Authorization": f"Bearer {token}", **JSON}
    bad = await client.post("/api/widget/messages", headers=auth,
                            data='{"text": "hi \\udc00", "client_id": "' + uuid.uuid4().hex + '"}')
    await _error(bad, 422, "text", "surrogate")
    await say(client, token, "hello after the bad one")
    assert runtime.hub is not None
    await runtime.hub.pipeline.drain()
    stored = await runtime.hub.store.messages.find_one({"text": "hello after the bad one"})
    assert stored is not None


async def test_a_lone_surrogate_in_an_agent_reply_is_refused(
    client: TestClient[Any, Any], runtime: Runtime, agent: dict[str, Any]
) -> None:
    token, ticket = await escalate(client, runtime)
    url = f"/api/tickets/{ticket['_id']}/reply"
    headers = {"X-CSRF-Token": agent["csrf"], **JSON}
    await _error(await client.post(url, data='{"text": "refund \\ud83d"}', headers=headers), 422, "text", "surrogate")
    ok = await client.post(url, json={"text": "Your refund is on its way \U0001f4b8"}, headers=headers)
    assert ok.status == 201, await ok.text()
    await say(client, token, "thanks!")  # the conversation still works both ways


async def test_integers_beyond_the_range_and_wrong_types_are_422(
    client: TestClient[Any, Any], runtime: Runtime
) -> None:
    headers = await _admin(runtime, client)
    for version in (HUGE, -1, "3", True):
        for job in ("train", "evaluate"):
            resp = await client.post(f"/api/trainer/{job}", json={"version": version}, headers=headers)
            await _error(resp, 422, "version")
    new = {"username": "dora", "password": "dora's password"}
    for field, value in [("capacity", HUGE), ("capacity", -1), ("capacity", "5"), ("capacity", 2.5),
                         ("capacity", True), ("roles", "admin"), ("roles", ["pope"]), ("roles", [1]),
                         ("roles", []), ("username", 7), ("name", ["x"]), ("name", "x" * 201),
                         ("name", "Dora \u202eevil"), ("username", "dora\u2066"), ("username", "d" * 65)]:
        resp = await client.post("/api/agents", json={**new, field: value}, headers=headers)
        await _error(resp, 422, field)
    assert runtime.hub is not None
    assert await runtime.hub.store.agents.count_documents({"username": "dora"}) == 0
    created = await client.post("/api/agents", json={**new, "capacity": 0, "roles": ["agent"]}, headers=headers)
    assert created.status == 201 and (await created.json())["agent"]["capacity"] == 0


async def test_widget_rating_score_must_be_an_integer_from_1_to_5(client: TestClient[Any, Any]) -> None:
    token = await widget_session(client)
    auth = {"Authorization": f"Bearer {token}"}
    message_id = "0123456789abcdef01234567"
    for score in (0, 6, 4.5, "5", True, HUGE, None):
        resp = await client.post("/api/widget/rating", json={"message_id": message_id, "score": score}, headers=auth)
        await _error(resp, 422, "score")


async def test_json_bodies_must_be_plain_json_objects(client: TestClient[Any, Any]) -> None:
    token = await widget_session(client)
    bodies = ["[1, 2]", '"text"', "42", "null", "", "{not json", "\xff",
              '{"a": NaN}', '{"username": Infinity}', '{"a": ' + "1" * 5_000 + "}"]  # these three were 500s
    for body in bodies:
        for path, headers in [("/api/auth/login", JSON), ("/api/widget/session", JSON),
                              ("/api/widget/messages", {"Authorization": f"Bearer {token}"})]:
            await _error(await client.post(path, data=body.encode("latin-1"), headers=headers), 400)


async def test_unknown_fields_are_named(client: TestClient[Any, Any]) -> None:
    resp = await client.post("/api/widget/session", json={"site": "demo", "nmae": "typo"})
    await _error(resp, 422, "nmae")


async def test_multipart_without_a_boundary_or_malformed_is_a_400(
    client: TestClient[Any, Any], runtime: Runtime, agent: dict[str, Any]
) -> None:
    token, ticket = await escalate(client, runtime)
    desk = (f"/api/tickets/{ticket['_id']}/attachments", {"X-CSRF-Token": agent["csrf"]})
    widget = ("/api/widget/files", {"Authorization": f"Bearer {token}"})
    broken = b"--xyz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\nabc"
    for path, headers in (desk, widget):
        no_boundary = {**headers, "Content-Type": "multipart/form-data"}
        await _error(await client.post(path, data=b"--x\r\n\r\n--x--\r\n", headers=no_boundary), 400, "multipart")
        too_long = {**headers, "Content-Type": "multipart/form-data; boundary=" + "b" * 100}
        await _error(await client.post(path, data=b"x", headers=too_long), 400, "multipart")
        truncated = {**headers, "Content-Type": "multipart/form-data; boundary=xyz"}
        resp = await client.post(path, data=broken, headers=truncated)
        assert 400 <= resp.status < 500, await resp.text()


async def test_account_names_are_checked_for_every_caller(runtime: Runtime) -> None:
    """The CLI and seeding create accounts without HTTP: the domain refuses the same bad values."""
    assert runtime.hub is not None
    accounts = runtime.hub.accounts
    for kwargs in [{"username": "eve\u202e"}, {"username": "e" * 65}, {"name": "\u2067Admin"},
                   {"name": "n" * 201}, {"capacity": -1}, {"capacity": HUGE}, {"username": "eve\ud800"}]:
        args = {"username": "eve", "name": None, "capacity": 5, **kwargs}
        with pytest.raises(AccountError):
            await accounts.create(args["username"], "a long password", name=args["name"], capacity=args["capacity"])
    assert await runtime.hub.store.agents.count_documents({"username": {"$regex": "^e"}}) == 0


async def test_the_openapi_request_bodies_are_the_models_schemas(client: TestClient[Any, Any]) -> None:
    doc = await (await client.get("/api/openapi.json")).json()
    validate(doc, cls=OpenAPIV31SpecValidator)  # raises on an invalid OpenAPI 3.1 document
    components = doc["components"]["schemas"]

    def resolved(ref: str) -> dict[str, Any]:
        return dict(components[ref.rsplit("/", 1)[1]])

    expected = {
        ("post", "/api/auth/login"): desk_schemas.Login, ("post", "/api/agents"): desk_schemas.NewAgent,
        ("post", "/api/tickets/{id}/reply"): desk_schemas.Reply,
        ("put", "/api/responses/{id}"): desk_schemas.ResponseFields,
        ("post", "/api/trainer/train"): desk_schemas.TrainingJob,
        ("post", "/api/trainer/intents"): desk_schemas.NewIntent,
        ("post", "/api/widget/session"): widget_schemas.Session,
        ("post", "/api/widget/rating"): widget_schemas.Rating,
        ("post", "/api/widget/messages"): widget_schemas.Message,
    }
    for (method, path), model in expected.items():
        body = doc["paths"][path][method]["requestBody"]
        schema = resolved(body["content"]["application/json"]["schema"]["$ref"])
        own = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, definition in own.pop("$defs", {}).items():
            assert components[name] == definition
        assert schema == own, path
        assert body["required"] is True
        assert doc["paths"][path][method]["responses"]["422"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/Error"}
    # Every JSON body the hub reads is declared: each POST/PUT either documents one or takes none.
    with_body = {(m, p) for p, ops in doc["paths"].items() for m, op in ops.items() if "requestBody" in op}
    assert set(expected) <= with_body
    assert ("post", "/api/auth/logout") not in with_body
    assert doc["paths"]["/api/agents"]["post"]["x-roles"] == ["admin"]
