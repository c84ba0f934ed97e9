"""CSAT on Slack: a solved ticket's rating request is five buttons; a press is the ticket's rating, once."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

from hub.models import Role
from hub.realtime import Subscription
from switchboard.bootstrap import Runtime
from tests.slack.conftest import PostEvent
from tests.slack.standin import SlackStandIn, fixture
from tests.slack.test_slack_outbound import escalated_ticket


def csat_click(score: int, action_ts: str) -> dict[str, Any]:
    """The customer pressing score `score` on the rating request (a block_actions payload as Slack sends it)."""
    click = copy.deepcopy(fixture("block_actions_quick_reply.json"))
    action = click["actions"][0]
    action.update(action_id=f"sb_qr_{score - 1}", value=f"csat:{score}", action_ts=action_ts)
    action["text"]["text"] = str(score)
    return click


async def test_a_csat_button_press_is_the_tickets_rating_and_a_second_one_is_refused(
    post_event: PostEvent, slack_runtime: Runtime, slack_api: SlackStandIn, changes: Subscription
) -> None:
    hub = slack_runtime.hub
    assert hub is not None
    ticket = await escalated_ticket(post_event, slack_runtime, changes)
    agent = await hub.accounts.create("alice", "correct horse battery", name="Alice", roles=[Role.AGENT])
    while not slack_api.posted.empty():
        slack_api.posted.get_nowait()
    await hub.tickets.reply(ticket["_id"], agent, "Done, your order ships today.", then_status="solved")
    await asyncio.wait_for(slack_api.posted.get(), timeout=15)  # the answer
    request = await asyncio.wait_for(slack_api.posted.get(), timeout=15)
    assert "How happy are you with our help" in request.body["text"]
    buttons = request.body["blocks"][-1]["elements"]
    assert [(b["text"]["text"], b["value"]) for b in buttons] == [(str(n), f"csat:{n}") for n in range(1, 6)]
    inbound_before = await hub.store.messages.count_documents({"channel": "slack", "direction": "in"})

    resp = await post_event(csat_click(4, "1718961500.000001"), form=True)
    assert resp.status == 200, await resp.text()
    rated = await hub.store.tickets.find_one({"_id": ticket["_id"]})
    assert rated is not None and rated["status"] == "solved"  # not reopened
    assert (rated["csat"]["score"], rated["csat"]["channel"]) == (4, "slack")
    thanks = await asyncio.wait_for(slack_api.posted.get(), timeout=15)
    assert thanks.body["text"] == "Thank you for your rating!"
    assert thanks.body["thread_ts"] == "1718961060.123459"

    again = await post_event(csat_click(1, "1718961600.000002"), form=True)
    assert again.status == 200
    refused = await asyncio.wait_for(slack_api.posted.get(), timeout=15)
    assert "rated already" in refused.body["text"]
    still = await hub.store.tickets.find_one({"_id": ticket["_id"]})
    assert still is not None and still["csat"]["score"] == 4 and still["status"] == "solved"
    # Neither press became a message for the bot or an agent.
    assert await hub.store.messages.count_documents({"channel": "slack", "direction": "in"}) == inbound_before
    assert await hub.store.messages.count_documents({"text": {"$regex": "^csat:"}}) == 0
