"""`switchboard bench rasa`: the same FAQ load against the hub (built-in NLU, then Rasa NLU) and Rasa alone.

Three arms, each run through the same steps (open-loop rates, closed-loop cN) of switchboard/loadgen.py:

- `hub_builtin`: a fresh `switchboard serve` on a fresh embedded database, built-in NLU;
- `hub_rasa`: the same with `bot.backend: rasa` pointed at the Rasa server below;
- `rasa_rest`: the Rasa server's own REST channel, `POST /webhooks/rest/webhook`, answering itself.

The message mix is FAQ questions only (loadgen.FAQ: no escalations, no emails), three per customer
(one WebSocket widget session, or one Rasa `sender`). The Rasa server is one model trained on
config/bot: the NLU data exactly as the hub's Rasa backend sends it (bot/nlu/rasa.py), plus what Rasa
needs to answer by itself: the domain's `utter_<intent>` answers as responses (a channel-less, slot-free
variation where there is one) and one rule per intent (`RulePolicy`); `utter_default` for `nlu_fallback`.
"""

from __future__ import annotations

import asyncio
import random
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from pymongo import AsyncMongoClient

from bot.config import load_bot_config
from bot.nlu.rasa import DEFAULT_CONFIG_PATH, build_training_yaml
from switchboard import loadgen
from switchboard.rasa_server import RasaServer, ensure_rasa_venv

ARM_FIELDS = ("sent", "answered", "unanswered", "send_failed", "achieved_per_s", "p50_ms", "p95_ms", "p99_ms")
FALLBACK_TEXT = "Sorry, I did not get that. Could you rephrase?"
REST_PATH = "/webhooks/rest/webhook"


def _answer_text(variants: list[Any]) -> str | None:
    """A channel-less variation, slot-free if there is one (Rasa would print an unfilled `{slot}`)."""
    plain = [v for v in variants if v.channel is None]
    chosen = next((v for v in plain if "{" not in v.text), plain[0] if plain else None)
    return chosen.text if chosen is not None else None


def chat_training_yaml(bot_dir: Path, rasa_config: Path = DEFAULT_CONFIG_PATH) -> str:
    """The hub's Rasa training document plus responses, rules and a RulePolicy: Rasa answers on its own."""
    config = load_bot_config(bot_dir)
    base = yaml.safe_load(rasa_config.read_text(encoding="utf-8"))
    doc = yaml.safe_load(build_training_yaml(config.training_data, base))
    responses: dict[str, list[dict[str, str]]] = {"utter_default": [{"text": FALLBACK_TEXT}]}
    rules = [{"rule": "nlu fallback", "steps": [{"intent": "nlu_fallback"}, {"action": "utter_default"}]}]
    for intent in doc["intents"]:
        text = _answer_text(config.responses.variants(f"utter_{intent}"))
        if text is None:
            continue
        responses[f"utter_{intent}"] = [{"text": text}]
        rules.append({"rule": f"answer {intent}", "steps": [{"intent": intent}, {"action": f"utter_{intent}"}]})
    doc["responses"] = responses
    doc["rules"] = rules
    doc["policies"] = [{"name": "RulePolicy", "core_fallback_threshold": 0.3,
                        "core_fallback_action_name": "utter_default"}]
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=1000)


async def train_and_load(url: str, payload: str, seconds: float = 900.0) -> str:
    """`POST /model/train` (saved on the server), then `PUT /model`: the server answers with it. Its file name."""
    timeout = aiohttp.ClientTimeout(total=seconds)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        async with http.post(f"{url}/model/train", data=payload.encode(),
                             params={"save_to_default_model_directory": "true", "force_training": "false"},
                             headers={"Content-Type": "application/yaml"}) as resp:
            if resp.status >= 300:
                raise RuntimeError(f"rasa training failed: {resp.status} {(await resp.text())[:500]}")
            filename = resp.headers.get("filename", "")
            resp.release()
        async with http.put(f"{url}/model", json={"model_file": f"models/{filename}"}) as resp:
            if resp.status >= 300:
                raise RuntimeError(f"rasa model load failed: {resp.status} {(await resp.text())[:500]}")
    return filename


class RestCrowd:
    """Customers of Rasa's REST channel: each `turn` is one FAQ question from a sender (three per sender),
    answered when the synchronous reply holds at least one bot message."""

    def __init__(self, http: aiohttp.ClientSession, url: str, rng: random.Random, turns: int = 3) -> None:
        self.http, self.url, self.rng, self.turns = http, url.rstrip("/"), rng, turns
        self.idle: list[tuple[str, int]] = []
        self.fallbacks = 0  # answered with utter_default (Rasa did not recognise the question)
        self.staff: loadgen.Staff | None = None  # no desk: Rasa's own channel has none

    async def turn(self, tally: loadgen.Tally) -> None:
        sender, said = self.idle.pop() if self.idle else (uuid.uuid4().hex, 0)
        tally.sent.client_ids.append(uuid.uuid4().hex)
        t0 = time.perf_counter()
        try:
            async with self.http.post(self.url + REST_PATH, json={"sender": sender, "message": self.rng.choice(
                    loadgen.FAQ)}, timeout=aiohttp.ClientTimeout(total=loadgen.ANSWER_TIMEOUT)) as resp:
                body = await resp.json(content_type=None) if resp.status == 200 else None
        except (aiohttp.ClientError, OSError, TimeoutError, ValueError):
            tally.sent.failed += 1
            return
        done = time.perf_counter()
        if not isinstance(body, list) or not any(isinstance(m, dict) and m.get("text") for m in body):
            tally.unanswered += 1
            return
        tally.answered += 1
        tally.last_answer = max(tally.last_answer, done)
        tally.answer_ms.append((done - t0) * 1000)
        if any(isinstance(m, dict) and m.get("text") == FALLBACK_TEXT for m in body):
            self.fallbacks += 1
        if said + 1 < self.turns:
            self.idle.append((sender, said + 1))

    async def close(self) -> None:
        self.idle.clear()


