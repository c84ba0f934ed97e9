"""The load generator of `switchboard bench load` and `switchboard bench soak` (docs/performance.md).

It runs in its own process, never in a hub's interpreter: the hubs are `switchboard serve`
subprocesses (`HubProcess`) on a database this process starts (`Cluster`: a fresh embedded
secantusd-py in a temporary directory) or on an existing hub (`--url`). Customers drive the
widget exactly as the browser does: `POST /api/widget/session`, a WebSocket on `/api/widget/ws`
for everything the hub sends them (after a reconnect, `GET /api/widget/messages?after=` for what
they missed), and `POST /api/widget/messages` with a `client_id` per message, retried with the
same id after a failure (on the other hub when there are two, like a load balancer). An agent
logged in to the desk reads what the desk page reads (its feed, and after each burst of ticket changes the
list, its counts and the queue badges), picks escalated tickets from the list and answers them with
`POST /api/tickets/{id}/reply`.

Counted against what the generator sent (its client ids, checked in the database at the end of
each step): `lost` (never stored) and `duplicated` (stored more than once). The database commands
per message are the server's own `serverStatus.opcounters` (every command of every client: the
hubs' background work included) before and after a step, divided by the customer messages sent.
`raw_inserts_per_s`: single `insert_one`s into a scratch collection with the same driver on the
same server, right after each step.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import json
import math
import os
import random
import secrets
import shutil
import signal
import smtplib
import subprocess
import sys
import tempfile
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from pymongo import AsyncMongoClient
from pymongo.errors import PyMongoError

from hub.tickets import ACTIVE

FAQ = ["what are your opening hours", "how much is shipping", "how do I reset my password",
       "can I return these shoes", "where is my order 12345", "do you ship abroad", "how can I pay"]
ESCALATE = ["I want to talk to a human", "can I speak to an agent please", "transfer me to a human"]
SITE = "demo"
SUPPORT_ADDRESS = "support@bench.test"
AGENT_USER = "bench-agent"
ANSWER_TIMEOUT = 30.0
SEND_RETRY_SECONDS = 60.0
SOAK_PATIENCE = 300.0
REPO = Path(__file__).resolve().parents[1]


def _progress(text: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far (Linux /proc), None when it is gone or unreadable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(samples: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100), None without samples."""
    if not samples:
        return None
    ordered = sorted(samples)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return round(ordered[rank - 1], 1)


