"""Every decision path of `BotService.decide`, with a fake NLU returning fixed rankings."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from bot.config import BotConfig
from bot.service import BotService, missing_responses
from hub.models import BotTurn, DecisionKind, Entity
from hub.ports import Bot
from tests.bot.conftest import FakeNLU


@pytest.fixture
def bot(starter_config: BotConfig, fake_nlu: FakeNLU) -> BotService:
    return BotService(starter_config, fake_nlu)


def turn(text: str, channel: str = "email", state: dict[str, Any] | None = None, name: str | None = None) -> BotTurn:
    return BotTurn(text=text, channel=channel, conversation_id="conv-1", state=state or {}, contact_name=name)


def test_bot_service_satisfies_the_hub_port(bot: BotService) -> None:
    assert isinstance(bot, Bot)


async def test_confident_answer_fills_entities_and_records_why(bot: BotService, fake_nlu: FakeNLU) -> None:
    fake_nlu.says(
        "where is 12345", ("order_status", 0.93), ("refund", 0.03), entities=(Entity("order_number", "12345", 9, 14),)
    )
    d = await bot.decide(turn("where is 12345"))
    assert d.kind is DecisionKind.ANSWER
    assert "12345" in d.text
    assert (d.intent, d.confidence, d.reason) == ("order_status", 0.93, "confident")
    assert [s.name for s in d.ranking] == ["order_status", "refund"]
    assert d.entities[0].value == "12345"
    assert d.state == {}


async def test_answer_uses_the_channel_variant(bot: BotService, fake_nlu: FakeNLU) -> None:
    fake_nlu.says("hours?", ("opening_hours", 0.9))
    sms = await bot.decide(turn("hours?", channel="sms"))
    email = await bot.decide(turn("hours?", channel="email"))
    assert sms.text == "Mon-Fri 8am-8pm, Sat 9am-5pm."
    assert email.text != sms.text and "Monday to Friday" in email.text


async def test_greeting_uses_contact_name_and_never_asks_feedback(bot: BotService, fake_nlu: FakeNLU) -> None:
    fake_nlu.says("hi", ("greet", 0.99))
    d = await bot.decide(turn("hi", channel="widget", name="Ann Lee"))
    assert d.kind is DecisionKind.ANSWER and d.text.startswith("Hi Ann!")
    assert d.quick_replies == () and "feedback" not in d.state


async def test_ambiguous_message_asks_with_numbered_options_then_accepts_a_number(
    bot: BotService, fake_nlu: FakeNLU
) -> None:
    fake_nlu.says(
        "money back 55555",
        ("refund", 0.46),
        ("return_item", 0.42),
        ("cancel_order", 0.05),
        entities=(Entity("order_number", "55555"),),
    )
    d = await bot.decide(turn("money back 55555", channel="sms"))
    assert d.kind is DecisionKind.CLARIFY and d.reason == "ambiguous"
    assert [q.title for q in d.quick_replies] == ["Refunds", "Returns and exchanges"]
    assert "1. Refunds" in d.text and "2. Returns and exchanges" in d.text
    assert d.state["clarify"]["options"] == ["refund", "return_item"]

    answer = await bot.decide(turn("2", channel="sms", state=d.state))
    assert answer.kind is DecisionKind.ANSWER
    assert (answer.intent, answer.reason) == ("return_item", "clarified")
    assert answer.text.startswith("Free returns") and answer.state == {}
    assert fake_nlu.parsed == ["money back 55555"]  # the choice did not go through the NLU


@pytest.mark.parametrize("reply", ["Refunds", "refunds!", "/refund", "the first one", "1."])
async def test_clarify_accepts_title_payload_and_ordinal(bot: BotService, fake_nlu: FakeNLU, reply: str) -> None:
    fake_nlu.says("q", ("refund", 0.5), ("return_item", 0.45))
    d = await bot.decide(turn("q"))
    answer = await bot.decide(turn(reply, state=d.state))
    assert answer.intent == "refund" and answer.kind is DecisionKind.ANSWER


async def test_unrelated_reply_to_clarify_is_parsed_as_a_new_message(bot: BotService, fake_nlu: FakeNLU) -> None:
    fake_nlu.says("q", ("refund", 0.5), ("return_item", 0.45))
    fake_nlu.says("what are your hours", ("opening_hours", 0.95))
    d = await bot.decide(turn("q"))
    answer = await bot.decide(turn("what are your hours", state=d.state))
    assert answer.intent == "opening_hours" and "clarify" not in answer.state
    out_of_range = await bot.decide(turn("7", state=d.state))
    assert out_of_range.intent != "refund"


async def test_feedback_question_on_configured_channel_and_no_escalates(bot: BotService, fake_nlu: FakeNLU) -> None:
    fake_nlu.says("shipping cost", ("shipping_cost", 0.9))
    fake_nlu.says("no", ("deny", 0.97))
    d = await bot.decide(turn("shipping cost", channel="widget"))
    assert d.text.endswith("Did that help?")
    assert [q.title for q in d.quick_replies] == ["Yes", "No"]
    assert d.state == {"feedback": "shipping_cost"}
    no = await bot.decide(turn("no", channel="widget", state=d.state))
    assert no.kind is DecisionKind.ESCALATE and no.reason == "not_helpful"
    assert no.queue == "general" and no.handoff_text


async def test_feedback_yes_is_thanked_and_button_payload_skips_the_nlu(bot: BotService, fake_nlu: FakeNLU) -> None:
    fake_nlu.says("shipping cost", ("shipping_cost", 0.9))
    d = await bot.decide(turn("shipping cost", channel="widget"))
    yes = await bot.decide(turn(d.quick_replies[0].payload, channel="widget", state=d.state))
    assert yes.kind is DecisionKind.ANSWER and yes.reason == "feedback_positive"
    assert yes.state == {}
    assert fake_nlu.parsed == ["shipping cost"]


async def test_no_feedback_question_where_policy_says_so(bot: BotService, fake_nlu: FakeNLU) -> None:
    fake_nlu.says("shipping cost", ("shipping_cost", 0.9))
    d = await bot.decide(turn("shipping cost", channel="sms"))
    assert "Did that help?" not in d.text and d.state == {}


async def test_human_request_escalates(bot: BotService, fake_nlu: FakeNLU) -> None:
    fake_nlu.says("agent", ("talk_to_human", 0.8), ("complaint", 0.1))
    d = await bot.decide(turn("agent"))
    assert d.kind is DecisionKind.ESCALATE
    assert (d.reason, d.queue, d.intent) == ("human_requested", "general", "talk_to_human")
    assert d.handoff_text == "Of course, I'm connecting you to a colleague."
    assert d.text == ""


async def test_mapped_intent_escalates_to_its_queue(bot: BotService, fake_nlu: FakeNLU) -> None:
    fake_nlu.says("this is a disgrace", ("complaint", 0.9))
    d = await bot.decide(turn("this is a disgrace"))
    assert (d.kind, d.reason, d.queue) == (DecisionKind.ESCALATE, "intent_escalation", "complaints")
    assert d.handoff_text and "customer care" in d.handoff_text


async def test_first_fallback_asks_to_rephrase_second_escalates(bot: BotService, fake_nlu: FakeNLU) -> None:
    fake_nlu.says("blorp", ("refund", 0.2), ("greet", 0.05))
    first = await bot.decide(turn("blorp"))
    assert first.kind is DecisionKind.ANSWER and first.reason == "low_confidence"
    assert first.text == "Sorry, I did not get that, could you rephrase?"
    assert first.state == {"fallbacks": 1}
    second = await bot.decide(turn("blorp", state=first.state))
    assert (second.kind, second.reason, second.queue) == (DecisionKind.ESCALATE, "repeated_fallback", "general")


async def test_understood_message_resets_the_fallback_count(bot: BotService, fake_nlu: FakeNLU) -> None:
    fake_nlu.says("hours", ("opening_hours", 0.9))
    d = await bot.decide(turn("hours", state={"fallbacks": 1}))
    assert d.kind is DecisionKind.ANSWER and d.state.get("fallbacks", 0) == 0


async def test_out_of_scope_counts_as_a_fallback(bot: BotService, fake_nlu: FakeNLU) -> None:
    fake_nlu.says("weather?", ("out_of_scope", 0.9))
    d = await bot.decide(turn("weather?"))
    assert d.reason == "out_of_scope" and d.state == {"fallbacks": 1}
    assert "only help with questions about our shop" in d.text
    again = await bot.decide(turn("weather?", state=d.state))
    assert again.kind is DecisionKind.ESCALATE and again.reason == "repeated_fallback"


async def test_max_consecutive_fallbacks_is_configurable(starter_config: BotConfig, fake_nlu: FakeNLU) -> None:
    config = replace(starter_config, policy=replace(starter_config.policy, max_consecutive_fallbacks=3))
    bot = BotService(config, fake_nlu)
    state: dict[str, Any] = {}
    kinds = []
    for _ in range(3):
        d = await bot.decide(turn("???", state=state))
        kinds.append(d.kind)
        state = d.state
    assert kinds == [DecisionKind.ANSWER, DecisionKind.ANSWER, DecisionKind.ESCALATE]


async def test_nlu_unavailable_escalates(bot: BotService, fake_nlu: FakeNLU) -> None:
    fake_nlu.unavailable = True
    d = await bot.decide(turn("where is my order"))
    assert (d.kind, d.reason, d.queue) == (DecisionKind.ESCALATE, "nlu_unavailable", "general")
    assert d.handoff_text == "I'm passing you to a colleague, who will reply here as soon as possible."


async def test_empty_message_is_a_fallback_without_calling_the_nlu(bot: BotService, fake_nlu: FakeNLU) -> None:
    d = await bot.decide(turn("   "))
    assert d.reason == "empty_message" and d.state == {"fallbacks": 1}
    assert fake_nlu.parsed == []


async def test_intent_without_response_is_handed_over(starter_config: BotConfig, fake_nlu: FakeNLU) -> None:
    starter_config.training_data.intents["warranty"] = ["is it under warranty"]
    assert missing_responses(starter_config) == ["warranty"]
    fake_nlu.says("warranty?", ("warranty", 0.9))
    d = await BotService(starter_config, fake_nlu).decide(turn("warranty?"))
    assert (d.kind, d.reason) == (DecisionKind.ESCALATE, "no_response")


async def test_train_sets_the_model_version(bot: BotService, fake_nlu: FakeNLU) -> None:
    assert bot.model_version is None
    seen: list[float] = []
    assert await bot.train(lambda f, _m: seen.append(f)) == "fake-1"
    assert bot.model_version == "fake-1" and seen == [1.0]
    assert fake_nlu.trained[0] is bot.config.training_data
