"""Agents' files: uploaded for a ticket in the desk, sent with a reply, downloaded by that visitor only."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient

from agents_ui.attachments import MAX_UPLOAD_BYTES
from switchboard.bootstrap import Runtime
from tests.test_widget_flow import escalate, open_widget_ws, say, widget_session

PDF = b"%PDF-1.4\n% a return label\n\x00\xff\xfe"


async def file_link(client: TestClient[Any, Any], token: str, blob_id: str) -> aiohttp.ClientResponse:
    """What the widget does on a click: ask for a short-lived signed link to one file."""
    return await client.post(f"/api/widget/attachments/{blob_id}/link", headers={"Authorization": f"Bearer {token}"})


async def download(client: TestClient[Any, Any], token: str, blob_id: str) -> aiohttp.ClientResponse:
    """Fetch a file of the visitor's chat through a signed link (404 if it is not theirs)."""
    link = await file_link(client, token, blob_id)
    if link.status != 200:
        return link
    url = (await link.json())["url"]
    assert token not in url
    return await client.get(url)


async def _upload(client: TestClient[Any, Any], csrf: str, ticket_id: Any, data: bytes,
                  filename: str = "label.pdf", content_type: str = "application/pdf") -> aiohttp.ClientResponse:
    form = aiohttp.FormData()
    form.add_field("file", data, filename=filename, content_type=content_type)
    return await client.post(f"/api/tickets/{ticket_id}/attachments", data=form, headers={"X-CSRF-Token": csrf})


async def test_agent_sends_a_file_and_only_that_visitor_can_download_it(
    client: TestClient[Any, Any], runtime: Runtime, agent: dict[str, Any]
) -> None:
    hub = runtime.hub
    assert hub is not None
    token, ticket = await escalate(client, runtime)
    csrf = agent["csrf"]
    resp = await _upload(client, csrf, ticket["_id"], PDF, filename="../../etc/label.pdf")
    assert resp.status == 201, await resp.text()
    uploaded = (await resp.json())["attachment"]
    assert uploaded["filename"] == "label.pdf" and uploaded["size"] == len(PDF)  # no path from the client

    async with await open_widget_ws(client, token) as ws:
        resp = await client.post(f"/api/tickets/{ticket['_id']}/reply", headers={"X-CSRF-Token": csrf},
                                 json={"text": "Your label", "attachments": [uploaded["blob_id"]]})
        assert resp.status == 201, await resp.text()
        frame = await asyncio.wait_for(ws.receive_json(), timeout=10)
        while frame.get("type") != "message" or frame["message"]["author"]["kind"] != "agent":
            frame = await asyncio.wait_for(ws.receive_json(), timeout=10)
    assert frame["message"]["attachments"] == [{"filename": "label.pdf", "content_type": "application/pdf",
                                                "size": len(PDF), "id": uploaded["blob_id"]}]

    got = await download(client, token, uploaded["blob_id"])
    assert got.status == 200 and await got.read() == PDF
    assert got.headers["Content-Disposition"] == 'attachment; filename="label.pdf"'
    assert got.headers["Content-Type"] == "application/octet-stream"  # never rendered inline
    assert got.headers["Cache-Control"] == "private, no-store"
    stranger = await widget_session(client)
    assert (await download(client, stranger, uploaded["blob_id"])).status == 404
    link = f"/api/widget/attachments/{uploaded['blob_id']}"
    assert (await client.get(link)).status == 401
    # A visitor token in the URL is no credential any more: only the header or a signed link.
    assert (await client.get(link, params={"token": token})).status == 401
    # The agent downloads it from the desk too.
    desk = await client.get(f"/api/attachments/{uploaded['blob_id']}")
    assert desk.status == 200 and await desk.read() == PDF


async def test_files_only_replies_and_private_files(
    client: TestClient[Any, Any], runtime: Runtime, agent: dict[str, Any]
) -> None:
    hub = runtime.hub
    assert hub is not None
    token, ticket = await escalate(client, runtime)
    csrf = agent["csrf"]
    first = (await (await _upload(client, csrf, ticket["_id"], PDF)).json())["attachment"]["blob_id"]
    resp = await client.post(f"/api/tickets/{ticket['_id']}/reply", headers={"X-CSRF-Token": csrf},
                             json={"attachments": [first]})
    assert resp.status == 201
    assert (await resp.json())["message"]["text"] == ""
    # A file in a private note is for agents only: the visitor cannot fetch it.
    secret = (await (await _upload(client, csrf, ticket["_id"], b"internal", "notes.txt",
                                   "text/plain")).json())["attachment"]["blob_id"]
    resp = await client.post(f"/api/tickets/{ticket['_id']}/reply", headers={"X-CSRF-Token": csrf},
                             json={"text": "see file", "private": True, "attachments": [secret]})
    assert resp.status == 201
    assert (await download(client, token, secret)).status == 404
    # the handoff notice and the file reply are delivered (the widget's by being stored), never the note, nor the
    # line "Alice took the ticket by answering it."
    statuses = sorted(m["delivery"]["status"] for m in await hub.store.messages.find({"direction": "out"}).to_list())
    assert statuses == ["internal", "internal", "sent", "sent"]
    history = await (await client.get("/api/widget/messages", headers={"Authorization": f"Bearer {token}"})).json()
    assert [a["id"] for m in history["messages"] for a in m["attachments"]] == [first]


