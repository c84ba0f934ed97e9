"""The JSON bodies the desk's API accepts, one model per route (`@accepts(Model)` on the handler).

These models are the single source of both the validation and `/api/openapi.json`. They
check shape and bounds; rules that need the database or the bot (a known queue, a free
shortcut, the password policy) stay in the domain and answer 400 from there.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, Strict

from agents_ui.attachments import MAX_FILES_PER_REPLY
from httpkit.fields import Body, Count, Email, Flag, LongText, Name, Roles, Secret, Text, Token, Username
from hub.apitokens import SCOPES
from hub.mentions import MAX_MENTIONS
from hub.models import Role
from hub.ports import MAX_COPIES
from hub.savedviews import MAX_NAME as MAX_VIEW_NAME
from hub.savedviews import MAX_VIEWS
from hub.signatures import MAX_CHARS as MAX_SIGNATURE_CHARS
from hub.signatures import MAX_LINES as MAX_SIGNATURE_LINES
from hub.ticketfields import MAX_DESCRIPTION as MAX_FIELD_DESCRIPTION
from hub.ticketfields import MAX_FIELDS as MAX_TICKET_FIELDS
from hub.ticketfields import MAX_LABEL as MAX_FIELD_LABEL
from hub.ticketfields import MAX_OPTION as MAX_FIELD_OPTION
from hub.ticketfields import MAX_OPTIONS as MAX_FIELD_OPTIONS
from hub.ticketfields import MAX_TEXT as MAX_FIELD_TEXT
from hub.tickets import MAX_SUBJECT
from hub.webhooks import EVENTS


# -- desk: session, self, tickets, agents ---------------------------------------------------------
class Login(Body):
    username: Annotated[Token, Field(min_length=1)]
    password: Secret


class ChangePassword(Body):
    current: Secret
    new: Secret


class MyStatus(Body):
    status: Token = Field(description="available or away")


NewsKind = Literal["message", "assigned", "colleague", "mention", "reminder", "followed"]


class NewsMail(Body):
    address: Email = Field("", description="where my news goes (empty: nowhere)")
    kinds: Annotated[list[NewsKind], Field(max_length=6)] = Field(
        default_factory=list, description="the news I want by email while away from the desk (hub.newsmail.KINDS)")


class Signature(Body):
    signature: Text = Field(description="under my replies by email (hub.signatures; empty: none; at most "
                                        f"{MAX_SIGNATURE_CHARS} characters in {MAX_SIGNATURE_LINES} lines)")


class SavedViewFields(Body):
    name: Annotated[Token, Field(min_length=1, max_length=MAX_VIEW_NAME)] = Field(description="what the view is called")
    filters: dict[ViewFilter, Annotated[Token, Field(max_length=200)]] = Field(
        default_factory=dict, description="the list's query parameters (as GET /api/tickets takes them)")


class SavedViewList(Body):
    views: Annotated[list[SavedViewFields], Field(max_length=MAX_VIEWS)] = Field(
        description="all my views, in the order shown (replaces them)")


class Follow(Body):
    follow: Flag = Field(True, description="follow the ticket (false: stop following it)")


class Reply(Body):
    text: Text = ""
    private: Flag = False
    conversation_id: Token | None = None
    status: Token | None = Field(None, description="the ticket's status after the reply")
    attachments: Annotated[list[Token], Field(max_length=MAX_FILES_PER_REPLY)] | None = Field(
        None, description="ids from POST /api/tickets/{id}/attachments")
    seen_at: datetime | None = Field(
        None, description="the newest message the agent saw; a colleague's reply after it asks first (409)")
    confirm: Flag = Field(False, description="send even though a colleague replied after `seen_at`")
    mentions: Annotated[list[Token], Field(max_length=MAX_MENTIONS)] | None = Field(
        None, description="with private: the ids of the colleagues the note mentions (GET /api/names: mentionable)")
    cc: Annotated[list[Email], Field(max_length=MAX_COPIES)] | None = Field(
        None, description="email only: whom the reply copies ([]: nobody); absent: the people the customer's latest "
                          "mail copied")


class Activity(Body):
    state: Literal["viewing", "typing", "left"] = Field(description="what this agent does on the ticket now")


#: The conversations one desk may follow at once: the open ticket's (a merged ticket has several).
MAX_WATCHED = 200


class Watch(Body):
    """A frame the desk sends on its feed (`/api/desk/ws`): the ticket it shows and that ticket's conversations,
    whose messages and conversation events it is then sent live, and who else views or types on the ticket; none
    when it shows none. Other chats' messages and conversation events, and other tickets' collision records, are
    not sent to it. Without `conversation_ids` the feed reads the ticket's and answers with them: a page opening a
    ticket by its link, which knows no more than its id, is then followed before it reads the ticket, so a message
    written meanwhile still comes live."""
    type: Literal["watch"]
    conversation_ids: list[Token] | None = Field(None, max_length=MAX_WATCHED)
    ticket_id: Token | None = None


class FeedActivity(Body):
    """A frame the desk sends on its feed: this agent types on (every 3 s while typing) or still views (every 20 s)
    the ticket it watches. Recorded as `POST /api/tickets/{id}/activity` records it, without a request, its sign-in
    check and the ticket's read each time; the record comes back on the feed live, nothing else answers it."""
    type: Literal["activity"]
    state: Literal["viewing", "typing"]


