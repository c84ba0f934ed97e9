"""Every query the workbench and the review marks run is served by an index.

Same method as `tests/test_store_indexes.py` (whose recorder this reuses): record what
the hub really sends while a trainer uses every endpoint, then explain each filter.
"""

from __future__ import annotations

from aiohttp.test_utils import TestClient, TestServer

from bot.service import build_bot
from hub.models import Role
from switchboard.bootstrap import Runtime, bot_dir
from switchboard.config import Settings, load_settings
from tests.conftest import _drop
from tests.query_plans import Recorder, collection_scans
from tests.test_widget_flow import say, widget_session
from tests.trainer.conftest import finished_job, make_user

TRAINER_COLLECTIONS = {"training_versions", "training_jobs", "evaluations", "models", "messages", "events"}


async def test_every_workbench_query_uses_an_index(settings: Settings) -> None:
    recorder = Recorder()
    runtime = Runtime(settings, db_listeners=[recorder])
    await runtime.start(bot=await build_bot(bot_dir(load_settings())))
    try:
        assert runtime.app is not None and runtime.hub is not None
        hub = runtime.hub
        async with TestClient(TestServer(runtime.app, host="127.0.0.1")) as client:
            trainer = await make_user(runtime, client, "tina", [Role.TRAINER])
            token = await widget_session(client)
            await say(client, token, "what are your opening hours?")
            await hub.pipeline.drain()
            await say(client, token, "no")  # "Did that help?" -> no: marks the question
            await hub.pipeline.drain()
            await say(client, await widget_session(client), "can you feed my goldfish")
            await hub.pipeline.drain()
            items = (await trainer.get("/api/trainer/inbox"))["items"]
            assert len(items) == 2 and "not_helpful" in {i["reason"] for i in items}
            await trainer.get("/api/trainer/inbox?reason=not_helpful&before=2999-01-01T00:00:00%2B00:00")
            await trainer.post(f"/api/trainer/inbox/{items[0]['id']}/label", {"intent": "opening_hours"})
            await trainer.post(f"/api/trainer/inbox/{items[1]['id']}/dismiss")
            await trainer.get("/api/trainer/status")
            await trainer.get("/api/trainer/intents")
            await trainer.get("/api/trainer/intents/refund")
            await trainer.post("/api/trainer/intents", {"name": "gift_cards", "examples": ["gift card", "voucher"]},
                               status=201)
            await trainer.put("/api/trainer/intents/gift_cards", {"queue": "orders"})
            await trainer.delete("/api/trainer/intents/gift_cards")
            await trainer.get("/api/trainer/versions?before=3&limit=5")
            await trainer.get("/api/trainer/diff?from=1&to=2")
            await trainer.post("/api/trainer/versions/1/rollback")
            files = (await trainer.get("/api/trainer/export?version=2"))["files"]
            await trainer.post("/api/trainer/import", {"nlu": files["nlu.yml"], "domain": files["domain.yml"]})
            subscription = hub.bus.subscribe()
            for path in ("/api/trainer/train", "/api/trainer/evaluate"):
                job = (await trainer.post(path, {}, status=202))["job"]
                assert (await finished_job(subscription, job))["status"] == "succeeded"
                await trainer.get(f"/api/trainer/jobs/{job}")
            subscription.close()
            await trainer.get("/api/trainer/evaluation")
            await trainer.get("/api/trainer/models")
            await trainer.post("/api/trainer/try", {"text": "where is my order"})
    finally:
        await runtime.stop()

    try:
        scans, seen = await collection_scans(settings.mongodb_uri or "", settings.db_name, recorder,
                                             TRAINER_COLLECTIONS)
    finally:
        await _drop(settings)
    assert {k.split()[0] for k in seen} >= {"training_versions", "training_jobs", "evaluations", "models", "messages"}
    assert scans == [], "collection scans:\n" + "\n".join(scans)
