"""`hub.pipeline` marks the customer messages the NLU inbox shows, from the bot's decisions.

The bot runs on the NLU port's in-memory fake (`tests.bot.conftest.FakeNLU`) so each
decision path is reached with a fixed ranking; everything else is the real hub over HTTP.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.config import load_bot_config
from bot.service import BotService
from hub.models import Role
from switchboard.bootstrap import Runtime, bot_dir
from switchboard.config import Settings, load_settings
from tests.bot.conftest import FakeNLU
from tests.conftest import _drop
from tests.test_widget_flow import history, say, widget_session
from tests.trainer.conftest import make_user


@pytest.fixture
async def fake_runtime(settings: Settings) -> AsyncIterator[tuple[Runtime, FakeNLU, TestClient[Any, Any]]]:
    fake = FakeNLU()
    runtime = Runtime(settings)
    await runtime.start(bot=BotService(load_bot_config(bot_dir(load_settings())), fake))
    assert runtime.app is not None
    async with TestClient(TestServer(runtime.app, host="127.0.0.1")) as client:
        yield runtime, fake, client
    await runtime.stop()
    await _drop(settings)


async def test_unsure_unhelpful_and_escalated_messages_are_marked_for_review(
    fake_runtime: tuple[Runtime, FakeNLU, TestClient[Any, Any]],
) -> None:
    runtime, fake, client = fake_runtime
    assert runtime.hub is not None
    fake.says("refund or return, not sure", ("refund", 0.41), ("return_item", 0.38))
    fake.says("tell me a joke", ("out_of_scope", 0.97))
    fake.says("mumble mumble", ("refund", 0.2), ("greet", 0.05))
    fake.says("when do you open?", ("opening_hours", 0.96))
    fake.says("nope", ("deny", 0.97))
    fake.says("how much is delivery", ("shipping_cost", 0.95))
    fake.says("put me through to a person", ("talk_to_human", 0.99))

    async def conversation(*texts: str) -> None:
        token = await widget_session(client)
        for text in texts:
            await say(client, token, text)
            await runtime.hub.pipeline.drain()  # type: ignore[union-attr]
        assert len(await history(client, token)) > len(texts)  # every turn got a reply

    await conversation("refund or return, not sure")
    await conversation("tell me a joke")
    await conversation("mumble mumble")
    await conversation("when do you open?", "nope")  # "Did that help?" -> no
    await conversation("how much is delivery")
    await conversation("put me through to a person")

    marks = {m["text"]: (m.get("review") or {}).get("reason")
             async for m in runtime.hub.store.messages.find({"direction": "in"})}
    assert marks == {
        "refund or return, not sure": "ambiguous",
        "tell me a joke": "out_of_scope",
        "mumble mumble": "low_confidence",
        "when do you open?": "not_helpful",  # the question the unhelpful answer answered...
        "nope": None,  # ...not the "no" itself
        "how much is delivery": None,
        "put me through to a person": "escalated",
    }
    question = await runtime.hub.store.messages.find_one({"text": "when do you open?"})
    assert question is not None and question["review"]["decision"] == "not_helpful"
    assert question["nlu"]["intent"] == "opening_hours"

    trainer = await make_user(runtime, client, "tina", [Role.TRAINER])
    inbox = await trainer.get("/api/trainer/inbox")
    assert [i["text"] for i in inbox["items"]] == [
        "put me through to a person", "when do you open?", "mumble mumble", "tell me a joke",
        "refund or return, not sure",
    ]
    assert inbox["counts"] == {"low_confidence": 1, "ambiguous": 1, "out_of_scope": 1, "not_helpful": 1,
                               "escalated": 1}
    unhelpful = (await trainer.get("/api/trainer/inbox?reason=not_helpful"))["items"]
    assert [(i["text"], i["intent"]) for i in unhelpful] == [("when do you open?", "opening_hours")]
