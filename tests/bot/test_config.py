from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import BotConfig, BotPolicy, dump_policy, load_bot_config, parse_policy
from bot.training_data import TrainingDataError


def test_starter_config_is_complete(starter_config: BotConfig) -> None:
    intents = starter_config.training_data.intents
    assert len(intents) >= 19
    assert all(len(examples) >= 15 for examples in intents.values()), {k: len(v) for k, v in intents.items()}
    assert "order_number" in starter_config.training_data.regexes
    p = starter_config.policy
    assert p.escalate["complaint"] == "complaints"
    assert p.human_request_intent in intents and p.out_of_scope_intent in intents
    # every intent the bot answers has an answer, with a short SMS variant for the questions
    for intent in intents:
        if intent not in p.escalate and intent not in (p.human_request_intent, p.out_of_scope_intent):
            assert f"utter_{intent}" in starter_config.responses, intent
    sms = starter_config.responses.render("utter_shipping_cost", "sms")
    web = starter_config.responses.render("utter_shipping_cost", "widget")
    assert sms is not None and web is not None and len(sms.text) < len(web.text)


def test_policy_defaults_and_overrides() -> None:
    p = parse_policy({"fallback_threshold": 0.6, "ask_feedback": {"sms": True}, "escalate": {"x": "q"}})
    assert p.fallback_threshold == 0.6
    assert p.max_consecutive_fallbacks == 2
    assert p.wants_feedback("sms") and not p.wants_feedback("voice")
    assert p.queue_for("x") == "q" and p.queue_for("y") == p.default_queue
    assert parse_policy({"ask_feedback": True}).wants_feedback("anything")
    assert p.label("order_status") == "Order status"


def test_policy_round_trip() -> None:
    p = BotPolicy(escalate={"a": "b"}, labels={"a": "A"}, ask_feedback={"default": True})
    import yaml

    assert parse_policy(yaml.safe_load(dump_policy(p))) == p


def test_threshold_out_of_range_is_refused() -> None:
    with pytest.raises(TrainingDataError):
        parse_policy({"fallback_threshold": 1.5})


def test_policy_and_domain_are_optional(tmp_path: Path) -> None:
    (tmp_path / "nlu.yml").write_text("nlu:\n- intent: a\n  examples: |\n    - x\n")
    config = load_bot_config(tmp_path)
    assert config.training_data.intents == {"a": ["x"]}
    assert config.policy == BotPolicy(auto_threshold=True)  # no policy.yml: the default objective
    assert config.responses.names() == []
