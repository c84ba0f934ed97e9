"""Two-factor sign-in (hub.totp, agents_ui.totp) over real HTTP: enrolment, the login's code step,
replays, recovery codes, throttling, the per-role policy, turning it off, the admins' reset and the CLI.

Codes are computed with pyotp from the secret the enrolment hands out. The hub's TOTP clock and the
login throttle's clock are pinned, so which 30-second step a code belongs to never depends on when
the test happens to run.
"""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyotp
import pytest
from aiohttp.test_utils import TestClient

from hub.models import Role
from switchboard.bootstrap import Runtime
from switchboard.config import ConfigError, Settings, load_settings
from tests.conftest import ROOT, http_client, login, running
from tests.query_plans import Recorder, collection_scans

#: A fixed moment in the middle of a 30-second step.
NOW = 1_790_000_015.0
PASSWORD = "correct horse battery"


def pin_clocks(runtime: Runtime) -> None:
    assert runtime.hub is not None
    runtime.hub.totp.clock = lambda: NOW
    runtime.hub.accounts.throttle.clock = lambda: datetime.fromtimestamp(NOW, UTC)


def code(secret: str, steps: int = 0) -> str:
    """The code of the step `steps` away from NOW."""
    return pyotp.TOTP(secret).at(NOW + 30 * steps)


async def enrol(client: TestClient[Any, Any], csrf: str) -> tuple[str, list[str]]:
    """Enrol the logged-in user: (secret, recovery codes). The confirming code is the current step's."""
    resp = await client.post("/api/me/totp/setup", json={}, headers={"X-CSRF-Token": csrf})
    assert resp.status == 200, await resp.text()
    setup = await resp.json()
    assert setup["qr"].startswith("data:image/svg+xml") and setup["secret"] in setup["uri"]
    resp = await client.post("/api/me/totp/confirm", json={"code": code(setup["secret"])},
                             headers={"X-CSRF-Token": csrf})
    assert resp.status == 200, await resp.text()
    return setup["secret"], (await resp.json())["recovery_codes"]


async def password_step(client: TestClient[Any, Any], username: str, password: str = PASSWORD) -> dict[str, Any]:
    resp = await client.post("/api/auth/login", json={"username": username, "password": password})
    assert resp.status == 200, await resp.text()
    body: dict[str, Any] = await resp.json()
    return body


async def code_step(client: TestClient[Any, Any], pending: str, value: str) -> tuple[int, dict[str, Any]]:
    resp = await client.post("/api/auth/login/code", json={"pending": pending, "code": value})
    return resp.status, await resp.json()


async def logout(client: TestClient[Any, Any], csrf: str) -> None:
    assert (await client.post("/api/auth/logout", json={}, headers={"X-CSRF-Token": csrf})).status == 200


async def actions(runtime: Runtime, action: str) -> list[dict[str, Any]]:
    assert runtime.hub is not None
    return await runtime.hub.store.audit.find({"action": action}, sort=[("at", 1)]).to_list()


async def test_enrol_then_sign_in_with_password_and_code(runtime: Runtime, client: TestClient[Any, Any],
                                                         agent: dict[str, Any]) -> None:
    pin_clocks(runtime)
    csrf = agent["csrf"]
    resp = await client.post("/api/me/totp/setup", json={}, headers={"X-CSRF-Token": csrf})
    secret = (await resp.json())["secret"]
    assert (await (await client.get("/api/me/totp")).json()) == {
        "enabled": False, "pending": True, "recovery_codes_left": 0, "required": False}
    wrong = await client.post("/api/me/totp/confirm", json={"code": code(secret, 5)}, headers={"X-CSRF-Token": csrf})
    assert wrong.status == 400 and "not right" in (await wrong.json())["error"]
    resp = await client.post("/api/me/totp/confirm", json={"code": code(secret)}, headers={"X-CSRF-Token": csrf})
    recovery = (await resp.json())["recovery_codes"]
    assert len(recovery) == 8 and len(set(recovery)) == 8
    status = await (await client.get("/api/me/totp")).json()
    assert status == {"enabled": True, "pending": False, "recovery_codes_left": 8, "required": False}
    assert secret not in str(status)
    again = await client.post("/api/me/totp/setup", json={}, headers={"X-CSRF-Token": csrf})
    assert again.status == 409  # the secret is never handed out again
    assert (await runtime.hub.store.totp.find_one({"_id": agent["account"]["_id"]}))["recovery"][0] not in recovery
    [enabled] = await actions(runtime, "totp.enabled")
    assert enabled["actor"]["username"] == "alice"

    await logout(client, csrf)
    first = await password_step(client, "alice")
    assert first["second_factor"] == "totp" and "csrf" not in first and "agent" not in first
    assert (await client.get("/api/me")).status == 401  # the password alone opened no session
    # The confirming code was accepted already: a replay within its window is refused.
    assert (await code_step(client, first["pending"], code(secret)))[0] == 401
    assert (await code_step(client, first["pending"], code(secret, 3)))[0] == 401  # outside the window
    status_code, body = await code_step(client, first["pending"], code(secret, 1))
    assert status_code == 200 and body["agent"]["username"] == "alice" and body["agent"]["totp"] is True
    assert (await client.get("/api/me")).status == 200
    # The pending token is used up, and the same code cannot open a second session.
    assert (await code_step(client, first["pending"], code(secret, 1)))[0] == 401
    second = await password_step(client, "alice")
    status_code, body = await code_step(client, second["pending"], code(secret, 1))
    assert status_code == 401 and body["error"] == "wrong code"
    logins = await actions(runtime, "login")
    assert logins[-1]["details"]["second_factor"] == "totp"
    assert [e["details"] for e in await actions(runtime, "login.failed")][-1] == {"step": "code"}


