"""The trainer REST API over real HTTP, against a real database and the real built-in NLU."""

from __future__ import annotations

import re
from typing import Any

from aiohttp.test_utils import TestClient

from agents_ui.trainer import routes
from agents_ui.trainer_oos import routes as oos_routes
from hub.models import Role
from switchboard.bootstrap import Runtime
from tests.test_widget_flow import say, widget_session
from tests.trainer.conftest import Api, desk_socket, job_events, make_user, subscribed

GIFT_CARDS = {
    "name": "gift_cards",
    "examples": ["do you sell gift cards", "can I buy a gift voucher", "I want to give a gift card",
                 "gift certificates available?", "how do gift cards work", "buy a voucher for a friend"],
    "answers": [{"text": "Yes! Gift cards from 10 to 200 EUR are on our Gifts page, delivered by email."},
                {"text": "Gift cards: see shop.example/gifts", "channel": "sms"}],
    "label": "Gift cards",
}


def _sample_path(path: str) -> str:
    return (path.replace("{name}", "refund").replace("{id}", "0" * 24).replace("{number}", "1")
            .replace("{file}", "nlu.yml"))


async def test_every_trainer_route_needs_a_trainer_session_and_csrf(
    trainer_runtime: Runtime, tclient: TestClient[Any, Any]
) -> None:
    paths = [(r.method, _sample_path(r.path)) for r in routes() + oos_routes()]
    assert len(paths) >= 20
    for method, path in paths:
        resp = await tclient.request(method, path, json={})
        assert resp.status == 401, f"{method} {path} without a session: {resp.status}"
    agent = await make_user(trainer_runtime, tclient, "andy", [Role.AGENT, Role.SUPERVISOR])
    for method, path in paths:
        resp = await tclient.request(method, path, json={}, headers={"X-CSRF-Token": agent.csrf})
        assert resp.status == 403, f"{method} {path} as an agent: {resp.status}"
        assert (await resp.json())["error"] == "your role does not allow this"
    trainer = await make_user(trainer_runtime, tclient, "trish", [Role.TRAINER])
    for method, path in paths:
        if method in ("POST", "PUT", "DELETE"):
            resp = await tclient.request(method, path, json={})
            assert resp.status == 403, f"{method} {path} without CSRF: {resp.status}"
            assert "CSRF" in (await resp.json())["error"]
    assert (await trainer.get("/api/trainer/status"))["training_version"]["number"] == 1
    doc = await trainer.get("/api/openapi.json")
    trainer_ops = [op for path, ops in doc["paths"].items() if path.startswith("/api/trainer/") for op in ops.values()]
    assert len(trainer_ops) == len(paths)
    assert all(op["x-roles"] == ["trainer"] and op["summary"] for op in trainer_ops)