#: The frames a desk's feed takes, by their `type`.
FEED_FRAMES: dict[str, type[Body]] = {"watch": Watch, "activity": FeedActivity}


class TicketStatus(Body):
    status: Token
    pending_until: datetime | None = Field(
        None, description="with status pending: when the ticket is to be open again by itself (ISO 8601 with a "
                          "time zone, at most a year ahead); null clears it; absent leaves a pending ticket's as it is")


#: A ticket's tag as agents type it (the list filters by it).
Tag = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[\w][\w .:-]*$")]
Priority = Literal["low", "normal", "high", "urgent"]
FieldKind = Literal["text", "number", "date", "list", "checkbox", "link"]
ViewFilter = Literal["q", "assignee", "following", "status", "channel", "priority", "sla", "tag", "sort", "queue",
                     "field"]


#: A ticket field's value as sent: what each kind takes is checked by hub.ticketfields (a number for a number field).
FieldValue = Annotated[str, Strict(), Field(max_length=MAX_FIELD_TEXT)] | Annotated[float, Strict()] \
    | Annotated[int, Strict()] | Flag | None


class TicketChange(Body):
    tags: list[Tag] | None = Field(None, max_length=20, description="the ticket's tags (replaces them)")
    priority: Priority | None = None
    subject: Annotated[str, Field(min_length=1, max_length=MAX_SUBJECT)] | None = Field(
        None, description="the ticket's title as agents read it in the list")
    fields: dict[Annotated[Token, Field(max_length=40)], FieldValue] | None = Field(
        None, max_length=MAX_TICKET_FIELDS,
        description="admins' ticket fields, key -> value (null clears; GET /api/ticket-fields lists them)")


class NewTicket(Body):
    """An agent writes to a customer first (hub.outbound): a new ticket, held by them, with this message."""

    channel: Token = Field(description="a channel an agent can write first on (GET /api/new-ticket lists them)")
    to: Email = Field(description="the customer's address on that channel (email: a mailbox address; SMS: a phone "
                                  "number with its country code, +4915112345678)")
    name: Name | None = Field(None, description="the customer's name, for a customer the hub does not know yet")
    subject: Annotated[str, Strict(), Field(min_length=1, max_length=MAX_SUBJECT)] = Field(
        description="the ticket's subject, and the mail's (a text has none)")
    text: Annotated[Text, Field(min_length=1)] = Field(description="the message, signed like a reply by email")
    queue: Token | None = Field(None, description="the ticket's queue (default: the hub's default queue)")
    status: Literal["open", "pending", "solved"] = Field(
        "open", description="the ticket once the message is sent: open, pending (waiting for the customer), solved")
    cc: Annotated[list[Email], Field(max_length=MAX_COPIES)] | None = Field(
        None, description="email only: whom the message copies")


