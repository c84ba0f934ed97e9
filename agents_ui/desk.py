"""The agent desk's REST API and WebSocket: queues, tickets, replies, contacts, live updates."""

from __future__ import annotations

import asyncio
import functools
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import WSCloseCode, WSMsgType, web

from agents_ui import schemas
from agents_ui.activity import activity_view
from agents_ui.appkeys import HUB
from agents_ui.assigning import assignment, audit_assignment
from agents_ui.attachments import files_for_reply
from agents_ui.auth import agent_of, error, requires, same_origin, session_of, set_session_cookie
from agents_ui.users import agent_public
from httpkit.bodies import accepts, body_of, fields_of, parse_object, validate
from httpkit.errors import retry_later
from httpkit.sockets import stop_writer
from hub.access import SUPERVISORS, TICKET_READERS, TICKET_WORKERS, may_read_tickets, may_see_change
from hub.accounts import (
    SESSIONS_ENDED,
    AccountError,
    AccountService,
    HashingBusy,
    SecondFactorRequired,
    SessionInfo,
    Throttled,
    has_role,
)
from hub.contactbook import identity_view, visible_identities
from hub.display import author_name, display_name
from hub.hub import Hub
from hub.mentions import MentionError
from hub.mentions import resolve as resolve_mentions
from hub.models import AGENTS_CHANGED, Role, TicketStatus, utcnow
from hub.realtime import Change, Subscription
from hub.savedviews import MAX_VIEWS
from hub.store import Doc, ObjectId, PyMongoError, oid
from hub.ticketindex import MAX_PAGE, PRIORITIES, SLA_STATES, SORTS, TicketQuery, counted_live, sla_due, sla_state
from hub.tickets import ACTIVE, KEEP, NotFound, NotYours, TicketError
from hub.views import jsonable, message_for_desk, ticket_view

STATIC = resources.files("agents_ui") / "static"
#: The list's `field` filter: a ticket field's key, "=", and a value as the list keeps it (hub.ticketindex).
FIELD_FILTER = re.compile(r"[a-z][a-z0-9_]{0,39}=.{1,80}", re.S)


def _hub(request: web.Request) -> Hub:
    hub: Hub = request.app[HUB]
    return hub


def _id(request: web.Request, name: str = "id") -> ObjectId:
    try:
        return oid(request.match_info[name])
    except ValueError as exc:
        raise error(404, str(exc)) from exc


STATIC_TYPES = {".html": "text/html", ".js": "application/javascript", ".css": "text/css"}


@functools.cache
def _static_text(name: str) -> str | None:
    """A file of the desk's static folder, read once per process (they ship with the package)."""
    file = STATIC / name
    return file.read_text(encoding="utf-8") if file.is_file() else None


async def page(request: web.Request) -> web.Response:
    return web.Response(text=_static_text("desk.html"), content_type="text/html")