async def test_a_recovery_code_works_once(runtime: Runtime, client: TestClient[Any, Any],
                                          agent: dict[str, Any]) -> None:
    pin_clocks(runtime)
    _secret, recovery = await enrol(client, agent["csrf"])
    await logout(client, agent["csrf"])
    pending = (await password_step(client, "alice"))["pending"]
    status_code, body = await code_step(client, pending, recovery[3].upper())  # case and dash do not matter
    assert status_code == 200
    assert (await (await client.get("/api/me/totp")).json())["recovery_codes_left"] == 7
    await logout(client, body["csrf"])
    pending = (await password_step(client, "alice"))["pending"]
    assert (await code_step(client, pending, recovery[3]))[0] == 401
    assert (await code_step(client, pending, recovery[4]))[0] == 200
    assert (await actions(runtime, "login"))[-1]["details"]["second_factor"] == "recovery"


async def test_wrong_codes_are_throttled_and_a_pending_login_expires(runtime: Runtime, client: TestClient[Any, Any],
                                                                     agent: dict[str, Any]) -> None:
    pin_clocks(runtime)
    secret, _ = await enrol(client, agent["csrf"])
    await logout(client, agent["csrf"])
    pending = (await password_step(client, "alice"))["pending"]
    for _ in range(5):
        assert (await code_step(client, pending, "000000"))[0] == 401
    status_code, body = await code_step(client, pending, code(secret, 1))
    assert status_code == 401 and "expired" in body["error"]  # five tries per password step
    # A new password step does not reset the code counter: the next code must wait.
    pending = (await password_step(client, "alice"))["pending"]
    resp = await client.post("/api/auth/login/code", json={"pending": pending, "code": code(secret, 1)})
    assert resp.status == 429 and int(resp.headers["Retry-After"]) >= 1
    assert (await actions(runtime, "login.refused"))[-1]["details"]["step"] == "code"
    assert (await code_step(client, "not-a-pending-login", code(secret, 1)))[0] == 401
    bad = await client.post("/api/auth/login/code", json={"pending": pending})
    assert bad.status == 422


@pytest.fixture
async def enforced(settings: Settings, shop_bot: Any) -> Any:
    """A hub configured with `auth.require_totp_roles: [supervisor]`."""
    settings.require_totp_roles = ["supervisor"]
    async with running(settings, shop_bot) as rt, http_client(rt) as client:
        assert rt.hub is not None
        pin_clocks(rt)
        await rt.hub.accounts.create("root", "root password", roles=[Role.ADMIN])
        await rt.hub.accounts.create("sam", PASSWORD, roles=[Role.SUPERVISOR])
        yield rt, client


