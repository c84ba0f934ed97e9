"""A ticket's changes as lines in its own timeline: who solved it, who gave it to whom, what its priority was.

An agent opening a ticket asks "why is this mine?", "who closed it last week?", "since when is it urgent?".
The event log records every change, but it is not indexed by ticket (that index cost every event's insert,
migration 8), so a ticket's history could not be read from it. Each change is written instead as a private
line in the ticket's latest conversation, in the transaction that makes the change: one more insert in the
command that ends the transaction, no round trip of its own. It is what agents know from Chatwoot's activity
messages and Zammad's history, in the one place the desk reads anyway (the timeline).

A line is a private message (the customer never sees it, as with notes) by the hub (`author.kind` system,
named after who made the change), whose `text` is a plain sentence (for exports and API clients) and whose
`metadata.change` holds what changed (`items`: `{what, from, to}`), from which the desk draws it
(agents_ui/static/changelines.js). Names, never ids, are in the sentence: of the person who made the change
and of the agents given or taken the ticket, as they were called then.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession

from hub.display import agent_names, person
from hub.models import AuthorKind
from hub.outbox import Outbox
from hub.store import Doc, ObjectId, Store
from hub.ticketfields import shown

#: Who a change is told as when no person made it: routing (the hub's own sweeps: `hub.display.SYSTEM_NAME`).
ROUTING = "Routing"
#: Who a change made by the customer's own message is told as: never by name, which an erasure could not reach in
#: a line (it clears the customer's messages' author names, not the hub's), and the desk shows the name just above.
CUSTOMER = "The customer"
#: Why the hub closed a ticket itself (`item(..., why=…)`), said after the change.
WHY = {"abandoned_ended": "the customer ended the chat before anyone answered",
       "abandoned_left": "the customer left the page before anyone answered"}


def item(what: str, before: Any, after: Any, **more: Any) -> Doc:
    """One change of a line: `what` (status, assignee, priority, tags, subject, field) from `before` to `after`."""
    return {"what": what, "from": before, "to": after, **more}


def sentence(by: str, items: Iterable[Doc]) -> str:
    """The line's text: what `by` did, each change in words: two joined by "and" ("took the ticket by answering it
    and solved the ticket"), by semicolons where there are more or a part has commas of its own (a list of tags)."""
    parts = [_part(i) for i in items]
    plain = len(parts) == 2 and not any("," in p or ":" in p for p in parts)
    return by + " " + (" and " if plain else "; ").join(parts) + "."


def _part(i: Doc) -> str:
    why = WHY.get(str(i.get("why")))
    return _change(i) + (f": {why}" if why else "")


def _change(i: Doc) -> str:
    what, before, after = i["what"], i.get("from"), i.get("to")
    if what == "status":
        if i.get("how") == "customer":  # the customer's message woke the ticket up (TicketService.on_customer_message)
            return "replied: the ticket is no longer pending" if before == "pending" \
                else "wrote again and reopened the ticket"
        if after == "pending" and i.get("until") is not None:
            return f"set the ticket to pending until {_utc(i['until'])}"
        return {"solved": "solved the ticket", "closed": "closed the ticket",
                "pending": "set the ticket to pending"}.get(after) or (
            "reopened the ticket" if before in ("solved", "closed")
            else f"set the status to {after}")
    if what == "assignee":
        how = i.get("how")
        if how == "no_answer":
            minutes = max(1, round(float(i.get("after_seconds") or 0) / 60))
            return f"took the ticket from {before}: no answer within {minutes} minute{'s' if minutes != 1 else ''}"
        if how == "returned":
            return "handed the ticket back to its queue"
        if how == "started":  # an agent wrote to the customer first (hub.outbound)
            return "started the ticket by writing to the customer"
        if how == "answered":  # an agent's reply to a ticket nobody held makes it theirs (TicketService.reply)
            return "took the ticket by answering it"
        if how == "took":
            return f"took the ticket from {before}" if before else "took the ticket"
        if after is None:
            return f"took the ticket from {before}: it waits in its queue"
        return f"gave the ticket to {after}" + (f" (it was {before}'s)" if before else "")
    if what == "pending_until":
        return f"set the ticket to open again at {_utc(after)}" if after is not None \
            else "cleared the time the ticket opens again"
    if what == "priority":
        return f"changed the priority from {before} to {after}"
    if what == "tags":
        added = sorted(set(after or []) - set(before or []))
        removed = sorted(set(before or []) - set(after or []))
        said = [f"added the tag{'s' if len(added) > 1 else ''} {', '.join(added)}"] if added else []
        said += [f"removed the tag{'s' if len(removed) > 1 else ''} {', '.join(removed)}"] if removed else []
        return " and ".join(said) or "left the tags as they were"
    if what == "subject":
        return f"renamed the ticket “{after}”"
    if what == "field":  # an admin's ticket field (hub.ticketfields): its label, the values in words
        label = i.get("label") or "a field"
        if after is None:
            return f"cleared {label}"
        if before is None:
            return f"set {label} to {shown(after)}"
        return f"changed {label} from {shown(before)} to {shown(after)}"
    return f"changed the {what}"


def _utc(at: datetime) -> str:
    """A time in the sentence (the desk words it in the agent's own zone from `metadata.change`)."""
    return at.strftime("%Y-%m-%d %H:%M UTC")


class TicketLines:
    """Writes a change's line in the transaction that makes the change."""

    def __init__(self, store: Store, outbox: Outbox) -> None:
        self.store = store
        self.outbox = outbox

    async def write(self, ticket: Doc, by: Doc | str | None, items: list[Doc], session: AsyncClientSession | None,
                    conversation: Doc | None = None) -> Doc | None:
        """Post the line of `items` on the ticket's latest conversation (`conversation`: that one, when the
        caller holds it; else it is read, one `_id` lookup). `by`: the desk user who made the change, or a
        name (None: routing). Nothing when nothing changed or the conversation is gone."""
        items = [i for i in items if i.get("from") != i.get("to")]
        if not items:
            return None
        latest = ticket["conversation_ids"][-1]
        if conversation is None or conversation["_id"] != latest:
            conversation = await self.store.conversations.find_one({"_id": latest}, session=session)
            if conversation is None:
                return None
        name = by if isinstance(by, str) else person(by) if by is not None else ROUTING
        author_id = by["_id"] if isinstance(by, dict) else None
        return await self.outbox.post(conversation, AuthorKind.SYSTEM, sentence(name, items), session=session,
                                      author_id=author_id, author_name=name, private=True, touch_conversation=False,
                                      metadata={"change": {"by": name, "items": items}})

    async def names(self, *agent_ids: ObjectId | None, session: AsyncClientSession | None = None
                    ) -> dict[ObjectId, str]:
        """Desk users' names by id (one read), for a line that names who was given or taken a ticket."""
        return await agent_names(self.store, *agent_ids, session=session)


def assignee_item(by_id: ObjectId | None, before: ObjectId | None, after: ObjectId | None,
                  names: dict[ObjectId, str]) -> Doc:
    """A new assignee, told by name: taken (`how` "took": by the one now holding it), handed back (by the one
    who held it), or given or taken by someone else."""
    how = "took" if after is not None and after == by_id else \
        "returned" if after is None and before is not None and before == by_id else "gave"
    return item("assignee", names.get(before) if before is not None else None,
                names.get(after) if after is not None else None, how=how)


def pending_item(before: str, until: datetime | None) -> Doc:
    """A move to pending, with the time it opens again by itself (the desk words it in the agent's zone)."""
    return item("status", before, "pending", **({"until": until} if until is not None else {}))
