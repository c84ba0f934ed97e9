"""The NLU port: every backend (built-in scikit-learn, Rasa server) answers `parse` the same way."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from hub.models import Entity, IntentScore

#: Called with (fraction done 0..1, short message) while a model trains.
ProgressCallback = Callable[[float, str], None]


@dataclass(frozen=True)
class ParseResult:
    """Intent ranking (best first, confidences in 0..1) and entities of one message."""

    text: str
    ranking: tuple[IntentScore, ...]
    entities: tuple[Entity, ...] = ()

    @property
    def intent(self) -> IntentScore | None:
        return self.ranking[0] if self.ranking else None


@dataclass
class TrainingData:
    """Rasa-format NLU training data, as parsed from `nlu.yml` (+ responses from `domain.yml`)."""

    #: intent name -> example texts, entity annotations `[text](entity)` already stripped to text.
    intents: dict[str, list[str]] = field(default_factory=dict)
    #: entity name -> regular expressions (Rasa `regex:` entries).
    regexes: dict[str, list[str]] = field(default_factory=dict)
    #: entity name -> literal values (Rasa `lookup:` entries).
    lookups: dict[str, list[str]] = field(default_factory=dict)
    #: annotated entities found in examples: (intent, text, start, end, entity type).
    annotations: list[tuple[str, str, int, int, str]] = field(default_factory=list)
    #: Examples that are built-in negatives (bot.negatives), not the trainer's: they weigh less.
    negatives: frozenset[str] = frozenset()


class NLUUnavailable(Exception):
    """The backend cannot parse right now (server down, circuit open, no model yet)."""


class NLUBackend(Protocol):
    async def train(self, data: TrainingData, progress: ProgressCallback | None = None) -> str:
        """Train (off the event loop) and make the new model current; return its version id."""
        ...

    async def parse(self, text: str) -> ParseResult: ...
