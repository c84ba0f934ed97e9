"""Two `switchboard serve` processes on one database, as separate OS processes (not two hubs in one interpreter).

Only the first listens for the customers' email (SMTP); both send through the same relay, a local aiosmtpd
server in this test that records each mail it accepts, in order. The test shows, across the two processes:
- realtime: a ticket escalated by the process that received the email reaches an agent's desk socket
  on the other process;
- send order: an agent's replies posted alternately through the two processes reach the customer in the
  order they were posted, even when the relay refuses the first one for a while (the outbox retries it;
  the later ones, queued by either process, wait for it), and each exactly once.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import secrets
import smtplib
import subprocess
import sys
from collections.abc import AsyncIterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from aiosmtpd.controller import Controller
from pymongo import AsyncMongoClient

from switchboard.embedded import free_port
from switchboard.loadgen import REPO, SUPPORT_ADDRESS, HubProcess

PASSWORD = "a long enough password"


class Relay:
    """The hubs' SMTP relay: refuses the first mail whose body holds `refuse_once` (451), accepts the rest."""

    def __init__(self, refuse_once: str) -> None:
        self.refuse_once: str | None = refuse_once
        self.refused: list[str] = []
        self.accepted: list[str] = []  # Message-IDs, in the order the relay accepted them
        self.changed = asyncio.Event()
        self.loop = asyncio.get_running_loop()

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:  # aiosmtpd hook
        mail = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        message_id = str(mail.get("Message-ID", ""))
        body = mail.get_body(("plain",))  # type: ignore[attr-defined]
        text = str(body.get_content()) if body is not None else ""
        if self.refuse_once is not None and self.refuse_once in text:
            self.refuse_once = None
            self.refused.append(message_id)
            return "451 4.3.0 Mailbox busy, try again later"
        self.accepted.append(message_id)
        self.loop.call_soon_threadsafe(self.changed.set)
        return "250 OK"


def _config(work: Path, name: str, relay_port: int, smtp_port: int | None) -> Path:
    raw = yaml.safe_load((REPO / "config" / "switchboard.yml").read_text(encoding="utf-8"))
    raw.setdefault("bot", {})["data_dir"] = str((REPO / "config" / raw["bot"].get("data_dir", "bot")).resolve())
    raw.setdefault("channels", {})["email"] = {
        "mailboxes": {"support": {"address": SUPPORT_ADDRESS, "from_name": "Support", "bot": True}},
        "smtp_listener": {"enabled": smtp_port is not None, "host": "127.0.0.1", "port": smtp_port or free_port()},
        "relay": {"host": "127.0.0.1", "port": relay_port, "security": "none"}}
    path = work / f"{name}.yml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


@pytest.fixture
async def hubs(mongo_uri: str, tmp_path: Path) -> AsyncIterator[tuple[list[HubProcess], Relay, int]]:
    relay = Relay(refuse_once="reply number 1")
    relay_port, smtp_port = free_port(), free_port()
    controller = Controller(relay, hostname="127.0.0.1", port=relay_port)
    controller.start()
    db_name = f"procs{secrets.token_hex(3)}"
    secret = secrets.token_urlsafe(24)
    configs = [_config(tmp_path, "hub0", relay_port, smtp_port), _config(tmp_path, "hub1", relay_port, None)]
    procs = [HubProcess(tmp_path, f"hub{n}", mongo_uri, db_name, secret, configs[n], free_port()) for n in range(2)]
    try:
        procs[0].start()
        await procs[0].wait_ready()  # the first creates the indexes and seeds the bot alone
        procs[1].start()
        await procs[1].wait_ready()
        adding = subprocess.run(
            [sys.executable, "-m", "switchboard.cli", "users", "add", "pat", "--role", "agent", "--password-stdin",
             "--mongodb-uri", mongo_uri, "--config", str(configs[0])],
            input=PASSWORD + "\n", capture_output=True, text=True, env=procs[0].env(), cwd=str(REPO), timeout=120)
        assert adding.returncode == 0, adding.stdout + adding.stderr
        yield procs, relay, smtp_port
    finally:
        for proc in procs:
            proc.stop()
        controller.stop()
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_uri)
        await client.drop_database(db_name)
        await client.close()


async def _login(http: aiohttp.ClientSession, url: str) -> str:
    async with http.post(f"{url}/api/auth/login", json={"username": "pat", "password": PASSWORD}) as resp:
        assert resp.status == 200, await resp.text()
        return str((await resp.json())["csrf"])


def _customer_writes(smtp_port: int, text: str) -> None:
    message = EmailMessage()
    message["From"] = "Dana Reyes <dana@customers.test>"
    message["To"] = SUPPORT_ADDRESS
    message["Subject"] = "My order"
    message["Message-ID"] = "<order-question-1@customers.test>"
    message.set_content(text)
    with smtplib.SMTP("127.0.0.1", smtp_port, timeout=30) as smtp:
        smtp.send_message(message)


async def _frame(ws: aiohttp.ClientWebSocketResponse, kind: str) -> dict[str, Any]:
    while True:
        frame = await asyncio.wait_for(ws.receive_json(), timeout=60)
        if frame.get("type") == kind:
            return dict(frame)


async def test_two_hub_processes_share_realtime_and_keep_a_conversations_send_order(
    hubs: tuple[list[HubProcess], Relay, int],
) -> None:
    (first, second), relay, smtp_port = hubs
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as on_first, \
            aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as on_second:  # cookies for 127.0.0.1
        csrf = {first.url: await _login(on_first, first.url), second.url: await _login(on_second, second.url)}
        async with on_second.ws_connect(f"{second.url}/api/desk/ws") as desk:
            await asyncio.to_thread(_customer_writes, smtp_port, "Can I talk to a human please?")
            ticket = (await _frame(desk, "ticket"))["ticket"]  # the email came in through the first process
        posted: list[str] = []
        for n, (http, url) in enumerate([(on_first, first.url), (on_second, second.url)] * 2, start=1):
            async with http.post(f"{url}/api/tickets/{ticket['id']}/reply",
                                 json={"text": f"This is reply number {n} of four."},
                                 headers={"X-CSRF-Token": csrf[url]}) as resp:
                assert resp.status == 201, await resp.text()
                posted.append(str((await resp.json())["message"]["external_id"]))

        def delivered() -> list[str]:
            return [p for mid in relay.accepted for p in posted if p in mid]

        async with asyncio.timeout(90):
            while len(delivered()) < len(posted):
                relay.changed.clear()
                if len(delivered()) < len(posted):
                    await relay.changed.wait()
    assert len(relay.refused) == 1 and posted[0] in relay.refused[0]  # the first reply had to be retried
    assert delivered() == posted  # in the order posted, each once: the others waited for the first's retry