async def static_file(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    suffix = name[name.rfind("."):]
    text = _static_text(name) if "/" not in name and suffix in (".js", ".css") else None
    if text is None:
        raise web.HTTPNotFound()
    return web.Response(text=text, content_type=STATIC_TYPES[suffix])


@accepts(schemas.Login)
async def login(request: web.Request) -> web.Response:
    """Log in with username and password; sets the session cookie and returns the CSRF token."""
    if not same_origin(request) or request.content_type != "application/json":
        raise error(403, "login must be a JSON request from this origin")
    body = fields_of(request)
    hub = _hub(request)
    username = str(body.get("username", ""))
    attempted = {"username": username.strip().lower()[:200]}
    try:
        info = await hub.accounts.login(username, str(body.get("password", "")), ip=request.remote or "")
    except Throttled as exc:
        await hub.audit.record("login.refused", ip=request.remote, details={**attempted, "reason": str(exc)})
        raise retry_later(429, str(exc), exc.retry_after) from exc
    except HashingBusy as exc:
        raise retry_later(503, str(exc), exc.retry_after) from exc
    except SecondFactorRequired as needed:  # no session yet: the code step (agents_ui.totp) opens it
        challenge = await hub.totp.challenge(needed.agent)
        return web.json_response({"second_factor": "totp", "pending": challenge.token,
                                  "expires_in": challenge.expires_in})
    if info is None:
        await hub.audit.record("login.failed", ip=request.remote, details=attempted)
        raise error(401, "wrong username or password")
    await hub.audit.record("login", actor=info.agent, ip=request.remote, details=attempted)
    return await session_response(request, info)


async def session_response(request: web.Request, info: SessionInfo) -> web.Response:
    """The logged-in user, the CSRF token, whether they must enrol in two-factor sign-in; the cookie set."""
    response = web.json_response({"agent": agent_public(info.agent), "csrf": info.csrf,
                                  "enrolment_required": await _hub(request).totp.enrolment_required(info.agent)})
    set_session_cookie(request, response, info.token)
    return response


@requires(enrolling=True)
async def logout(request: web.Request) -> web.Response:
    """End the current session."""
    await _hub(request).accounts.logout(session_of(request).token)
    response = web.json_response({"ok": True})
    response.del_cookie("sb_session", path="/")
    return response


@requires(enrolling=True)
async def me(request: web.Request) -> web.Response:
    """The logged-in user, the CSRF token to send with unsafe requests and whether they must enrol in
    two-factor sign-in before anything else (`enrolment_required`)."""
    info = session_of(request)
    return web.json_response({"agent": agent_public(info.agent), "csrf": info.csrf,
                              "enrolment_required": await _hub(request).totp.enrolment_required(info.agent)})


@requires()
@accepts(schemas.ChangePassword)
async def change_password(request: web.Request) -> web.Response:
    """Change your own password (`current`, `new`); your other sessions are logged out."""
    body = fields_of(request)
    info = session_of(request)
    try:
        await _hub(request).accounts.change_password(info.agent["_id"], str(body.get("current", "")),
                                                     str(body.get("new", "")), info.token)
    except AccountError as exc:
        raise error(400, str(exc)) from exc
    return web.json_response({"ok": True})


@requires()
@accepts(schemas.MyStatus)
async def set_my_status(request: web.Request) -> web.Response:
    """Available or away (`status`): away keeps you at the desk but routes you no new tickets."""
    body = fields_of(request)
    hub = _hub(request)
    agent = agent_of(request)
    try:
        presence = await hub.presence.choose(agent["_id"], str(body.get("status", "")))
    except ValueError as exc:
        raise error(400, str(exc)) from exc
    if presence == "online":
        await hub.router.route_all()
    return web.json_response({"presence": presence, "away": presence == "away"})


@requires(*TICKET_READERS, scope="tickets:read")
async def queues(request: web.Request) -> web.Response:
    """Queues with the number of tickets waiting for a first answer and active in each (`hub.desktally`)."""
    hub = _hub(request)
    me_ = agent_of(request)  # an agent who serves some queues only sees those in the desk's queue pane
    served = me_.get("queues") if not has_role(me_, *SUPERVISORS) else None
    tally = await hub.tickets.tally.current()
    return web.json_response({"queues": [
        {"name": name, "title": q.title or None, "waiting": tally.new_by_queue[name],
         "active": tally.active_by_queue[name]}
        for name, q in sorted(hub.tickets.queues.items()) if not served or name in served]})


def ticket_query(request: web.Request, args: Mapping[str, str] | None = None) -> TicketQuery:
    """The list's query string: `q`, `status` (comma list), `queue`, `assignee` (me, none or an id; `mine=1`
    is `assignee=me`), `following=1` (the tickets I follow, whoever holds them), `field` (a ticket field's value,
    `product=Kettle`), `channel`, `tag`, `priority`,
    `sla` (breached, due_soon, ok), `sort` (newest, oldest_waiting, sla_due), `size` (1-100) and `after` (the
    `next` cursor of the previous page). `args`: these instead of the request's (a saved view's filters, checked
    when saved: agents_ui.savedviews)."""
    args = request.query if args is None else args
    statuses = [s for s in args.get("status", "").split(",") if s]
    for s in statuses:
        if s not in TicketStatus.__members__.values():
            raise error(400, f"unknown status {s!r}")
    assignee = args.get("assignee") or ("me" if args.get("mine") == "1" else None)
    if assignee == "me":
        assignee = str(agent_of(request)["_id"])
    elif assignee not in (None, "none") and not ObjectId.is_valid(assignee):
        raise error(400, "assignee: me, none or an agent's id")
    field_value = args.get("field") or None
    if field_value is not None and not FIELD_FILTER.fullmatch(field_value):
        raise error(400, "field: a ticket field's key and value, like product=Kettle")
    if args.get("following") not in (None, "", "0", "1"):
        raise error(400, "following: 1 (the tickets I follow) or 0")
    follower = agent_of(request)["_id"] if args.get("following") == "1" else None
    choices = {"sort": SORTS, "sla": SLA_STATES, "priority": PRIORITIES}
    for name, allowed in choices.items():
        if args.get(name) and args[name] not in allowed:
            raise error(400, f"{name} must be one of {', '.join(allowed)}")
    sort = args.get("sort") or "newest"
    if (sort != "newest" or args.get("sla")) and any(s not in ACTIVE for s in statuses):
        raise error(400, "SLA states and the oldest-waiting and SLA orders list active tickets only")
    try:
        size = int(args.get("size", "25"))
        after = int(args["after"]) if args.get("after") else None
    except ValueError as exc:
        raise error(400, "size and after must be whole numbers") from exc
    if not 1 <= size <= MAX_PAGE:
        raise error(400, f"size must be 1 to {MAX_PAGE}")
    return TicketQuery(text=args.get("q", "")[:200], statuses=statuses, queue=args.get("queue") or None,
                       assignee=assignee, channel=args.get("channel") or None, tag=(args.get("tag") or "").lower()
                       or None, priority=args.get("priority") or None, sla=args.get("sla") or None, sort=sort,
                       size=size, after=after, follower=follower, field=field_value)


@requires(*TICKET_READERS, scope="tickets:read")
async def list_tickets(request: web.Request) -> web.Response:
    """A page of tickets (default: active, newest first) matching a search and filters; `next` is the cursor
    for the following page (null on the last). See `ticket_query` for the parameters."""
    hub = _hub(request)
    page = await hub.tickets.index.listing(ticket_query(request))  # shared with desks asking the same at once
    now = utcnow()
    views = []
    for t in page.tickets:
        view = ticket_view(t)
        view["contact_name"] = display_name(page.contacts.get(t["contact_id"]))
        view["sla_state"] = sla_state(t, now)
        due = sla_due(t)
        view["sla_due"] = due.isoformat() if due else None
        views.append(view)
    return web.json_response({"tickets": views, "next": str(page.next_cursor) if page.next_cursor else None})


@requires(*TICKET_READERS, scope="tickets:read")
async def ticket_counts(request: web.Request) -> web.Response:
    """Active tickets per desk view: all, mine, unassigned and each queue (`hub.desktally`); with `view` (repeated,
    each a saved view's filters as a query string, `status=new&channel=email`), `views`: each one's count, in order,
    or null for a view of words, of solved tickets or of an SLA state, which the live counts do not read
    (`hub.ticketindex.counted_live`)."""
    hub = _hub(request)
    wanted = request.query.getall("view", [])
    if len(wanted) > MAX_VIEWS:
        raise error(400, f"view: at most {MAX_VIEWS}")
    queries = [ticket_query(request, dict(parse_qsl(v))) for v in wanted]  # each checked as the list checks it
    tally = await hub.tickets.tally.current()
    answer = tally.views(agent_of(request)["_id"], sorted(hub.tickets.queues))
    if queries:
        answer["views"] = [tally.listed.count(q) if counted_live(q) else None for q in queries]
    return web.json_response(answer)


@requires(Role.AGENT, scope="tickets:write")
@accepts(schemas.TicketChange)
async def edit_ticket(request: web.Request) -> web.Response:
    """Change a ticket's `tags` (the whole list), `priority` (low, normal, high, urgent), `subject` and/or the
    values of admins' ticket `fields` (key -> value; null clears)."""
    body = body_of(request, schemas.TicketChange)
    try:
        ticket = await _hub(request).tickets.edit(_id(request), agent_of(request), tags=body.tags,
                                                  priority=body.priority, subject=body.subject, fields=body.fields)
    except NotFound as exc:
        raise error(404, str(exc)) from exc
    except TicketError as exc:
        raise error(422, str(exc)) from exc
    return web.json_response({"ticket": ticket_view(ticket)})


@requires(*TICKET_READERS, scope="tickets:read")
async def get_ticket(request: web.Request) -> web.Response:
    """One ticket with its contact, conversations and full message history."""
    hub = _hub(request)
    try:
        ticket, contact, conversations = await hub.tickets.with_parts(_id(request))
    except NotFound as exc:
        raise error(404, str(exc)) from exc
    if contact is not None and contact.get("merged_into") is not None:  # shown as the contact it was merged into
        contact = await hub.contacts.get(contact["_id"])
    messages = await hub.conversations.history(ticket["conversation_ids"])
    # the contact index's own fields (secantusd-py walks a hinted index whole and plans others as a scan)
    previous = [t for t in await hub.store.tickets.find(
        {"contact_id": ticket["contact_id"]}, projection={"number": 1, "subject": 1, "status": 1, "created_at": 1},
        sort=[("contact_id", 1), ("created_at", -1)], limit=21,
    ).to_list() if t["_id"] != ticket["_id"]][:20]
    views = [message_for_desk(m) for m in messages]
    for view in views:
        if view.get("author", {}).get("kind") == "customer":
            view["author"]["name"] = author_name(view["author"].get("name"), contact)
    return web.json_response({
        "ticket": ticket_view(ticket),
        # its identities as agents read them ("Web chat · visitor on demo"), never by the channel's internal id
        "contact": {**jsonable(contact), "display_name": display_name(contact),
                    "channels": [identity_view(i, contact) for i in visible_identities(contact)] if contact else []},
        "conversations": [jsonable({k: v for k, v in c.items() if k != "bot"}) for c in conversations],
        "messages": views,
        "other_tickets": jsonable(previous),
    })


async def _mentions(hub: Hub, ids: list[str] | None) -> list[Doc]:
    """The colleagues a note mentions (hub.mentions), or 400 with the reason."""
    if not ids:
        return []
    try:
        return await resolve_mentions(hub.store, [oid(str(i)) for i in ids])
    except (ValueError, MentionError) as exc:
        raise error(400, f"mentions: {exc}") from exc


async def _no_reply_meanwhile(hub: Hub, ticket_id: ObjectId, body: dict[str, Any], agent: Doc) -> None:
    """409 when a colleague answered the customer after the newest message this agent saw (`seen_at`)."""
    seen_at = body.get("seen_at")
    if seen_at is None or body.get("private") or body.get("confirm"):
        return
    try:
        ticket = await hub.tickets.get(ticket_id)
    except NotFound as exc:
        raise error(404, str(exc)) from exc
    other = await hub.activity.colleague_reply_since(ticket, seen_at, agent["_id"])
    if other is not None:
        who = (other.get("author") or {}).get("name") or "A colleague"
        raise error(409, f"{who} replied to the customer while you were writing; send yours anyway?")


@requires(Role.AGENT, scope="tickets:write")
@accepts(schemas.Reply)
async def reply(request: web.Request) -> web.Response:
    """Answer the customer (or add a private note with `private: true`); optional `status` after.

    `attachments`: ids from `POST /api/tickets/{id}/attachments`, sent with the reply.
    """
    hub = _hub(request)
    body = fields_of(request)
    text = body.get("text", "")
    ticket_id = _id(request)
    files = await files_for_reply(request, ticket_id, body.get("attachments"))
    if not isinstance(text, str) or not (text.strip() or files):
        raise error(400, "text (or at least one uploaded file) is required")
    conversation_id = None
    if body.get("conversation_id"):
        try:
            conversation_id = oid(str(body["conversation_id"]))
        except ValueError as exc:
            raise error(400, str(exc)) from exc
    mentions = await _mentions(hub, body.get("mentions"))
    await _no_reply_meanwhile(hub, ticket_id, body, agent_of(request))
    try:
        message = await hub.tickets.reply(ticket_id, agent_of(request), text, private=bool(body.get("private")),
                                          conversation_id=conversation_id, then_status=body.get("status"),
                                          attachments=files, mentions=mentions, cc=body.get("cc"))
    except NotFound as exc:
        raise error(404, str(exc)) from exc
    except TicketError as exc:
        raise error(400, str(exc)) from exc
    return web.json_response({"message": message_for_desk(message)}, status=201)


@requires(Role.AGENT, scope="tickets:write")
@accepts(schemas.TicketStatus)
async def set_status(request: web.Request) -> web.Response:
    """Move a ticket to another status (open, pending, solved, closed); `pending_until` with pending: when it is to be
    open again (hub.sla's watcher opens it then; null clears the time of a pending ticket)."""
    body = fields_of(request)
    try:
        ticket = await _hub(request).tickets.set_status(_id(request), str(body.get("status")), agent_of(request),
                                                        body.get("pending_until", KEEP))
    except NotFound as exc:
        raise error(404, str(exc)) from exc
    except TicketError as exc:
        raise error(400, str(exc)) from exc
    return web.json_response({"ticket": ticket_view(ticket)})


@requires(*TICKET_WORKERS, *SUPERVISORS, scope="tickets:write")
@accepts(schemas.Assign)
async def assign(request: web.Request) -> web.Response:
    """Assign to `me` (agents take a ticket), another agent's id (supervisors), or nobody (`null`).

    An agent may hand back (`null`) only a ticket assigned to them; supervisors reassign and
    unassign any ticket, and need not be agents themselves. The assignee must hold the agent role.
    """
    hub = _hub(request)
    me_ = agent_of(request)
    chosen = await assignment(hub, me_, fields_of(request).get("agent_id", "me"))
    try:
        ticket = await hub.tickets.assign(_id(request), chosen.assignee, me_, if_assigned_to=chosen.only_mine)
    except NotYours as exc:
        raise error(403, str(exc)) from exc
    except NotFound as exc:
        raise error(404, str(exc)) from exc
    await audit_assignment(hub, me_, chosen, ticket, request.remote)
    return web.json_response({"ticket": ticket_view(ticket)})


#: An idle desk socket re-checks its session this often, so a logged-out or disabled user's socket closes.
SESSION_RECHECK_SECONDS = 30.0


def desk_frame(change: Change) -> dict[str, Any] | None:
    """The frame the desk receives for a change of the store (None: the desk does not show it)."""
    if change.collection == "messages":
        return {"type": "message", "op": change.operation, "message": message_for_desk(change.document)}
    if change.collection == "tickets":
        return {"type": "ticket", "op": change.operation, "ticket": ticket_view(change.document)}
    if change.collection == "events":
        return {"type": "event", "event": jsonable(change.document)}
    if change.collection == "ticket_activity":
        return {"type": "activity", "activity": activity_view(change.document)}
    if change.collection == "ticket_reads":  # the user read a ticket on one of their desks (hub.ticketreads)
        return {"type": "read", "ticket_id": str(change.document["ticket_id"]),
                "at": change.document["at"].isoformat()}
    return None


#: Events about one conversation (they name it): sent only to the desks showing it, like its messages.
CONVERSATION_EVENTS = ("conversation.", "message.")


#: A desk's feed records at most one activity frame of each state this often (the page sends typing every 3 s).
ACTIVITY_EVERY_SECONDS = 1.0


@dataclass
class FeedState:
    """What one desk's feed is told by its page: the ticket it shows and its conversations (`schemas.Watch`), and
    the agent's typing on it (`schemas.FeedActivity`)."""

    agent: Doc
    watching: frozenset[str] = frozenset()
    ticket: str | None = None
    #: The watched ticket as read for its first activity frame (its conversations give the typing hint's threads).
    ticket_doc: Doc | None = None
    #: When each state was last recorded (loop time).
    noted: dict[str, float] = field(default_factory=dict)

    def wants(self, change: Change) -> bool:
        """Tickets and ticket events go to every desk (its lists, counts and alerts); a message, or an event about
        a conversation, only to the desks showing that conversation's ticket, and who views or types on a ticket
        only to the desks showing it: desk.js uses nothing else (a desk was sent every bot chat's every message
        and `conversation.opened` until 2026-12-06)."""
        doc = change.document
        if change.collection == "messages":
            return str(doc.get("conversation_id")) in self.watching
        if change.collection == "ticket_activity":
            return self.ticket is not None and str(doc.get("ticket_id")) == self.ticket
        if change.collection == "ticket_reads":
            return doc.get("agent_id") == self.agent.get("_id")
        if change.collection == "events" and str(doc.get("type", "")).startswith(CONVERSATION_EVENTS) \
                and "conversation_id" in doc:
            return str(doc["conversation_id"]) in self.watching
        return True

    def read(self, data: str) -> dict[str, Any] | schemas.Watch | schemas.FeedActivity:
        """Take a frame from the page: a `watch` or an `activity`, to be followed (`watch`) or recorded (`record`);
        a frame that is neither is answered with an error saying why."""
        try:
            frame = parse_object(data)
            model = schemas.FEED_FRAMES.get(str(frame.get("type")))
            if model is None:
                raise error(422, f"type: must be one of {', '.join(schemas.FEED_FRAMES)}")
            got = validate(model, frame)
        except web.HTTPException as exc:
            return {"type": "error", "error": json.loads(exc.text or "{}").get("error", "invalid frame")}
        assert isinstance(got, schemas.Watch | schemas.FeedActivity)
        return got

    async def watch(self, hub: Hub, got: schemas.Watch) -> dict[str, Any]:
        """Follow what the page asked for, answered `watching` once the feed does (what arrives after it is
        filtered the new way): the page reads the ticket after that answer, so a message written in between
        comes live. A watch that names the ticket alone is followed on the ticket's conversations, read here
        (the read is kept for the agent's first typing); one the feed cannot follow is answered with an error
        naming the ticket, and the feed follows none."""
        ids, doc = got.conversation_ids, self.ticket_doc
        if ids is None and got.ticket_id is not None:  # read each time: a split or a merge changes them
            self.watching, self.ticket, self.ticket_doc = frozenset(), None, None
            if not may_read_tickets(self.agent):
                return {"type": "error", "error": "your role does not work on tickets", "ticket_id": got.ticket_id}
            try:
                doc = self.ticket_doc = await hub.tickets.get(oid(got.ticket_id))
            except (NotFound, ValueError):
                return {"type": "error", "error": f"no ticket {got.ticket_id}", "ticket_id": got.ticket_id}
            except PyMongoError:
                return {"type": "error", "error": "the database is unavailable; try again shortly",
                        "ticket_id": got.ticket_id}
            ids = [str(c) for c in doc.get("conversation_ids") or []]
        self.watching, self.ticket = frozenset(ids or []), got.ticket_id
        # the kept ticket is read again for another ticket, or one whose conversations changed (a merge)
        if doc is not None and (str(doc["_id"]) != self.ticket
                                or {str(c) for c in doc.get("conversation_ids") or []} != self.watching):
            self.ticket_doc = None
        return {"type": "watching", "ticket_id": self.ticket, "conversation_ids": sorted(self.watching)}

    async def record(self, hub: Hub, activity: schemas.FeedActivity) -> dict[str, Any] | None:
        """Record the agent's typing or viewing on the watched ticket (None: done, or skipped as too soon after the
        last of its kind); an error frame when it cannot be."""
        if not may_read_tickets(self.agent):
            return {"type": "error", "error": "your role does not work on tickets"}
        if self.ticket is None:
            return {"type": "error", "error": "watch a ticket first"}
        now = asyncio.get_running_loop().time()
        if now - self.noted.get(activity.state, -math.inf) < ACTIVITY_EVERY_SECONDS:
            return None
        try:
            if self.ticket_doc is None:
                self.ticket_doc = await hub.tickets.get(oid(self.ticket))
            await hub.activity.note(self.ticket_doc, self.agent, activity.state)
        except (NotFound, ValueError):
            return {"type": "error", "error": f"no ticket {self.ticket}"}
        except PyMongoError:  # a hint, not worth the socket: the next keystroke tells it again
            return {"type": "error", "error": "the database is unavailable; try again shortly"}
        self.noted[activity.state] = now
        return None


async def _pump_visible(ws: web.WebSocketResponse, sub: Subscription, accounts: AccountService,
                        info: SessionInfo, feed: FeedState) -> None:
    """Send each change this user may see (`hub.access`) and this desk shows (`FeedState.wants`), closing the
    socket once their session has ended.

    The session is re-read (one command) when a change of its own comes through the stream before anything after
    it is sent: `SESSIONS_ENDED` (a logout, a disabled account, a password changed or reset, a removed user) or
    `AGENTS_CHANGED` about this user (roles, queues); when it has expired; and at least every
    SESSION_RECHECK_SECONDS. So a change written after a logout, a disabled account or a removed role through the
    hub never reaches the socket (it is closed instead), and a granted role shows. Until 2026-12-06 it was re-read
    before every batch: with the desk open, a session read for every few messages anywhere on the desk, per agent.
    An edit made in the database by hand, past the hub, is seen at the periodic re-check.
    """
    loop = asyncio.get_running_loop()
    agent, expires_at, checked_at = info.agent, info.expires_at, loop.time()
    while not ws.closed:
        try:
            batch = [await asyncio.wait_for(sub.get(), SESSION_RECHECK_SECONDS)]
        except TimeoutError:
            batch = []
        while not sub.queue.empty():
            batch.append(sub.queue.get_nowait())
        own = any(c.collection == "events" and c.document.get("type") in (SESSIONS_ENDED, AGENTS_CHANGED)
                  and c.document.get("agent_id") == agent["_id"] for c in batch)
        due = loop.time() - checked_at >= SESSION_RECHECK_SECONDS or (expires_at is not None
                                                                      and expires_at <= utcnow())
        if own or due:
            live, checked_at = await accounts.session(info.token), loop.time()
            if live is None:
                await ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"session ended")
                return
            agent, expires_at = live.agent, live.expires_at
            feed.agent = agent  # what the page's activity frames are recorded as (a removed role stops them)
        for change in batch:
            text = change.shared("desk", _desk_text) if feed.wants(change) and may_see_change(
                agent, change.collection, change.document) else None
            if text is not None:
                await ws.send_str(text)