class HubProcess:
    """One `switchboard serve` subprocess on a database URI; killed and restarted by the soak."""

    def __init__(self, work: Path, name: str, uri: str, db_name: str, secret: str, config: Path, port: int,
                 extra_env: dict[str, str] | None = None) -> None:
        self.name, self.uri, self.db_name, self.secret = name, uri, db_name, secret
        self.extra_env = dict(extra_env or {})  # e.g. SWITCHBOARD_NLU=rasa and RASA_URL (switchboard bench rasa)
        self.config, self.port = config, port
        self.data_dir = work / name
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log = work / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        return {**os.environ, **self.extra_env, "MONGODB_URI": self.uri, "SWITCHBOARD_SECRET": self.secret,
                "SWITCHBOARD_DB": self.db_name, "PYTHONUNBUFFERED": "1",
                "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
                [sys.executable, "-m", "switchboard.cli", "serve", "--port", str(self.port), "--host", "127.0.0.1",
                 "--data-dir", str(self.data_dir), "--config", str(self.config), "--log-level", "WARNING"],
                stdout=out, stderr=subprocess.STDOUT, env=self.env(), cwd=str(REPO), start_new_session=True)

    async def wait_ready(self, seconds: float = 180.0) -> None:
        deadline = time.monotonic() + seconds
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < deadline:
                if self.proc is not None and self.proc.poll() is not None:
                    raise RuntimeError(f"hub {self.name} exited ({self.proc.returncode}); see {self.log}")
                with contextlib.suppress(aiohttp.ClientError, OSError):
                    async with http.get(f"{self.url}/healthz", timeout=aiohttp.ClientTimeout(total=5)) as resp:
                        if resp.status == 200:
                            return
                await asyncio.sleep(0.25)  # polling a process that has no other signal of readiness
        raise RuntimeError(f"hub {self.name} not ready after {seconds:.0f} s; see {self.log}")

    def kill(self) -> None:
        """SIGKILL: no clean shutdown, whatever it was doing is cut off."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()


def agent_names(count: int) -> list[str]:
    """The desk users a fresh cluster adds: `bench-agent`, then `bench-agent-2`, `bench-agent-3`, ..."""
    return [AGENT_USER if n == 1 else f"{AGENT_USER}-{n}" for n in range(1, count + 1)]


class Cluster:
    """A fresh embedded database in a temporary directory and `hubs` hub processes sharing it."""

    def __init__(self, hubs: int = 1, uri: str | None = None, db_name: str | None = None,
                 mail: MailSink | None = None, extra_env: dict[str, str] | None = None, agents: int = 1) -> None:
        self.count = hubs
        self.agent_names = agent_names(agents)
        self.extra_env = extra_env
        self.mail = mail
        self.smtp_port = 0
        self.given_uri = uri
        self.db_name = db_name or f"bench{secrets.token_hex(3)}"
        self.tmp = Path(tempfile.mkdtemp(prefix="switchboard-load-"))
        self.server: Any = None
        self.uri = ""
        self.hubs: list[HubProcess] = []
        self.agent_password = secrets.token_urlsafe(16)

    async def start(self) -> None:
        from switchboard.embedded import EmbeddedServer, free_port

        if self.given_uri:
            self.uri = self.given_uri
        else:
            self.server = EmbeddedServer(self.tmp / "db", record=False)
            self.uri = await self.server.start()
        # Shared by the hubs: the database's name, and the secret that signs visitor tokens.
        secret = secrets.token_urlsafe(24)
        if self.mail is not None:
            self.smtp_port = free_port()
        config = self._config(REPO / "config" / "switchboard.yml")
        self.hubs = [HubProcess(self.tmp, f"hub{n}", self.uri, self.db_name, secret, config, free_port(),
                                self.extra_env)
                     for n in range(self.count)]
        self.hubs[0].start()
        await self.hubs[0].wait_ready()  # the first one creates the indexes and seeds the bot alone
        for hub in self.hubs[1:]:
            hub.start()
        for hub in self.hubs[1:]:
            await hub.wait_ready()
        for name in self.agent_names:  # one at a time: each is a short-lived process writing the users
            await self._add_agent(name, config)

    def _config(self, base: Path) -> Path:
        """The repository's configuration, with every customer of the generator on one address: the widget's
        limits per address (messages, history reads) are off (each chat keeps its own). With a mail sink, also
        the email channel: the hub's SMTP listener on a free port, and its relay pointed at the sink (where the
        bot's email answers arrive)."""
        raw = yaml.safe_load(base.read_text(encoding="utf-8"))
        raw.setdefault("bot", {})["data_dir"] = str((base.parent / raw["bot"].get("data_dir", "bot")).resolve())
        widget = raw.setdefault("channels", {}).setdefault("widget", {})
        widget["rate_limits"] = {**(widget.get("rate_limits") or {}), "per_address": [], "reads_per_address": []}
        if self.mail is not None:
            raw["channels"]["email"] = {
                "mailboxes": {"support": {"address": SUPPORT_ADDRESS, "from_name": "Support", "bot": True}},
                "smtp_listener": {"enabled": True, "host": "127.0.0.1", "port": self.smtp_port},
                "relay": {"host": "127.0.0.1", "port": self.mail.port, "security": "none"}}
        path = self.tmp / "switchboard.yml"
        path.write_text(yaml.safe_dump(raw), encoding="utf-8")
        return path

    async def _add_agent(self, name: str, config: Path) -> None:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "switchboard.cli", "users", "add", name, "--role", "agent", "--capacity",
            "100000", "--password-stdin", "--mongodb-uri", self.uri, "--config", str(config),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=self.hubs[0].env(),
            cwd=str(REPO))
        out, _ = await proc.communicate((self.agent_password + "\n").encode())
        if proc.returncode != 0:
            raise RuntimeError(f"could not add the bench agent: {out.decode(errors='replace')}")

    @property
    def agent_logins(self) -> list[tuple[str, str]]:
        return [(name, self.agent_password) for name in self.agent_names]

    @property
    def urls(self) -> list[str]:
        return [h.url for h in self.hubs]

    def pids(self) -> dict[str, list[int]]:
        """The processes whose CPU a step reports: the hubs and the embedded database server."""
        hubs = [h.proc.pid for h in self.hubs if h.proc is not None]
        db = [self.server.process.pid] if self.server is not None and self.server.process is not None else []
        return {"hub": hubs, "db": db}

    def stop(self, failed: bool = False) -> None:
        if failed:  # what the database and the hubs said last, before their directory is removed
            for log in [self.tmp / "db" / "secantusd.log", *(h.log for h in self.hubs)]:
                with contextlib.suppress(OSError):
                    _progress(f"{log.name}: ...{log.read_text(errors='replace')[-1500:]}")
        for hub in self.hubs:
            hub.stop()
        if self.server is not None:
            self.server.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)


@dataclass
class Sent:
    """What the generator sent, by client id: checked against the database at the end."""

    client_ids: list[str] = field(default_factory=list)
    acked: set[str] = field(default_factory=set)  # client ids a hub answered 202 for (or Message-IDs 250)
    failed: int = 0  # gave up after SEND_RETRY_SECONDS of failures (still counted: lost if not stored)
    retries: int = 0


@dataclass
class Tally:
    sent: Sent = field(default_factory=Sent)
    answer_ms: list[float] = field(default_factory=list)
    agent_ms: list[float] = field(default_factory=list)
    answered: int = 0
    unanswered: int = 0
    escalations: int = 0
    last_answer: float = 0.0
    emails: list[str] = field(default_factory=list)  # Message-ID keys of the customers' emails
    email_ms: list[float] = field(default_factory=list)
    email_unanswered: int = 0


