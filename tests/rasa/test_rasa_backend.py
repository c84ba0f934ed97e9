"""The Rasa NLU backend against a real Rasa 3.6 server (`rasa run --enable-api`)."""

from __future__ import annotations

from collections.abc import Callable

import aiohttp
import pytest

from bot.nlu.base import NLUUnavailable
from bot.nlu.rasa import RasaNLU
from switchboard.rasa_server import RasaServer
from tests.helpers import StoppedClock
from tests.rasa.data import shop_data

# The first test may install the Rasa venv (minutes, once): allow for it.
pytestmark = [pytest.mark.rasa, pytest.mark.timeout(1800)]


async def test_parse_without_a_model_is_unavailable(rasa_server: str) -> None:
    async with aiohttp.ClientSession() as http, http.delete(f"{rasa_server}/model") as resp:
        assert resp.status == 204
    async with RasaNLU(rasa_server) as nlu:
        with pytest.raises(NLUUnavailable, match=r"409.*no model loaded"):
            await nlu.parse("hello")


async def test_train_then_parse_intent_and_regex_entity(rasa_server: str) -> None:
    steps: list[tuple[float, str]] = []
    async with RasaNLU(rasa_server) as nlu:
        version = await nlu.train(shop_data(), lambda done, msg: steps.append((done, msg)))

        assert version.startswith("nlu-")
        assert [done for done, _ in steps] == sorted(done for done, _ in steps)
        assert steps[0][0] == 0.0 and steps[-1][0] == 1.0
        status = await nlu.status()
        assert status["model_file"].endswith(f"{version}.tar.gz")

        result = await nlu.parse("where is my order A7654321")
        assert result.intent is not None and result.intent.name == "order_status"
        assert result.intent.confidence > 0.5
        assert [s.confidence for s in result.ranking] == sorted((s.confidence for s in result.ranking), reverse=True)
        (order,) = [e for e in result.entities if e.type == "order_number"]
        assert (order.value, order.start, order.end) == ("A7654321", 18, 26)

        result = await nlu.parse("do you ship to Italy")
        assert result.intent is not None and result.intent.name == "ask_shipping"
        assert [(e.type, e.value) for e in result.entities] == [("country", "Italy")]

        result = await nlu.parse("hello there")
        assert result.intent is not None and result.intent.name == "greet"
        assert all(s.name != "nlu_fallback" for s in result.ranking)


async def test_training_error_is_reported(rasa_server: str) -> None:
    config = {"language": "en", "pipeline": [{"name": "NoSuchComponent"}], "policies": []}
    async with RasaNLU(rasa_server, config=config) as nlu:
        with pytest.raises(NLUUnavailable, match=r"POST /model/train: Rasa answered \d{3}.*NoSuchComponent"):
            await nlu.train(shop_data())


async def test_stopped_server_fails_fast_opens_circuit_and_recovers(
    rasa_server: str, rasa_server_process: RasaServer, stop_rasa_server: Callable[[], None]
) -> None:
    clock = StoppedClock()
    async with RasaNLU(rasa_server, failure_threshold=2, reset_timeout=30.0, clock=clock) as nlu:
        await nlu.train(shop_data())
        assert (await nlu.parse("hi")).intent is not None

        stop_rasa_server()
        for _ in range(2):
            # The first call may meet the kept-alive connection being closed.
            with pytest.raises(NLUUnavailable, match=r"(cannot connect to|closed the connection)"):
                await nlu.parse("where is my order A7654321")
        assert nlu.breaker.state == "open"

        # While open, calls are refused without touching the network (the reason says why).
        with pytest.raises(NLUUnavailable, match=r"circuit open.*cannot connect.*next probe in 30\.0s"):
            await nlu.parse("hello")

        # Back up: the restarted server loads the newest model from its models dir,
        # and once the reset timeout has passed one probe closes the circuit.
        rasa_server_process.start()
        with pytest.raises(NLUUnavailable, match="circuit open"):
            await nlu.parse("hello")
        clock.now += 30.0
        assert nlu.breaker.state == "half-open"
        result = await nlu.parse("where is my order A7654321")
        assert result.intent is not None and result.intent.name == "order_status"
        assert nlu.breaker.state == "closed"
