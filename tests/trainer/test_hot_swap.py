"""Model lifecycle across processes: one hub trains, every hub on the database answers with it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from agents_ui.appkeys import EXTRAS
from bot.config import load_bot_config
from bot.edits import IntentPatch, add_intent
from bot.nlu.base import ProgressCallback, TrainingData
from bot.nlu.builtin import BuiltinNLU
from bot.service import BotService, build_bot
from bot.snapshot import Answer
from bot.versions import Author
from bot.workbench import Workbench
from hub.models import Role
from hub.store import ObjectId
from switchboard.bootstrap import Runtime, bot_dir
from switchboard.config import Settings, load_settings
from tests.conftest import _drop, make_settings
from tests.test_widget_flow import history, say, widget_session
from tests.trainer.conftest import finished_job, make_user

QUESTION = "do you sell gift cards"
GIFT = IntentPatch(examples=[QUESTION, "can I buy a gift voucher", "gift certificates", "a gift card for my mum",
                             "how do gift cards work"],
                   answers=[Answer("Gift cards are on our Gifts page.")])


def _workbench(runtime: Runtime) -> Workbench:
    assert runtime.app is not None
    workbench: Workbench = runtime.app[EXTRAS]["workbench"]
    return workbench


async def _ask(client: TestClient[Any, Any], runtime: Runtime, text: str) -> dict[str, Any]:
    """A real widget message through this process's hub; returns the stored customer message."""
    assert runtime.hub is not None
    token = await widget_session(client)
    sent = await say(client, token, text)
    await runtime.hub.pipeline.drain()
    stored = await runtime.hub.store.messages.find_one({"_id": ObjectId(sent["message_id"])})
    assert stored is not None
    assert [m["author"]["kind"] for m in await history(client, token)][-1] == "bot"
    return stored


async def test_a_model_trained_in_one_process_is_answering_in_the_other(
    settings: Settings, mongo_uri: str, tmp_path: Path
) -> None:
    other = make_settings(mongo_uri, tmp_path / "b", db_name=settings.db_name)
    first, second = Runtime(settings), Runtime(other)
    await first.start(bot=await build_bot(bot_dir(load_settings())))
    await second.start(bot=await build_bot(bot_dir(load_settings())))
    try:
        assert first.app is not None and second.app is not None
        async with TestClient(TestServer(first.app, host="127.0.0.1")) as a, \
                TestClient(TestServer(second.app, host="127.0.0.1")) as b:
            before = await _ask(b, second, QUESTION)
            assert before["nlu"]["intent"] != "gift_cards"
            trainer = await make_user(first, a, "tina", [Role.TRAINER])
            await trainer.post("/api/trainer/intents", {"name": "gift_cards", "examples": list(GIFT.examples or []),
                                                        "answers": [{"text": "Gift cards are on our Gifts page."}]},
                               status=201)
            assert first.hub is not None
            subscription = first.hub.bus.subscribe()
            job = (await trainer.post("/api/trainer/train", status=202))["job"]
            done = await finished_job(subscription, job)
            subscription.close()
            assert done["status"] == "succeeded", done
            model_id = done["result"]["model_id"]
            async with asyncio.timeout(30):  # the second process follows without a restart
                await _workbench(second).models.wait_for(model_id)
            after = await _ask(b, second, QUESTION)
            assert after["nlu"]["intent"] == "gift_cards"
            assert after["nlu"]["kind"] == "answer"
            # retraining from the stored snapshot is deterministic: both processes built the same model
            bot_a, bot_b = first.app[EXTRAS]["bot"], second.app[EXTRAS]["bot"]
            assert bot_a.model_version == bot_b.model_version
            assert bot_a.training_digest == bot_b.training_digest
            ranking_a = (await bot_a.backend.parse("a voucher as a present")).ranking
            ranking_b = (await bot_b.backend.parse("a voucher as a present")).ranking
            # (same intents with the same confidences up to floating-point noise of multi-threaded maths,
            # so the same order wherever two confidences are not within that noise of each other)
            conf_a = {x.name: x.confidence for x in ranking_a}
            conf_b = {x.name: x.confidence for x in ranking_b}
            assert conf_a.keys() == conf_b.keys()
            assert all(abs(conf_a[name] - conf_b[name]) < 1e-3 for name in conf_a)
            assert [x.name for x in ranking_a[:3]] == [x.name for x in ranking_b[:3]]
    finally:
        await second.stop()
        await first.stop()
        await _drop(settings)


async def test_a_restarted_process_loads_the_published_model(settings: Settings) -> None:
    runtime = Runtime(settings)
    await runtime.start(bot=await build_bot(bot_dir(load_settings())))
    try:
        workbench = _workbench(runtime)
        await workbench.edit(add_intent("gift_cards", GIFT), Author("t1", "Tina"))
        version = await workbench.versions.latest()
        assert version is not None
        model = await workbench.models.train(version, Author("t1", "Tina"), lambda _f, _m: None)
    finally:
        await runtime.stop()
    # a new process, built like production (no bot handed in): trains on the published version at start-up
    restarted = Runtime(settings)
    await restarted.start()
    try:
        workbench = _workbench(restarted)
        assert workbench.models.active is not None and workbench.models.active.id == model.id
        decision = await workbench.try_text(QUESTION, "widget")
        assert decision["decision"]["intent"] == "gift_cards"
        assert decision["training_version"] == version.number
    finally:
        await restarted.stop()
        await _drop(settings)


class GatedNLU(BuiltinNLU):
    """The real built-in NLU whose next training waits until the test opens the gate."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.training = asyncio.Event()
        self.gate = asyncio.Event()
        self.gate.set()

    async def train(self, data: TrainingData, progress: ProgressCallback | None = None) -> str:
        self.training.set()
        await self.gate.wait()
        return await super().train(data, progress)


async def test_the_bot_answers_with_the_old_model_while_a_new_one_trains(settings: Settings) -> None:
    config = load_bot_config(bot_dir(load_settings()))
    nlu = GatedNLU(synonyms=config.synonyms)
    bot = BotService(config, nlu)
    runtime = Runtime(settings)
    await runtime.start(bot=bot)
    try:
        assert runtime.app is not None and runtime.hub is not None
        workbench = _workbench(runtime)
        old_model = bot.model_version
        assert old_model is not None
        await workbench.edit(add_intent("gift_cards", GIFT), Author("t1", "Tina"))
        nlu.training.clear()
        nlu.gate.clear()
        subscription = runtime.hub.bus.subscribe()
        job = await workbench.start_training(None, Author("t1", "Tina"))
        async with asyncio.timeout(10):
            await nlu.training.wait()
        async with TestClient(TestServer(runtime.app, host="127.0.0.1")) as client:
            during = await _ask(client, runtime, QUESTION)  # answered now, by the old model
            assert during["nlu"]["intent"] != "gift_cards" and during["nlu"]["kind"] == "answer"
            assert bot.model_version == old_model and workbench.jobs.running("train") == job
            nlu.gate.set()
            done = await finished_job(subscription, job)
            subscription.close()
            assert done["status"] == "succeeded"
            assert bot.model_version != old_model
            after = await _ask(client, runtime, QUESTION)
            assert after["nlu"]["intent"] == "gift_cards"
    finally:
        await runtime.stop()
        await _drop(settings)