class Visitor:
    """One widget customer: a session, a WebSocket for what the hub sends, HTTP posts for what they say."""

    def __init__(self, http: aiohttp.ClientSession, urls: list[str], home: int,
                 patience: float = SEND_RETRY_SECONDS) -> None:
        self.http, self.urls, self.home, self.patience = http, urls, home, patience
        self.token = ""
        self.seen: set[str] = set()
        self.last_id: str | None = None
        self.pending: tuple[float, asyncio.Future[float]] | None = None
        self.agent_wait: asyncio.Future[float] | None = None
        self.agent_posted = 0.0
        self.ready = asyncio.Event()
        self.socket_task: asyncio.Task[None] | None = None
        self.conversation_id: str | None = None
        self.turns = 0
        self.closing = False
        self.retries = 0  # sends and sessions tried again after a failure (on the other hub when there are two)

    @property
    def url(self) -> str:
        return self.urls[self.home % len(self.urls)]

    def fail_over(self) -> None:
        self.home += 1

    async def start(self) -> None:
        body = await self._post("/api/widget/session", {"site": SITE})
        self.token = body["token"]
        self.socket_task = asyncio.create_task(self._socket())
        await asyncio.wait_for(self.ready.wait(), max(ANSWER_TIMEOUT, self.patience))

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        deadline = time.monotonic() + self.patience
        while True:
            try:
                headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
                async with self.http.post(self.url + path, json=body, headers=headers,
                                          timeout=aiohttp.ClientTimeout(total=30)) as resp:
                    if resp.status < 300:
                        return dict(await resp.json())
                    if resp.status < 500:
                        raise RuntimeError(f"{path}: {resp.status} {await resp.text()}")
            except (aiohttp.ClientError, OSError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{path}: no hub accepted it for {self.patience:.0f} s")
            self.retries += 1
            self.fail_over()
            await asyncio.sleep(0.3)  # back off before the retry, as the widget does

    async def _socket(self) -> None:
        first = True
        while not self.closing:
            try:
                async with self.http.ws_connect(self.url.replace("http", "ws", 1) + "/api/widget/ws",
                                                heartbeat=20) as ws:
                    # as the widget does: a session it made, with nothing sent yet, is `fresh` (no chat to resume)
                    fresh = {"fresh": True} if first and not self.turns else {}
                    await ws.send_json({"type": "auth", "token": self.token, **fresh})
                    async for frame in ws:
                        if frame.type != aiohttp.WSMsgType.TEXT:
                            break
                        data = frame.json()
                        if data.get("type") == "ready":
                            if not first:  # what arrived while the socket was down
                                await self._catch_up()
                            first = False
                            self.ready.set()
                        elif data.get("type") == "message":
                            self._received(data["message"])
            except (aiohttp.ClientError, OSError, TimeoutError, RuntimeError):
                pass
            if self.closing:
                return
            self.ready.clear()
            self.fail_over()
            await asyncio.sleep(0.3)  # reconnect back-off, as the widget does

    async def _catch_up(self) -> None:
        params = {"after": self.last_id} if self.last_id else {}
        async with self.http.get(self.url + "/api/widget/messages", params=params,
                                 headers={"Authorization": f"Bearer {self.token}"}) as resp:
            if resp.status == 200:
                for message in (await resp.json())["messages"]:
                    self._received(message)

    def _received(self, message: dict[str, Any]) -> None:
        if message["id"] in self.seen:
            return
        self.seen.add(message["id"])
        self.last_id = message["id"]
        if message.get("direction") != "out":
            return
        now = time.perf_counter()
        created = datetime.fromisoformat(message["created_at"]).timestamp()
        if self.pending is not None and not self.pending[1].done() and created >= self.pending[0] - 0.01:
            self.pending[1].set_result(now)  # the first answer written after the question
        if (message.get("author") or {}).get("kind") == "agent" and self.agent_wait and not self.agent_wait.done():
            self.agent_wait.set_result(now)

    async def say(self, text: str, tally: Tally) -> float | None:
        """Send one message (retried with the same client id until a hub stores it); the answer latency in ms."""
        client_id = uuid.uuid4().hex
        tally.sent.client_ids.append(client_id)
        answer: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.pending = (time.time(), answer)
        t0 = time.perf_counter()
        try:
            # As the widget does: the first message of a session it made says so (`first`).
            body = {"text": text, "client_id": client_id, **({"first": True} if self.turns == 0 else {})}
            result = await self._post("/api/widget/messages", body)
        except (TimeoutError, RuntimeError):
            tally.sent.failed += 1
            return None
        tally.sent.acked.add(client_id)
        self.conversation_id = result.get("conversation_id") or self.conversation_id
        self.turns += 1
        try:
            done = await asyncio.wait_for(answer, ANSWER_TIMEOUT)
        except TimeoutError:
            tally.unanswered += 1
            return None
        tally.answered += 1
        tally.last_answer = max(tally.last_answer, done)
        ms = (done - t0) * 1000
        tally.answer_ms.append(ms)
        return ms

    async def close(self) -> None:
        self.closing = True
        if self.socket_task is not None:
            self.socket_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.socket_task


class MailSink:
    """The hub's SMTP relay in a bench: receives the bot's email answers and matches them to the questions
    by the `In-Reply-To`/`References` message ids (aiosmtpd on its own thread)."""

    def __init__(self) -> None:
        from switchboard.embedded import free_port

        self.port = free_port()
        self.waiting: dict[str, asyncio.Future[float]] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        self.controller: Any = None

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        self.loop = asyncio.get_running_loop()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:  # aiosmtpd hook
        now = time.perf_counter()
        mail = email.message_from_bytes(envelope.original_content or envelope.content)
        ids = f"{mail.get('In-Reply-To', '')} {mail.get('References', '')}"
        for key in list(self.waiting):
            if key in ids and self.loop is not None:
                future = self.waiting.pop(key)
                self.loop.call_soon_threadsafe(lambda f=future: f.done() or f.set_result(now))
        return "250 OK"

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()


async def send_email(smtp_port: int, mail: MailSink, text: str, tally: Tally) -> None:
    """One customer email over SMTP to the hub's listener; the answer is the bot's reply reaching the sink."""
    key = uuid.uuid4().hex
    tally.emails.append(key)
    message = EmailMessage()
    message["From"] = f"Customer {key[:6]} <c{key[:12]}@customers.test>"
    message["To"] = SUPPORT_ADDRESS
    message["Subject"] = text
    message["Message-ID"] = f"<{key}@customers.test>"
    message.set_content(text)
    answer: asyncio.Future[float] = asyncio.get_running_loop().create_future()
    mail.waiting[key] = answer
    t0 = time.perf_counter()

    def deliver() -> None:
        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=30) as smtp:
            smtp.send_message(message)

    try:
        await asyncio.to_thread(deliver)
    except (OSError, smtplib.SMTPException):
        tally.sent.failed += 1
        return
    tally.sent.acked.add(key)
    try:
        done = await asyncio.wait_for(answer, ANSWER_TIMEOUT)
    except TimeoutError:
        tally.email_unanswered += 1
        return
    tally.answered += 1
    tally.last_answer = max(tally.last_answer, done)
    tally.email_ms.append((done - t0) * 1000)


