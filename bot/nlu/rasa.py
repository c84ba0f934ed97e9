"""NLU backend that delegates to a Rasa 3.x server over its HTTP API.

Rasa runs in its own process (and its own Python 3.10 virtualenv, see
`scripts/rasa-venv.sh`), started with `rasa run --enable-api`. This adapter:

* trains with `POST /model/train` (one YAML document holding config, domain intents
  and NLU data), then makes the new model current with `PUT /model`;
* parses with `POST /model/parse`, mapping `intent_ranking`/`entities` onto `ParseResult`;
* never hangs the bot: every call has a timeout, and a circuit breaker fails fast
  with `NLUUnavailable` while the server is known to be down, so the bot can
  escalate to a person at once instead of waiting on each message.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp
import yaml

from bot.nlu.base import NLUUnavailable, ParseResult, ProgressCallback, TrainingData
from hub.models import Entity, IntentScore

log = logging.getLogger(__name__)

#: The fast pipeline shipped with the repo (used when no config is given).
DEFAULT_CONFIG_PATH = Path(__file__).resolve().parents[2] / "config" / "rasa" / "config.yml"
#: The pseudo intent Rasa's FallbackClassifier puts on top of the ranking.
FALLBACK_INTENT = "nlu_fallback"
#: Keys of a Rasa config file that belong in the training payload.
_CONFIG_KEYS = ("recipe", "language", "assistant_id", "pipeline", "policies")


class CircuitBreaker:
    """Fails fast while a dependency is known to be down.

    Closed: calls go through. After `failure_threshold` consecutive failures it opens:
    calls are refused at once for `reset_timeout` seconds. Then it is half-open: one
    probe call goes through (others are still refused); its success closes the
    circuit, its failure opens it for another `reset_timeout`.
    """

    def __init__(
        self,
        failure_threshold: int = 3,
        reset_timeout: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        self.failure_threshold = failure_threshold
        self.reset_timeout = reset_timeout
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False
        self.last_error: str | None = None

    @property
    def state(self) -> str:
        """`closed`, `open` or `half-open` (the next call is a probe, or one is under way)."""
        if self._opened_at is None:
            return "closed"
        if self._probing or self._clock() - self._opened_at >= self.reset_timeout:
            return "half-open"
        return "open"

    def before_call(self) -> None:
        """Raise `NLUUnavailable` unless a call may go through now."""
        state = self.state
        if state == "closed":
            return
        if state == "half-open" and not self._probing:
            self._probing = True
            return
        assert self._opened_at is not None
        wait = max(0.0, self.reset_timeout - (self._clock() - self._opened_at))
        detail = "a probe is under way" if self._probing else f"next probe in {wait:.1f}s"
        raise NLUUnavailable(f"circuit open after repeated failures ({self.last_error}); {detail}")

    def record_success(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._probing = False
        self.last_error = None

    def record_failure(self, reason: str) -> None:
        self.last_error = reason
        self._failures += 1
        if self._probing or self._failures >= self.failure_threshold:
            self._opened_at = self._clock()
        self._probing = False


class RasaNLU:
    """`NLUBackend` backed by a Rasa 3.x server (`rasa run --enable-api`).

    `server_model_dir` is where the server saves models it trains with
    `save_to_default_model_directory` (`models`, relative to the server's working
    directory): `PUT /model` names the new model by that path on the server's disk.
    """

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        config: Mapping[str, Any] | str | Path | None = None,
        parse_timeout: float = 2.0,
        train_timeout: float = 1800.0,
        load_timeout: float = 120.0,
        failure_threshold: int = 3,
        reset_timeout: float = 30.0,
        keep_fallback_intent: bool = False,
        server_model_dir: str = "models",
        session: aiohttp.ClientSession | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.config = config
        self.parse_timeout = parse_timeout
        self.train_timeout = train_timeout
        self.load_timeout = load_timeout
        self.keep_fallback_intent = keep_fallback_intent
        self.server_model_dir = server_model_dir.rstrip("/")
        self.breaker = CircuitBreaker(failure_threshold, reset_timeout, clock)
        self.model_version: str | None = None
        self._session = session
        self._owns_session = session is None
        self._train_lock = asyncio.Lock()

    # -- lifecycle -------------------------------------------------------------

    async def __aenter__(self) -> RasaNLU:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the HTTP session if this backend opened it."""
        if self._session is not None and self._owns_session:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        # Created lazily: an aiohttp session must be made inside the running loop.
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
            self._owns_session = True
        return self._session

    def _params(self, **extra: str) -> dict[str, str]:
        params = dict(extra)
        if self.token:
            params["token"] = self.token
        return params

    # -- NLUBackend ------------------------------------------------------------

    async def parse(self, text: str) -> ParseResult:
        """Parse one message; raise `NLUUnavailable` fast when Rasa cannot answer."""
        self.breaker.before_call()
        try:
            body = await self._request_json("POST", "/model/parse", json={"text": text}, seconds=self.parse_timeout)
        except NLUUnavailable as e:
            self.breaker.record_failure(str(e))
            raise
        self.breaker.record_success()
        return self.to_parse_result(text, body)

    async def train(self, data: TrainingData, progress: ProgressCallback | None = None) -> str:
        """Train on the Rasa server, load the new model there, return its name.

        Training does not go through the circuit breaker (it is rare and started by a
        person who wants the real error), but a model loaded closes the circuit.
        """
        report = progress or (lambda _f, _m: None)
        async with self._train_lock:
            report(0.0, "building Rasa training data")
            payload = build_training_yaml(data, self._load_config())
            report(0.05, "training on the Rasa server")
            filename = await self._train_request(payload)
            report(0.9, f"loading model {filename}")
            model_file = f"{self.server_model_dir}/{filename}"
            await self._request_json("PUT", "/model", json={"model_file": model_file}, seconds=self.load_timeout)
            version = filename.removesuffix(".tar.gz")
            self.model_version = version
            self.breaker.record_success()
            report(1.0, f"model {version} loaded")
            return version

    # -- other calls -----------------------------------------------------------

    async def status(self) -> dict[str, Any]:
        """`GET /status`: the loaded model (`NLUUnavailable` when none is loaded)."""
        body = await self._request_json("GET", "/status", seconds=self.parse_timeout)
        return body if isinstance(body, dict) else {}

    async def version(self) -> str:
        """The server's Rasa version (`GET /version`, needs no token nor model)."""
        body = await self._request_json("GET", "/version", seconds=self.parse_timeout)
        return str(body.get("version", "")) if isinstance(body, dict) else ""

    # -- HTTP ------------------------------------------------------------------

    async def _train_request(self, payload: str) -> str:
        params = self._params(save_to_default_model_directory="true", force_training="false")
        url = f"{self.base_url}/model/train"
        try:
            async with (
                asyncio.timeout(self.train_timeout),
                self._http().post(
                    url,
                    data=payload.encode("utf-8"),
                    params=params,
                    headers={"Content-Type": "application/yaml"},
                    timeout=aiohttp.ClientTimeout(total=self.train_timeout),
                ) as resp,
            ):
                if resp.status >= 300:
                    raise NLUUnavailable(await _describe_error("POST /model/train", resp))
                filename = resp.headers.get("filename")
                # The body is the model archive: the server keeps its own copy.
                resp.release()
        except (aiohttp.ClientError, OSError, TimeoutError) as e:
            raise NLUUnavailable(_describe_exception("POST /model/train", url, e, self.train_timeout)) from e
        if not filename or "/" in filename or filename.startswith("."):
            raise NLUUnavailable(f"POST /model/train: unexpected model file name {filename!r}")
        return filename

    async def _request_json(self, method: str, path: str, *, seconds: float, json: Any = None) -> Any:
        """One call with an overall deadline; any failure becomes `NLUUnavailable`."""
        url = f"{self.base_url}{path}"
        what = f"{method} {path}"
        try:
            # Two deadlines: aiohttp's covers connect+read, asyncio's anything else.
            async with (
                asyncio.timeout(seconds),
                self._http().request(
                    method,
                    url,
                    json=json,
                    params=self._params(),
                    timeout=aiohttp.ClientTimeout(total=seconds),
                ) as resp,
            ):
                if resp.status >= 300:
                    raise NLUUnavailable(await _describe_error(what, resp))
                if resp.status == 204:
                    return None
                return await resp.json(content_type=None)
        except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as e:
            raise NLUUnavailable(_describe_exception(what, url, e, seconds)) from e

    # -- mapping ---------------------------------------------------------------

    def _load_config(self) -> dict[str, Any]:
        source = self.config if self.config is not None else DEFAULT_CONFIG_PATH
        if isinstance(source, Mapping):
            loaded: Any = dict(source)
        else:
            loaded = yaml.safe_load(Path(source).read_text(encoding="utf-8"))
        if not isinstance(loaded, dict) or not loaded.get("pipeline"):
            raise ValueError(f"Rasa config {source} has no pipeline")
        return {k: loaded[k] for k in _CONFIG_KEYS if k in loaded}

    def to_parse_result(self, text: str, body: Any) -> ParseResult:
        """Map Rasa's `/model/parse` answer onto `ParseResult` (best intent first)."""
        if not isinstance(body, dict):
            raise NLUUnavailable(f"POST /model/parse: unexpected answer {body!r:.200}")
        raw_ranking = body.get("intent_ranking") or ([body["intent"]] if body.get("intent") else [])
        ranking = sorted(
            (
                IntentScore(str(item["name"]), min(1.0, max(0.0, float(item.get("confidence") or 0.0))))
                for item in raw_ranking
                if isinstance(item, dict) and item.get("name")
                if self.keep_fallback_intent or item["name"] != FALLBACK_INTENT
            ),
            key=lambda s: s.confidence,
            reverse=True,
        )
        entities: dict[tuple[str, str, int, int], Entity] = {}
        for item in body.get("entities") or ():
            if not isinstance(item, dict) or not item.get("entity"):
                continue
            start, end = int(item.get("start") or 0), int(item.get("end") or 0)
            value = item.get("value")
            value = text[start:end] if value is None else str(value)
            entity = Entity(str(item["entity"]), value, start, end)
            entities.setdefault((entity.type, entity.value, start, end), entity)
        return ParseResult(
            text=text,
            ranking=tuple(ranking),
            entities=tuple(sorted(entities.values(), key=lambda e: (e.start, e.end))),
        )


