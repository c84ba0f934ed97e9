"""Small training data shared by the Rasa backend tests."""

from __future__ import annotations

from bot.nlu.base import TrainingData


def shop_data() -> TrainingData:
    """Six intents, an order-number regex (never annotated) and an annotated country lookup."""
    ask_shipping = [
        "do you ship to Germany",
        "can I get delivery to Canada",
        "do you deliver to France",
        "shipping to Spain possible?",
        "do you send parcels abroad",
        "which countries do you ship to",
        "is international shipping available",
    ]
    annotations = []
    for text in ask_shipping:
        for country in ("Germany", "Canada", "France", "Spain"):
            start = text.find(country)
            if start >= 0:
                annotations.append(("ask_shipping", text, start, start + len(country), "country"))
    return TrainingData(
        intents={
            "greet": ["hi", "hello", "hey there", "good morning", "hello, anyone there?", "hiya", "howdy"],
            "goodbye": ["bye", "goodbye", "see you later", "have a nice day", "that's all, bye", "ciao"],
            "order_status": [
                "where is my order",
                "where is my order A123456",
                "status of order 7654321",
                "has my order 123456 shipped yet",
                "track my package",
                "when will my order B998877 arrive",
                "my order has not arrived",
            ],
            "refund": [
                "I want a refund",
                "give me my money back",
                "how do I get a refund",
                "refund my purchase please",
                "can I be reimbursed",
                "I'd like my money returned",
            ],
            "talk_to_human": [
                "I want to talk to a person",
                "let me speak to a human",
                "connect me to an agent",
                "real person please",
                "can I talk to someone",
                "get me a human",
            ],
            "ask_shipping": ask_shipping,
        },
        regexes={"order_number": [r"\b[A-Za-z]?\d{6,8}\b"]},
        lookups={"country": ["Germany", "Canada", "France", "Spain", "Italy"]},
        annotations=annotations,
    )
