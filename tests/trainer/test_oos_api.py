"""The trainer's out-of-scope API over real HTTP: pick a point on the threshold curve, review negatives."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from agents_ui.trainer_oos import routes
from bot.negatives import builtin
from hub.audit import AuditQuery
from hub.models import Role
from switchboard.bootstrap import Runtime
from tests.trainer.conftest import Api, make_user


async def _audit(runtime: Runtime, action: str) -> list[dict[str, Any]]:
    assert runtime.hub is not None
    return (await runtime.hub.audit.page(AuditQuery(action=action))).entries


async def test_out_of_scope_routes_need_a_trainer(trainer_runtime: Runtime, tclient: TestClient[Any, Any]) -> None:
    agent = await make_user(trainer_runtime, tclient, "andy", [Role.AGENT])
    for route in routes():
        resp = await tclient.request(route.method, route.path, json={}, headers={"X-CSRF-Token": agent.csrf})
        assert resp.status == 403, f"{route.method} {route.path} as an agent: {resp.status}"


async def test_a_trainer_picks_a_point_on_the_curve_and_goes_back_to_the_default(
    trainer: Api, trainer_runtime: Runtime
) -> None:
    saved = await trainer.put("/api/trainer/threshold", {"threshold": 0.42})
    assert saved["changed"] and saved["fallback_threshold"] == 0.42
    files = (await trainer.get(f"/api/trainer/export?version={saved['version']['number']}"))["files"]
    assert "fallback_threshold: 0.42" in files["policy.yml"]
    entries = await _audit(trainer_runtime, "bot.threshold_set")
    assert entries[0]["details"] == {"fallback_threshold": 0.42} and entries[0]["actor"]["name"] == "Tina"
    again = await trainer.put("/api/trainer/threshold", {"threshold": 0.42})
    assert not again["changed"] and len(await _audit(trainer_runtime, "bot.threshold_set")) == 1
    back = await trainer.put("/api/trainer/threshold", {"threshold": None})
    assert back["changed"] and back["fallback_threshold"] == "auto"
    files = (await trainer.get("/api/trainer/export"))["files"]
    assert "fallback_threshold: auto" in files["policy.yml"]


async def test_bad_threshold_picks_are_refused_with_a_reason(trainer: Api) -> None:
    for body in ({"threshold": 1.5}, {"threshold": -0.1}, {"threshold": "0.4"}, {"threshold": True}, {},
                 {"threshold": 0.4, "extra": 1}):
        resp = await trainer.client.put("/api/trainer/threshold", json=body,
                                        headers={"X-CSRF-Token": trainer.csrf})
        assert resp.status in (400, 422), f"{body}: {resp.status}"
        assert (await resp.json())["error"]
    assert (await trainer.get("/api/trainer/versions"))["versions"][0]["number"] == 1


async def test_clash_review_lists_a_planted_near_duplicate_and_a_trainer_excludes_it(
    trainer: Api, trainer_runtime: Runtime
) -> None:
    _domain, negative = builtin()[5]
    intent = await trainer.get("/api/trainer/intents/refund")
    await trainer.put("/api/trainer/intents/refund", {"examples": [*intent["examples"], negative]})
    review = await trainer.get("/api/trainer/negatives/clashes")
    assert review["enabled"] and review["total"] == len(builtin()) and review["similarity"] == 0.6
    mine = [c for c in review["clashes"] if c["text"] == negative]
    assert mine and mine[0]["intent"] == "refund" and mine[0]["similarity"] == 1.0 and not mine[0]["excluded"]

    saved = await trainer.put("/api/trainer/negatives/excluded", {"text": negative, "excluded": True})
    assert saved["changed"]
    review = await trainer.get("/api/trainer/negatives/clashes")
    assert review["excluded"] == [negative] and review["used"] == review["total"] - 1
    assert [c["excluded"] for c in review["clashes"] if c["text"] == negative] == [True]
    entries = await _audit(trainer_runtime, "bot.negative_excluded")
    assert entries[0]["details"] == {"text": negative}

    await trainer.put("/api/trainer/negatives/excluded", {"text": negative, "excluded": False})
    assert (await trainer.get("/api/trainer/negatives/clashes"))["excluded"] == []
    assert len(await _audit(trainer_runtime, "bot.negative_included")) == 1
    resp = await trainer.client.put("/api/trainer/negatives/excluded", json={"text": "no such negative 42"},
                                    headers={"X-CSRF-Token": trainer.csrf})
    assert resp.status == 400 and "built-in negatives" in (await resp.json())["error"]