async def test_a_required_role_must_enrol_before_anything_else(enforced: tuple[Runtime, TestClient[Any, Any]],
                                                               settings: Settings) -> None:
    runtime, client = enforced
    first = await password_step(client, "sam")
    assert first["enrolment_required"] is True and first["agent"]["totp"] is False
    csrf = first["csrf"]
    blocked = await client.get("/api/tickets")
    assert blocked.status == 403 and (await blocked.json())["error"] == "two-factor enrolment required"
    assert (await client.get("/api/metrics/live")).status == 403
    assert (await (await client.get("/api/me")).json())["enrolment_required"] is True
    assert (await (await client.get("/api/me/totp")).json())["required"] is True
    secret, _ = await enrol(client, csrf)
    assert (await client.get("/api/tickets")).status == 200
    assert (await (await client.get("/api/me")).json())["enrolment_required"] is False
    off = await client.post("/api/me/totp/disable", json={"code": code(secret, 1)}, headers={"X-CSRF-Token": csrf})
    assert off.status == 400 and "requires" in (await off.json())["error"]

    # The policy was seeded from the configuration; an admin changes it in the desk.
    await logout(client, csrf)
    admin_csrf = await login(client, "root", "root password")
    assert (await (await client.get("/api/admin/totp-policy")).json())["roles"] == ["supervisor"]
    bad = await client.put("/api/admin/totp-policy", json={"roles": ["boss"]}, headers={"X-CSRF-Token": admin_csrf})
    assert bad.status == 422
    resp = await client.put("/api/admin/totp-policy", json={"roles": ["admin", "supervisor"]},
                            headers={"X-CSRF-Token": admin_csrf})
    assert resp.status == 200 and (await resp.json())["roles"] == ["supervisor", "admin"]
    assert (await client.get("/api/tickets")).status == 403  # the admin is now held to it too
    [changed] = await actions(runtime, "totp.policy_changed")
    assert changed["details"] == {"from": ["supervisor"], "to": ["supervisor", "admin"]}
    # A restart with the configuration does not undo the admin's choice.
    assert runtime.hub is not None
    await runtime.hub.totp.seed_policy(["supervisor"])
    runtime.hub.totp._policy = None
    assert await runtime.hub.totp.required_roles() == {"supervisor", "admin"}


async def test_turn_off_with_password_and_an_admins_reset(enforced: tuple[Runtime, TestClient[Any, Any]]) -> None:
    runtime, client = enforced
    assert runtime.hub is not None
    await runtime.hub.totp.set_required_roles([])
    await runtime.hub.accounts.create("alice", PASSWORD, roles=[Role.AGENT])
    csrf = await login(client, "alice", PASSWORD)
    await enrol(client, csrf)
    wrong = await client.post("/api/me/totp/disable", json={"password": "not it"}, headers={"X-CSRF-Token": csrf})
    assert wrong.status == 400
    nothing = await client.post("/api/me/totp/disable", json={}, headers={"X-CSRF-Token": csrf})
    assert nothing.status == 422
    off = await client.post("/api/me/totp/disable", json={"password": PASSWORD}, headers={"X-CSRF-Token": csrf})
    assert off.status == 200 and (await off.json())["enabled"] is False
    assert (await actions(runtime, "totp.disabled"))[0]["details"]["with"] == "password"
    secret, _ = await enrol(client, csrf)  # a new device
    await logout(client, csrf)

    admin_csrf = await login(client, "root", "root password")
    alice = await runtime.hub.store.agents.find_one({"username": "alice"})
    resp = await client.post(f"/api/admin/users/{alice['_id']}/totp/reset", headers={"X-CSRF-Token": admin_csrf})
    assert resp.status == 200 and (await resp.json())["was_enabled"] is True
    [reset] = await actions(runtime, "totp.reset")
    assert reset["actor"]["username"] == "root" and reset["target"]["name"] == "alice"
    assert (await client.post("/api/admin/users/0123456789abcdef01234567/totp/reset",
                              headers={"X-CSRF-Token": admin_csrf})).status == 404
    await logout(client, admin_csrf)
    after = await password_step(client, "alice")
    assert "pending" not in after and after["agent"]["totp"] is False  # the password alone signs in again
    assert await runtime.hub.store.totp.find_one({"_id": alice["_id"]}) is None
    # An agent may not reset anyone's.
    resp = await client.post(f"/api/admin/users/{alice['_id']}/totp/reset", headers={"X-CSRF-Token": after["csrf"]})
    assert resp.status == 403
    assert secret  # the old device's secret is gone with the reset (above)