async def test_intents_are_edited_in_new_versions_with_author(trainer: Api) -> None:
    overview = await trainer.get("/api/trainer/intents")
    assert overview["version"] == 1
    by_name = {i["name"]: i for i in overview["intents"]}
    assert by_name["refund"]["examples"] >= 15 and by_name["refund"]["f1"] is None
    assert by_name["damaged_item"]["queue"] == "returns"
    assert {"general", "orders", "returns", "complaints"} <= set(overview["queues"])

    saved = await trainer.post("/api/trainer/intents", GIFT_CARDS, status=201)
    assert saved["changed"] and saved["version"]["number"] == 2
    assert saved["version"]["author"]["name"] == "Tina"
    assert saved["version"]["summary"] == "new intent gift_cards"
    intent = await trainer.get("/api/trainer/intents/gift_cards")
    assert intent["examples"] == GIFT_CARDS["examples"]
    assert [a.get("channel") for a in intent["answers"]] == [None, "sms"]
    assert intent["label"] == "Gift cards" and intent["queue"] is None

    # mapping: intent -> queue, and back
    moved = await trainer.put("/api/trainer/intents/gift_cards", {"queue": "orders"})
    assert moved["version"]["number"] == 3 and "gift_cards → orders" in moved["version"]["summary"]
    assert (await trainer.get("/api/trainer/intents/gift_cards"))["queue"] == "orders"
    unchanged = await trainer.put("/api/trainer/intents/gift_cards", {"queue": "orders"})
    assert unchanged == {"version": moved["version"], "changed": False}
    await trainer.put("/api/trainer/intents/gift_cards", {"queue": ""})
    examples = [*GIFT_CARDS["examples"][:-1], "  gift   vouchers?  "]
    edited = await trainer.put("/api/trainer/intents/gift_cards", {"examples": examples})
    assert "+1 example in gift_cards" in edited["version"]["summary"]
    assert "-1 example in gift_cards" in edited["version"]["summary"]
    assert (await trainer.get("/api/trainer/intents/gift_cards"))["examples"][-1] == "gift vouchers?"

    # refusals
    error = await trainer.put("/api/trainer/intents/gift_cards", {"queue": "nowhere"}, status=400)
    assert "unknown queue" in error["error"]
    await trainer.post("/api/trainer/intents", {"name": "gift_cards"}, status=409)
    await trainer.post("/api/trainer/intents", {"name": "no spaces please"}, status=400)
    await trainer.put("/api/trainer/intents/gift_cards", {"examples": "not a list"}, status=422)
    await trainer.put("/api/trainer/intents/gift_cards", {"answers": [{"text": 3}]}, status=422)
    await trainer.put("/api/trainer/intents/nope", {"queue": ""}, status=404)
    await trainer.get("/api/trainer/intents/nope", status=404)
    protected = await trainer.delete("/api/trainer/intents/talk_to_human", status=400)
    assert "policy" in protected["error"]

    deleted = await trainer.delete("/api/trainer/intents/gift_cards")
    assert deleted["version"]["summary"] == "deleted intent gift_cards"
    await trainer.get("/api/trainer/intents/gift_cards", status=404)
    await trainer.delete("/api/trainer/intents/gift_cards", status=404)
    versions = (await trainer.get("/api/trainer/versions"))["versions"]
    assert [v["number"] for v in versions] == list(range(deleted["version"]["number"], 0, -1))
    assert {v["author"]["name"] for v in versions[:-1]} == {"Tina"}
    assert versions[-1]["author"]["name"] == "system"
    page = (await trainer.get(f"/api/trainer/versions?before={versions[1]['number']}&limit=2"))["versions"]
    assert [v["number"] for v in page] == [versions[2]["number"], versions[3]["number"]]