async def _describe_error(what: str, resp: aiohttp.ClientResponse) -> str:
    """Rasa's own error message (its JSON `message`), short enough for a log line."""
    detail = ""
    try:
        body = await resp.json(content_type=None)
        if isinstance(body, dict):
            detail = str(body.get("message") or body.get("reason") or "")
    except (aiohttp.ClientError, ValueError, TimeoutError):
        pass
    hint = {401: "token missing", 403: "token rejected", 409: "no model loaded"}.get(resp.status, "")
    parts = [p for p in (hint, detail[:300]) if p]
    return f"{what}: Rasa answered {resp.status}" + (f" ({'; '.join(parts)})" if parts else "")


def _describe_exception(what: str, url: str, e: BaseException, timeout: float | None = None) -> str:
    if isinstance(e, TimeoutError):
        return f"{what}: no answer from Rasa at {url} within {timeout or '?'}s"
    if isinstance(e, aiohttp.ClientConnectorError | ConnectionError):
        return f"{what}: cannot connect to Rasa at {url} ({e.__class__.__name__}: {e})"
    if isinstance(e, aiohttp.ServerDisconnectedError):
        return f"{what}: Rasa at {url} closed the connection (stopping?) ({e})"
    return f"{what}: request to Rasa at {url} failed ({e.__class__.__name__}: {e})"


