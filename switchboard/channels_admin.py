"""The admins' Channels page API: each channel's state, the URLs to paste, credential checks, test
messages and write-only secrets.

It lives in the composition root because it needs what only the root may know: the configured
channel sections, the adapters' own check code (`channels.<name>.admin`, importing the vendor SDKs
only for channels that are configured) and the stored-secrets store (`switchboard.channel_secrets`).

- `GET  /api/admin/channels`: a card per channel (status, backlog, URLs, secrets set or not).
- `POST /api/admin/channels/{name}/check`: check the credentials against the provider.
- `POST /api/admin/channels/{name}/test`: queue a test message to an admin-entered destination.
- `GET  /api/admin/channels/tests/{id}`: how that test message's delivery went.
- `POST /api/admin/channels/{name}/secrets`: set (or with `value: null`, forget) one secret.

Stored secrets take effect at the next start of the hub (adapters are built once, their webhook
routes registered with the web app); the credential check uses them at once.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass, field
from datetime import datetime
from types import ModuleType
from typing import Any

from aiohttp import web
from pydantic import Field

from agents_ui.appkeys import EXTRAS, HUB
from agents_ui.auth import agent_of, error, requires
from channels.base import CheckLine
from httpkit.bodies import accepts, body_of
from httpkit.fields import Body, Secret, Token
from hub.models import Role, utcnow
from hub.store import Doc, Store, oid
from switchboard.channel_secrets import ChannelSecrets, ChannelSecretsError, secret_fields
from switchboard.config import ConfigError, Settings
from switchboard.log_redaction import redact_also

log = logging.getLogger(__name__)

#: Configuration section -> (title, the hub channels it delivers, docs page).
SECTIONS: dict[str, tuple[str, tuple[str, ...], str]] = {
    "email": ("Email", ("email",), "docs/channels/email.md"),
    "slack": ("Slack", ("slack",), "docs/channels/slack.md"),
    "telegram": ("Telegram", ("telegram",), "docs/channels/telegram.md"),
    "phone": ("Phone (Twilio SMS and voice)", ("sms", "voice"), "docs/channels/phone.md"),
    "widget": ("Web chat widget", ("widget",), "README.md, Web chat widget"),
}
#: Sections with an admin module (`channels.<name>.admin`): checks, URLs, test messages.
CHECKABLE = ("email", "slack", "telegram", "phone")


@dataclass
class LoadedChannels:
    """The channel sections the adapters were built from (file + stored secrets), and when."""

    sections: dict[str, dict[str, Any]] = field(default_factory=dict)
    loaded_at: datetime = field(default_factory=utcnow)


async def load_channel_configs(store: Store, settings: Settings) -> LoadedChannels:
    """The configured channel sections with the secrets admins stored in the desk in place; a one-line
    ConfigError when stored secrets cannot be decrypted (no key, or not the key they were stored with)."""
    secrets = ChannelSecrets(store, settings.secret_key)
    stored = await secrets.stored(list(settings.channels))
    if any(stored.values()) and not secrets.editable:
        raise ConfigError(f"channel secrets are stored in the database but {secrets.key_problem}")
    try:
        sections = await secrets.apply(settings.channels)
    except ChannelSecretsError as exc:
        raise ConfigError(str(exc)) from exc
    redact_also(*await secrets.values(settings.channels))
    return LoadedChannels(sections)


class SecretChange(Body):
    field: Token = Field(min_length=1, description="a secret field of this channel, e.g. bot_token")
    value: Secret | None = Field(default=None, min_length=1, description="the new value; null forgets the stored one")


class TestMessage(Body):
    destination: Token = Field(min_length=1, description="email address, Slack channel, chat id or phone number")
    sender: Token | None = Field(default=None, description="SMS: the Twilio number; email: the mailbox; "
                                 "Telegram: the bot")


def _extras(request: web.Request) -> tuple[Settings, Any]:
    extras = request.app[EXTRAS]
    return extras["settings"], extras["runtime"]


def _admin_module(section: str) -> ModuleType:
    return importlib.import_module(f"channels.{section}.admin")


def _section(request: web.Request) -> str:
    settings, _ = _extras(request)
    section = request.match_info["name"]
    if section not in SECTIONS:
        raise error(404, "no such channel")
    if section not in settings.channels:
        raise error(400, f"channels.{section} is not configured")
    return section


def _target(section: str) -> dict[str, str]:
    return {"type": "channel", "name": section}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _connected(statuses: list[Doc], check: Doc | None) -> bool | None:
    """The most recent contact with the provider: a message in or out (ok), a failed delivery (not ok),
    an admin's credential check (its result). None: nothing happened yet."""
    events: list[tuple[datetime, bool]] = []
    for status in statuses:
        events += [(status[k], True) for k in ("last_in", "last_out") if status.get(k)]
        if status.get("last_error_at"):
            events.append((status["last_error_at"], False))
    if check:
        events.append((check["at"], bool(check["ok"])))
    return max(events, key=lambda e: e[0])[1] if events else None


