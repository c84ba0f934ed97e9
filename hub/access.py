"""Who may see what: the one visibility rule shared by the desk's REST routes, its live feed and its files.

The REST handlers gate on these role sets (`requires(*TICKET_READERS)`) and the desk
WebSocket asks `may_see_change` about every change before sending it, so a role can
never learn live what it could not read over REST. Queues are not a visibility boundary
(any agent may open any ticket, as `GET /api/tickets` shows every queue); a private note is
visible to exactly those who may read its ticket, and never to the customer.
Admins hold every role (`has_role`). Anything not named here is shown to nobody.
"""

from __future__ import annotations

from hub.accounts import has_role
from hub.models import Role
from hub.store import Doc

#: Read tickets, their conversations and messages (private notes included), contacts and files.
TICKET_READERS: tuple[Role, ...] = (Role.AGENT, Role.SUPERVISOR)
#: Work tickets: reply, add notes, change status, upload files, take or hand back a ticket.
TICKET_WORKERS: tuple[Role, ...] = (Role.AGENT,)
#: Assign tickets to other agents, see metrics and the team.
SUPERVISORS: tuple[Role, ...] = (Role.SUPERVISOR,)
#: The bot workbench: intents, training data, the NLU inbox, training progress.
BOT_READERS: tuple[Role, ...] = (Role.TRAINER,)

#: Event types (by prefix) and who may see them on the live feed. Ticket and conversation
#: events carry ids, queue and reason, never message text; training events carry job progress.
EVENT_READERS: dict[str, tuple[Role, ...]] = {
    "ticket.": TICKET_READERS,
    "conversation.": TICKET_READERS,
    "message.": TICKET_READERS,
    "bot.": BOT_READERS,
}


def may_read_tickets(agent: Doc) -> bool:
    """Whether this desk user may read tickets, their messages (notes too), contacts and files."""
    return has_role(agent, *TICKET_READERS)


def may_see_event(agent: Doc, event: Doc) -> bool:
    kind = str(event.get("type", ""))
    for prefix, roles in EVENT_READERS.items():
        if kind.startswith(prefix):
            return has_role(agent, *roles)
    return False


def may_see_change(agent: Doc, collection: str, document: Doc) -> bool:
    """Whether a change to `document` in `collection` may be shown live to this desk user."""
    if collection in ("tickets", "messages", "ticket_activity"):
        return may_read_tickets(agent)
    if collection == "ticket_reads":  # what a user read: their own desks only
        return document.get("agent_id") == agent.get("_id")
    if collection == "events":
        return may_see_event(agent, document)
    return False
