"""Training data as a value: conversion, normalisation, edits and diffs (no database)."""

from __future__ import annotations

import pytest

from bot.config import load_bot_config
from bot.diff import diff, summarise
from bot.edits import IntentPatch, add_intent, delete_intent, label_example, update_intent
from bot.snapshot import Answer, TrainingSnapshot, export_files, from_config, import_files, normalise, to_config
from bot.training_data import TrainingDataError
from switchboard.bootstrap import bot_dir
from switchboard.config import load_settings


@pytest.fixture(scope="module")
def starter() -> TrainingSnapshot:
    return normalise(from_config(load_bot_config(bot_dir(load_settings()))))


def test_starter_files_survive_every_conversion_unchanged(starter: TrainingSnapshot) -> None:
    config = load_bot_config(bot_dir(load_settings()))
    assert to_config(starter).training_data == config.training_data
    assert to_config(starter).policy == config.policy
    assert to_config(starter).synonyms == config.synonyms
    assert normalise(starter).digest() == starter.digest()
    assert TrainingSnapshot.from_doc(starter.to_doc()).digest() == starter.digest()
    files = export_files(starter)
    back = import_files(starter, files["nlu.yml"], files["domain.yml"], files["policy.yml"])
    assert back.digest() == starter.digest()
    # per intent: examples with entity markup, answers per channel, escalation queue
    order = starter.intent("order_status")
    assert order is not None and any("](order_number)" in e for e in order.examples)
    assert {a.channel for a in order.answers} >= {None, "sms"}
    damaged = starter.intent("damaged_item")
    assert damaged is not None and damaged.queue == "returns"


def test_normalise_rewrites_synonym_markup_and_refuses_broken_data(starter: TrainingSnapshot) -> None:
    changed = update_intent("change_address", IntentPatch(examples=["ship it to [Britain](country:United Kingdom)"]))
    result = normalise(changed(starter))
    intent = result.intent("change_address")
    assert intent is not None and intent.examples == ["ship it to [Britain](country)"]
    assert "Britain" in result.synonyms["United Kingdom"]
    broken = starter.copy()
    broken.regexes["order_number"] = ["(unclosed"]
    with pytest.raises(TrainingDataError, match="does not compile"):
        normalise(broken)
    with pytest.raises(TrainingDataError, match="intent name"):
        normalise(add_intent("bad name", IntentPatch())(starter))


def test_label_moves_an_example_to_the_chosen_intent(starter: TrainingSnapshot) -> None:
    refund = starter.intent("refund")
    assert refund is not None
    text = refund.examples[0]
    moved = label_example(f"  {text}  ", "return_item")(starter)
    assert text not in moved.intent("refund").examples  # type: ignore[union-attr]
    assert moved.intent("return_item").examples[-1] == text  # type: ignore[union-attr]
    assert starter.intent("refund").examples[0] == text  # type: ignore[union-attr]  # input untouched
    no_oos = starter.copy()
    no_oos.intents = [i for i in no_oos.intents if i.name != "out_of_scope"]
    created = label_example("what is the meaning of life", "out_of_scope")(no_oos)
    assert created.intent("out_of_scope").examples == ["what is the meaning of life"]  # type: ignore[union-attr]


def test_delete_refuses_policy_intents_and_diff_reports_per_intent(starter: TrainingSnapshot) -> None:
    with pytest.raises(TrainingDataError):
        delete_intent("deny")(starter)
    new = add_intent("gift_cards", IntentPatch(examples=["gift card"], answers=[Answer("Yes.")], queue="orders"))(
        delete_intent("complaint")(update_intent("refund", IntentPatch(label="Money back"))(starter)))
    d = diff(starter, new)
    by = {i.intent: i for i in d.intents}
    assert by["gift_cards"].status == "added" and by["gift_cards"].queue_after == "orders"
    assert by["complaint"].status == "removed" and by["complaint"].examples_removed
    assert by["refund"].label_changed and not by["refund"].examples_added
    assert summarise(d) == "label of refund; new intent gift_cards; deleted intent complaint"
    assert diff(starter, starter).empty
