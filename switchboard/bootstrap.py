"""The composition root: the one place concrete adapters are chosen and wired together.

Nothing is created at import time; `Runtime.start` builds the database connection
(or the embedded server), the bot, the hub, the enabled channels and the web app.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiohttp import web

from agents_ui.appkeys import EXTRAS
from channels.base import Channel, ChannelConfigError, ChannelContext
from channels.widget.i18n import validate_texts as widget_texts_check
from hub.blobs import BlobStore
from hub.csat import CsatLinks
from hub.hub import Hub
from hub.outbox import RetryPolicy
from hub.ports import Bot
from hub.retention import RetentionConfigError, RetentionRule, parse_rules
from hub.sitebook import SiteBook, SiteError
from hub.store import Store
from switchboard import channels_admin
from switchboard.config import ConfigError, Settings, ensure_secret
from switchboard.database_supervisor import DatabaseSupervisor
from switchboard.embedded import EmbeddedServer
from switchboard.prometheus import Exporter, install
from switchboard.web import DATABASE_SUPERVISOR, build_app
from switchboard.webhook_client import AiohttpWebhookTransport

log = logging.getLogger(__name__)


def bot_dir(settings: Settings) -> Path:
    return (settings.config_dir / settings.bot.get("data_dir", "bot")).resolve()


async def build_bot(settings: Settings, store: Store) -> Bot:
    """The configured bot: built-in NLU, or a Rasa server.

    Not trained here: `build_workbench` trains it on the newest published training data
    in the database (seeded from these files on first start).
    """
    from bot.service import build_bot as build

    backend: Any = None
    if settings.bot.get("backend", "builtin") == "rasa":
        from bot.nlu.rasa import RasaNLU

        backend = RasaNLU(base_url=str(settings.bot.get("rasa_url", "http://127.0.0.1:5005")))
    elif settings.bot.get("tier", "default") == "embeddings":
        # The accurate tier (`pip install .[embeddings]`): torch is imported only now.
        from bot.config import load_bot_config
        from bot.nlu.tiers import embeddings_nlu

        synonyms = load_bot_config(bot_dir(settings)).synonyms
        backend = embeddings_nlu(cache_dir=settings.data_dir / "embeddings", synonyms=synonyms)
    return await build(bot_dir(settings), backend=backend, train=False)


async def build_workbench(settings: Settings, store: Store, bot: Bot) -> Any | None:
    """The trainer's workbench and model hot swap, for a `BotService` (other bots have none).

    Runs before the hub starts: seeds the training data into the database on first start
    and makes the bot answer with the newest published model.
    """
    from bot.nlu.rasa import RasaNLU
    from bot.service import BotService
    from bot.workbench import Workbench

    if not isinstance(bot, BotService):
        return None
    workbench = Workbench(store, bot, queues=list(settings.queues),
                          retrain_locally=not isinstance(bot.backend, RasaNLU),
                          poll_seconds=float(settings.bot.get("model_poll_seconds", 30)))
    await workbench.prepare()
    return workbench


def retention_rules(settings: Settings) -> list[RetentionRule]:
    """The configured retention rules; a bad one stops start-up with a one-line error."""
    try:
        return parse_rules(settings.retention)
    except RetentionConfigError as exc:
        raise ConfigError(str(exc)) from exc


@dataclass
class Runtime:
    settings: Settings
    embedded: EmbeddedServer | None = None
    #: Restarts the embedded database when it dies (None with MONGODB_URI).
    supervisor: DatabaseSupervisor | None = None
    #: Called with a one-line reason when the hub cannot go on (the embedded database stayed
    #: down): `serve` exits non-zero so a process supervisor restarts it. None: stay up, report down.
    on_fatal: Callable[[str], None] | None = None
    store: Store | None = None
    hub: Hub | None = None
    channels: list[Channel] = field(default_factory=list)
    app: web.Application | None = None
    admin_credentials: tuple[str, str] | None = None
    webhook_transport: AiohttpWebhookTransport | None = None
    #: Each configured channel's section with the secrets admins stored in the desk (switchboard.channel_secrets).
    channel_configs: channels_admin.LoadedChannels = field(default_factory=channels_admin.LoadedChannels)
    #: PyMongo monitoring listeners (tests use one to check every query the hub runs is indexed).
    db_listeners: list[Any] = field(default_factory=list)
    #: The widget sites (hub.sitebook), in memory; the widget channel and the admin API read them.
    sites: SiteBook | None = None

    async def start(self, bot: Bot | None = None) -> web.Application:
        settings = self.settings
        ensure_secret(settings)
        uri = settings.mongodb_uri
        if not uri:
            self.embedded = EmbeddedServer(settings.data_dir.resolve())
            uri = await self.embedded.start(lock_wait_seconds=settings.embedded_lock_wait_seconds)
            log.info("embedded database (secantusd-py) at %s, data in %s", uri, settings.data_dir)
            self.supervisor = DatabaseSupervisor(self.embedded, settings.embedded_restart_give_up_seconds,
                                                 on_give_up=self.on_fatal)
            self.supervisor.start()
        exporter = Exporter(settings.metrics_refresh_seconds) if settings.metrics_enabled else None
        listeners = [*self.db_listeners, exporter.db_listener] if exporter else self.db_listeners
        self.store = Store(uri, settings.db_name, listeners)
        await self.store.ensure_indexes()
        bot = bot or await build_bot(settings, self.store)
        workbench = await build_workbench(settings, self.store, bot)
        retry = RetryPolicy(**{k: v for k, v in settings.outbox.items()
                               if k in RetryPolicy.__dataclass_fields__})
        self.hub = Hub(self.store, bot, {}, settings.queues, settings.default_queue, retry,
                       blobs=BlobStore(self.store), presence_ttl_seconds=settings.presence_ttl_seconds)
        self.hub.outbox.poll_seconds = settings.outbox_poll_seconds
        self.hub.bus.read_gap_seconds = settings.realtime_read_gap_seconds
        if workbench is not None:
            workbench.queues = self.hub.tickets.queues  # the live queues: one created in the desk is known
        knowledge = getattr(self.hub, "knowledge", None)  # help-center articles offered by the bot
        if knowledge is not None and hasattr(bot, "use_knowledge"):
            bot.use_knowledge(knowledge, settings.public_url)
        self.webhook_transport = AiohttpWebhookTransport()
        self.hub.webhooks.transport = self.webhook_transport
        self.hub.retention.rules = retention_rules(settings)
        self.hub.retention.events.days = settings.event_log_days
        self.hub.retention_interval_seconds = settings.retention_interval_seconds
        self.hub.waits.interval = settings.wait_announce_seconds
        self.hub.sla_calendars = settings.calendars
        self.hub.tickets.csat_links = CsatLinks(settings.secret, settings.base_url)  # email rating links
        self.hub.news.desk_url = settings.base_url + "/desk"  # the links in agents' news by email
        self.hub.news.delay = timedelta(seconds=settings.news_mail_delay_seconds)
        self.hub.aggregate_interval_seconds = settings.metrics_aggregate_seconds
        await self.hub.totp.seed_policy(settings.require_totp_roles)  # auth.require_totp_roles, on first start
        if settings.responses.get("name_fallback") is not None:
            self.hub.responses.name_fallback = str(settings.responses["name_fallback"])
        self.sites = await self.seed_sites()
        routes: list[web.RouteDef] = []
        self.channel_configs = await channels_admin.load_channel_configs(self.store, settings)  # + desk secrets
        for name, cfg in self.channel_configs.sections.items():
            if not cfg.get("enabled", True):
                continue
            try:
                channel = self._load_channel(name, cfg)
            except ChannelConfigError as exc:
                raise ConfigError(f"channels.{name}: {exc}") from exc
            self.channels.append(channel)
            routes += channel.routes()
            for sender in channel.senders():
                self.hub.register_sender(sender)
            mailer = getattr(channel, "news_mailer", lambda: None)()  # the email channel's relay, if any (hub.newsmail)
            if mailer is not None:
                self.hub.news.mailer = mailer
        from agents_ui.activity import routes as activity_routes
        from agents_ui.apitokens import routes as token_routes
        from agents_ui.attachments import routes as attachment_routes
        from agents_ui.audit import routes as audit_routes
        from agents_ui.automation import routes as automation_routes
        from agents_ui.bulk import routes as bulk_routes
        from agents_ui.calendars import routes as calendar_routes
        from agents_ui.contactimport import routes as contact_import_routes
        from agents_ui.contacts import routes as contact_routes
        from agents_ui.csat import routes as csat_routes
        from agents_ui.desk import routes as desk_routes
        from agents_ui.followers import routes as follower_routes
        from agents_ui.history import routes as history_routes
        from agents_ui.kb import routes as kb_routes
        from agents_ui.metrics import routes as metrics_routes
        from agents_ui.names import routes as name_routes
        from agents_ui.newsmail import routes as news_mail_routes
        from agents_ui.newtickets import routes as new_ticket_routes
        from agents_ui.privacy import routes as privacy_routes
        from agents_ui.queues_admin import routes as queue_admin_routes
        from agents_ui.reads import routes as read_routes
        from agents_ui.responses import routes as response_routes
        from agents_ui.savedviews import routes as saved_view_routes
        from agents_ui.signatures import routes as signature_routes
        from agents_ui.supervisor import routes as supervisor_routes
        from agents_ui.ticketfields import routes as ticket_field_routes
        from agents_ui.ticketmerge import routes as ticket_merge_routes
        from agents_ui.totp import routes as totp_routes
        from agents_ui.trainer import routes as trainer_routes
        from agents_ui.trainer_oos import routes as trainer_oos_routes
        from agents_ui.transfers import routes as transfer_routes
        from agents_ui.users import routes as user_routes
        from agents_ui.vendor import routes as vendor_routes
        from agents_ui.webhooks import routes as webhook_routes
        from agents_ui.widgetsites import routes as widget_site_routes

        routes += desk_routes() + metrics_routes() + trainer_routes() + attachment_routes() + response_routes()
        routes += token_routes() + webhook_routes()
        routes += audit_routes() + privacy_routes() + transfer_routes()
        routes += calendar_routes()
        routes += user_routes()  # desk users: create with a one-time link, edit, disable (hub.useradmin)
        routes += queue_admin_routes()  # queues and routing (hub.queuebook)
        routes += automation_routes()  # automation rules (admins) and macros (hub.automation)
        routes += activity_routes()  # who views / types on a ticket (collision)
        routes += name_routes()  # the names of assignees and queues a ticket holds by id or key
        routes += news_mail_routes()  # my news by email while away from the desk (hub.newsmail)
        routes += signature_routes()  # my signature under replies by email (hub.signatures)
        routes += follower_routes()  # following a ticket someone else holds (hub.followers)
        routes += read_routes()  # what each desk user has read: the unread marks that outlive a page
        routes += bulk_routes()  # several tickets' status or assignee from the list
        routes += kb_routes()  # help-center articles: the trainer's API and the public /help pages
        routes += trainer_oos_routes()
        routes += contact_import_routes() + contact_routes()
        routes += history_routes()
        routes += ticket_merge_routes()  # merge a ticket into another, split a message out
        routes += ticket_field_routes()  # admins' ticket fields (hub.ticketfields)
        routes += new_ticket_routes()  # an agent writes to a customer first (hub.outbound)
        routes += saved_view_routes()  # my saved views of the ticket list (hub.savedviews)
        routes += supervisor_routes() + vendor_routes()
        routes += csat_routes()  # the public page an email rating link opens
        routes += totp_routes()  # two-factor sign-in: the login's code step, enrolment, admins' reset and policy
        routes += channels_admin.routes()  # the admins' Channels page: status, URLs, checks, secrets
        routes += widget_site_routes()  # admins' widget sites, snippet and live preview
        self.app = build_app(self.hub, routes, public_url=settings.public_url,
                             trusted_proxies=settings.trusted_proxies,
                             observe=exporter.observe_http if exporter else None)
        if self.supervisor is not None:
            self.app[DATABASE_SUPERVISOR] = self.supervisor
        if exporter is not None:
            install(self.app, self.hub, exporter, self.supervisor)
        self.app[EXTRAS].update(settings=settings, runtime=self, bot=bot, workbench=workbench, sites=self.sites)
        await self.hub.start()
        self.hub.spawn(self.sites.run(self.hub.bus), "widget sites")
        if workbench is not None:
            workbench.start(self.hub)
        self.admin_credentials = await self.hub.accounts.ensure_admin()
        for channel in self.channels:
            try:
                await channel.start()
            except ChannelConfigError as exc:
                raise ConfigError(f"channels.{channel.name}: {exc}") from exc
        return self.app

    async def seed_sites(self) -> SiteBook:
        """The widget sites: `channels.widget.sites` seeds the database on first start, then all are in memory."""
        assert self.store is not None
        widget = self.settings.channels.get("widget") or {}
        book = SiteBook(self.store, texts_check=widget_texts_check)
        try:
            await book.seed(widget.get("sites") or ({"default": {}} if widget and widget.get("enabled", True) else {}))
        except SiteError as exc:
            raise ConfigError(f"channels.widget.sites: {exc}") from exc
        await book.load()
        return book

    def _load_channel(self, name: str, cfg: dict[str, Any]) -> Channel:
        assert self.hub is not None
        module = importlib.import_module(f"channels.{name}")
        context = ChannelContext(hub=self.hub, config=cfg, public_url=self.settings.base_url,
                                 secret=self.settings.secret, data_dir=self.settings.data_dir / name,
                                 extra={"sites": self.sites})
        channel: Channel = module.create(context)
        return channel

    async def stop(self) -> None:
        # Channels first, so nothing new arrives while the hub drains. A send still in flight
        # on a channel whose client is closed fails as transient and is retried after a restart.
        for channel in reversed(self.channels):
            try:
                await channel.stop()
            except Exception:
                log.exception("channel %s did not stop cleanly", channel.name)
        self.channels.clear()
        if self.hub is not None:
            await self.hub.stop()
        if self.webhook_transport is not None:
            await self.webhook_transport.close()
        if self.store is not None:
            await self.store.close()
        if self.supervisor is not None:
            await self.supervisor.stop()  # a database we stop on purpose is not restarted
        if self.embedded is not None:
            self.embedded.stop()
