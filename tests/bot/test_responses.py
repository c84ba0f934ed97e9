from __future__ import annotations

from bot.responses import Responses, ResponseVariant, dump_domain, fill_template, load_domain
from hub.models import Entity, QuickReply

DOMAIN = """
responses:
  utter_order_status:
  - text: "Your order {order_number} is on its way, {name}."
  - text: "Your order is on its way."
  - text: "Order {order_number}: on its way."
    channel: sms
  - text: "Order on its way."
    channel: sms
  utter_return_item:
  - text: "Start a return online."
    buttons:
    - title: Start
      payload: /start_return
    image: https://example.com/return.png
"""


def test_channel_variant_wins_and_channelless_is_the_fallback() -> None:
    responses, _ = load_domain(DOMAIN)
    sms = responses.render("utter_order_status", "sms", entities=[Entity("order_number", "123")])
    web = responses.render("utter_order_status", "widget", entities=[Entity("order_number", "123")], contact_name="Bo")
    assert sms is not None and sms.text == "Order 123: on its way."
    assert web is not None and web.text == "Your order 123 is on its way, Bo."


def test_variant_with_unfillable_slot_is_avoided() -> None:
    responses, _ = load_domain(DOMAIN)
    plain = responses.render("utter_order_status", "widget")
    assert plain is not None and plain.text == "Your order is on its way."


def test_contact_first_name_fills_name() -> None:
    responses, _ = load_domain(DOMAIN)
    out = responses.render(
        "utter_order_status", "email", entities=[Entity("order_number", "9")], contact_name="Ada Lovelace"
    )
    assert out is not None and out.text == "Your order 9 is on its way, Ada."


def test_missing_slot_leaves_no_gap_and_stray_braces_survive() -> None:
    assert fill_template("Hi {name}, welcome!", {}) == "Hi, welcome!"
    assert fill_template("Order {order_number} shipped.", {}) == "Order shipped."
    assert fill_template('Use {"json": 1} or { x }', {}) == 'Use {"json": 1} or { x }'


def test_buttons_and_unknown_keys_survive_the_round_trip() -> None:
    responses, _ = load_domain(DOMAIN)
    variant = responses.variants("utter_return_item")[0]
    assert variant.buttons == (QuickReply("Start", "/start_return"),)
    again, doc = load_domain(dump_domain(responses, intents=["return_item"]))
    assert again.variants("utter_return_item") == responses.variants("utter_return_item")
    assert again.variants("utter_order_status") == responses.variants("utter_order_status")
    assert doc["intents"] == ["return_item"]


def test_unknown_response_renders_none() -> None:
    assert Responses({"utter_x": [ResponseVariant("x", channel="sms")]}).render("utter_x", "widget") is None
    assert Responses().render("utter_nope", "sms") is None