async def test_training_reports_progress_on_the_desk_socket_and_try_it_sees_the_new_model(
    trainer: Api, trainer_runtime: Runtime, tclient: TestClient[Any, Any]
) -> None:
    assert trainer_runtime.hub is not None
    before = (await trainer.post("/api/trainer/try", {"text": "do you sell gift cards"}))["decision"]
    assert before["intent"] != "gift_cards"
    await trainer.post("/api/trainer/intents", GIFT_CARDS, status=201)
    ws = await desk_socket(tclient)
    await subscribed(ws, trainer_runtime)
    job = (await trainer.post("/api/trainer/train", {}, status=202))["job"]
    events = await job_events(ws, job)
    await ws.close()
    progress = [e["progress"] for e in events]
    assert progress == sorted(progress) and progress[-1] == 1.0
    assert len(events) >= 3 and all(e["training_version"] == 2 for e in events)
    assert events[-1]["status"] == "succeeded" and events[-1]["result"]["model_number"] == 1
    assert events[-1]["result"]["metrics"]["intents"] == 20

    status = await trainer.get("/api/trainer/status")
    assert status["active_model"]["training_version"] == 2 and status["trained"] is True
    assert status["last_job"]["status"] == "succeeded"
    assert (await trainer.get(f"/api/trainer/jobs/{job}"))["progress"] == 1.0
    await trainer.get("/api/trainer/jobs/nonsense", status=404)
    models = (await trainer.get("/api/trainer/models"))["models"]
    assert [(m["number"], m["training_version"], m["by"]["name"]) for m in models] == [(1, 2, "Tina")]
    assert models[0]["metrics"]["examples"] > 300

    after = await trainer.post("/api/trainer/try", {"text": "do you sell gift cards"})
    assert after["decision"]["intent"] == "gift_cards" and after["decision"]["kind"] == "answer"
    assert after["decision"]["text"].startswith("Yes! Gift cards")
    assert after["decision"]["ranking"][0]["name"] == "gift_cards"
    sms = await trainer.post("/api/trainer/try", {"text": "do you sell gift cards", "channel": "sms"})
    assert sms["decision"]["text"] == "Gift cards: see shop.example/gifts"
    human = await trainer.post("/api/trainer/try", {"text": "I want to talk to a human"})
    assert human["decision"]["kind"] == "escalate" and human["decision"]["reason"] == "human_requested"
    assert await trainer_runtime.hub.store.messages.count_documents({}) == 0  # try-it stores nothing
    await trainer.post("/api/trainer/try", {"text": "  "}, status=400)
    await trainer.post("/api/trainer/train", {"version": 99}, status=404)


async def test_evaluation_report_and_per_intent_f1(
    trainer: Api, trainer_runtime: Runtime, tclient: TestClient[Any, Any]
) -> None:
    await trainer.get("/api/trainer/evaluation", status=404)
    ws = await desk_socket(tclient)
    await subscribed(ws, trainer_runtime)
    job = (await trainer.post("/api/trainer/evaluate", {}, status=202))["job"]
    events = await job_events(ws, job)
    await ws.close()
    assert events[-1]["status"] == "succeeded", events[-1]
    report = await trainer.get("/api/trainer/evaluation")
    assert report["training_version"] == 1 and report["folds"] >= 2
    assert 0.5 < report["accuracy"] <= 1.0
    scores = {s["intent"]: s for s in report["intents"]}
    assert len(scores) == 19 and all(0.0 <= s["precision"] <= 1.0 and s["support"] > 0 for s in scores.values())
    assert [s["f1"] for s in report["intents"]] == sorted(s["f1"] for s in report["intents"])  # weakest first
    assert all(c["intent"] != c["predicted"] and c["count"] > 0 for c in report["confusions"])
    overview = await trainer.get("/api/trainer/intents")
    assert overview["evaluation"]["training_version"] == 1
    assert {i["name"]: i["f1"] for i in overview["intents"]} == {k: v["f1"] for k, v in scores.items()}