class Agent:
    """A desk agent with the desk open, one of the run's `Staff`: answers each new ticket of a bench visitor once
    and solves it with that reply ("send and solve": the customer is done), so the desk's active tickets are the
    chats in flight, as on a staffed desk, not every escalation of the run.

    It reads what the desk page reads (`agents_ui/static/desk.js`): the desk's feed (`/api/desk/ws`, which also
    marks the agent online), and 150 ms after a ticket change, then at most once a second while changes keep
    coming, the list's first page (newest first), its view counts and the queue badges, all three at once. It also
    looks when one of the staff's visitors is told they wait for a person: a person at the desk would see the
    ticket in the list they have just reloaded. It answers a waiting ticket routed to it or to nobody (one routed to
    a colleague is theirs), and opens it as the desk does (the ticket, its suggested responses, the collision
    hints: "viewing", "typing", then "left") before "Send and solve". Each agent has its own login, so its own
    cookie and session."""

    PAGE = 25  # the desk list's page (agents_ui/static/ticketlist.js)
    RELOAD_AFTER_S = 0.15  # desk.js: REFRESH_AFTER_MS, REFRESH_EVERY_MS
    RELOAD_EVERY_S = 1.0

    def __init__(self, connector: aiohttp.BaseConnector, url: str, username: str, password: str,
                 staff: Staff) -> None:
        self.connector, self.url, self.username, self.password, self.staff = connector, url, username, password, staff
        self.http: aiohttp.ClientSession | None = None
        self.id = ""
        self.csrf = ""
        self.task: asyncio.Task[None] | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.reloads: set[asyncio.Task[None]] = set()
        self.reload_count = 0
        self.last_reload = -math.inf  # loop time
        self.replies = 0
        self.ws: aiohttp.ClientWebSocketResponse | None = None  # the desk's feed, while open
        self.feed_frames = 0  # what the desk's feed sent this agent: frames, and their bytes (UTF-8 text)
        self.feed_bytes = 0

    async def start(self) -> None:
        self.http = aiohttp.ClientSession(connector=self.connector, connector_owner=False,
                                          cookie_jar=aiohttp.CookieJar(unsafe=True))
        for _attempt in range(30):  # the hub checks a few passwords at a time and says when to come back (503)
            async with self.http.post(self.url + "/api/auth/login",
                                      json={"username": self.username, "password": self.password}) as resp:
                body = await resp.json(content_type=None)
                if resp.status == 503:
                    await asyncio.sleep(float(body.get("retry_after") or resp.headers.get("Retry-After") or 1))
                    continue
                if resp.status != 200:
                    raise RuntimeError(f"agent login: {resp.status} {body}")
                break
        else:
            raise RuntimeError("agent login: the hub kept answering 503")
        self.csrf, self.id = str(body["csrf"]), str(body["agent"]["id"])
        self.task = asyncio.create_task(self._work())

    def changed(self) -> None:
        """A ticket changed: reload as the desk does, 150 ms after it and at most once a second."""
        if self.timer is not None:
            return  # a reload is planned: it shows this change too
        loop = asyncio.get_running_loop()
        wait = max(self.RELOAD_AFTER_S, self.last_reload + self.RELOAD_EVERY_S - loop.time())
        self.timer = loop.call_later(wait, self._spawn_reload)

    def _spawn_reload(self) -> None:
        self.timer = None
        self.last_reload = asyncio.get_running_loop().time()
        task = asyncio.create_task(self._reload())
        self.reloads.add(task)
        task.add_done_callback(self.reloads.discard)

    @property
    def _session(self) -> aiohttp.ClientSession:
        assert self.http is not None, "start() first"
        return self.http

    async def _work(self) -> None:
        """The desk's feed, reconnected after 2 s when it drops, as the page does."""
        while True:
            with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError, ValueError):
                async with self._session.ws_connect(self.url + "/api/desk/ws", heartbeat=25) as ws:
                    self.ws = ws
                    self.changed()  # the page loads its lists when it opens
                    async for frame in ws:
                        if frame.type != aiohttp.WSMsgType.TEXT:
                            continue
                        self.feed_frames += 1
                        self.feed_bytes += len(frame.data.encode())
                        if json.loads(frame.data).get("type") == "ticket":
                            self.changed()
            await asyncio.sleep(2)

    async def _reload(self) -> None:
        self.reload_count += 1
        with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError, KeyError, ValueError):
            tickets, _, _ = await asyncio.gather(
                self._get("/api/tickets", {"size": str(self.PAGE)}), self._get("/api/tickets/counts"),
                self._get("/api/queues"))
            await self._answer_new((tickets or {}).get("tickets", []))

    async def _get(self, path: str, params: dict[str, str] | None = None) -> dict[str, Any] | None:
        async with self._session.get(self.url + path, params=params) as resp:
            return await resp.json() if resp.status == 200 else None

    async def _answer_new(self, tickets: list[dict[str, Any]]) -> None:
        for ticket in tickets:
            if ticket.get("assignee_id") not in (None, self.id):
                continue  # routed to a colleague: theirs to answer
            visitor = self.staff.claim(ticket)
            if visitor is None:
                continue
            await self._open(ticket["id"], ticket.get("conversation_ids") or [])
            visitor.agent_posted = time.perf_counter()
            async with self._session.post(self.url + f"/api/tickets/{ticket['id']}/reply",
                                          json={"text": "Hello, I have sorted this out for you.",
                                                "status": "solved"},
                                          headers={"X-CSRF-Token": self.csrf}) as resp:
                await resp.read()
                sent = resp.status == 201
            if sent:
                self.replies += 1
            else:  # refused or failed (a 503 after the hub's retries): sent again at a later reload, as a person would
                self.staff.give_back(ticket, visitor)
            await self._activity(ticket["id"], "left")

    async def _open(self, ticket_id: str, conversation_ids: list[str]) -> None:
        """What the desk does when the agent opens a ticket and starts typing (desk.js, collision.js): its feed
        follows the ticket's conversations, then the ticket with its messages and contact, its suggested responses,
        "viewing" (answered with who else is on it) and "seen" (attention.js), then "typing" on the feed."""
        if self.ws is not None and not self.ws.closed:
            with contextlib.suppress(aiohttp.ClientError, OSError):
                await self.ws.send_json({"type": "watch", "ticket_id": ticket_id, "conversation_ids": conversation_ids})
        await asyncio.gather(self._get(f"/api/tickets/{ticket_id}"),
                             self._get("/api/responses", {"ticket": ticket_id}),
                             self._activity(ticket_id, "viewing"), self._seen(ticket_id))
        if self.ws is not None and not self.ws.closed:  # the typing goes on the feed, as the page sends it
            with contextlib.suppress(aiohttp.ClientError, OSError):
                await self.ws.send_json({"type": "activity", "state": "typing"})
                return
        await self._activity(ticket_id, "typing")

    async def _activity(self, ticket_id: str, state: str) -> None:
        async with self._session.post(self.url + f"/api/tickets/{ticket_id}/activity", json={"state": state},
                                      headers={"X-CSRF-Token": self.csrf}) as resp:
            await resp.read()

    async def _seen(self, ticket_id: str) -> None:
        async with self._session.post(self.url + f"/api/tickets/{ticket_id}/seen",
                                      headers={"X-CSRF-Token": self.csrf}) as resp:
            await resp.read()

    async def stop(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
        for task in [self.task, *self.reloads]:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self.http is not None:
            await self.http.close()


class Staff:
    """The desk's agents in a run, each with their own login and desk open. They share the escalated visitors:
    a ticket is answered once, by the first agent whose list shows it (routed to them or to nobody)."""

    def __init__(self, connector: aiohttp.BaseConnector, url: str, logins: list[tuple[str, str]]) -> None:
        self.agents = [Agent(connector, url, user, password, self) for user, password in logins]
        self.waiting: dict[str, Visitor] = {}  # conversation id -> escalated visitor
        self.replied: set[str] = set()
        self.failed_replies = 0  # replies the hub refused or failed (each given back, to be sent again)

    async def start(self) -> None:
        await asyncio.gather(*(agent.start() for agent in self.agents))

    def expect(self, visitor: Visitor) -> None:
        """`visitor` was told a person will answer: the staff look at their lists (as after a change)."""
        assert visitor.conversation_id is not None
        self.waiting[visitor.conversation_id] = visitor
        for agent in self.agents:
            agent.changed()

    def claim(self, ticket: dict[str, Any]) -> Visitor | None:
        """The waiting visitor of `ticket` for the agent about to answer it; None: nobody waits, or answered."""
        if ticket["id"] in self.replied:
            return None
        visitor = next((self.waiting.pop(c) for c in ticket.get("conversation_ids", []) if c in self.waiting), None)
        if visitor is not None:
            self.replied.add(ticket["id"])
        return visitor

    def give_back(self, ticket: dict[str, Any], visitor: Visitor) -> None:
        """A reply to `ticket` failed: the ticket waits for an answer again."""
        self.replied.discard(ticket["id"])
        assert visitor.conversation_id is not None
        self.waiting[visitor.conversation_id] = visitor
        self.failed_replies += 1

    @property
    def reload_count(self) -> int:
        return sum(agent.reload_count for agent in self.agents)

    def replies(self) -> list[int]:
        return [agent.replies for agent in self.agents]

    def feed(self) -> tuple[int, int]:
        """Frames and bytes the agents' desk feeds received so far, all agents together."""
        return sum(a.feed_frames for a in self.agents), sum(a.feed_bytes for a in self.agents)

    async def stop(self) -> None:
        for agent in self.agents:
            await agent.stop()


class Crowd:
    """The customers of a run: a pool of idle visitors, new ones on demand, a realistic mix of what they say."""

    def __init__(self, http: aiohttp.ClientSession, urls: list[str], staff: Staff | None, rng: random.Random,
                 escalate_share: float = 0.1, faq_turns: int = 3, mail: MailSink | None = None, smtp_port: int = 0,
                 email_share: float = 0.05, patience: float = SEND_RETRY_SECONDS) -> None:
        self.http, self.urls, self.staff, self.rng = http, urls, staff, rng
        self.escalate_share, self.faq_turns = escalate_share, faq_turns
        self.mail, self.smtp_port, self.email_share = mail, smtp_port, email_share
        self.patience = patience  # how long a customer keeps retrying a send before giving up
        self.idle: deque[Visitor] = deque()
        self.all: list[Visitor] = []
        self.started = 0

    async def visitor(self) -> Visitor:
        if self.idle:
            return self.idle.popleft()
        visitor = Visitor(self.http, self.urls, self.started, self.patience)
        self.started += 1
        self.all.append(visitor)
        await visitor.start()
        return visitor

    async def turn(self, tally: Tally) -> None:
        """One customer message: a FAQ question (answered by the bot), an escalation that an agent answers,
        or an email over SMTP (answered by the bot by email)."""
        if self.mail is not None and self.rng.random() < self.email_share:
            await send_email(self.smtp_port, self.mail, self.rng.choice(FAQ), tally)
            return
        try:
            visitor = await self.visitor()
        except (TimeoutError, RuntimeError, aiohttp.ClientError, OSError):
            tally.sent.failed += 1
            return
        if self.staff is not None and self.rng.random() < self.escalate_share:
            tally.escalations += 1
            visitor.agent_wait = asyncio.get_running_loop().create_future()
            if await visitor.say(self.rng.choice(ESCALATE), tally) is not None and visitor.conversation_id:
                self.staff.expect(visitor)
                with contextlib.suppress(TimeoutError):
                    done = await asyncio.wait_for(visitor.agent_wait, ANSWER_TIMEOUT * 2)
                    tally.agent_ms.append((done - visitor.agent_posted) * 1000)
            await visitor.close()  # an escalated chat is the agent's now: this customer is done
            return
        await visitor.say(self.rng.choice(FAQ), tally)
        if visitor.turns < self.faq_turns:
            self.idle.append(visitor)
        else:
            await visitor.close()

    async def close(self) -> None:
        for visitor in self.all:
            await visitor.close()


class Database:
    """The generator's own view of the server: opcounters, the raw insert rate, and the lost/duplicated check."""

    def __init__(self, uri: str, db_name: str) -> None:
        self.client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri)
        self.db = self.client[db_name]

    async def commands(self) -> int:
        for attempt in range(5):  # a dropped pooled connection (the server under overload) is retried
            try:
                status = await self.client.admin.command("serverStatus")
                return sum(int(v) for v in (status.get("opcounters") or {}).values())
            except PyMongoError:
                if attempt == 4:
                    raise
                await asyncio.sleep(1.0)  # back off before the next attempt
        raise AssertionError("unreachable")

    async def wait_quiet(self, most_seconds: float = 90.0, idle_per_s: float = 40.0) -> float:
        """Wait until the server is nearly idle (two one-second windows under `idle_per_s` commands: the hubs'
        idle polls) or `most_seconds` passed: a step's backlog is worked off before anything else is measured.
        Returns the seconds waited."""
        t0 = time.perf_counter()
        quiet = 0
        last = await self.commands()
        while quiet < 2 and time.perf_counter() - t0 < most_seconds:
            await asyncio.sleep(1.0)  # a sampling interval of the server's counters
            now = await self.commands()
            quiet = quiet + 1 if now - last - 1 < idle_per_s else 0
            last = now
        return round(time.perf_counter() - t0, 1)

    async def active_tickets(self) -> int:
        """The desk's active tickets (new, open, pending): what the agent's list and the live wait work on."""
        return await self.db.tickets.count_documents({"status": {"$in": ACTIVE}})

    async def raw_inserts_per_s(self, seconds: float = 3.0) -> float:
        scratch = self.db["bench_scratch"]
        n = 0
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            await scratch.insert_one({"n": n, "payload": "x" * 200})
            n += 1
        rate = n / (time.perf_counter() - t0)
        await scratch.drop()
        return round(rate, 1)

    async def check(self, client_ids: list[str]) -> tuple[set[str], int]:
        """(the missing ones, how many duplicates) of these client ids among the stored widget messages."""
        wanted = set(client_ids)
        counts: dict[str, int] = {}
        async for doc in self.db["messages"].find({"channel": "widget", "direction": "in"},
                                                  projection={"external_id": 1, "_id": 0}):
            client_id = str(doc.get("external_id", "")).rsplit(":", 1)[-1]
            if client_id in wanted:
                counts[client_id] = counts.get(client_id, 0) + 1
        duplicated = sum(n - 1 for n in counts.values() if n > 1) + (len(client_ids) - len(wanted))
        return {c for c in wanted if c not in counts}, duplicated

    async def check_emails(self, keys: list[str]) -> tuple[set[str], int]:
        """(the missing ones, how many duplicates) of the customers' emails (by Message-ID) among the stored ones."""
        wanted = set(keys)
        counts: dict[str, int] = {}
        async for doc in self.db["messages"].find({"channel": "email", "direction": "in"},
                                                  projection={"external_id": 1, "_id": 0}):
            key = str(doc.get("external_id", "")).strip("<>").split("@", 1)[0]
            if key in wanted:
                counts[key] = counts.get(key, 0) + 1
        return {k for k in wanted if k not in counts}, sum(n - 1 for n in counts.values() if n > 1)

    async def close(self) -> None:
        await self.client.close()