def _arm(result: dict[str, Any]) -> dict[str, Any]:
    out = {k: result.get(k) for k in ARM_FIELDS}
    out.update({k: v for k, v in result.items() if k.endswith("_cpu_percent")})
    return out


async def bot_decisions(uri: str, db_name: str) -> dict[str, int]:
    """How the bot decided on the customers' messages (`kind/reason` -> count): proof of who answered
    (a hub that cannot reach Rasa escalates with `escalate/nlu_unavailable`)."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri)
    counts: dict[str, int] = {}
    try:
        async for doc in client[db_name]["messages"].find({"channel": "widget", "direction": "in"},
                                                           projection={"nlu.kind": 1, "nlu.reason": 1, "_id": 0}):
            nlu = doc.get("nlu") or {}
            key = f"{nlu.get('kind')}/{nlu.get('reason')}"
            counts[key] = counts.get(key, 0) + 1
    finally:
        await client.close()
    return dict(sorted(counts.items()))


async def _hub_arm(steps: list[loadgen.Step], seconds: float, seed: int, extra_env: dict[str, str] | None,
                   extra_pids: dict[str, list[int]]) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """The steps against a fresh hub (and database), FAQ customers over the widget only; the bot's decisions."""
    cluster = loadgen.Cluster(hubs=1, extra_env=extra_env)
    loadgen._progress(f"starting a hub ({(extra_env or {}).get('SWITCHBOARD_NLU', 'builtin')} NLU) in {cluster.tmp}")
    failed = True
    try:
        await cluster.start()
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
            crowd = loadgen.Crowd(http, cluster.urls, None, random.Random(seed))  # no agent, no mail: FAQ only
            results = []
            try:
                for step in steps:
                    loadgen._progress(f"  step {step.name}: {seconds:.0f} s")
                    results.append(_arm(await loadgen.run_step(step, crowd, None, seconds,
                                                               {**cluster.pids(), **extra_pids})))
            finally:
                await crowd.close()
        decisions = await bot_decisions(cluster.uri, cluster.db_name)
        failed = False
        return results, decisions
    finally:
        cluster.stop(failed=failed)


async def _rest_arm(steps: list[loadgen.Step], seconds: float, seed: int, url: str,
                    pids: dict[str, list[int]]) -> list[dict[str, Any]]:
    results = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        crowd = RestCrowd(http, url, random.Random(seed))
        for step in steps:
            loadgen._progress(f"  rasa REST step {step.name}: {seconds:.0f} s")
            before = crowd.fallbacks
            result = _arm(await loadgen.run_step(step, crowd, None, seconds, pids))
            results.append({**result, "fallback_answers": crowd.fallbacks - before})
    return results


async def bench_rasa(steps: list[loadgen.Step], seconds: float, rasa_url: str | None = None, seed: int = 1,
                     bot_dir: Path | None = None) -> dict[str, Any]:
    """Start (unless `rasa_url`) a Rasa server with its REST channel, train it on config/bot, run the three arms."""
    started = time.perf_counter()
    server: RasaServer | None = None
    work = Path(tempfile.mkdtemp(prefix="switchboard-rasa-bench-"))
    try:
        if rasa_url is None:
            loadgen._progress("starting a Rasa server (REST channel on)")
            server = RasaServer(ensure_rasa_venv(), work, rest_channel=True)
            server.start()
            rasa_url = server.url
        rasa_url = rasa_url.rstrip("/")
        loadgen._progress("training the Rasa model on config/bot (NLU data + answers as rules)")
        t0 = time.perf_counter()
        model = await train_and_load(rasa_url, chat_training_yaml(bot_dir or loadgen.REPO / "config" / "bot"))
        train_s = round(time.perf_counter() - t0, 1)
        rasa_pids = {"rasa": [server.process.pid]} if server is not None and server.process is not None else {}
        builtin, builtin_decisions = await _hub_arm(steps, seconds, seed, None, {})
        rasa_env = {"SWITCHBOARD_NLU": "rasa", "RASA_URL": rasa_url}
        with_rasa, rasa_decisions = await _hub_arm(steps, seconds, seed, rasa_env, rasa_pids)
        loadgen._progress("Rasa's own REST channel")
        rest = await _rest_arm(steps, seconds, seed, rasa_url, rasa_pids)
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)
    return {
        "bench": "rasa", "mix": "faq", "seconds": seconds, "rasa_model": model, "rasa_train_s": train_s,
        "steps": [{"step": s.name, "offered_per_s": s.rate, "concurrency": s.concurrency,
                   "hub_builtin": b, "hub_rasa": r, "rasa_rest": x}
                  for s, b, r, x in zip(steps, builtin, with_rasa, rest, strict=True)],
        "bot_decisions": {"hub_builtin": builtin_decisions, "hub_rasa": rasa_decisions},
        "total_seconds": round(time.perf_counter() - started, 1),
    }


def run(steps: list[loadgen.Step], seconds: float, rasa_url: str | None, seed: int,
        emit: Callable[[dict[str, Any]], None]) -> int:
    """The command: one JSON line; exit 1 when any arm left a message unanswered or failed a send."""
    result = asyncio.run(bench_rasa(steps, seconds, rasa_url, seed))
    emit(result)
    misses = sum(arm["unanswered"] + arm["send_failed"] for step in result["steps"]
                 for arm in (step["hub_builtin"], step["hub_rasa"], step["rasa_rest"]))
    return 0 if misses == 0 else 1
