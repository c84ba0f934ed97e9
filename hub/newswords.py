"""What happened on a ticket with news for an agent, in words that name people: "Ada Lovelace wrote", "Sam Lead gave
it to you", "Bob mentioned you in a note", "Bob Stone solved it" (a colleague, on one of theirs). The news email
(hub.newsmail) and the desk's News list (agents_ui/reads.py) say it the same way.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hub.display import DISPLAY_FIELDS, agent_names, display_name
from hub.store import Doc, ObjectId, Store
from hub.ticketreads import Unread

#: The news that is a customer's message (the words name the customer).
WROTE = ("message", "followed")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


async def news_words(store: Store, news: list[tuple[Unread, Doc]]) -> list[str]:
    """The words for each (news, ticket as `hub.ticketreads.FIELDS` reads it), in order: at most two reads (the
    customers' names, the colleagues' names), none for news that names nobody."""
    customers = sorted({t["contact_id"] for u, t in news if u.why in WROTE and t.get("contact_id")})
    contacts = {c["_id"]: c for c in await store.contacts.find(
        {"_id": {"$in": customers}}, projection=DISPLAY_FIELDS).to_list()} if customers else {}
    agents = await agent_names(store, *(i for _, t in news
                                        for i in (t.get("assigned_by"), (t.get("mentioned") or {}).get("by"),
                                                  (t.get("agent_activity") or {}).get("by"))))
    return [said(u, t, contacts.get(t.get("contact_id")), agents) for u, t in news]


def said(u: Unread, ticket: Doc, contact: Doc | None, agents: dict[ObjectId, str]) -> str:
    """What happened on the ticket, in words: "Grace Hopper wrote", "Sam Lead gave it to you"."""
    if u.why == "message":
        return f"{display_name(contact)} wrote"
    if u.why == "assigned":
        giver = ticket.get("assigned_by")
        return f"{agents.get(giver, 'a colleague')} gave it to you" if giver else "routing gave it to you"
    if u.why == "mention":
        return f"{agents.get((ticket.get('mentioned') or {}).get('by'), 'a colleague')} mentioned you in a note"
    activity = ticket.get("agent_activity") or {}
    colleague = (f"{agents.get(activity.get('by'), 'a colleague')} "
                 f"{did_words(activity.get('did'), ticket.get('merged_into_number'))}")
    if u.why == "colleague":
        return colleague
    if u.why == "followed":
        if activity.get("at") is not None and aware(activity["at"]) >= aware(ticket.get("last_customer_message_at")):
            return f"{colleague} (you follow it)"
        return f"{display_name(contact)} wrote (you follow it)"
    return "its pending time ended"


#: What a colleague's status change did, in words (hub.tickets: `agent_activity.did`).
STATUS_WORDS = {"solved": "solved it", "closed": "closed it", "pending": "set it to pending",
                "open": "opened it again", "new": "set it to new", "merged": "merged it into another ticket"}


def did_words(did: list[str] | None, merged_into: int | None = None) -> str:
    """"wrote on it", "solved it", "wrote on it and solved it", "merged it into #7" (no `did`: a reply or note, as
    before it was kept; `merged_into`: the number of the ticket a merge left, hub.ticketmerge)."""
    did = did or ["wrote"]
    said = ["wrote on it" if d == "wrote" else f"merged it into #{merged_into}" if d == "merged" and merged_into
            else STATUS_WORDS.get(d, f"set it to {d}") for d in did]
    return " and ".join(said)


def aware(at: Any) -> datetime:
    """A stored time as an aware datetime (the driver may hand back naive UTC); EPOCH for none (hub.newsmail too)."""
    if not isinstance(at, datetime):
        return EPOCH
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