async def drain(tasks: set[asyncio.Task[None]]) -> None:
    if tasks:
        await asyncio.gather(*tasks, return_exceptions=True)


async def open_loop(crowd: Crowd, rate: float, seconds: float, tally: Tally,
                    during: Callable[[float], Any] | None = None) -> float:
    """Offer `rate` messages a second for `seconds` whatever the answers take; returns the start time."""
    tasks: set[asyncio.Task[None]] = set()
    t0 = time.perf_counter()
    for i in range(max(1, int(rate * seconds))):
        delay = t0 + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)  # the schedule of the offered load itself
        if during is not None:
            await during(time.perf_counter() - t0)
        task = asyncio.create_task(crowd.turn(tally))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    await drain(set(tasks))
    return t0


async def closed_loop(crowd: Crowd, concurrency: int, seconds: float, tally: Tally) -> float:
    """`concurrency` customers, each sending its next message as soon as the previous one is answered."""
    t0 = time.perf_counter()

    async def customer() -> None:
        while time.perf_counter() - t0 < seconds:
            await crowd.turn(tally)

    await asyncio.gather(*(customer() for _ in range(concurrency)))
    return t0


@dataclass
class Step:
    name: str
    rate: float | None = None  # offered messages a second (open loop)
    concurrency: int | None = None  # customers at once (closed loop)