class TicketFieldDef(Body):
    """An admin's ticket field (hub.ticketfields); the key is in the path and does not change."""

    label: Annotated[Token, Field(min_length=1, max_length=MAX_FIELD_LABEL)] = Field(
        description="what agents read beside the value")
    kind: FieldKind = Field(description="what the value is; it cannot change once the field exists")
    options: Annotated[list[Annotated[Token, Field(min_length=1, max_length=MAX_FIELD_OPTION)]],
                       Field(max_length=MAX_FIELD_OPTIONS)] = Field(
        default_factory=list, description="a list field's choices, in order (only a list field has them)")
    description: Annotated[Token, Field(max_length=MAX_FIELD_DESCRIPTION)] = Field(
        "", description="a hint for agents, shown under the field")
    required: Flag = Field(False, description="required to solve: a ticket is not solved or closed while it is empty "
                                              "(not for a checkbox)")
    queues: Annotated[list[Token], Field(max_length=100)] = Field(
        default_factory=list, description="the queues whose tickets have the field (empty: every queue)")


class Bulk(Body):
    ticket_ids: Annotated[list[Token], Field(min_length=1, max_length=100)] = Field(
        description="the tickets to change (at most 100, a page of the list)")
    status: Token | None = Field(None, description="the status every ticket moves to (open, pending, solved, closed)")
    agent_id: Token | None = Field(None, description='"me", an agent\'s id (supervisors) or null for nobody')
    priority: Priority | None = Field(None, description="the priority every ticket gets")
    add_tags: list[Tag] | None = Field(None, min_length=1, max_length=20,
                                       description="tags added to each ticket's own (those it has stay)")
    remove_tags: list[Tag] | None = Field(None, min_length=1, max_length=20,
                                          description="tags taken off each ticket that has them (the others stay)")
    fields: dict[Annotated[Token, Field(max_length=40)], FieldValue] | None = Field(
        None, min_length=1, max_length=MAX_TICKET_FIELDS,
        description="ticket fields' values set on each ticket (GET /api/ticket-fields; null clears one)")
    queue: Token | None = Field(None, description="the queue every ticket moves to, unassigned, to wait there "
                                                  "(a transfer each: agents move their own or nobody's tickets)")


class ReadAll(Body):
    ticket_ids: Annotated[list[Token], Field(min_length=1, max_length=200)] = Field(
        description="the tickets the user has read now: those the News list showed them (at most 200)")


class Assign(Body):
    agent_id: Token | None = Field("me", description='"me", an agent\'s id (supervisors) or null for nobody')


class Transfer(Body):
    """Where a ticket goes; without `agent_id` it waits unassigned in the queue (routing may assign it)."""

    queue: Token | None = Field(None, description="the target queue's name (default: the ticket's queue)")
    agent_id: Token | None = Field(None, description="the agent to hand it to (online, with free capacity)")
    note: Text = Field("", description="a private note for colleagues; the customer never sees it")


#: The queues a user serves (names from GET /api/queues; empty: every queue).
QueueNames = Annotated[list[Annotated[Token, Field(min_length=1, max_length=100)]], Field(max_length=100)]


class NewAgent(Body):
    username: Username
    password: Secret | None = Field(None, description="omit it: the answer carries a one-time setup link instead")
    name: Name | None = None
    roles: Roles = [Role.AGENT]
    capacity: Count = Field(5, description="tickets routed to this agent at once")
    queues: QueueNames = Field([], description="the queues routing gives this user tickets of (empty: all)")