@requires(Role.ADMIN)
async def list_channels(request: web.Request) -> web.Response:
    settings, runtime = _extras(request)
    hub = request.app[HUB]
    secrets = ChannelSecrets(hub.store, settings.secret_key)
    hub_channels = [c for _, (_, chans, _) in SECTIONS.items() for c in chans]
    statuses, checks = await hub.channel_status.read(hub_channels, list(SECTIONS))
    backlog = await hub.channel_status.backlog()
    loaded: LoadedChannels = runtime.channel_configs
    running = {c.name for c in runtime.channels}
    cards = []
    for section, (title, chans, docs) in SECTIONS.items():
        raw = settings.channels.get(section)
        card: dict[str, Any] = {"name": section, "title": title, "docs": docs, "configured": raw is not None,
                                "enabled": bool(raw is not None and raw.get("enabled", True)),
                                "running": section in running}
        card["channels"] = [{
            "channel": c, "last_in": _iso(statuses[c].get("last_in")), "last_out": _iso(statuses[c].get("last_out")),
            "last_error": statuses[c].get("last_error"), "last_error_at": _iso(statuses[c].get("last_error_at")),
            **backlog.get(c, {"waiting": 0, "failed": 0})} for c in chans]
        check = checks.get(section)
        card["last_check"] = ({"ok": check["ok"], "detail": check["detail"], "at": _iso(check["at"])}
                              if check else None)
        card["connected"] = _connected([statuses[c] for c in chans], check) if card["running"] else None
        card["urls"] = _urls(section, raw or {}, settings.base_url)
        card["secrets"] = []
        if raw is not None:
            for state in await secrets.states(section, raw):
                pending = state.changed_at is not None and state.changed_at > loaded.loaded_at
                card["secrets"].append({"field": state.field, "label": state.label,
                                        "set": state.source is not None, "source": state.source,
                                        "changed_at": _iso(state.changed_at), "pending_restart": pending})
        card["test"] = _test_form(section) if raw is not None and section in CHECKABLE else None
        cards.append(card)
    return web.json_response({"public_url": settings.base_url, "public_url_configured": bool(settings.public_url),
                              "secrets_editable": secrets.editable, "secrets_note": secrets.key_problem,
                              "channels": cards})


def _urls(section: str, raw: dict[str, Any], public_url: str) -> list[dict[str, str]]:
    if section == "widget":
        return [{"label": "Widget script", "value": public_url + "/widget.js",
                 "note": "the embed snippet for each site: the Widget sites page (or the README, Web chat widget)"}]
    if section not in CHECKABLE or not raw:
        return []
    return [{"label": u.label, "value": u.value, "note": u.note}
            for u in _admin_module(section).paste_urls(raw, public_url)]


def _test_form(section: str) -> dict[str, Any]:
    module = _admin_module(section)
    return {"destination": module.DESTINATION, "sender": getattr(module, "SENDER", None)}


async def _effective(request: web.Request, section: str) -> dict[str, Any]:
    """The section as the next start would build it: the file with the stored secrets in place."""
    settings, _ = _extras(request)
    secrets = ChannelSecrets(request.app[HUB].store, settings.secret_key)
    try:
        return (await secrets.apply({section: settings.channels[section]}))[section]
    except ChannelSecretsError as exc:
        raise error(409, str(exc)) from exc