def parse_steps(text: str) -> list[Step]:
    """`5,10,20,c20`: open-loop rates in messages a second, `cN` a closed-loop step of N customers."""
    steps = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        if part.lower().startswith("c"):
            n = int(part[1:])
            if n < 1:
                raise ValueError("a closed-loop step needs at least one customer")
            steps.append(Step(f"closed-{n}", concurrency=n))
        else:
            rate = float(part)
            if rate <= 0:
                raise ValueError("a rate must be above zero")
            steps.append(Step(f"open-{part}", rate=rate))
    if not steps:
        raise ValueError("no steps")
    return steps


def _cpu(pids: dict[str, list[int]]) -> dict[str, float]:
    out = {name: sum(cpu_seconds(p) or 0.0 for p in group) for name, group in pids.items()}
    times = os.times()
    out["generator"] = times.user + times.system
    return out


async def run_step(step: Step, crowd: Crowd, db: Database | None, seconds: float,
                   pids: dict[str, list[int]] | None = None, browsing: list[Visitor] | None = None) -> dict[str, Any]:
    tally = Tally()
    cpu_before = _cpu(pids or {})
    before = await db.commands() if db else None
    staff = crowd.staff
    reloads_before = staff.reload_count if staff else 0
    replies_before = staff.replies() if staff else []
    failed_before = staff.failed_replies if staff else 0
    feed_before = staff.feed() if staff else (0, 0)
    if step.rate is not None:
        t0 = await open_loop(crowd, step.rate, seconds, tally)
    else:
        t0 = await closed_loop(crowd, step.concurrency or 1, seconds, tally)
    end = time.perf_counter()
    cpu_after = _cpu(pids or {})
    # The step's backlog (answers still being written, outbox, aggregates) is worked off before anything else:
    # its commands are the step's, the raw insert rate is the server's own (not what is left of it beside the
    # hub), and the next step starts clean.
    try:
        quiet = await db.wait_quiet() if db else None
        after = await db.commands() if db else None
    except PyMongoError as exc:  # the line is still printed, with what could not be measured left null
        _progress(f"the database did not answer after the step: {exc}")
        quiet = after = None
    span = max((tally.last_answer or end) - t0, 1e-6)
    sent = len(tally.sent.client_ids) + len(tally.emails)
    result: dict[str, Any] = {
        "step": step.name, "offered_per_s": step.rate, "concurrency": step.concurrency, "seconds": seconds,
        "sent": sent, "answered": tally.answered, "unanswered": tally.unanswered,
        "send_failed": tally.sent.failed, "escalations": tally.escalations,
        "achieved_per_s": round(tally.answered / span, 2),
        "p50_ms": percentile(tally.answer_ms, 50), "p95_ms": percentile(tally.answer_ms, 95),
        "p99_ms": percentile(tally.answer_ms, 99),
        "agent_reply_p50_ms": percentile(tally.agent_ms, 50), "agent_reply_p99_ms": percentile(tally.agent_ms, 99),
        "emails": len(tally.emails), "email_answer_p50_ms": percentile(tally.email_ms, 50),
        "email_answer_p99_ms": percentile(tally.email_ms, 99), "email_unanswered": tally.email_unanswered,
        # the agents' desk reloads (each: list, counts and queue badges at once) and replies during the step
        "agents": len(staff.agents) if staff else 0,
        "desk_reloads": staff.reload_count - reloads_before if staff else None,
        "agent_replies": [n - m for n, m in zip(staff.replies(), replies_before, strict=True)] if staff else None,
        "agent_replies_failed": staff.failed_replies - failed_before if staff else None,
        # what one agent's desk feed carried a second, on average over the agents: frames, and kilobytes of text
        **_feed_rates(staff, feed_before, end - t0),
        # visitors with the widget open who wrote nothing, and the messages their sockets received (none is theirs)
        "browsing": len(browsing or []), "browsing_received": sum(len(v.seen) for v in browsing or []),
        "lost": None, "lost_acknowledged": None, "duplicated": None,
        "db_commands_per_message": None, "raw_inserts_per_s": None, "ratio": None,
        # CPU used during the step, in % of one core (2 cores = 200 %): where the time goes.
        **{f"{name}_cpu_percent": round((cpu_after[name] - cpu_before[name]) / (end - t0) * 100)
           for name in cpu_before},
    }
    if db is not None and before is not None and after is not None:
        result["db_commands_per_message"] = round((after - before) / max(sent, 1), 1)
        result["quiet_after_s"] = quiet
        try:
            missing, duplicated = await db.check(tally.sent.client_ids)
            missing_emails, email_duplicated = await db.check_emails(tally.emails)
            result["active_tickets"] = await db.active_tickets()
            raw = await db.raw_inserts_per_s()
        except PyMongoError as exc:
            result["error"] = f"database: {exc}"[:300]
            return result
        missing |= missing_emails
        result["lost"], result["duplicated"] = len(missing), duplicated + email_duplicated
        # Of those, acknowledged by a hub (202 / SMTP 250): a hub said "stored" and it is not. The rest are sends the
        # customer gave up on after a minute of failures (`send_failed`): refused, not silently dropped.
        result["lost_acknowledged"] = len(missing & tally.sent.acked)
        result["raw_inserts_per_s"] = raw
        result["ratio"] = round(result["achieved_per_s"] / raw, 4) if raw else None
    return result