# -- training payload ---------------------------------------------------------------


class _Block(str):
    """A string YAML writes as a literal block, the way Rasa's own files look."""


def _represent_block(dumper: yaml.SafeDumper, value: _Block) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", str(value), style="|")


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(_Block, _represent_block)


def _one_line(text: str) -> str:
    # Rasa reads one example per `- ` line.
    return " ".join(text.split())


def _examples(items: Iterable[str]) -> _Block:
    return _Block("".join(f"- {_one_line(item)}\n" for item in items))


def _annotate(text: str, spans: list[tuple[int, int, str]]) -> str:
    """Write `[value](entity)` markup into `text`; overlapping spans are skipped."""
    out: list[str] = []
    pos = 0
    for start, end, etype in sorted(spans):
        if start < pos or not 0 <= start < end <= len(text):
            continue
        out.append(text[pos:start])
        out.append(f"[{text[start:end]}]({etype})")
        pos = end
    out.append(text[pos:])
    return "".join(out)


def _pattern_spans(data: TrainingData, text: str, etypes: Iterable[str]) -> list[tuple[int, int, str]]:
    """Spans of `text` matched by the regex/lookup entries of the given entity types."""
    spans: list[tuple[int, int, str]] = []
    for etype in etypes:
        patterns = list(data.regexes.get(etype, ()))
        patterns += [rf"\b{re.escape(v)}\b" for v in data.lookups.get(etype, ()) if v]
        for pattern in patterns:
            try:
                spans += [(m.start(), m.end(), etype) for m in re.finditer(pattern, text, re.IGNORECASE)]
            except re.error:
                log.warning("skipping invalid regex for entity %s: %r", etype, pattern)
    return [s for s in spans if s[0] < s[1]]


def build_training_yaml(data: TrainingData, config: Mapping[str, Any]) -> str:
    """One Rasa 3 YAML document for `POST /model/train`: config, domain and NLU data.

    Annotations are written back into their examples. Rasa's RegexEntityExtractor
    ignores regex and lookup entries whose entity is never annotated, so for such
    entities the examples their patterns match are annotated here: a regex in the
    training data then extracts entities, as it does with the built-in backend.
    """
    annotated: dict[tuple[str, str], list[tuple[int, int, str]]] = {}
    for intent, text, start, end, etype in data.annotations:
        annotated.setdefault((intent, text), []).append((start, end, etype))
    annotated_types = {a[4] for a in data.annotations}
    pattern_types = sorted((set(data.regexes) | set(data.lookups)) - annotated_types)

    nlu: list[dict[str, Any]] = []
    for intent, examples in data.intents.items():
        lines = []
        for text in dict.fromkeys(examples):  # unique, in order
            spans = annotated.get((intent, text)) or _pattern_spans(data, text, pattern_types)
            lines.append(_annotate(text, spans))
        if lines:
            nlu.append({"intent": intent, "examples": _examples(lines)})
    for etype, patterns in data.regexes.items():
        if patterns:
            nlu.append({"regex": etype, "examples": _examples(patterns)})
    for etype, values in data.lookups.items():
        if values:
            nlu.append({"lookup": etype, "examples": _examples(values)})

    entities = sorted(annotated_types | set(data.regexes) | set(data.lookups))
    doc: dict[str, Any] = {"version": "3.1", **{k: config[k] for k in _CONFIG_KEYS if k in config}}
    doc.setdefault("policies", [])
    doc["intents"] = [intent for intent, examples in data.intents.items() if examples]
    if entities:
        doc["entities"] = entities
    doc["nlu"] = nlu
    return yaml.dump(doc, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=1000)
