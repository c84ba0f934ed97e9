"""The built-in NLU backend: scikit-learn, trained in-process from Rasa-format data.

Training runs in a worker thread so the hub keeps serving while a model is built;
the new model replaces the old one in a single assignment, so `parse` always sees a
complete model. Parsing a message takes about a millisecond and runs inline; with the
accurate tier's sentence encoder (`encoder=`, see bot/nlu/embeddings.py) a parse costs a
transformer pass, so it runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.nlu.base import NLUUnavailable, ParseResult, ProgressCallback, TrainingData
from bot.nlu.classifier import ClassifierParams, IntentClassifier
from bot.nlu.entities import EntityExtractor
from hub.models import IntentScore

if TYPE_CHECKING:
    from bot.nlu.embeddings import Encoder


def data_version(data: TrainingData, params: ClassifierParams, encoder: str | None = None) -> str:
    """Same data, parameters and encoder -> same version id, so a retrain without changes is visible as such."""
    parts: list[object] = [data.intents, data.regexes, data.lookups, sorted(data.annotations), repr(params)]
    if encoder is not None:
        parts.append(encoder)
    blob = json.dumps(parts, sort_keys=True)
    return "builtin-" + hashlib.sha256(blob.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class _Model:
    classifier: IntentClassifier
    entities: EntityExtractor
    version: str


def _thread_safe(progress: ProgressCallback | None) -> ProgressCallback | None:
    """Deliver progress from the training thread on the event loop that asked for it."""
    if progress is None:
        return None
    loop = asyncio.get_running_loop()

    def report(fraction: float, message: str) -> None:
        loop.call_soon_threadsafe(progress, fraction, message)

    return report


class BuiltinNLU:
    """`NLUBackend` built on `IntentClassifier` + `EntityExtractor`."""

    def __init__(
        self,
        params: ClassifierParams | None = None,
        synonyms: Mapping[str, list[str]] | None = None,
        ranking_length: int = 10,
        encoder: Encoder | None = None,
    ) -> None:
        self.params = params or ClassifierParams()
        #: Sentence encoder of the accurate tier (bot/nlu/embeddings.py); None for the default tier.
        self.encoder = encoder
        self.synonyms = dict(synonyms or {})
        self.ranking_length = ranking_length
        self._model: _Model | None = None
        self._train_lock = asyncio.Lock()

    @property
    def version(self) -> str | None:
        return self._model.version if self._model else None

    @property
    def classifier(self) -> IntentClassifier | None:
        return self._model.classifier if self._model else None

    def _build(self, data: TrainingData, progress: ProgressCallback | None) -> _Model:
        texts: list[str] = []
        labels: list[str] = []
        for intent, examples in data.intents.items():
            texts.extend(examples)
            labels.extend([intent] * len(examples))
        negatives = [t in data.negatives for t in texts] if data.negatives else None
        classifier = IntentClassifier(self.params, self.encoder).fit(texts, labels, progress, negatives)
        encoder = self.encoder.name if self.encoder is not None else None
        return _Model(classifier, EntityExtractor(data, self.synonyms), data_version(data, self.params, encoder))

    async def train(self, data: TrainingData, progress: ProgressCallback | None = None) -> str:
        """Train in a worker thread and make the new model current; returns its version."""
        async with self._train_lock:
            model = await asyncio.to_thread(self._build, data, _thread_safe(progress))
            self._model = model
            return model.version

    async def parse(self, text: str) -> ParseResult:
        model = self._model
        if model is None:
            raise NLUUnavailable("the built-in NLU has no trained model yet")
        if model.classifier.encoder is not None:  # a transformer pass (~25 ms): keep it off the event loop
            return await asyncio.to_thread(self._parse, model, text)
        return self._parse(model, text)

    def _parse(self, model: _Model, text: str) -> ParseResult:
        ranking = tuple(
            IntentScore(name, conf) for name, conf in model.classifier.predict_ranking(text, self.ranking_length)
        )
        return ParseResult(text=text, ranking=ranking, entities=model.entities.extract(text))

    # Synchronous API (benchmarks, evaluation): no event loop needed.

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> BuiltinNLU:
        """Train on plain (text, label) pairs; entity extraction stays empty."""
        data = TrainingData()
        for text, label in zip(texts, labels, strict=True):
            data.intents.setdefault(label, []).append(text)
        self._model = self._build(data, None)
        return self

    def fit_data(self, data: TrainingData) -> BuiltinNLU:
        self._model = self._build(data, None)
        return self

    def predict_ranking(self, text: str) -> list[IntentScore]:
        model = self._model
        if model is None:
            raise NLUUnavailable("the built-in NLU has no trained model yet")
        return list(self._parse(model, text).ranking)

    def parse_sync(self, text: str) -> ParseResult:
        model = self._model
        if model is None:
            raise NLUUnavailable("the built-in NLU has no trained model yet")
        return self._parse(model, text)