class AgentChange(Body):
    """Only the fields sent change (an admin's role change is recorded in the audit trail)."""

    name: Annotated[Name, Field(min_length=1)] | None = None
    roles: Roles | None = None
    capacity: Count | None = None
    queues: QueueNames | None = None
    disabled: Flag | None = Field(None, description="true: sessions end at once, active tickets go back to the queue")


class PasswordLink(Body):
    token: Annotated[Token, Field(min_length=1)]


class PasswordFromLink(Body):
    token: Annotated[Token, Field(min_length=1)]
    password: Secret


# -- integration: API tokens and outgoing webhooks -----------------------------------------------------
#: The domain's own tuples, so a new scope or event is accepted (and documented) without a second list.
Scope = Literal[SCOPES]  # type: ignore[valid-type]
WebhookEvent = Literal[EVENTS]  # type: ignore[valid-type]


class NewToken(Body):
    name: Annotated[Name, Field(min_length=1, max_length=100)]
    scopes: Annotated[list[Scope], Field(min_length=1, max_length=4)]
    expires_in_days: Annotated[Count, Field(ge=1, le=3650)] | None = None
    service: Flag = Field(False, description="a service token (admins): belongs to no user")


class NewWebhook(Body):
    url: Annotated[Token, Field(min_length=1, max_length=2000, pattern=r"^https?://[\x21-\x7e]+$")]
    events: Annotated[list[WebhookEvent], Field(min_length=1, max_length=4)]
    description: Annotated[Text, Field(max_length=200)] = ""


# -- data protection --------------------------------------------------------------------------------
class Erase(Body):
    confirm: Flag = Field(False, description="must be true: erasure cannot be undone")


# -- canned responses -------------------------------------------------------------------------------
class ResponseFields(Body):
    shortcut: Token
    title: Token
    text: Text


# -- business hours (SLA calendars) ---------------------------------------------------------------
class HolidayFields(Body):
    date: Annotated[Token, Field(description="YYYY-MM-DD")]
    yearly: Flag = Field(False, description="the same day every year")
    name: Annotated[Text, Field(max_length=80)] = ""


class CalendarFields(Body):
    timezone: Annotated[Token, Field(description="an IANA time zone, like Europe/Berlin")] = "UTC"
    hours: dict[Annotated[Token, Field(max_length=10)], Annotated[list[Annotated[Token, Field(max_length=20)]],
                                                                  Field(max_length=12)]] = Field(
        default_factory=dict, description='weekday (mon..sun) -> intervals like "09:00-12:00"')
    holidays: Annotated[list[HolidayFields], Field(max_length=400)] = Field(default_factory=list)
    queues: Annotated[list[Token], Field(max_length=100)] = Field(default_factory=list)


# -- bot trainer ------------------------------------------------------------------------------------
class Button(Body):
    title: Token
    payload: Token | None = None


class AnswerVariant(Body):
    """One answer variant; keys the trainer does not interpret (image, custom) are kept as they are."""

    model_config = ConfigDict(extra="allow")

    text: Text
    channel: Token | None = None
    buttons: Annotated[list[Button], Field(max_length=20)] | None = None


class IntentChange(Body):
    examples: Annotated[list[Text], Field(max_length=10_000)] | None = None
    answers: Annotated[list[AnswerVariant], Field(max_length=100)] | None = None
    queue: Token | None = Field(None, description='escalation queue ("" removes the mapping)')
    label: Token | None = None


class NewIntent(IntentChange):
    name: Token


class TrainingJob(Body):
    version: Count | None = Field(None, description="training-data version (default: the newest)")


class TryText(Body):
    text: Text
    channel: Token | None = None


class InboxLabel(Body):
    intent: Token | None = None
    out_of_scope: Flag = False


class RasaImport(Body):
    nlu: LongText | None = None
    domain: LongText | None = None
    policy: LongText | None = None
    message: Token | None = None
