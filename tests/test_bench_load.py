"""`switchboard bench load` in miniature, with real processes: a `switchboard serve` subprocess on the test's
database server, customers driving the widget and email from this process, two desk agents, each with their
own login and desk open, answering the escalations, and five visitors who only keep the widget open. The step's
line is checked against what can fail: every message stored once and answered, every escalation answered by one
of the agents, nothing sent to the browsing visitors, the counts taken."""

from __future__ import annotations

import secrets
from typing import Any

from pymongo import AsyncMongoClient

from switchboard import loadgen


async def test_a_short_load_with_two_agents_answers_everything_once(mongo_uri: str) -> None:
    db_name = f"load{secrets.token_hex(3)}"
    lines: list[dict[str, Any]] = []
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_uri)
    try:
        await loadgen.bench_load(loadgen.parse_steps("8"), 8.0, None, mongo_uri, db_name, None, lines.append,
                                 seed=3, agents=2, browsing=5)
        agents = await client[db_name]["agents"].find({"username": {"$regex": "^bench-"}}).to_list(None)
        replies = await client[db_name]["messages"].count_documents({"author.kind": "agent"})
    finally:
        await client.drop_database(db_name)
        await client.close()
    [line] = lines
    assert line["step"] == "open-8" and line["sent"] >= 50
    assert line["answered"] == line["sent"] and line["unanswered"] == 0  # widget and email
    assert line["email_unanswered"] == 0 and line["emails"] >= 1
    assert line["lost"] == 0 and line["duplicated"] == 0 and line["send_failed"] == 0
    # Two desk agents (beside the hub's first admin), both with the desk open; every escalation answered once.
    assert sorted(a["username"] for a in agents) == ["bench-agent", "bench-agent-2"]
    assert all("agent" in a["roles"] for a in agents)
    assert line["agents"] == 2 and len(line["agent_replies"]) == 2
    assert line["escalations"] >= 2 and sum(line["agent_replies"]) == line["escalations"] == replies
    assert line["agent_replies_failed"] == 0
    assert line["active_tickets"] == 0  # each answered with "send and solve"
    assert line["desk_reloads"] >= 2  # each agent's desk loaded its lists at least once
    assert line["desk_feed_frames_per_s"] > 0 and line["desk_feed_kb_per_s"] > 0  # their feeds were open
    # Five visitors only browsing, the widget open: their sockets got none of the other customers' messages.
    assert line["browsing"] == 5 and line["browsing_received"] == 0
    assert line["db_commands_per_message"] > 0 and line["raw_inserts_per_s"] > 0 and line["ratio"] > 0


def test_a_fresh_hub_gets_one_desk_user_per_agent() -> None:
    assert loadgen.agent_names(1) == ["bench-agent"]
    assert loadgen.agent_names(3) == ["bench-agent", "bench-agent-2", "bench-agent-3"]
