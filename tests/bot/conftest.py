"""Shared fixtures: the starter config and an NLU fake that returns fixed rankings."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import BotConfig, load_bot_config
from bot.nlu.base import NLUUnavailable, ParseResult, ProgressCallback, TrainingData
from hub.models import Entity, IntentScore

CONFIG_DIR = Path(__file__).resolve().parents[2] / "config" / "bot"


class FakeNLU:
    """`NLUBackend` fake: text -> fixed ranking (intent, confidence) and entities."""

    def __init__(self) -> None:
        self.rankings: dict[str, list[tuple[str, float]]] = {}
        self.entities: dict[str, tuple[Entity, ...]] = {}
        self.unavailable = False
        self.trained: list[TrainingData] = []
        self.parsed: list[str] = []

    def says(self, text: str, *ranking: tuple[str, float], entities: tuple[Entity, ...] = ()) -> None:
        self.rankings[text] = list(ranking)
        self.entities[text] = entities

    async def train(self, data: TrainingData, progress: ProgressCallback | None = None) -> str:
        self.trained.append(data)
        if progress:
            progress(1.0, "done")
        return f"fake-{len(self.trained)}"

    async def parse(self, text: str) -> ParseResult:
        self.parsed.append(text)
        if self.unavailable:
            raise NLUUnavailable("fake is down")
        ranking = tuple(IntentScore(n, c) for n, c in self.rankings.get(text, [("out_of_scope", 0.1)]))
        return ParseResult(text=text, ranking=ranking, entities=self.entities.get(text, ()))


@pytest.fixture
def starter_config() -> BotConfig:
    return load_bot_config(CONFIG_DIR)


@pytest.fixture
def fake_nlu() -> FakeNLU:
    return FakeNLU()
