"""The built-in NLU trained on the starter shop data (small: trains in well under a second)."""

from __future__ import annotations

import asyncio

import pytest

from bot.config import BotConfig
from bot.nlu.base import NLUUnavailable, TrainingData
from bot.nlu.builtin import BuiltinNLU
from bot.nlu.classifier import ClassifierParams, IntentClassifier, normalise
from bot.nlu.entities import EntityExtractor
from bot.service import build_bot
from hub.models import BotTurn, DecisionKind
from tests.bot.conftest import CONFIG_DIR


@pytest.fixture(scope="module")
def nlu() -> BuiltinNLU:
    from bot.config import load_bot_config

    config = load_bot_config(CONFIG_DIR)
    return BuiltinNLU(synonyms=config.synonyms).fit_data(config.training_data)


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("where is my order 12345", "order_status"),
        ("hello there", "greet"),
        ("can I pay with paypal?", "payment_methods"),
        ("I want to speak to a real person", "talk_to_human"),
        ("how much does delivery cost", "shipping_cost"),
        ("I forgot my password", "password_reset"),
        ("thanks a lot", "thanks"),
    ],
)
def test_starter_intents(nlu: BuiltinNLU, text: str, intent: str) -> None:
    ranking = nlu.predict_ranking(text)
    assert ranking[0].name == intent, ranking[:3]
    assert 0.0 <= ranking[1].confidence <= ranking[0].confidence <= 1.0


def test_order_number_entity_from_regex(nlu: BuiltinNLU) -> None:
    parsed = nlu.parse_sync("where is my order 12345")
    assert parsed.intent is not None and parsed.intent.name == "order_status"
    ent = parsed.entities[0]
    assert (ent.type, ent.value) == ("order_number", "12345")
    assert parsed.text[ent.start : ent.end] == "12345"


def test_lookup_synonyms_and_acronyms_are_case_sensitive(nlu: BuiltinNLU) -> None:
    found = nlu.parse_sync("how long does shipping to britain take").entities
    assert [(e.type, e.value) for e in found] == [("country", "United Kingdom")]
    assert nlu.parse_sync("shipping to the UK").entities[0].value == "United Kingdom"
    assert nlu.parse_sync("can you send it to us").entities == ()


def test_probabilities_sum_to_one_over_all_intents() -> None:
    clf = IntentClassifier(ClassifierParams(calibration_folds=2)).fit(
        ["a b", "a c", "a d", "x y", "x z", "x w"], ["A", "A", "A", "X", "X", "X"]
    )
    proba = clf.predict_proba(["a q", "x q"])
    assert proba.shape == (2, 2)
    assert abs(proba.sum(axis=1) - 1).max() < 1e-9
    assert clf.predict(["a q", "x q"]) == ["A", "X"]
    assert clf.cv_proba is not None and clf.cv_proba.shape == (6, 2)


def test_training_needs_two_intents() -> None:
    with pytest.raises(ValueError, match="two intents"):
        IntentClassifier().fit(["a", "b"], ["A", "A"])


def test_normalise_collapses_numbers_and_contractions() -> None:
    assert normalise("I CAN'T find order 12345, it's late") == "i can not find order 0, it's late"


def test_overlapping_entities_keep_the_longest() -> None:
    data = TrainingData(regexes={"code": [r"\d{3}"]}, lookups={"zip": ["12345"]})
    assert [e.type for e in EntityExtractor(data).extract("zip 12345")] == ["zip"]


async def test_parse_before_training_is_unavailable() -> None:
    with pytest.raises(NLUUnavailable):
        await BuiltinNLU().parse("hi")


async def test_async_training_reports_progress_on_the_loop(starter_config: BotConfig) -> None:
    nlu = BuiltinNLU(synonyms=starter_config.synonyms)
    loop = asyncio.get_running_loop()
    seen: list[tuple[float, bool]] = []

    def progress(fraction: float, _message: str) -> None:
        seen.append((fraction, asyncio.get_running_loop() is loop))

    version = await nlu.train(starter_config.training_data, progress)
    # progress callbacks were queued on the loop before the result, so they have all run
    assert version.startswith("builtin-") and nlu.version == version
    assert seen and seen[-1][0] == 1.0 and all(on_loop for _, on_loop in seen)
    assert await nlu.train(starter_config.training_data) == version  # same data, same version
    parsed = await nlu.parse("I want to return my shoes")
    assert parsed.intent is not None and parsed.intent.name == "return_item"


async def test_build_bot_trains_and_answers_end_to_end() -> None:
    bot = await build_bot(CONFIG_DIR)
    assert bot.model_version is not None and bot.model_version.startswith("builtin-")
    d = await bot.decide(BotTurn("where is my order 12345", "email", "c-1"))
    assert d.kind is DecisionKind.ANSWER and d.intent == "order_status"
    assert "12345" in d.text
    d = await bot.decide(BotTurn("I want to make a complaint", "widget", "c-2"))
    assert (d.kind, d.queue) == (DecisionKind.ESCALATE, "complaints")
