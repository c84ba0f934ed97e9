"""Visitor tokens expire, renew silently and stay out of URLs (issue 9, item 10)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import jwt
import pytest
from aiohttp.test_utils import TestClient

from channels.widget.http import WS_AUTH_TIMEOUT, WS_UNAUTHORIZED
from channels.widget.identity import issue_file_link, issue_token, read_token, user_hash
from switchboard.bootstrap import Runtime
from switchboard.config import Settings
from tests.conftest import make_settings
from tests.test_attachments import _upload, file_link
from tests.test_widget_flow import escalate, history, open_widget_ws, say

HUB_SECRET = "test-secret"  # make_settings
TTL = 3600


@pytest.fixture
def settings(mongo_uri: str, tmp_path: Path) -> Settings:
    settings = make_settings(mongo_uri, tmp_path)
    settings.channels["widget"].update(token_ttl_seconds=TTL, ws_auth_timeout_seconds=0.5)
    return settings


async def start(client: TestClient[Any, Any], **body: Any) -> dict[str, Any]:
    resp = await client.post("/api/widget/session", json={"site": "demo", **body})
    assert resp.status == 200, await resp.text()
    return dict(await resp.json())


def claims(token: str) -> dict[str, Any]:
    return dict(jwt.decode(token, options={"verify_signature": False}))


async def test_a_valid_token_is_renewed_for_the_same_visitor(client: TestClient[Any, Any]) -> None:
    first = await start(client)
    assert first["expires_in"] == TTL and first["resumed"] is False
    assert claims(first["token"])["exp"] - claims(first["token"])["iat"] == TTL
    await say(client, first["token"], "hello")
    renewed = await start(client, token=first["token"], renew=True)
    assert renewed["resumed"] is True and renewed["expires_in"] == TTL
    assert claims(renewed["token"])["sub"] == claims(first["token"])["sub"]
    assert (await history(client, renewed["token"]))[0]["text"] == "hello"
    # A page load (no renew flag) resumes an anonymous visitor too.
    assert (await start(client, token=first["token"]))["resumed"] is True


async def test_a_signed_in_visitor_is_renewed_only_by_the_page_that_holds_the_token(
    client: TestClient[Any, Any]
) -> None:
    proof = {"user_id": "u-9", "user_hash": user_hash("site-identity-secret", "u-9")}
    signed_in = (await start(client, **proof))["token"]
    renewed = await start(client, token=signed_in, renew=True)
    assert renewed["resumed"] is True and claims(renewed["token"])["sub"] == "user:u-9"
    # The same browser after the site logged the user out: the stored token alone is not the user.
    logged_out = await start(client, token=signed_in)
    assert logged_out["resumed"] is False and logged_out["verified"] is False
    assert claims(logged_out["token"])["sub"].startswith("visitor:")


async def test_an_expired_token_is_refused_and_the_widget_starts_afresh(
    client: TestClient[Any, Any], runtime: Runtime
) -> None:
    token = (await start(client))["token"]
    said = await say(client, token, "where is my order 12345")
    expired = issue_token(HUB_SECRET, read_token(HUB_SECRET, token), ttl_seconds=-60)
    for resp in (await client.get("/api/widget/messages", headers={"Authorization": f"Bearer {expired}"}),
                 await client.post("/api/widget/messages", headers={"Authorization": f"Bearer {expired}"},
                                   json={"text": "hi", "client_id": "expired-0001"})):
        assert resp.status == 401 and (await resp.json())["error"] == "invalid visitor token: expired"
    fresh = await start(client, token=expired, renew=True)
    assert fresh["resumed"] is False and claims(fresh["token"])["sub"] != claims(token)["sub"]
    assert await history(client, fresh["token"]) == []
    # The hub keeps what the old visitor wrote; only this browser no longer sees it.
    assert runtime.hub is not None
    kept = await runtime.hub.store.messages.find_one({"text": "where is my order 12345"})
    assert kept is not None and str(kept["_id"]) == said["message_id"]


async def test_tokens_in_urls_are_no_credential(client: TestClient[Any, Any]) -> None:
    token = (await start(client))["token"]
    resp = await client.get("/api/widget/messages", params={"token": token})
    assert resp.status == 401 and "Authorization" in (await resp.json())["error"]
    async with client.ws_connect("/api/widget/ws", params={"token": token}) as ws:
        closed = await ws.receive(timeout=10)
    assert closed.type == aiohttp.WSMsgType.CLOSE and closed.data == WS_AUTH_TIMEOUT


async def test_the_widget_websocket_authenticates_with_its_first_frame(
    client: TestClient[Any, Any], runtime: Runtime
) -> None:
    token = (await start(client))["token"]
    async with client.ws_connect("/api/widget/ws") as ws:
        await ws.send_json({"type": "message", "text": "sneaky", "client_id": "sneaky-0001"})
        closed = await ws.receive(timeout=10)
    assert (closed.type, closed.data) == (aiohttp.WSMsgType.CLOSE, WS_UNAUTHORIZED)
    assert "auth" in closed.extra
    async with client.ws_connect("/api/widget/ws") as ws:
        await ws.send_json({"type": "auth", "token": token + "x"})
        closed = await ws.receive(timeout=10)
    assert (closed.data, closed.extra) == (WS_UNAUTHORIZED, "invalid visitor token: malformed or forged token")
    async with client.ws_connect("/api/widget/ws") as ws:
        await ws.send_str("{not json")
        closed = await ws.receive(timeout=10)
    assert closed.data == WS_UNAUTHORIZED
    assert runtime.hub is not None
    assert await runtime.hub.store.messages.count_documents({}) == 0
    # Authenticated, the socket takes messages.
    async with await open_widget_ws(client, token) as ws:
        await ws.send_json({"type": "message", "text": "hello", "client_id": "hello-00001"})
        frame = await asyncio.wait_for(ws.receive_json(), timeout=10)
        while frame["type"] != "ack":
            frame = await asyncio.wait_for(ws.receive_json(), timeout=10)
    assert frame["duplicate"] is False


async def test_a_socket_closes_when_its_token_expires(client: TestClient[Any, Any]) -> None:
    token = (await start(client))["token"]
    short = issue_token(HUB_SECRET, read_token(HUB_SECRET, token), ttl_seconds=4)
    async with await open_widget_ws(client, short) as ws:
        frame = await ws.receive(timeout=15)
        while frame.type == aiohttp.WSMsgType.TEXT:  # the hello's bot answer may come first
            frame = await ws.receive(timeout=15)
    assert (frame.type, frame.data, frame.extra) == (aiohttp.WSMsgType.CLOSE, WS_UNAUTHORIZED, "visitor token expired")


async def test_file_links_are_short_lived_and_for_one_file_of_one_visitor(
    client: TestClient[Any, Any], runtime: Runtime, agent: dict[str, Any]
) -> None:
    token, ticket = await escalate(client, runtime)
    csrf = agent["csrf"]
    blobs = []
    for name in ("a.pdf", "b.pdf"):
        blob = (await (await _upload(client, csrf, ticket["_id"], b"%PDF " + name.encode(), name)).json())
        blobs.append(blob["attachment"]["blob_id"])
    resp = await client.post(f"/api/tickets/{ticket['_id']}/reply", headers={"X-CSRF-Token": csrf},
                             json={"text": "two files", "attachments": blobs})
    assert resp.status == 201
    a, b = blobs
    given = await (await file_link(client, token, a)).json()
    assert given["expires_in"] == 600 and given["url"].startswith(f"/api/widget/attachments/{a}?link=")
    assert await (await client.get(given["url"])).read() == b"%PDF a.pdf"
    link = given["url"].split("?link=", 1)[1]
    reused = await client.get(f"/api/widget/attachments/{b}", params={"link": link})
    assert reused.status == 403 and (await reused.json())["error"] == "invalid download link"
    visitor = read_token(HUB_SECRET, token)
    stale = issue_file_link(HUB_SECRET, visitor, a, ttl_seconds=-1)
    old = await client.get(f"/api/widget/attachments/{a}", params={"link": stale})
    assert old.status == 403 and "expired" in (await old.json())["error"]
    # A link is not a visitor token, nor a visitor token a link.
    assert (await client.get(f"/api/widget/attachments/{a}", params={"link": token})).status == 403
    as_bearer = await client.get("/api/widget/messages", headers={"Authorization": f"Bearer {link}"})
    assert as_bearer.status == 401
    # Someone else's visitor cannot get a link to this file.
    other = (await start(client))["token"]
    assert (await file_link(client, other, a)).status == 404
    assert json.loads(await (await file_link(client, other, a)).text())["error"] == "no such file in this conversation"
