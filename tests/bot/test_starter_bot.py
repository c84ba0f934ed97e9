"""The starter shop bot (config/bot, the real built-in NLU): humble outside its FAQ, sure inside it.

Every question here is absent from the starter training data (checked below), so the test measures what the
bot generalises to, not what it memorised.
"""

from __future__ import annotations

from typing import Any

import pytest

from bot.config import load_bot_config
from bot.offtopic import normalise
from hub.models import BotTurn, DecisionKind
from tests.bot.conftest import CONFIG_DIR

#: Questions a shop's bot must not answer with an FAQ: banking, weather, jokes, other companies' services.
OUTSIDE_THE_FAQ = [
    "what's the weather tomorrow",
    "how do i reset my card pin",
    "tell me a joke",
    "can you book me a flight",
    "how do I change my card pin",
    "what's my bank balance",
    "is it going to snow",
    "who will win the world cup",
    "my phone contract is too expensive",
    "what's the capital of spain",
]

#: One natural phrasing per intent, none of them a training example.
ANSWERED = {
    "order_status": "i ordered a dress 5 days ago and it still hasn't shown up",
    "refund": "when do I get the money back for the shoes I sent back",
    "return_item": "the trousers are too long, can I send them back",
    "shipping_times": "how many days does standard delivery take to scotland",
    "shipping_cost": "how much do you charge to deliver",
    "opening_hours": "are you open on easter monday",
    "password_reset": "I can't remember my password for the website",
    "change_address": "I typed the wrong address on my order",
    "cancel_order": "I'd like to cancel the order I made yesterday",
    "payment_methods": "do you guys take paypal",
    "damaged_item": "the mug I ordered arrived cracked",
    "complaint": "I am very disappointed with the service I received",
    "talk_to_human": "can I please speak with a real person",
    "greet": "hello, good morning",
    "goodbye": "ok, bye then",
    "thanks": "thank you very much for that",
    "affirm": "yes, exactly",
    "deny": "no, not at all",
}

_TRAINED = {normalise(text) for texts in load_bot_config(CONFIG_DIR).training_data.intents.values() for text in texts}


def test_the_questions_are_not_training_examples() -> None:
    asked = [*OUTSIDE_THE_FAQ, *ANSWERED.values()]
    assert not [text for text in asked if normalise(text) in _TRAINED]


def test_every_intent_has_an_unseen_question() -> None:
    assert set(ANSWERED) == set(load_bot_config(CONFIG_DIR).training_data.intents) - {"out_of_scope"}


@pytest.mark.parametrize("text", OUTSIDE_THE_FAQ)
async def test_outside_the_faq_the_bot_says_so_or_hands_over(shop_bot: Any, text: str) -> None:
    d = await shop_bot.decide(BotTurn(text, "widget", f"c-oos-{text}"))
    faq_answer = d.kind is DecisionKind.ANSWER and d.reason == "confident"
    assert not faq_answer, (d.intent, d.confidence)
    # saying so, handing over, or asking which of two intents was meant ("Did you mean", not an answer)
    assert d.kind is DecisionKind.ESCALATE or d.reason in ("out_of_scope", "low_confidence", "ambiguous"), (
        d.kind, d.reason)
    if d.reason == "out_of_scope":
        assert d.text.startswith("Sorry, I can only help with questions about our shop")


@pytest.mark.parametrize(("intent", "text"), sorted(ANSWERED.items()))
async def test_each_intent_answers_a_phrasing_it_never_saw(shop_bot: Any, intent: str, text: str) -> None:
    d = await shop_bot.decide(BotTurn(text, "widget", f"c-faq-{intent}"))
    assert d.intent == intent, [(s.name, round(s.confidence, 2)) for s in d.ranking[:3]]
    assert d.reason in ("confident", "intent_escalation", "human_requested"), (d.reason, d.confidence)
    assert d.confidence is not None and d.confidence >= shop_bot.config.policy.fallback_threshold
