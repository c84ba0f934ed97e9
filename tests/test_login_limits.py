"""Login under attack: hashing off the event loop (bounded), atomic per-address/per-user backoff, hashed sessions."""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from argon2 import PasswordHasher

from hub import login_throttle
from hub.login_throttle import LIMITS, LoginThrottle, Throttled
from hub.models import utcnow
from switchboard.bootstrap import Runtime
from tests.helpers import Counted, eventually, scratch_store
from tests.test_widget_flow import say, widget_session


class RecordingHasher:
    """The real argon2 hasher, recording which thread verifies; `verify` can be held at a gate."""

    def __init__(self, real: PasswordHasher, held: bool = False) -> None:
        self.real = real
        self.threads: set[int] = set()
        self.verifications = 0
        self.entered = threading.Event()
        self.gate = threading.Event()
        if not held:
            self.gate.set()
        self._lock = threading.Lock()

    def hash(self, password: str) -> str:
        return self.real.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        with self._lock:
            self.threads.add(threading.get_ident())
            self.verifications += 1
        self.entered.set()
        assert self.gate.wait(30), "the test never opened the gate"
        return self.real.verify(password_hash, password)

    def check_needs_rehash(self, password_hash: str) -> bool:
        return self.real.check_needs_rehash(password_hash)


@pytest.fixture
def hasher(runtime: Runtime) -> Iterator[RecordingHasher]:
    assert runtime.hub is not None
    pool = runtime.hub.accounts.hashing
    recording = RecordingHasher(pool.hasher)
    pool.hasher = recording  # type: ignore[assignment]
    yield recording
    recording.gate.set()


