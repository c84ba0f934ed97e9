"""Mentions in private notes: "@Bob, can you check the refund?" tells Bob, wherever he is in the desk.

A note names the colleagues it mentions by id (the desk offers them by name as the agent types "@"). Only people
who may read the ticket can be mentioned (hub.access: agents and supervisors, admins with them) and only while
their account is active. The note keeps who it mentioned (`metadata.mentions`: id and name, for the timeline) and
the ticket the latest mention (`mentioned`: ids, when, by whom), which every desk gets with the ticket's change:
the mentioned colleague's desk marks the ticket for them (agents_ui/static/attention.js). No new collection, and
no command for a note that mentions nobody.
"""

from __future__ import annotations

from hub.access import TICKET_READERS
from hub.accounts import has_role
from hub.store import Doc, ObjectId, Store

#: At most this many colleagues in one note.
MAX_MENTIONS = 10


class MentionError(ValueError):
    """A mention that cannot be made (nobody by that id, an account disabled, a role without tickets)."""


async def resolve(store: Store, ids: list[ObjectId]) -> list[Doc]:
    """The desk users `ids` names, as `{_id, name}` in the order given (duplicates once); MentionError for any who
    cannot be mentioned. One read."""
    wanted = list(dict.fromkeys(ids))
    if len(wanted) > MAX_MENTIONS:
        raise MentionError(f"a note mentions at most {MAX_MENTIONS} people")
    if not wanted:
        return []
    found = {a["_id"]: a for a in await store.agents.find(
        {"_id": {"$in": wanted}}, projection={"name": 1, "username": 1, "roles": 1, "disabled": 1}).to_list()}
    out = []
    for agent_id in wanted:
        agent = found.get(agent_id)
        if agent is None or not may_be_mentioned(agent):
            raise MentionError(f"{agent_id} cannot be mentioned: not an active colleague who reads tickets")
        out.append({"_id": agent_id, "name": agent.get("name") or agent.get("username")})
    return out


def may_be_mentioned(agent: Doc) -> bool:
    """Whether the desk offers this user when an agent types "@": active, and reads tickets (admins hold every
    role)."""
    return not agent.get("disabled") and has_role(agent, *TICKET_READERS)