def _feed_rates(staff: Staff | None, before: tuple[int, int], seconds: float) -> dict[str, float | None]:
    if not staff or not staff.agents:
        return {"desk_feed_frames_per_s": None, "desk_feed_kb_per_s": None}
    frames, size = (now - then for now, then in zip(staff.feed(), before, strict=True))
    per_agent_s = len(staff.agents) * max(seconds, 1e-6)
    return {"desk_feed_frames_per_s": round(frames / per_agent_s, 1),
            "desk_feed_kb_per_s": round(size / 1000 / per_agent_s, 1)}


DEFAULT_STEPS = "5,10,20,c20,40"  # the overload step last


async def open_widgets(http: aiohttp.ClientSession, urls: list[str], count: int) -> list[Visitor]:
    """`count` visitors who only browse: the widget open (a session and its socket, as a page with the widget
    makes), nothing written. Opened 50 at a time; each socket is ready (subscribed) when this returns."""
    visitors = [Visitor(http, urls, n) for n in range(count)]
    for start in range(0, count, 50):
        await asyncio.gather(*(visitor.start() for visitor in visitors[start:start + 50]))
    return visitors


async def bench_load(steps: list[Step], seconds: float, url: str | None, mongodb_uri: str | None,
                     db_name: str | None, agent: tuple[str, str] | None, emit: Callable[[dict[str, Any]], None],
                     seed: int = 1, agents: int = 1, browsing: int = 0) -> None:
    """Run the steps one after another, emitting a line each.

    Without `url`: a fresh hub with `agents` desk users, on a fresh embedded database (on `mongodb_uri`'s server
    when given, in the database `db_name`, by default a new one). With `url`: that running hub, its database at
    `mongodb_uri` (`db_name`, by default `switchboard`) and the desk login `agent`, if any. `browsing` visitors
    keep the widget open through every step without writing (`open_widgets`)."""
    cluster: Cluster | None = None
    mail: MailSink | None = None
    logins = [agent] if agent else []
    if url is None:  # a fresh hub with the email channel: its SMTP listener, its relay into our sink
        mail = MailSink()
        mail.start()
        cluster = Cluster(hubs=1, uri=mongodb_uri, db_name=db_name, mail=mail, agents=agents)
        _progress(f"starting a fresh {'database' if mongodb_uri else 'embedded database'} and a hub in "
                  f"{cluster.tmp}")
        await cluster.start()
        urls, uri, logins = cluster.urls, cluster.uri, cluster.agent_logins
    else:
        urls, uri = [url.rstrip("/")], mongodb_uri
    db = Database(uri, cluster.db_name if cluster else db_name or "switchboard") if uri else None
    connector = aiohttp.TCPConnector(limit=0)
    try:
        async with aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            staff = Staff(connector, urls[0], logins) if logins else None
            try:
                if staff is not None:
                    await staff.start()
                crowd = Crowd(http, urls, staff, random.Random(seed), mail=mail,
                              smtp_port=cluster.smtp_port if cluster else 0)
                readers: list[Visitor] = []
                try:
                    if browsing:
                        _progress(f"opening the widget of {browsing} browsing visitors")
                        readers = await open_widgets(http, urls, browsing)
                    for step in steps:
                        _progress(f"step {step.name}: {seconds:.0f} s")
                        emit(await run_step(step, crowd, db, seconds, cluster.pids() if cluster else None,
                                            browsing=readers))
                finally:
                    await crowd.close()
                    for visitor in readers:
                        await visitor.close()
            finally:
                if staff is not None:
                    await staff.stop()
    finally:
        if db is not None:
            await db.close()
        if cluster is not None:
            cluster.stop(failed=sys.exc_info()[0] is not None)
        if mail is not None:
            mail.stop()


