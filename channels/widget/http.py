"""HTTP side of the widget: session, send, list-since, WebSocket, the script and a demo page."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from importlib import resources
from typing import Any, Protocol

from aiohttp import WSMsgType, web

from channels.base import ChannelConfigError, ChannelContext, bad_request
from channels.widget import i18n, schemas
from channels.widget.identity import (
    MIN_JWT_SECRET_BYTES,
    IdentityError,
    TokenError,
    Visitor,
    issue_file_link,
    issue_token,
    new_anonymous,
    read_file_link,
    read_token,
    verify_user,
    verify_user_jwt,
)
from httpkit.bodies import accepts, fields_of, parse_object, validate
from httpkit.errors import retry_later
from httpkit.ratelimit import RateLimiter, Rule, address_key, admit, give_back, retry_after_seconds, rules_from
from httpkit.sockets import stop_writer
from httpkit.uploads import UploadError, file_headers, read_upload
from hub.hub import LiveConnection
from hub.models import Attachment, AuthorKind, InboundMessage, OutboundMessage, Sender, SendResult, utcnow
from hub.ports import FILES_LINK
from hub.store import Doc, ObjectId
from hub.tickets import AlreadyRated, NotFound, TicketError
from hub.views import message_for_customer
from hub.waitestimate import wait_view

log = logging.getLogger(__name__)
CHANNEL = "widget"
MAX_TEXT = 10_000
#: Largest file a visitor may send (per site: `max_upload_bytes`).
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
#: Visitor tokens expire (`token_ttl_seconds`); the widget renews them silently at half-life.
TOKEN_TTL_SECONDS = 24 * 3600
#: A download link for one file lives this long (`file_link_ttl_seconds`).
FILE_LINK_TTL_SECONDS = 600
#: Longest lifetime (exp - iat) accepted for a site-signed user JWT (per site: `identity_jwt_max_lifetime_seconds`).
USER_JWT_MAX_LIFETIME_SECONDS = 3600
#: A widget WebSocket must send `{"type": "auth", "token": ...}` within this many seconds.
WS_AUTH_TIMEOUT_SECONDS = 10.0
#: WebSocket close codes (4000-4999 are the application's).
WS_UNAUTHORIZED = 4401
WS_AUTH_TIMEOUT = 4408
#: How far before the time in the last seen message's id the history is read again (`after`): its `created_at`
#: and another process's ids may differ from that time by clock skew; the ids decide what is newer.
AFTER_MARGIN = timedelta(seconds=60)
#: Messages and files one chat may send (`rate_limits.per_chat`): far above anyone typing or pressing buttons.
PER_CHAT_LIMITS = [{"messages": 10, "seconds": 10}, {"messages": 30, "seconds": 60}]
#: Messages and files of every chat from one network address together (`rate_limits.per_address`; IPv6 by
#: /64): an office or a mobile carrier's NAT holds many customers, a script holds one address.
PER_ADDRESS_LIMITS = [{"messages": 300, "seconds": 60}]
#: Reads of one chat's history (`rate_limits.reads_per_chat`): the widget reads it every 3 s and after each message
#: while its socket is down, and once when the socket comes back.
READS_PER_CHAT_LIMITS = [{"messages": 60, "seconds": 60}]
#: Reads of every chat's history from one address together (`rate_limits.reads_per_address`): 60 visitors whose
#: office blocks WebSockets, reading every 3 s.
READS_PER_ADDRESS_LIMITS = [{"messages": 1200, "seconds": 60}]


VISITOR = web.RequestKey("widget_visitor", Visitor)
WidgetHandler = Callable[["WidgetChannel", web.Request], Awaitable[web.StreamResponse]]


def visitor_first(handler: WidgetHandler) -> WidgetHandler:
    """Check the visitor token before the body (above `@accepts`): a caller without one gets 401,
    whatever it sent, and learns nothing from how its body would have been parsed."""

    @functools.wraps(handler)
    async def wrapper(self: WidgetChannel, request: web.Request) -> web.StreamResponse:
        request[VISITOR] = self._visitor(request)
        return await handler(self, request)

    return wrapper


def for_visitor(doc: Doc) -> dict[str, Any]:
    """The customer's view of a message, and for their own the client id the widget sent it under: the widget
    shows a message while it is being sent and puts the stored copy in its place."""
    view = message_for_customer(doc)
    if doc.get("direction") == "in":
        view["client_id"] = str(doc.get("external_id") or "").rpartition(":")[2] or None
    return view


class SiteSource(Protocol):
    """Where the widget reads its sites (the composition root hands in `hub.sitebook.SiteBook`): memory only."""

    #: site name -> settings (title, allowed_origins, prechat, colors, greeting, texts, ...).
    sites: dict[str, dict[str, Any]]

    def identity_secrets(self, name: str) -> list[str]:
        """The keys a site's user JWTs and user_hash values are checked with, current first."""
        ...