async def test_nlu_inbox_labelling_adds_the_example_and_empties_the_inbox(
    trainer: Api, trainer_runtime: Runtime, tclient: TestClient[Any, Any]
) -> None:
    assert trainer_runtime.hub is not None
    token = await widget_session(tclient)
    await say(tclient, token, "I bought a lamp on monday, any news")
    other = await widget_session(tclient)
    await say(tclient, other, "can you feed my goldfish")
    third = await widget_session(tclient)
    await say(tclient, third, "zxqv blorp qwfp")
    await trainer_runtime.hub.pipeline.drain()

    inbox = await trainer.get("/api/trainer/inbox")
    items = {i["text"]: i for i in inbox["items"]}
    assert set(items) == {"I bought a lamp on monday, any news", "can you feed my goldfish", "zxqv blorp qwfp"}
    lamp = items["I bought a lamp on monday, any news"]
    # the starter model is unsure about all three (which kind of unsure depends on the classifier)
    unsure = {"low_confidence", "ambiguous", "out_of_scope"}
    assert lamp["reason"] in unsure and lamp["channel"] == "widget"
    assert lamp["ranking"] and lamp["intent"] != "order_status"
    assert {i["reason"] for i in items.values()} <= unsure and sum(inbox["counts"].values()) == 3
    reason = lamp["reason"]
    narrowed = (await trainer.get(f"/api/trainer/inbox?reason={reason}&limit=1"))["items"]
    assert len(narrowed) == 1 and narrowed[0]["reason"] == reason
    assert (await trainer.get("/api/trainer/inbox?reason=not_helpful"))["items"] == []
    await trainer.get("/api/trainer/inbox?reason=bogus", status=400)

    labelled = await trainer.post(f"/api/trainer/inbox/{lamp['id']}/label", {"intent": "order_status"})
    assert labelled["changed"] and labelled["version"]["number"] == 2
    assert "inbox" in labelled["version"]["summary"]
    assert "I bought a lamp on monday, any news" in (await trainer.get("/api/trainer/intents/order_status"))["examples"]
    await trainer.post(f"/api/trainer/inbox/{lamp['id']}/label", {"intent": "order_status"}, status=404)
    oos = await trainer.post(f"/api/trainer/inbox/{items['can you feed my goldfish']['id']}/label",
                             {"out_of_scope": True})
    assert oos["intent"] == "out_of_scope"
    assert "can you feed my goldfish" in (await trainer.get("/api/trainer/intents/out_of_scope"))["examples"]
    await trainer.post(f"/api/trainer/inbox/{items['zxqv blorp qwfp']['id']}/label", {"intent": "nope"}, status=404)
    await trainer.post(f"/api/trainer/inbox/{items['zxqv blorp qwfp']['id']}/label", {}, status=400)
    await trainer.post(f"/api/trainer/inbox/{items['zxqv blorp qwfp']['id']}/dismiss")
    remaining = await trainer.get("/api/trainer/inbox")
    assert remaining["items"] == [] and sum(remaining["counts"].values()) == 0
    stored = await trainer_runtime.hub.store.messages.find_one({"text": "zxqv blorp qwfp"})
    assert stored is not None and stored["reviewed"]["dismissed"] is True and "review" not in stored
    stored = await trainer_runtime.hub.store.messages.find_one({"text": "I bought a lamp on monday, any news"})
    assert stored is not None and stored["reviewed"]["intent"] == "order_status"
    assert stored["reviewed"]["version"] == 2 and stored["reviewed"]["by"]["name"] == "Tina"


async def test_versions_diff_and_one_click_rollback(trainer: Api) -> None:
    v2 = await trainer.post("/api/trainer/intents", GIFT_CARDS, status=201)
    await trainer.put("/api/trainer/intents/refund", {
        "examples": [*(await trainer.get("/api/trainer/intents/refund"))["examples"][1:], "money back please"],
        "answers": [{"text": "Refunds take 5 days."}],
        "queue": "returns",
    })
    d = await trainer.get("/api/trainer/diff?from=1&to=3")
    assert d["from"]["number"] == 1 and d["to"]["number"] == 3
    by_intent = {i["intent"]: i for i in d["intents"]}
    assert set(by_intent) == {"gift_cards", "refund"}
    assert by_intent["gift_cards"]["status"] == "added"
    assert by_intent["gift_cards"]["examples_added"] == GIFT_CARDS["examples"]
    refund = by_intent["refund"]
    assert refund["status"] == "changed" and refund["examples_added"] == ["money back please"]
    assert len(refund["examples_removed"]) == 1
    assert refund["answers_changed"] and refund["answers_after"] == [{"text": "Refunds take 5 days."}]
    assert refund["queue_changed"] and (refund["queue_before"], refund["queue_after"]) == (None, "returns")
    newest = await trainer.get("/api/trainer/diff?from=2")  # `to` defaults to the newest
    assert [i["intent"] for i in newest["intents"]] == ["refund"]
    await trainer.get("/api/trainer/diff?from=1&to=42", status=404)
    await trainer.get("/api/trainer/diff", status=400)

    rolled = await trainer.post("/api/trainer/versions/1/rollback")
    assert rolled["changed"] and rolled["version"]["number"] == 4 and rolled["version"]["rollback_of"] == 1
    versions = {v["number"]: v for v in (await trainer.get("/api/trainer/versions"))["versions"]}
    assert versions[4]["digest"] == versions[1]["digest"] != versions[3]["digest"]
    assert (await trainer.get("/api/trainer/diff?from=1&to=4"))["intents"] == []
    await trainer.get("/api/trainer/intents/gift_cards", status=404)
    again = await trainer.post("/api/trainer/versions/1/rollback")
    assert again["changed"] is False and again["version"]["number"] == 4
    forward = await trainer.post(f"/api/trainer/versions/{v2['version']['number']}/rollback")
    assert forward["version"]["number"] == 5
    assert (await trainer.get("/api/trainer/intents/gift_cards"))["examples"] == GIFT_CARDS["examples"]
    await trainer.post("/api/trainer/versions/77/rollback", status=404)