async def test_cli_reset_totp(runtime: Runtime, client: TestClient[Any, Any], agent: dict[str, Any],
                              tmp_path: Path) -> None:
    pin_clocks(runtime)
    await enrol(client, agent["csrf"])
    config = tmp_path / "switchboard.yml"
    config.write_text(f"hub:\n  db_name: {runtime.settings.db_name}\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("MONGODB_URI", "SWITCHBOARD_CONFIG")}

    async def cli(username: str) -> tuple[int, str, str]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "switchboard.cli", "users", "reset-totp", username, "--config", str(config),
            "--mongodb-uri", str(runtime.settings.mongodb_uri), cwd=ROOT, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
        return proc.returncode or 0, out.decode(), err.decode()

    code_, out, err = await cli("Alice")
    assert code_ == 0 and out.strip() == "reset the two-factor sign-in of alice", err
    assert (await actions(runtime, "totp.reset"))[0]["details"]["via"] == "cli"
    assert (await runtime.hub.store.agents.find_one({"username": "alice"})).get("totp_enabled") is None
    code_, _out, err = await cli("nobody")
    assert code_ == 1 and err.strip() == "switchboard: no user 'nobody'"


def test_the_configured_roles_are_checked(tmp_path: Path) -> None:
    config = tmp_path / "switchboard.yml"
    config.write_text("auth:\n  require_totp_roles: [admin, supervisor]\n", encoding="utf-8")
    assert load_settings(config).require_totp_roles == ["supervisor", "admin"]
    config.write_text("auth:\n  require_totp_roles: [boss]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"auth\.require_totp_roles"):
        load_settings(config)


async def test_every_two_factor_query_uses_an_index(settings: Settings, shop_bot: Any) -> None:
    recorder = Recorder()
    async with running(settings, shop_bot, db_listeners=[recorder]) as rt, http_client(rt) as client:
        assert rt.hub is not None
        pin_clocks(rt)
        await rt.hub.accounts.create("root", "root password", roles=[Role.ADMIN])
        await rt.hub.accounts.create("alice", PASSWORD, roles=[Role.AGENT])
        csrf = await login(client, "alice", PASSWORD)
        secret, recovery = await enrol(client, csrf)
        assert (await client.get("/api/me/totp")).status == 200
        await logout(client, csrf)
        pending = (await password_step(client, "alice"))["pending"]
        assert (await code_step(client, pending, "000000"))[0] == 401
        status_code, body = await code_step(client, pending, recovery[0])
        assert status_code == 200
        resp = await client.post("/api/me/totp/recovery-codes", json={"code": code(secret, 1)},
                                 headers={"X-CSRF-Token": body["csrf"]})
        assert resp.status == 200
        await logout(client, body["csrf"])
        admin_csrf = await login(client, "root", "root password")
        alice = await rt.hub.accounts.get((await rt.hub.store.agents.find_one({"username": "alice"}))["_id"])
        assert alice is not None
        assert (await client.post(f"/api/admin/users/{alice['_id']}/totp/reset",
                                  headers={"X-CSRF-Token": admin_csrf})).status == 200
        assert (await client.put("/api/admin/totp-policy", json={"roles": ["supervisor"]},
                                 headers={"X-CSRF-Token": admin_csrf})).status == 200
        scans, seen = await collection_scans(settings.mongodb_uri or "", settings.db_name, recorder,
                                             {"totp", "login_pending", "settings", "agents", "sessions"})
    # Everything else is keyed by `_id` (the enrolment, codes, the pending login, the policy).
    assert "login_pending ['agent_id'] None" in seen and scans == [], "collection scans:\n" + "\n".join(scans)


async def test_requests_together_share_the_policys_read(enforced: tuple[Runtime, TestClient[Any, Any]]) -> None:
    """A desk sends three requests at once; when the policy's cache has just expired, they make one read, not three
    (each read is a `find settings` of the real store, counted on its way there)."""
    runtime, _ = enforced
    totp = runtime.hub.totp if runtime.hub is not None else None
    assert totp is not None
    real = totp.store.settings
    reads: list[Any] = []

    class Counted:
        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

        async def find_one(self, *args: Any, **kwargs: Any) -> Any:
            reads.append(args)
            return await real.find_one(*args, **kwargs)

    totp.store.settings = Counted()  # type: ignore[assignment]
    try:
        totp._policy = None
        assert await asyncio.gather(*(totp.required_roles() for _ in range(3))) == [frozenset({"supervisor"})] * 3
        assert len(reads) == 1
        assert await totp.required_roles() == {"supervisor"} and len(reads) == 1  # then cached
    finally:
        totp.store.settings = real