class Clock:
    """The throttle's clock, moved by the test instead of sleeping."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock(runtime: Runtime) -> Clock:
    assert runtime.hub is not None
    frozen = Clock()
    runtime.hub.accounts.throttle.clock = frozen
    return frozen


async def attempt(client: TestClient[Any, Any], username: str, password: str) -> aiohttp.ClientResponse:
    resp = await client.post("/api/auth/login", json={"username": username, "password": password})
    await resp.read()
    return resp


async def test_hashing_runs_off_the_loop_and_other_requests_are_answered_meanwhile(
    client: TestClient[Any, Any], runtime: Runtime, hasher: RecordingHasher
) -> None:
    hasher.gate.clear()  # every verification now waits until the test lets it go
    burst = [asyncio.create_task(attempt(client, f"user{i}", "wrong password")) for i in range(12)]
    assert await asyncio.get_running_loop().run_in_executor(None, hasher.entered.wait, 10)
    # Verification is stuck in the pool: had it run on the loop, nothing below could be answered.
    assert (await client.get("/healthz")).status == 200
    token = await widget_session(client)
    await say(client, token, "hello, anyone there?")  # 202: the widget is answered too
    assert runtime.hub is not None
    pool = runtime.hub.accounts.hashing

    async def all_arrived() -> bool:
        return pool.pending == pool.max_pending and sum(task.done() for task in burst) == 12 - pool.max_pending

    await eventually(all_arrived, what="the pool to fill and the rest to be answered")
    hasher.gate.set()
    statuses = sorted(r.status for r in await asyncio.gather(*burst))
    # At most `max_pending` checks were queued; the rest were told to come back instead of piling up.
    assert statuses.count(401) == pool.max_pending and statuses.count(503) == 12 - pool.max_pending
    assert threading.get_ident() not in hasher.threads and hasher.threads


async def test_a_busy_pool_answers_503_with_retry_after(client: TestClient[Any, Any], hasher: RecordingHasher,
                                                        runtime: Runtime) -> None:
    hasher.gate.clear()
    assert runtime.hub is not None
    held = [asyncio.create_task(attempt(client, f"u{i}", "wrong password"))
            for i in range(runtime.hub.accounts.hashing.max_pending)]
    await asyncio.get_running_loop().run_in_executor(None, hasher.entered.wait, 10)

    async def queue_full() -> bool:
        return runtime.hub is not None and runtime.hub.accounts.hashing.pending == len(held)

    await eventually(queue_full, what="the pool to fill")
    busy = await attempt(client, "one-more", "wrong password")
    assert busy.status == 503 and busy.headers["Retry-After"] == "1"
    assert "queued" in (await busy.json())["error"]
    hasher.gate.set()
    assert {r.status for r in await asyncio.gather(*held)} == {401}


async def test_parallel_guesses_get_only_the_budget_through(
    client: TestClient[Any, Any], runtime: Runtime, hasher: RecordingHasher, clock: Clock
) -> None:
    assert runtime.hub is not None
    await runtime.hub.accounts.create("admin2", "the admin's password")
    responses = await asyncio.gather(*(attempt(client, "admin2", f"guess {i}") for i in range(50)))
    statuses = [r.status for r in responses]
    budget = next(limit.free for limit in LIMITS if limit.kind == "pair")
    assert statuses.count(401) == budget and statuses.count(429) == 50 - budget, statuses
    assert hasher.verifications == budget  # the refused ones never reached argon2
    assert all(int(r.headers["Retry-After"]) >= 1 for r in responses if r.status == 429)


async def test_a_throttled_address_does_not_lock_out_the_user_elsewhere(
    client: TestClient[Any, Any], runtime: Runtime, clock: Clock
) -> None:
    assert runtime.hub is not None
    await runtime.hub.accounts.create("admin2", "the admin's password")
    for i in range(30):
        await attempt(client, "admin2", f"guess {i}")
    assert (await attempt(client, "admin2", "the admin's password")).status == 429  # this address waits
    # The real admin, from another address (127.0.0.2 is loopback too), is not affected.
    connector = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))
    async with aiohttp.ClientSession(connector=connector) as other:
        resp = await other.post(client.make_url("/api/auth/login"),
                                json={"username": "admin2", "password": "the admin's password"})
        assert resp.status == 200, await resp.text()
    stored = await runtime.hub.store.login_throttle.find_one({"_id": "pair:127.0.0.1|admin2"})
    assert stored is not None  # the attacker's own counter stays


async def test_backoff_doubles_and_success_resets(
    client: TestClient[Any, Any], runtime: Runtime, clock: Clock
) -> None:
    assert runtime.hub is not None
    await runtime.hub.accounts.create("carol", "carol's password")
    for _ in range(5):
        assert (await attempt(client, "carol", "wrong")).status == 401
    waits = []
    for _ in range(4):
        refused = await attempt(client, "carol", "wrong")
        assert refused.status == 429
        wait = int(refused.headers["Retry-After"])
        waits.append(wait)
        clock.advance(wait - 0.5)
        assert (await attempt(client, "carol", "wrong")).status == 429  # not a moment early
        clock.advance(0.5)
        assert (await attempt(client, "carol", "wrong")).status == 401
    assert waits == [1, 2, 4, 8]
    clock.advance(16)
    assert (await attempt(client, "carol", "carol's password")).status == 200
    for _ in range(5):  # a success starts the budget again
        assert (await attempt(client, "carol", "wrong")).status == 401


def test_backoff_is_capped() -> None:
    pair = next(limit for limit in LIMITS if limit.kind == "pair")
    user = next(limit for limit in LIMITS if limit.kind == "user")
    assert [pair.delay(n) for n in (1, 2, 3)] == [1, 2, 4]
    assert pair.delay(40) == 15 * 60 and pair.delay(10_000) == 15 * 60
    assert user.delay(40) == 60  # the shared per-username counter never holds the real user for long


async def test_sessions_are_stored_hashed(client: TestClient[Any, Any], runtime: Runtime) -> None:
    assert runtime.hub is not None
    await runtime.hub.accounts.create("dave", "dave's password")
    assert (await attempt(client, "dave", "dave's password")).status == 200
    token = next(c.value for c in client.session.cookie_jar if c.key == "sb_session")
    stored = await runtime.hub.store.sessions.find_one({})
    assert stored is not None
    assert stored["_id"] == hashlib.sha256(token.encode()).hexdigest() and token not in str(stored)
    assert (await client.get("/api/me")).status == 200
    # A database dump's key is no cookie: presenting it does not log anyone in.
    async with aiohttp.ClientSession(cookies={"sb_session": stored["_id"]}) as thief:
        assert (await thief.get(client.make_url("/api/me"))).status == 401


async def _fail_until_held(throttle: LoginThrottle, ip: str) -> int:
    """Wrong passwords from `ip`, each for another username, until the address is held back: how many failed."""
    for k in range(100):
        try:
            keys = await throttle.admit(f"guess{k}", ip)
        except Throttled:
            return k
        await throttle.failed(keys)
    raise AssertionError("the address was never held back")


async def test_a_held_back_address_leaves_no_counters_and_costs_no_commands(mongo_uri: str) -> None:
    """One address spraying usernames past its budget: each refusal used to leave that username's counter behind
    (2,004 for 2,000 refused attempts, 7 commands each), for the embedded server's TTL sweep to read every minute."""
    counted = Counted()
    async with scratch_store(mongo_uri, "throttle", [counted]) as store:
        clock = Clock()
        throttle = LoginThrottle(store, clock=clock)
        ip_budget = next(limit.free for limit in LIMITS if limit.kind == "ip")
        assert await _fail_until_held(throttle, "203.0.113.9") == ip_budget
        counters = await store.login_throttle.count_documents({})
        counted.names.clear()
        for k in range(200, 250):
            with pytest.raises(Throttled):
                await throttle.admit(f"guess{k}", "203.0.113.9")
        assert sum(counted.names.values()) == 0  # refused from memory
        other_process = LoginThrottle(store, clock=clock)
        for k in range(300, 310):
            with pytest.raises(Throttled) as refused:
                await other_process.admit(f"guess{k}", "203.0.113.9")
        # its first refusal asks the address's counter (a conditional update, then a read); the later ones do not
        assert counted.names == {"update": 1, "find": 1}
        assert await store.login_throttle.count_documents({}) == counters  # nothing left behind
        clock.advance(refused.value.retry_after)  # its time comes: asked again, and admitted
        assert len(await throttle.admit("guess400", "203.0.113.9")) == 3