@requires(Role.ADMIN)
async def check_channel(request: web.Request) -> web.Response:
    section = _section(request)
    if section not in CHECKABLE:
        raise error(400, f"{section} has no credentials to check")
    settings, _ = _extras(request)
    hub = request.app[HUB]
    raw = await _effective(request, section)
    try:
        lines: list[CheckLine] = await _admin_module(section).check(raw, settings.base_url)
    except Exception as exc:  # a check must answer with a reason, never a 500 and a traceback
        log.warning("channels: the %s credential check failed unexpectedly: %s", section, type(exc).__name__)
        lines = [CheckLine("check", False, f"unexpected error: {type(exc).__name__}")]
    ok = bool(lines) and all(line.ok for line in lines)
    summary = "; ".join(f"{line.what}: {'ok' if line.ok else 'failed'}, {line.detail}" for line in lines)
    await hub.channel_status.record_check(section, ok, summary)
    await hub.audit.record("channel.checked", actor=agent_of(request), target=_target(section), ip=request.remote,
                           details={"ok": ok})
    return web.json_response({"ok": ok, "lines": [{"what": x.what, "ok": x.ok, "detail": x.detail} for x in lines]})


@requires(Role.ADMIN)
@accepts(TestMessage)
async def send_test(request: web.Request) -> web.Response:
    section = _section(request)
    if section not in CHECKABLE:
        raise error(400, f"{section} cannot send a test message from here")
    body = body_of(request, TestMessage)
    _, runtime = _extras(request)
    if section not in {c.name for c in runtime.channels}:
        raise error(409, f"{section} is not running in this hub (disabled, or enabled after the last start)")
    raw = runtime.channel_configs.sections[section]
    try:
        target = _admin_module(section).test_target(raw, body.destination, body.sender)
    except ValueError as exc:
        raise error(400, f"the destination must be {exc}") from exc
    hub = request.app[HUB]
    actor = agent_of(request)
    message = await hub.channel_tests.send(target.channel, target.recipient, target.thread_key, target.channel_data,
                                           target.inbox, actor)
    await hub.audit.record("channel.test_sent", actor=actor, target=_target(section), ip=request.remote,
                           details={"channel": target.channel})
    return web.json_response({"message_id": str(message["_id"]), "status": "queued"}, status=202)


@requires(Role.ADMIN)
async def test_status(request: web.Request) -> web.Response:
    try:
        message_id = oid(request.match_info["id"])
    except ValueError as exc:
        raise error(404, "no such test message") from exc
    delivery = await request.app[HUB].channel_tests.delivery(message_id)
    if delivery is None:
        raise error(404, "no such test message")
    return web.json_response({"channel": delivery["channel"], "status": delivery.get("status"),
                              "attempts": delivery.get("attempts", 0), "error": delivery.get("error")})


@requires(Role.ADMIN)
@accepts(SecretChange)
async def change_secret(request: web.Request) -> web.Response:
    section = _section(request)
    body = body_of(request, SecretChange)
    settings, _ = _extras(request)
    hub = request.app[HUB]
    secrets = ChannelSecrets(hub.store, settings.secret_key)
    if not secrets.editable:
        raise error(409, str(secrets.key_problem))
    if body.field not in secret_fields(section, settings.channels[section]):
        raise error(400, f"{body.field!r} is not a secret of channels.{section}")
    if body.value is not None:
        redact_also(body.value)
    await secrets.put(section, body.field, body.value)
    action = "channel.secret_set" if body.value is not None else "channel.secret_cleared"
    await hub.audit.record(action, actor=agent_of(request), target=_target(section), ip=request.remote,
                           details={"field": body.field})
    return web.json_response({"field": body.field, "set": body.value is not None,
                              "takes_effect": "at the next start of the hub"})


def routes() -> list[web.RouteDef]:
    return [
        web.get("/api/admin/channels", list_channels),
        web.post("/api/admin/channels/{name}/check", check_channel),
        web.post("/api/admin/channels/{name}/test", send_test),
        web.get("/api/admin/channels/tests/{id}", test_status),
        web.post("/api/admin/channels/{name}/secrets", change_secret),
    ]
