"""The one rule for what agents (and canned responses) call a customer.

A contact is shown by its name, else an email, else a phone number, else "Visitor 4821":
a short number stored on the contact when it is created. Never by an internal id: older
contacts were named after their channel identity (`demo:visitor:Bpoza3o70knmaSI4`,
a Telegram user id), so a stored name equal to one of the contact's identities is ignored
at display time as well.
"""

from __future__ import annotations

import hashlib
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession

from hub.store import Doc, ObjectId, Store

#: Fallback word for `{{customer.first_name}}` when the customer gave no name (`responses.name_fallback`).
DEFAULT_NAME_FALLBACK = "there"
#: The name the hub's own messages and lines go under (a transfer message, the CSAT request, a line of its own).
SYSTEM_NAME = "Switchboard"
#: Fields `display_name` reads: project contacts with these to show them.
DISPLAY_FIELDS = {"name": 1, "emails": 1, "claimed_email": 1, "phones": 1, "identities": 1, "number": 1}


def human_name(contact: Doc | None) -> str | None:
    """The name a person gave (the customer, a channel profile, an agent's edit), if any."""
    if not contact:
        return None
    name = str(contact.get("name") or "").strip()
    if not name or name in _identity_ids(contact):
        return None
    return name


def display_name(contact: Doc | None) -> str:
    """Name, else email, else phone, else "Visitor N"; never an internal id."""
    if contact is None:
        return "Unknown customer"
    name = human_name(contact)
    if name:
        return name
    for email in [*contact.get("emails", []), contact.get("claimed_email")]:
        if email:
            return str(email)
    for phone in contact.get("phones", []):
        if phone:
            return str(phone)
    return f"Visitor {visitor_number(contact)}"


def first_name(contact: Doc | None, fallback: str = DEFAULT_NAME_FALLBACK) -> str:
    """The first word of the customer's own name, else `fallback` ("Hi there"), never an address or id."""
    name = human_name(contact)
    return name.split()[0] if name else fallback


def author_name(stored: str | None, contact: Doc | None) -> str:
    """A customer message's author as the desk shows it: the name it was sent under, unless that is an id."""
    if stored and contact is not None and stored.strip() not in _identity_ids(contact):
        return stored
    return display_name(contact)


def visitor_number(contact: Doc) -> int:
    """The contact's stored number; contacts older than numbering get a stable 4-digit one from their id."""
    number = contact.get("number")
    if isinstance(number, int):
        return number
    digest = hashlib.sha256(str(contact.get("_id")).encode()).digest()
    return 1000 + int.from_bytes(digest[:4], "big") % 9000


def _identity_ids(contact: Doc) -> set[str]:
    identities: list[dict[str, Any]] = contact.get("identities", [])
    return {str(i.get("external_id")) for i in identities if i.get("external_id")}


def person(agent: Doc | None) -> str:
    """How a desk user is named to colleagues (never an id)."""
    if agent is None:
        return "nobody"
    return str(agent.get("name") or agent.get("username") or ("an API client" if agent.get("service") else "someone"))


async def agent_names(store: Store, *agent_ids: ObjectId | None, session: AsyncClientSession | None = None
                      ) -> dict[ObjectId, str]:
    """Desk users' names by id (`person`), in one read: who gave a ticket, who mentioned someone."""
    wanted = sorted({a for a in agent_ids if a is not None})
    if not wanted:
        return {}
    return {a["_id"]: person(a) async for a in store.agents.find(
        {"_id": {"$in": wanted}}, projection={"name": 1, "username": 1, "service": 1}, session=session)}
