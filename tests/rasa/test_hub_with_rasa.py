"""The hub answering through a real Rasa 3.6 server, and escalating when Rasa is gone.

The bot is built exactly as production builds it (`bot.service.build_bot` on the
starter data in config/bot/), with the Rasa backend pointed at the loopback server;
customer messages arrive over the widget's HTTP API.
"""

from __future__ import annotations

import csv
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot import nlu_eval
from bot.nlu.rasa import RasaNLU
from bot.service import BotService, build_bot
from switchboard.bootstrap import Runtime
from tests.bot.conftest import CONFIG_DIR
from tests.conftest import _drop, make_settings
from tests.test_widget_flow import history, say, widget_session

# The first Rasa test of a run may install the Rasa venv (minutes, once): allow for it.
pytestmark = [pytest.mark.rasa, pytest.mark.timeout(1800)]


@pytest.fixture(scope="module")
async def rasa_bot(rasa_server: str) -> AsyncIterator[BotService]:
    """The starter bot with its NLU trained on, and served by, the Rasa server."""
    backend = RasaNLU(base_url=rasa_server, parse_timeout=5.0)
    bot = await build_bot(CONFIG_DIR, backend=backend, train=True)
    yield bot
    await backend.close()


@pytest.fixture
async def rasa_client(
    mongo_uri: str, tmp_path: Path, rasa_bot: BotService
) -> AsyncIterator[tuple[TestClient[Any, Any], Runtime]]:
    settings = make_settings(mongo_uri, tmp_path)
    runtime = Runtime(settings)
    await runtime.start(bot=rasa_bot)
    assert runtime.app is not None
    try:
        async with TestClient(TestServer(runtime.app, host="127.0.0.1")) as client:
            yield client, runtime
    finally:
        await runtime.stop()
        await _drop(settings)


async def rasa_parse(base_url: str, text: str) -> dict[str, Any]:
    """Ask the Rasa server directly, to compare with what the hub stored."""
    async with aiohttp.ClientSession() as http, http.post(f"{base_url}/model/parse", json={"text": text}) as resp:
        assert resp.status == 200, await resp.text()
        return dict(await resp.json())


async def test_widget_question_is_answered_through_rasa(
    rasa_client: tuple[TestClient[Any, Any], Runtime], rasa_bot: BotService, rasa_server: str
) -> None:
    client, runtime = rasa_client
    assert rasa_bot.model_version is not None and rasa_bot.model_version.startswith("nlu-")  # a Rasa model
    token = await widget_session(client)
    text = "where is my order 12345"
    await say(client, token, text)
    assert runtime.hub is not None
    await runtime.hub.pipeline.drain()

    stored = await runtime.hub.store.messages.find_one({"direction": "in", "text": text})
    assert stored is not None
    nlu = stored["nlu"]
    expected = await rasa_parse(rasa_server, text)
    # The stored decision is Rasa's parse: same intent, same confidence, same ranking order.
    assert nlu["intent"] == expected["intent"]["name"] == "order_status"
    assert nlu["confidence"] == pytest.approx(expected["intent"]["confidence"], abs=1e-4)
    rasa_ranking = [r["name"] for r in expected["intent_ranking"] if r["name"] != "nlu_fallback"]
    assert [r["name"] for r in nlu["ranking"]] == rasa_ranking[: len(nlu["ranking"])]
    assert nlu["kind"] == "answer" and nlu["reason"] == "confident"
    assert {"type": "order_number", "value": "12345"} in nlu["entities"]

    messages = await history(client, token)
    assert [m["author"]["kind"] for m in messages] == ["customer", "bot"]
    assert "12345" in messages[1]["text"]  # our response template, filled with Rasa's entity
    bot_stored = await runtime.hub.store.messages.find_one({"direction": "out", "author.kind": "bot"})
    assert bot_stored is not None and bot_stored["text"] == messages[1]["text"]
    assert await runtime.hub.store.tickets.count_documents({}) == 0


async def test_bot_escalates_when_rasa_is_down(
    rasa_client: tuple[TestClient[Any, Any], Runtime], stop_rasa_server: Callable[[], None]
) -> None:
    client, runtime = rasa_client
    assert runtime.hub is not None
    token = await widget_session(client, name="Fox Mulder")
    stop_rasa_server()
    result = await say(client, token, "how much does delivery cost")
    await runtime.hub.pipeline.drain()

    ticket = await runtime.hub.store.tickets.find_one({})
    assert ticket is not None
    assert ticket["reason"] == "nlu_unavailable" and ticket["queue"] == "general"
    assert [str(c) for c in ticket["conversation_ids"]] == [result["conversation_id"]]
    stored = await runtime.hub.store.messages.find_one({"direction": "in"})
    assert stored is not None
    assert stored["nlu"]["kind"] == "escalate" and stored["nlu"]["reason"] == "nlu_unavailable"
    assert stored["nlu"]["intent"] is None
    # The customer is told a person will answer (the handoff notice carries the ticket number).
    texts = [m["text"] for m in await history(client, token)]
    assert len(texts) == 2 and f"#{ticket['number']}" in texts[1]


def test_nlu_eval_against_the_rasa_server(
    rasa_server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = {
        "greet": ["hi", "hello", "hey there", "good morning", "hello, anyone there?", "hiya", "howdy", "good evening"],
        "refund": [
            "I want a refund",
            "give me my money back",
            "how do I get a refund",
            "refund my purchase please",
            "can I be reimbursed",
            "I'd like my money returned",
            "money back please",
            "refund the order",
        ],
        "track": [
            "where is my parcel",
            "track my package",
            "has my order shipped",
            "when will my order arrive",
            "my order has not arrived",
            "parcel tracking",
            "where is my delivery",
            "order status please",
        ],
    }
    train, test = tmp_path / "train.csv", tmp_path / "test.csv"
    for path, part in ((train, slice(0, 6)), (test, slice(6, 8))):
        with open(path, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["text", "category"])
            writer.writerows((text, intent) for intent, texts in rows.items() for text in texts[part])

    code = nlu_eval.main(["--train", str(train), "--test", str(test), "--backend", "rasa", "--rasa-url", rasa_server])
    lines = capsys.readouterr().out.strip().splitlines()
    assert code == 0 and len(lines) == 1, lines
    out = json.loads(lines[0])
    assert out["backend"] == "rasa" and out["n_train"] == 18 and out["n_test"] == 6 and out["n_intents"] == 3
    assert 0.0 <= out["accuracy"] <= 1.0 and out["accuracy"] >= 0.5
    assert out["train_seconds"] > 0 and out["predict_p50_ms"] <= out["predict_p99_ms"]
