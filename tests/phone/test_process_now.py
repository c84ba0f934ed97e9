"""`Pipeline.process_now`: a channel can wait for the bot's decision on one message, at most once."""

from __future__ import annotations

from hub.models import InboundMessage, Sender
from switchboard.bootstrap import Runtime


def question(external_id: str) -> InboundMessage:
    return InboundMessage(channel="widget", external_id=external_id, thread_key="demo:visitor:pn",
                          sender=Sender(external_id="demo:visitor:pn"), text="what are your opening hours?",
                          inbox="demo")


async def test_process_now_returns_with_the_decision_stored(runtime: Runtime) -> None:
    assert runtime.hub is not None
    hub = runtime.hub
    result = await hub.ingest(question("pn-1"))
    await hub.pipeline.process_now(result.message_id)
    # No drain(): the answer must already be there when process_now returns.
    stored = await hub.store.messages.find_one({"external_id": "pn-1"})
    assert stored is not None and "pending_bot" not in stored and stored["nlu"]["intent"] == "opening_hours"
    replies = await hub.store.messages.count_documents({"conversation_id": stored["conversation_id"],
                                                        "direction": "out"})
    assert replies == 1


async def test_process_now_twice_or_after_the_background_task_answers_once(runtime: Runtime) -> None:
    assert runtime.hub is not None
    hub = runtime.hub
    result = await hub.ingest(question("pn-2"))
    await hub.pipeline.process_now(result.message_id)
    await hub.pipeline.process_now(result.message_id)
    await hub.pipeline.drain()
    await hub.pipeline.process_now(result.message_id)  # no task left: processes directly, finds nothing to do
    duplicate = await hub.ingest(question("pn-2"))
    assert duplicate.duplicate
    await hub.pipeline.process_now(duplicate.message_id)
    stored = await hub.store.messages.find_one({"external_id": "pn-2"})
    assert stored is not None
    assert await hub.store.messages.count_documents({"conversation_id": stored["conversation_id"],
                                                     "direction": "out"}) == 1
    assert await hub.store.outbox.count_documents({}) == 0  # the widget's answer is delivered by being stored