async def bench_soak(minutes: float, rate: float, uri: str | None = None, db_name: str | None = None,
                     seed: int = 1) -> dict[str, Any]:
    """A steady `rate` across two hub processes for `minutes`; half-way the first hub is SIGKILLed and restarted.

    Customers are spread over both hubs; a failed send is retried with the same client id on the other hub
    (a load balancer's failover), a dropped WebSocket reconnects there and fetches what it missed.
    """
    cluster = Cluster(hubs=2, uri=uri, db_name=db_name)
    _progress(f"starting two hubs on one database in {cluster.tmp}")
    started = time.perf_counter()
    await cluster.start()
    db = Database(cluster.uri, cluster.db_name)
    seconds = minutes * 60
    killed: dict[str, float] = {}

    async def kill_in_the_middle(elapsed: float) -> None:
        if "at" not in killed and elapsed >= seconds / 2:
            killed["at"] = round(elapsed, 1)
            victim = cluster.hubs[0]
            victim.kill()
            _progress(f"SIGKILLed {victim.name} at {elapsed:.0f} s; restarting it")
            t0 = time.perf_counter()
            victim.start()
            restart.append(asyncio.create_task(victim.wait_ready()))
            restart[-1].add_done_callback(lambda _t: killed.setdefault("restart_s", time.perf_counter() - t0))

    restart: list[asyncio.Task[None]] = []
    tally = Tally()
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
            # Customers keep retrying (as the widget does while its page is open) across the kill and restart.
            crowd = Crowd(http, cluster.urls, None, random.Random(seed), patience=SOAK_PATIENCE)
            try:
                await open_loop(crowd, rate, seconds, tally, during=kill_in_the_middle)
                for task in restart:
                    await task
            finally:
                retried = sum(v.retries for v in crowd.all)
                await crowd.close()
        missing, duplicated = await db.check(tally.sent.client_ids)
        lost, lost_acknowledged = len(missing), len(missing & tally.sent.acked)
    finally:
        await db.close()
        cluster.stop()
    return {"bench": "soak", "hubs": 2, "minutes": minutes, "offered_per_s": rate,
            "sent": len(tally.sent.client_ids), "answered": tally.answered, "unanswered": tally.unanswered,
            "send_failed": tally.sent.failed, "retried_sends": retried, "lost": lost,
            "lost_acknowledged": lost_acknowledged, "duplicated": duplicated,
            "killed_at_s": killed.get("at"), "restart_s": round(killed.get("restart_s", 0.0), 1) or None,
            "p50_ms": percentile(tally.answer_ms, 50), "p99_ms": percentile(tally.answer_ms, 99),
            "max_ms": percentile(tally.answer_ms, 100), "total_seconds": round(time.perf_counter() - started, 1)}