class WidgetSender:
    """The store is the widget's mailbox: a stored outbound message reaches the browser
    through the realtime bus (WebSocket) or the list-since fallback, so sending is a no-op."""

    channel = CHANNEL
    #: Agents' files are downloaded by the visitor from `/api/widget/attachments/{id}`.
    files = FILES_LINK
    #: Stored is delivered: the hub writes the message as sent and queues no outbox entry (hub.ports).
    delivers_by_store = True

    async def send(self, message: OutboundMessage) -> SendResult:
        return SendResult(provider_id=None)


class WidgetChannel:
    name = CHANNEL

    def __init__(self, context: ChannelContext) -> None:
        self.ctx = context
        self.hub = context.hub
        #: The widget sites, kept in memory by the hub (`hub.sitebook.SiteBook`, handed in by the composition
        #: root): admins create and edit them in the desk; every read here is memory, never the database.
        self.book: SiteSource = context.extra["sites"]
        self.token_ttl = int(context.config.get("token_ttl_seconds", TOKEN_TTL_SECONDS))
        self.file_link_ttl = int(context.config.get("file_link_ttl_seconds", FILE_LINK_TTL_SECONDS))
        self.ws_auth_timeout = float(context.config.get("ws_auth_timeout_seconds", WS_AUTH_TIMEOUT_SECONDS))
        limits = context.config.get("rate_limits") or {}
        if not isinstance(limits, dict):
            raise ChannelConfigError("rate_limits: per_chat, per_address, reads_per_chat and reads_per_address "
                                     "lists are expected")

        def limiter(key: str, default: list[dict[str, int]]) -> RateLimiter:
            return RateLimiter(rules_from(limits.get(key, default), f"rate_limits.{key}"))

        try:
            self.per_chat = limiter("per_chat", PER_CHAT_LIMITS)
            self.per_address = limiter("per_address", PER_ADDRESS_LIMITS)
            self.reads_per_chat = limiter("reads_per_chat", READS_PER_CHAT_LIMITS)
            self.reads_per_address = limiter("reads_per_address", READS_PER_ADDRESS_LIMITS)
        except ValueError as exc:
            raise ChannelConfigError(str(exc)) from exc
        #: An address over a limit is logged once a minute, not once per refused request.
        self._refusals_logged = RateLimiter([Rule(1, 60)])
        for name, cfg in self.sites.items():
            secret = str(cfg.get("identity_secret") or "")
            if secret and len(secret.encode()) < MIN_JWT_SECRET_BYTES:
                log.warning("widget site %r: identity_secret is %d bytes; user_jwt needs at least %d (user_hash "
                            "still works)", name, len(secret.encode()), MIN_JWT_SECRET_BYTES)
        static = resources.files("channels.widget") / "static"
        # Read once: both ship with the package and are served on every page view. The English
        # texts travel inside the script: what it shows if the site's texts cannot be fetched.
        # (Sites' text overrides are checked where they are stored: hub.sitebook with i18n.validate_texts.)
        self._script = (static / "widget.js").read_text(encoding="utf-8").replace(
            "/*{{english}}*/{}", json.dumps(i18n.catalogs()[i18n.FALLBACK], ensure_ascii=False))
        self._demo = (static / "demo.html").read_text(encoding="utf-8")
        # A visitor waiting for an agent who closes every page of the chat for this long has abandoned it.
        self.hub.track_departures(CHANNEL, float(context.config.get("abandon_after_seconds", 120)))

    @property
    def sites(self) -> dict[str, dict[str, Any]]:
        """name -> settings of every widget site, as the hub holds them now."""
        return self.book.sites

    def prechat(self, site: str) -> dict[str, str] | None:
        """The site's pre-chat form fields (`{"name": mode, "email": mode}`) if it is enabled."""
        return _prechat_form(site, self.sites.get(site) or {})

    # -- wiring -------------------------------------------------------------------------
    def routes(self) -> list[web.RouteDef]:
        routes = [
            web.get("/widget.js", self.script),
            web.get("/demo", self.demo),
            web.get("/api/widget/sites/{site}", self.site_settings),
            web.post("/api/widget/session", self.session),
            web.post("/api/widget/messages", self.post_message),
            web.post("/api/widget/files", self.post_file),
            web.get("/api/widget/messages", self.list_messages),
            web.get("/api/widget/ws", self.websocket),
            web.get("/api/widget/attachments/{blob_id}", self.attachment),
            web.post("/api/widget/attachments/{blob_id}/link", self.attachment_link),
            web.post("/api/widget/rating", self.rating),
            web.post("/api/widget/end", self.end),
            web.options("/api/widget/{tail:.*}", self.preflight),
        ]
        return [web.route(r.method, r.path, self._readable_errors(r.handler), **r.kwargs) for r in routes]

    def senders(self) -> list[WidgetSender]:
        return [WidgetSender()]

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    # -- CORS: the widget runs on customers' own sites --------------------------------
    def _cors(self, request: web.Request, response: web.StreamResponse, site: str | None = None) -> None:
        origin = request.headers.get("Origin")
        if not origin:
            return
        allowed: list[str] = []
        for name, cfg in self.sites.items():
            if site is None or name == site:
                allowed += cfg.get("allowed_origins", ["*"])
        if "*" in allowed or origin in allowed:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Vary"] = "Origin"

    def _readable_errors(self, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                         ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        """A refusal carries the same CORS headers as an answer: without them the page on the customer's site
        cannot read it (a 401 to renew the token, a 413 to say the file is too large, a 429 to wait), and the
        widget sees only a failed request."""

        @functools.wraps(handler)
        async def wrapper(request: web.Request) -> web.StreamResponse:
            try:
                return await handler(request)
            except web.HTTPException as exc:
                self._cors(request, exc)
                if "Retry-After" in exc.headers:
                    exc.headers["Access-Control-Expose-Headers"] = "Retry-After"
                raise

        return wrapper

    async def preflight(self, request: web.Request) -> web.Response:
        response = web.Response(status=204)
        self._cors(request, response)
        response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
        response.headers["Access-Control-Max-Age"] = "600"
        return response

    def _json(self, request: web.Request, data: Any, status: int = 200, site: str | None = None) -> web.Response:
        response = web.json_response(data, status=status)
        self._cors(request, response, site)
        return response

    # -- pages --------------------------------------------------------------------------
    async def script(self, request: web.Request) -> web.Response:
        return web.Response(text=self._script, content_type="application/javascript",
                            headers={"Cache-Control": "public, max-age=300"})

    async def demo(self, request: web.Request) -> web.Response:
        site = next(iter(self.sites), "default")
        return web.Response(text=self._demo.replace("{{site}}", site), content_type="text/html")

    # -- API ----------------------------------------------------------------------------
    def _visitor(self, request: web.Request) -> Visitor:
        """The visitor of `Authorization: Bearer <token>`; never from the URL, where tokens end up in logs."""
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
        if not token:
            raise bad_request("missing visitor token (Authorization: Bearer)", 401)
        return self._read_visitor(token)

    def _read_visitor(self, token: str) -> Visitor:
        try:
            visitor = read_token(self.ctx.secret, token)
        except TokenError as exc:
            raise bad_request(f"invalid visitor token: {exc}", 401) from exc
        if visitor.site not in self.sites:
            raise bad_request("unknown site", 401)
        return visitor

    async def site_settings(self, request: web.Request) -> web.Response:
        """What the widget shows before a session: its texts in the visitor's language, pre-chat fields
        (or null), greeting, sound on/off, the largest file it takes.

        `?lang=` is the browser's `navigator.languages`, comma-separated (else `Accept-Language`
        decides); the answer's `locale` is the best catalog for it (de-AT -> de, unknown -> en) and
        `texts` every text, key by key: the site's overrides, the language's catalog, English.
        """
        site = request.match_info["site"]
        if site not in self.sites:
            raise bad_request(f"unknown site {site!r}", 404)
        cfg = self.sites[site]
        overrides = self._texts(site, cfg)
        wanted = i18n.preferences(request.query.get("lang", "")[:500], request.headers.get("Accept-Language"))
        locale = i18n.negotiate(wanted, i18n.languages(overrides))
        texts = i18n.texts_for(locale, overrides, {"header.title": cfg["title"]} if cfg.get("title") else None)
        return self._json(request, {"site": site, "title": texts["header.title"], "locale": locale,
                                    "dir": i18n.direction(locale), "texts": texts,
                                    "prechat": self.prechat(site), "greeting": cfg.get("greeting") or None,
                                    "sound": bool(cfg.get("sound", False)), "colors": cfg.get("colors") or {},
                                    "max_upload_bytes": int(cfg.get("max_upload_bytes", MAX_UPLOAD_BYTES))},
                          site=site)

    def _texts(self, site: str, cfg: dict[str, Any]) -> dict[str, dict[str, i18n.Message]]:
        """The site's text overrides; a wrong setting (checked at start-up and when an admin saves it) is
        logged and left out rather than breaking the widget."""
        try:
            return i18n.validate_texts(cfg.get("texts"), f"widget site {site!r}: texts")
        except i18n.TextsError as exc:
            log.warning("%s; the widget uses its catalog texts", exc)
            return {}

    @accepts(schemas.Session, max_bytes=16_384)
    async def session(self, request: web.Request) -> web.Response:
        """Start, resume or renew a visitor session.

        Identity comes only from what the site's backend signed: a `user_jwt` (verified email
        and name) or, legacy, `user_id` + `user_hash` (the id only; email and name unverified).
        A still-valid `token` of an anonymous visitor is renewed for the same visitor; a
        verified visitor's token is renewed only with `renew: true` (the page that holds it,
        half-way through its life), so a page without the site's proof never resumes a user.
        """
        body = fields_of(request)
        site = str(body.get("site") or "")
        if site not in self.sites:
            raise bad_request(f"unknown site {site!r}", 404)
        # A renewal keeps the session it renews; a page load lets the site's proof decide who this is.
        renew = body.get("renew") is True
        steps = (self._renewed_visitor, self._proven_visitor) if renew else (self._proven_visitor,
                                                                             self._renewed_visitor)
        try:
            visitor = steps[0](site, body) or steps[1](site, body)
        except IdentityError as exc:
            raise bad_request(f"identity verification failed: {exc}", 403) from exc
        resumed = visitor is not None
        if visitor is None:
            form = self.prechat(site)
            if form is not None:
                # A new anonymous visitor on a site with a pre-chat form: what it requires is there (else 422).
                body = validate(schemas.prechat_form(form["name"], form["email"]), body).model_dump()
            visitor = new_anonymous(site, _clean(body.get("name"), 200), _clean(body.get("email"), 320))
        return self._json(request, {"token": issue_token(self.ctx.secret, visitor, self.token_ttl),
                                    "expires_in": self.token_ttl, "site": site, "verified": visitor.verified,
                                    "resumed": resumed,
                                    "title": self.sites[site].get("title", "Chat with us")}, site=site)

    def _proven_visitor(self, site: str, body: dict[str, Any]) -> Visitor | None:
        """The visitor the site vouches for in this request, if it sent a proof."""
        keys = self.book.identity_secrets(site)
        name, email = _clean(body.get("name"), 200), _clean(body.get("email"), 320)
        if body.get("user_jwt"):
            if not isinstance(body["user_jwt"], str):
                raise IdentityError("user_jwt must be a string")
            lifetime = int(self.sites[site].get("identity_jwt_max_lifetime_seconds", USER_JWT_MAX_LIFETIME_SECONDS))
            user = _first_verified(keys, lambda key: verify_user_jwt(key, body["user_jwt"], site, lifetime))
            # What the backend signed is verified; anything else the browser adds is not.
            return Visitor(site=site, ident=f"user:{user.user_id}", verified=True, name=user.name or name,
                           email=user.email or email, email_verified=user.email is not None)
        user_id = _clean(body.get("user_id"), 200)
        if user_id:
            if not any(verify_user(key, user_id, str(body.get("user_hash") or "")) for key in keys):
                raise IdentityError("user_hash does not match user_id")
            return Visitor(site=site, ident=f"user:{user_id}", verified=True, name=name, email=email)
        return None

    def _renewed_visitor(self, site: str, body: dict[str, Any]) -> Visitor | None:
        if not body.get("token"):
            return None
        try:
            previous = read_token(self.ctx.secret, str(body["token"]))
        except TokenError:
            return None  # expired or forged: a new anonymous visitor
        if previous.site != site or (previous.verified and body.get("renew") is not True):
            return None
        return previous

    @visitor_first
    @accepts(schemas.Message, max_bytes=64_000)
    async def post_message(self, request: web.Request) -> web.Response:
        """The visitor sends a message (`client_id` makes retries safe): 202 once stored."""
        visitor = request[VISITOR]
        async with self._admitted(request, visitor):
            result = await self._ingest(visitor, fields_of(request))
        return self._json(request, result, status=202, site=visitor.site)

    async def post_file(self, request: web.Request) -> web.Response:
        """The visitor sends a file: multipart `file`, `client_id` (safe retries) and an optional `text`."""
        visitor = self._visitor(request)
        limit = int(self.sites[visitor.site].get("max_upload_bytes", MAX_UPLOAD_BYTES))
        async with self._admitted(request, visitor):  # before the upload is read: a refused file costs no bandwidth
            try:
                upload = await read_upload(request, limit)
            except UploadError as exc:
                raise bad_request(exc.reason, exc.status) from exc
            file = Attachment(filename=upload.filename, content_type=upload.content_type, data=upload.data,
                              size=len(upload.data))
            result = await self._ingest(visitor, {"text": upload.fields.get("text", ""),
                                                  "client_id": upload.fields.get("client_id")}, (file,))
        return self._json(request, result, status=202, site=visitor.site)

    @contextlib.asynccontextmanager
    async def _admitted(self, request: web.Request, visitor: Visitor) -> AsyncIterator[None]:
        """Count a message against its chat's and its address's limits, or refuse it with 429 and when to
        send it again (the widget waits that long and sends it by itself; nothing is stored meanwhile). A
        message the hub then does not take (invalid, too large, the database down) is not counted: the
        widget's resends of it after a 503 do not use up the chat's limit."""
        address = address_key(request.remote)
        checks = [(self.per_chat, visitor.key), (self.per_address, address)]
        self._admit(checks, address, "messages", "send")
        try:
            yield
        except BaseException:
            give_back(checks)
            raise

    def _admit(self, checks: list[tuple[RateLimiter, str]], address: str, what: str, verb: str) -> None:
        wait = admit(checks)
        if wait:
            seconds = retry_after_seconds(wait)
            if not admit([(self._refusals_logged, address)]):
                log.warning("widget: %s from %s over the rate limit (told to wait %d s; refusals are counted "
                            "as 429 in switchboard_http_requests_total)", what, address, seconds)
            raise retry_later(429, f"too many {what}; {verb} again in {seconds} s", seconds)

    async def _ingest(self, visitor: Visitor, body: dict[str, Any],
                      attachments: tuple[Attachment, ...] = ()) -> dict[str, Any]:
        text = body.get("text", "")
        client_id = body.get("client_id")
        if not isinstance(text, str) or not (text.strip() or attachments):
            raise bad_request("text is required")
        if len(text) > MAX_TEXT:
            raise bad_request(f"text longer than {MAX_TEXT} characters", 413)
        if not isinstance(client_id, str) or not re.fullmatch(schemas.CLIENT_ID_PATTERN, client_id):
            raise bad_request("client_id (8-64 letters, digits, - or _, one per message) is required for safe retries")
        message = InboundMessage(
            channel=CHANNEL,
            external_id=f"{visitor.key}:{client_id}",
            thread_key=visitor.key,
            sender=Sender(external_id=visitor.key, display_name=visitor.name,
                          email=visitor.email, email_verified=visitor.email_verified,
                          probably_new=body.get("first") is True),
            text=text.strip(),
            attachments=attachments,
            inbox=visitor.site,
            # A pressed quick reply: the customer (and the desk) read its title, the bot its payload.
            metadata={"quick_reply": body["payload"]} if isinstance(body.get("payload"), str) else {},
        )
        result = await self.hub.ingest(message)  # a visitor who had left a waiting chat is back (hub.ingest)
        return {"message_id": result.message_id, "conversation_id": result.conversation_id,
                "duplicate": result.duplicate}

    async def end(self, request: web.Request) -> web.Response:
        """The visitor ends the chat: a ticket still waiting for an agent counts as abandoned."""
        visitor = self._visitor(request)
        conv = await self.hub.store.conversations.find_one(
            {"channel": CHANNEL, "thread_key": visitor.key, "open": True}, projection={"_id": 1}
        )
        outcome = await self.hub.end_conversation(conv["_id"]) if conv else "none"
        return self._json(request, {"outcome": outcome}, site=visitor.site)

    async def attachment_link(self, request: web.Request) -> web.Response:
        """A short-lived download link for a file of this visitor's chat (links cannot carry headers)."""
        visitor = self._visitor(request)
        blob_id = request.match_info["blob_id"]
        if not await self._in_chat(visitor.key, blob_id):
            raise bad_request("no such file in this conversation", 404)
        link = issue_file_link(self.ctx.secret, visitor, blob_id, self.file_link_ttl)
        return self._json(request, {"url": f"/api/widget/attachments/{blob_id}?link={link}",
                                    "expires_in": self.file_link_ttl}, site=visitor.site)

    async def attachment(self, request: web.Request) -> web.Response:
        """A file of this visitor's chat, theirs or an agent's; nobody else's.

        Authorised by a signed `?link=` from `attachment_link` (what the widget's download
        links use) or by the visitor's `Authorization` header; never by a visitor token in the URL.
        """
        blob_id = request.match_info["blob_id"]
        site: str | None = None
        if "link" in request.query:
            try:
                key = read_file_link(self.ctx.secret, request.query["link"], blob_id)
            except TokenError as exc:
                raise bad_request(str(exc), 403) from exc
        else:
            visitor = self._visitor(request)
            key, site = visitor.key, visitor.site
        found = await self.hub.blobs.get(blob_id) if await self._in_chat(key, blob_id) and self.hub.blobs else None
        if found is None:
            raise bad_request("no such file in this conversation", 404)
        data, filename, _content_type = found
        response = web.Response(body=data, content_type="application/octet-stream", headers=file_headers(filename))
        response.headers["Cache-Control"] = "private, no-store"
        self._cors(request, response, site)
        return response

    async def _in_chat(self, key: str, blob_id: str) -> bool:
        """Whether `blob_id` is a file of a customer-visible message in the thread `key`."""
        return any(m.get("channel") == CHANNEL and m.get("thread_key") == key and not m.get("private")
                   for m in await self.hub.store.messages_with_file(blob_id))

    @visitor_first
    @accepts(schemas.Rating, max_bytes=8_000)
    async def rating(self, request: web.Request) -> web.Response:
        """Rate a solved ticket 1-5, answering the rating request message `message_id`."""
        visitor = request[VISITOR]
        body = fields_of(request)
        score, message_id = body.get("score"), str(body.get("message_id") or "")
        if not isinstance(score, int) or not 1 <= score <= 5:
            raise bad_request("score must be an integer from 1 to 5")
        if not ObjectId.is_valid(message_id):
            raise bad_request("message_id must be the id of the rating request")
        store = self.hub.store
        message = await store.messages.find_one({"_id": ObjectId(message_id)})
        if message is None or message.get("thread_key") != visitor.key or message.get("channel") != CHANNEL:
            raise bad_request("no such rating request in this conversation", 404)
        conversation = await store.conversations.find_one({"_id": message["conversation_id"]})
        if conversation is None or conversation.get("ticket_id") is None:
            raise bad_request("this conversation has no ticket to rate", 404)
        try:
            await self.hub.tickets.rate(conversation["ticket_id"], score, _clean(body.get("comment"), 2000),
                                        channel=CHANNEL)
        except TicketError as exc:
            raise bad_request(str(exc), 409 if isinstance(exc, NotFound | AlreadyRated) else 400) from exc
        # The thanks is the thread's latest message, so a reload shows no rating buttons again.
        await self.hub.outbox.post(conversation, AuthorKind.SYSTEM, "Thank you for your rating!",
                                   author_name="Switchboard")
        return self._json(request, {"ok": True}, site=visitor.site)

    async def list_messages(self, request: web.Request) -> web.Response:
        """Messages of the visitor's conversations, oldest first; `after` = last id seen."""
        visitor = self._visitor(request)
        after = request.query.get("after")
        if after and not ObjectId.is_valid(after):
            raise bad_request("after must be a message id")
        # two reads and a write each: a script polling as fast as it can must not keep the database busy
        address = address_key(request.remote)
        self._admit([(self.reads_per_chat, visitor.key), (self.reads_per_address, address)], address,
                    "history reads", "ask")
        messages = await self._history(visitor, ObjectId(after) if after else None)
        await self.hub.customer_seen(CHANNEL, visitor.key)  # polling (no WebSocket) means here
        return self._json(request, {"messages": messages}, site=visitor.site)

    async def _history(self, visitor: Visitor, after: ObjectId | None) -> list[dict[str, Any]]:
        store = self.hub.store
        convs = await store.conversations.find(
            {"channel": CHANNEL, "thread_key": visitor.key}, projection={"_id": 1},
            sort=[("started_at", -1)], limit=20,
        ).to_list()
        # The conversation index's own fields only, the rest checked here: secantusd-py walks a hinted index
        # whole (444 ms at 20,000 messages; benchmarks/query_cost.py `widget_history`) and plans other fields
        # as a scan. `after`: from a little before that message was made (its id carries the time).
        query: dict[str, Any] = {"conversation_id": {"$in": [c["_id"] for c in convs]}}
        if after is not None:
            query["created_at"] = {"$gte": after.generation_time - AFTER_MARGIN}
        docs = await store.messages.find(query, sort=[("created_at", 1), ("_id", 1)], limit=1000).to_list()
        return [for_visitor(d) for d in docs
                if not d.get("private") and (after is None or d["_id"] > after)]

    async def websocket(self, request: web.Request) -> web.WebSocketResponse:
        """Live feed of the visitor's messages; the browser may also send messages on it.

        The token travels in the first frame, `{"type": "auth", "token": ...}`, not in the URL.
        Nothing else is accepted before it: a bad or missing token closes the socket with 4401,
        silence with 4408. The socket closes (4401) when the token expires; the widget then
        reconnects with its renewed token.
        """
        ws = web.WebSocketResponse(heartbeat=25)
        await ws.prepare(request)
        auth = await self._authenticate(ws)
        if auth is None:
            return ws
        visitor, fresh = auth
        sub = self.hub.bus.subscribe(thread_key=visitor.key)  # only this chat's changes reach the pump below
        connection = await self.hub.customer_connected(CHANNEL, visitor.key, new=fresh)
        pump = expiry = None
        try:
            # Subscribed before "ready": whatever the client fetches after it, the feed has the rest. A client
            # gone already (it gave up under load) ends here, its subscription and presence released below.
            await ws.send_json({"type": "ready", "expires_in": max(0, visitor.expires_at - int(time.time()))})
            if connection.wait is not None:  # read with the connection, only for a chat linked to a ticket
                await ws.send_json({"type": "wait", **connection.wait})
            pump = asyncio.create_task(self._pump(ws, sub, visitor, connection))
            expiry = asyncio.create_task(_close_at(ws, visitor.expires_at))
            async for frame in ws:
                if frame.type != WSMsgType.TEXT:
                    continue
                try:
                    body = parse_object(frame.data)
                    if body.get("type") == "message":
                        body = validate(schemas.Frame, body).model_dump(exclude_unset=True)
                        await ws.send_json({"type": "ack", "client_id": body.get("client_id"),
                                            **await self._ingest(visitor, body)})
                except web.HTTPException as exc:
                    await ws.send_json({"type": "error", "error": exc.text})
                except AttributeError:
                    await ws.send_json({"type": "error", "error": "malformed frame"})
        except ConnectionResetError:  # aiohttp's ClientConnectionResetError: the visitor left while we wrote
            pass
        finally:
            sub.close()
            for task in (pump, expiry):
                await stop_writer(task)
            await asyncio.shield(self._left(connection, visitor.key, sub))  # to the end, as the desk's feed
        return ws

    async def _left(self, connection: LiveConnection, thread_key: str, sub: Any) -> None:
        """The visitor's socket closed: a handover the pump had not passed on yet still counts, then the departure
        (a waiting customer gone long enough abandons the ticket, hub.departures)."""
        if any(_handed_over(change, thread_key) for change in sub.drain()):
            await self.hub.customer_waiting(connection)
        await self.hub.customer_disconnected(connection, CHANNEL, thread_key)

    async def _authenticate(self, ws: web.WebSocketResponse) -> tuple[Visitor, bool] | None:
        """The visitor of the auth frame and whether it says the session is new (`schemas.Auth.fresh`), or None
        once the socket is closed with the reason."""
        try:
            frame = await ws.receive(timeout=self.ws_auth_timeout)
        except TimeoutError:
            await ws.close(code=WS_AUTH_TIMEOUT, message=b"authentication timeout: send {type: auth, token} first")
            return None
        if frame.type != WSMsgType.TEXT:
            await ws.close(code=WS_UNAUTHORIZED, message=b"first frame must be {type: auth, token}")
            return None
        try:
            body = parse_object(frame.data)  # size- and depth-checked like every body
            if body.get("type") != "auth" or not isinstance(body.get("token"), str):
                raise ValueError("first frame must be {type: auth, token}")
            auth = validate(schemas.Auth, body)
            visitor = self._read_visitor(auth.token)
        except web.HTTPException as exc:
            await ws.close(code=WS_UNAUTHORIZED, message=_reason(json.loads(exc.text or "{}").get("error", "")))
            return None
        except ValueError as exc:  # also JSONDecodeError
            await ws.close(code=WS_UNAUTHORIZED, message=_reason(str(exc)))
            return None
        # a signed-in user's thread outlives any one page's session (other devices): never new
        return visitor, auth.fresh and not visitor.verified

    async def _pump(self, ws: web.WebSocketResponse, sub: Any, visitor: Visitor, connection: LiveConnection) -> None:
        while not ws.closed:
            change = await sub.get()
            doc = change.document
            if _handed_over(change, visitor.key):
                await self.hub.customer_waiting(connection)  # now a closing tab must count this one
                continue
            if change.collection == "ticket_activity":
                if visitor.key in (doc.get("thread_keys") or []):  # an agent typing to this visitor
                    typing_until = doc.get("typing_until")
                    await ws.send_json({"type": "typing", "name": doc.get("agent_name"),
                                        "active": typing_until is not None and typing_until > utcnow()})
                continue
            if change.collection == "events" and doc.get("type") == "queue.wait":
                data = doc.get("data") or {}
                if data.get("channel") == CHANNEL and data.get("thread_key") == visitor.key:
                    await ws.send_json(_wait_frame(data))
                continue
            if (change.collection != "messages" or doc.get("channel") != CHANNEL
                    or doc.get("thread_key") != visitor.key or doc.get("private")):
                continue
            if change.operation == "insert":
                await ws.send_json({"type": "message", "message": for_visitor(doc)})
                wait = (doc.get("metadata") or {}).get("wait")
                if isinstance(wait, dict) and doc.get("direction") == "out":  # an escalation told the wait: the banner
                    await ws.send_json(_wait_frame(wait))


def _wait_frame(told: dict[str, Any]) -> dict[str, Any]:
    """The banner's frame from what a `queue.wait` event or an escalation message's `wait` told."""
    return {"type": "wait", **wait_view(told.get("position"), told.get("estimate_seconds"))}


def _handed_over(change: Any, thread_key: str) -> bool:
    """Whether the change is the handoff of a chat of this visitor's to a person (`conversation.handoff`)."""
    doc = change.document
    return bool(change.collection == "events" and doc.get("type") == "conversation.handoff"
                and doc.get("channel") == CHANNEL and doc.get("thread_key") == thread_key)


async def _close_at(ws: web.WebSocketResponse, expires_at: int) -> None:
    """A socket lives no longer than its token: the widget reconnects with the renewed one."""
    await asyncio.sleep(max(0.0, expires_at - time.time()))
    await ws.close(code=WS_UNAUTHORIZED, message=b"visitor token expired")


def _reason(text: str) -> bytes:
    """A WebSocket close reason: at most 123 bytes of UTF-8."""
    return text.encode()[:123]


def _prechat_form(site: str, cfg: dict[str, Any]) -> dict[str, str] | None:
    """The site's pre-chat form fields if it is enabled; a mode other than required/optional/off stops start-up."""
    prechat = cfg.get("prechat") or {}
    if not prechat.get("enabled"):
        return None
    form = {field: str(prechat.get(field, "optional")) for field in ("name", "email")}
    for field, mode in form.items():
        if mode not in ("required", "optional", "off"):
            raise ValueError(f"widget site {site!r}: prechat.{field} must be required, optional or off, not {mode!r}")
    return form


def _first_verified(keys: list[str], verify: Callable[[str], Any]) -> Any:
    """What `verify` returns for the first key that proves the token (current secret, then the previous one
    during its rotation grace); the current key's refusal when none does."""
    first: IdentityError | None = None
    for key in keys or [""]:
        try:
            return verify(key)
        except IdentityError as exc:
            first = first or exc
    assert first is not None
    raise first


def _clean(value: Any, limit: int) -> str | None:
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value[:limit] or None