def _desk_text(change: Change) -> str | None:
    """The desk's frame of a change, encoded: the same for every desk allowed to see it, so made once per change
    (`Change.shared`), not once per open desk."""
    frame = desk_frame(change)
    return None if frame is None else json.dumps(frame)


@requires()
async def websocket(request: web.Request) -> web.WebSocketResponse:
    """Live desk feed: the ticket changes and ticket events your role may read over REST (`hub.access`), and of the
    ticket the page watches (a `watch` frame, `schemas.Watch`: the open ticket) its conversations' messages and
    events and who else views or types on it. The page tells it too when its agent types on or still views that
    ticket (`activity` frames, `schemas.FeedActivity`)."""
    if not same_origin(request):
        raise error(403, "the desk feed only accepts connections from the desk's own origin")
    hub = _hub(request)
    info = session_of(request)
    agent = info.agent
    ws = web.WebSocketResponse(heartbeat=25)
    # Subscribed before the page learns the socket is open: the lists it reads after that miss no change.
    sub = hub.bus.subscribe()
    try:
        await ws.prepare(request)
    except BaseException:
        sub.close()
        raise
    connection = await hub.presence.connect(agent["_id"])
    await hub.router.route_all()
    feed = FeedState(agent)
    task = asyncio.create_task(_pump_visible(ws, sub, hub.accounts, info, feed))
    try:
        async for frame in ws:
            if frame.type == WSMsgType.TEXT:
                got = feed.read(frame.data)
                if isinstance(got, schemas.Watch):
                    answer = await feed.watch(hub, got)
                elif isinstance(got, schemas.FeedActivity):
                    answer = await feed.record(hub, got)
                else:
                    answer = got
                if answer is not None:
                    await ws.send_json(answer)
    finally:
        sub.close()
        await stop_writer(task)
        # to the end even if the handler is cancelled (a server that cancels the handlers of lost connections, a
        # shutdown): an agent left online gets tickets routed to a desk nobody watches
        await asyncio.shield(hub.presence.disconnect(connection, agent["_id"]))
    return ws


def routes() -> list[web.RouteDef]:
    return [
        web.get("/desk", page),
        web.get("/desk/static/{name}", static_file),
        web.post("/api/auth/login", login),
        web.post("/api/auth/logout", logout),
        web.get("/api/me", me),
        web.post("/api/me/password", change_password),
        web.post("/api/me/status", set_my_status),
        web.get("/api/queues", queues),
        web.get("/api/tickets", list_tickets),
        web.get("/api/tickets/counts", ticket_counts),
        web.patch("/api/tickets/{id}", edit_ticket),
        web.get("/api/tickets/{id}", get_ticket),
        web.post("/api/tickets/{id}/reply", reply),
        web.post("/api/tickets/{id}/status", set_status),
        web.post("/api/tickets/{id}/assign", assign),
        web.get("/api/desk/ws", websocket),
    ]
