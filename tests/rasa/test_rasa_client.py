"""The Rasa NLU backend's own logic, against loopback fakes (no Rasa install needed)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import yaml
from aiohttp import web

from bot.nlu.base import NLUUnavailable
from bot.nlu.rasa import DEFAULT_CONFIG_PATH, CircuitBreaker, RasaNLU, build_training_yaml
from hub.models import Entity, IntentScore
from switchboard.rasa_server import free_loopback_port
from tests.rasa.data import shop_data

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@pytest.fixture
async def fake_rasa() -> AsyncIterator[Callable[[Handler], Awaitable[str]]]:
    """Serve one handler for every path on a loopback port; returns the base URL."""
    runners: list[web.AppRunner] = []

    async def serve(handler: Handler) -> str:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handler)
        runner = web.AppRunner(app, shutdown_timeout=0.1)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        port = runner.addresses[0][1]
        return f"http://127.0.0.1:{port}"

    yield serve
    for runner in runners:
        await runner.cleanup()


PARSE_ANSWER = {
    "text": "order A123456 please",
    "intent": {"name": "nlu_fallback", "confidence": 0.3},
    "entities": [
        {
            "entity": "order_number",
            "start": 6,
            "end": 13,
            "value": "A123456",
            "extractor": "RegexEntityExtractor",
        },
        {"entity": "order_number", "start": 6, "end": 13, "value": "A123456", "extractor": "DIETClassifier"},
    ],
    "intent_ranking": [
        {"name": "nlu_fallback", "confidence": 0.3},
        {"name": "order_status", "confidence": 0.25},
        {"name": "refund", "confidence": 0.2},
    ],
}


def test_parse_answer_mapping_drops_fallback_and_duplicate_entities() -> None:
    result = RasaNLU("http://x").to_parse_result("order A123456 please", PARSE_ANSWER)
    assert result.ranking == (IntentScore("order_status", 0.25), IntentScore("refund", 0.2))
    assert result.entities == (Entity("order_number", "A123456", 6, 13),)

    kept = RasaNLU("http://x", keep_fallback_intent=True).to_parse_result("t", PARSE_ANSWER)
    assert kept.intent == IntentScore("nlu_fallback", 0.3)

    empty = RasaNLU("http://x").to_parse_result("", {"text": "", "intent": None, "entities": []})
    assert empty.ranking == () and empty.intent is None


def test_training_yaml_holds_config_domain_and_annotated_examples() -> None:
    config = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())
    doc = yaml.safe_load(build_training_yaml(shop_data(), config))

    assert doc["pipeline"] == config["pipeline"] and doc["policies"] == []
    assert doc["language"] == "en" and doc["version"] == "3.1"
    assert set(doc["intents"]) == set(shop_data().intents)
    assert doc["entities"] == ["country", "order_number"]
    by_key = {next(iter(item)): item for item in doc["nlu"] if "intent" not in item}
    assert by_key["regex"] == {"regex": "order_number", "examples": "- \\b[A-Za-z]?\\d{6,8}\\b\n"}
    assert "- Italy\n" in by_key["lookup"]["examples"]
    examples = {item["intent"]: item["examples"] for item in doc["nlu"] if "intent" in item}
    # annotated entities go back into their examples...
    assert "- do you ship to [Germany](country)\n" in examples["ask_shipping"]
    # ...and a regex nobody annotated annotates what it matches, so Rasa's
    # RegexEntityExtractor does not ignore it.
    assert "- where is my order [A123456](order_number)\n" in examples["order_status"]
    assert "- track my package\n" in examples["order_status"]


def test_shipped_config_is_a_fast_nlu_only_pipeline() -> None:
    config = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())
    names = [c["name"] for c in config["pipeline"]]
    assert {"RegexEntityExtractor", "FallbackClassifier"} <= set(names)
    assert all(c.get("epochs", 0) <= 50 for c in config["pipeline"])
    assert config["policies"] == []


def test_circuit_breaker_opens_probes_once_and_closes() -> None:
    now = [0.0]
    breaker = CircuitBreaker(failure_threshold=2, reset_timeout=10.0, clock=lambda: now[0])
    breaker.before_call()
    breaker.record_failure("down")
    breaker.before_call()  # one failure: still closed
    breaker.record_failure("down")
    assert breaker.state == "open"
    with pytest.raises(NLUUnavailable, match=r"circuit open .*\(down\); next probe in 10.0s"):
        breaker.before_call()

    now[0] = 10.0
    breaker.before_call()  # the probe
    with pytest.raises(NLUUnavailable, match="a probe is under way"):
        breaker.before_call()
    breaker.record_failure("still down")  # a failed probe reopens at once
    assert breaker.state == "open"

    now[0] = 20.0
    breaker.before_call()
    breaker.record_success()
    assert breaker.state == "closed"
    breaker.record_failure("blip")
    assert breaker.state == "closed"  # the count started again


async def test_closed_port_is_unavailable_promptly() -> None:
    async with RasaNLU(f"http://127.0.0.1:{free_loopback_port()}", failure_threshold=1) as nlu:
        started = time.monotonic()
        with pytest.raises(NLUUnavailable, match="cannot connect to Rasa"):
            await nlu.parse("hi")
        with pytest.raises(NLUUnavailable, match="circuit open"):
            await nlu.parse("hi")
        assert time.monotonic() - started < 1.0


async def test_silent_server_times_out() -> None:
    accepted = asyncio.Event()

    async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.set()
        await reader.read()  # never answers; returns when the client gives up
        writer.close()

    server = await asyncio.start_server(hang, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with RasaNLU(f"http://127.0.0.1:{port}", parse_timeout=0.3) as nlu:
            started = time.monotonic()
            with pytest.raises(NLUUnavailable, match=r"no answer from Rasa .* within 0.3s"):
                await nlu.parse("hi")
            assert 0.25 < time.monotonic() - started < 1.5
            assert accepted.is_set()
    finally:
        server.close()
        await server.wait_closed()


async def test_server_errors_and_token(fake_rasa: Callable[[Handler], Awaitable[str]]) -> None:
    seen: list[tuple[str, str, str | None]] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        seen.append((request.method, request.path, request.query.get("token")))
        if request.query.get("token") != "s3cret":
            return web.json_response({"message": "User is not authenticated."}, status=401)
        if request.path == "/model/parse":
            return web.json_response({"message": "boom", "reason": "ParsingError"}, status=500)
        return web.json_response({"version": "3.6.21"})

    url = await fake_rasa(handler)
    async with RasaNLU(url, token="s3cret", failure_threshold=5) as nlu:
        assert await nlu.version() == "3.6.21"
        with pytest.raises(NLUUnavailable, match=r"POST /model/parse: Rasa answered 500 \(boom\)"):
            await nlu.parse("hi")
    async with RasaNLU(url) as nlu:
        with pytest.raises(NLUUnavailable, match=r"401 \(token missing; User is not authenticated.\)"):
            await nlu.parse("hi")
    assert seen == [
        ("GET", "/version", "s3cret"),
        ("POST", "/model/parse", "s3cret"),
        ("POST", "/model/parse", None),
    ]


async def test_train_posts_yaml_then_loads_the_model(fake_rasa: Callable[[Handler], Awaitable[str]]) -> None:
    calls: list[tuple[str, str, dict[str, str], str]] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        body = await request.text()
        calls.append((request.method, request.path, dict(request.query), request.content_type))
        if request.path == "/model/train":
            assert "pipeline:" in body and "nlu:" in body
            return web.Response(body=b"model-bytes", headers={"filename": "nlu-1-abc.tar.gz"})
        assert yaml.safe_load(body) == {"model_file": "models/nlu-1-abc.tar.gz"}
        return web.Response(status=204)

    url = await fake_rasa(handler)
    async with RasaNLU(url) as nlu:
        assert await nlu.train(shop_data()) == "nlu-1-abc"
        assert nlu.model_version == "nlu-1-abc"
    assert calls == [
        (
            "POST",
            "/model/train",
            {"save_to_default_model_directory": "true", "force_training": "false"},
            "application/yaml",
        ),
        ("PUT", "/model", {}, "application/json"),
    ]