async def test_an_attempt_not_made_and_a_right_password_leave_nothing_behind(mongo_uri: str) -> None:
    """The hashing pool full (the tickets given back) or a right password from an address that never failed:
    no counter stays for an hour. One that counted a failure does."""
    async with scratch_store(mongo_uri, "throttle") as store:
        throttle = LoginThrottle(store)
        await throttle.give_back(await throttle.admit("ann", "198.51.100.1"))
        await throttle.succeeded("bob", "198.51.100.2", await throttle.admit("bob", "198.51.100.2"))
        assert await store.login_throttle.count_documents({}) == 0
        await throttle.failed(await throttle.admit("cy", "198.51.100.3"))
        await throttle.succeeded("cy", "198.51.100.3", await throttle.admit("cy", "198.51.100.3"))
        left = await store.login_throttle.find({}).to_list()
        assert [(c["_id"], c["failures"]) for c in left] == [("ip:198.51.100.3", 1)]  # the address's failure stays


async def test_held_back_addresses_remembered_are_bounded(mongo_uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(login_throttle, "HELD_MAX", 3)
    async with scratch_store(mongo_uri, "throttle") as store:
        clock = Clock()
        throttle = LoginThrottle(store, clock=clock)
        for n in range(4):
            await _fail_until_held(throttle, f"192.0.2.{n}")
        assert list(throttle._held) == ["192.0.2.1", "192.0.2.2", "192.0.2.3"]  # the first remembered forgotten
        clock.advance(2)  # the first backoff (1 s) has run out for all of them
        await _fail_until_held(throttle, "192.0.2.9")  # meets the bound: the expired ones go, not a live one
        assert list(throttle._held) == ["192.0.2.9"]
