"""CSAT on Telegram: the rating request is an inline keyboard 1-5; a press is the ticket's rating, once."""

from __future__ import annotations

import asyncio
import copy
import json
from typing import Any

from hub.realtime import Subscription
from switchboard.bootstrap import Runtime
from tests.telegram.conftest import PostUpdate
from tests.telegram.standin import TelegramStandIn, fixture
from tests.telegram.test_telegram_outbound import open_ticket


def csat_press(score: int, update_id: int) -> dict[str, Any]:
    """A `callback_query` update for score `score` on the rating request, as the Bot API sends it."""
    update = copy.deepcopy(fixture("update_callback_query.json"))
    update["update_id"] = update_id
    query = update["callback_query"]
    query["id"] = f"47708122905175{update_id}"
    query["data"] = f"csat:{score}"
    query["message"]["text"] = "Your request is solved. How happy are you with our help?"
    query["message"]["reply_markup"] = {"inline_keyboard": [[{"text": str(n), "callback_data": f"csat:{n}"}]
                                                            for n in range(1, 6)]}
    return update


async def test_a_csat_button_press_is_the_tickets_rating_and_a_second_one_is_refused(
    post_update: PostUpdate, telegram_runtime: Runtime, telegram_api: TelegramStandIn, changes: Subscription
) -> None:
    hub = telegram_runtime.hub
    assert hub is not None
    ticket, agent = await open_ticket(post_update, telegram_runtime, changes)
    while not telegram_api.sent.empty():
        telegram_api.sent.get_nowait()
    await hub.tickets.reply(ticket["_id"], agent, "Your parcel is on its way.", then_status="solved")
    await asyncio.wait_for(telegram_api.sent.get(), timeout=15)  # the answer
    request = await asyncio.wait_for(telegram_api.sent.get(), timeout=15)
    assert "How happy are you with our help" in request.params["text"]
    keyboard = json.loads(request.params["reply_markup"])["inline_keyboard"]
    assert keyboard == [[{"text": str(n), "callback_data": f"csat:{n}"}] for n in range(1, 6)]
    inbound_before = await hub.store.messages.count_documents({"channel": "telegram", "direction": "in"})

    resp = await post_update(csat_press(5, 734918300))
    assert resp.status == 200 and (await resp.json())["rating"] == "rated"
    rated = await hub.store.tickets.find_one({"_id": ticket["_id"]})
    assert rated is not None and rated["status"] == "solved"
    assert (rated["csat"]["score"], rated["csat"]["channel"]) == (5, "telegram")
    thanks = await asyncio.wait_for(telegram_api.sent.get(), timeout=15)
    assert thanks.params["text"] == "Thank you for your rating!"
    acks = [c.params["callback_query_id"] for c in telegram_api.calls if c.method == "answerCallbackQuery"]
    assert acks == ["47708122905175734918300"]  # the button's spinner stops

    again = await post_update(csat_press(2, 734918301))
    assert again.status == 200 and (await again.json())["rating"] == "already"
    refused = await asyncio.wait_for(telegram_api.sent.get(), timeout=15)
    assert "rated already" in refused.params["text"]
    still = await hub.store.tickets.find_one({"_id": ticket["_id"]})
    assert still is not None and still["csat"]["score"] == 5 and still["status"] == "solved"
    assert await hub.store.messages.count_documents({"channel": "telegram", "direction": "in"}) == inbound_before