async def test_bad_uploads_and_foreign_files_are_refused_with_a_reason(
    client: TestClient[Any, Any], runtime: Runtime, agent: dict[str, Any]
) -> None:
    hub = runtime.hub
    assert hub is not None
    csrf = agent["csrf"]
    _token, ticket = await escalate(client, runtime)
    other_visitor = await widget_session(client)
    await say(client, other_visitor, "I want a human")
    await hub.pipeline.drain()
    other = await hub.store.tickets.find_one({"_id": {"$ne": ticket["_id"]}})
    assert other is not None

    assert (await _upload(client, csrf, "0123456789abcdef01234567", PDF)).status == 404
    empty = await _upload(client, csrf, ticket["_id"], b"")
    assert empty.status == 400 and "empty" in (await empty.json())["error"]
    big = await _upload(client, csrf, ticket["_id"], b"x" * (MAX_UPLOAD_BYTES + 1))
    assert big.status == 413 and str(MAX_UPLOAD_BYTES) in (await big.json())["error"]
    as_json = await client.post(f"/api/tickets/{ticket['_id']}/attachments", json={"file": "x"},
                                headers={"X-CSRF-Token": csrf})
    assert as_json.status == 400 and "multipart" in (await as_json.json())["error"]
    no_csrf = aiohttp.FormData()
    no_csrf.add_field("file", PDF, filename="a.pdf")
    assert (await client.post(f"/api/tickets/{ticket['_id']}/attachments", data=no_csrf)).status == 403

    theirs = (await (await _upload(client, csrf, other["_id"], PDF)).json())["attachment"]["blob_id"]
    resp = await client.post(f"/api/tickets/{ticket['_id']}/reply", headers={"X-CSRF-Token": csrf},
                             json={"text": "wrong file", "attachments": [theirs]})
    assert resp.status == 400 and "not uploaded for this ticket" in (await resp.json())["error"]
    resp = await client.post(f"/api/tickets/{ticket['_id']}/reply", headers={"X-CSRF-Token": csrf},
                             json={"text": "x", "attachments": "abc"})
    assert resp.status == 422 and "attachments" in (await resp.json())["error"]
    assert await hub.store.messages.count_documents({"author.kind": "agent"}) == 0


async def test_visitor_sends_a_photo_once_however_often_the_upload_is_retried(
    client: TestClient[Any, Any], runtime: Runtime, agent: dict[str, Any]
) -> None:
    hub = runtime.hub
    assert hub is not None
    token, ticket = await escalate(client, runtime)
    photo = b"\xff\xd8\xff\xe0 a broken chair \xff\xd9"
    bearer = {"Authorization": f"Bearer {token}"}

    def form(data: bytes = photo, client_id: str | None = "photo-0001", text: str | None = "it arrived broken") -> Any:
        body = aiohttp.FormData()
        if client_id is not None:
            body.add_field("client_id", client_id)
        if text is not None:
            body.add_field("text", text)
        body.add_field("file", data, filename="chair.jpg", content_type="image/jpeg")
        return body

    first = await client.post("/api/widget/files", data=form(), headers=bearer)
    assert first.status == 202, await first.text()
    again = await client.post("/api/widget/files", data=form(), headers=bearer)
    assert (await again.json())["duplicate"] is True
    assert await hub.store.db["attachments.files"].count_documents({}) == 1  # the retry stored nothing

    detail = await (await client.get(f"/api/tickets/{ticket['_id']}")).json()
    sent = [m for m in detail["messages"] if m["attachments"]]
    assert len(sent) == 1 and sent[0]["text"] == "it arrived broken"
    stored = sent[0]["attachments"][0]
    assert (stored["filename"], stored["content_type"], stored["size"]) == ("chair.jpg", "image/jpeg", len(photo))
    assert await (await client.get(f"/api/attachments/{stored['blob_id']}")).read() == photo
    own = await download(client, token, stored["blob_id"])
    assert own.status == 200 and await own.read() == photo

    assert runtime.sites is not None
    runtime.sites.sites["demo"]["max_upload_bytes"] = 16  # an option only the YAML sets (no admin field)
    big = await client.post("/api/widget/files", data=form(client_id="photo-0002"), headers=bearer)
    assert big.status == 413 and "16 bytes" in (await big.json())["error"]
    no_id = await client.post("/api/widget/files", data=form(b"x", client_id=None), headers=bearer)
    assert no_id.status == 400 and "client_id" in (await no_id.json())["error"]
    assert (await client.post("/api/widget/files", data=form())).status == 401
    assert await hub.store.messages.count_documents({"attachments.0": {"$exists": True}}) == 1