async def test_rasa_yaml_export_import_round_trip(trainer: Api, tclient: TestClient[Any, Any]) -> None:
    exported = await trainer.get("/api/trainer/export")
    files = exported["files"]
    assert exported["version"] == 1 and set(files) == {"nlu.yml", "domain.yml", "policy.yml"}
    assert "- intent: refund" in files["nlu.yml"] and "utter_refund:" in files["domain.yml"]
    assert "[12345](order_number)" in files["nlu.yml"] or "](order_number)" in files["nlu.yml"]

    same = await trainer.post("/api/trainer/import", {"nlu": files["nlu.yml"], "domain": files["domain.yml"],
                                                      "policy": files["policy.yml"]})
    assert same["changed"] is False and same["version"]["number"] == 1

    nlu = files["nlu.yml"] + "- intent: gift_cards\n  examples: |\n    - do you sell gift cards\n    - gift voucher\n"
    gift_answer = "responses:\n  utter_gift_cards:\n  - text: Gift cards online.\n"
    domain = files["domain.yml"].replace("responses:\n", gift_answer, 1)
    imported = await trainer.post("/api/trainer/import", {"nlu": nlu, "domain": domain})
    assert imported["changed"] and imported["version"]["summary"] == "new intent gift_cards"
    gift = await trainer.get("/api/trainer/intents/gift_cards")
    assert gift["examples"] == ["do you sell gift cards", "gift voucher"]
    assert gift["answers"] == [{"text": "Gift cards online."}]
    assert (await trainer.get("/api/trainer/intents/damaged_item"))["queue"] == "returns"  # policy kept

    again = (await trainer.get("/api/trainer/export"))["files"]
    assert "- intent: gift_cards" in again["nlu.yml"]
    reimport = await trainer.post("/api/trainer/import", {"nlu": again["nlu.yml"], "domain": again["domain.yml"],
                                                          "policy": again["policy.yml"]})
    assert reimport["changed"] is False
    old = await trainer.get("/api/trainer/export?version=1")
    assert old["files"] == files

    resp = await tclient.get("/api/trainer/export/domain.yml")
    assert resp.status == 200 and 'filename="domain.yml"' in resp.headers["Content-Disposition"]
    assert "utter_gift_cards" in await resp.text()
    await trainer.get("/api/trainer/export/secrets.txt", status=404)
    bad = await trainer.post("/api/trainer/import", {"nlu": "nlu: [unclosed"}, status=400)
    assert "YAML" in bad["error"]
    await trainer.post("/api/trainer/import", {"nlu": "nlu:\n- intent: has space\n  examples: |\n    - x\n"},
                       status=400)
    await trainer.post("/api/trainer/import", {}, status=400)
    assert re.fullmatch(r"\d+", str(imported["version"]["number"]))
