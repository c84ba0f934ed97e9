"""Configuration: one YAML file (with `${ENV}` substitution) plus command-line overrides."""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hub.calendars import CalendarError, parse_calendar
from hub.outbox import POLL_SECONDS
from hub.realtime import READ_GAP_SECONDS
from hub.tickets import QueueConfig
from hub.totp import TotpError, check_roles
from switchboard.proxies import parse_proxies

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "config" / "switchboard.yml"
_ENV = re.compile(r"\$\{([A-Z0-9_]+)(?::-([^}]*))?\}")


class ConfigError(Exception):
    pass


@dataclass
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = Path("var")
    mongodb_uri: str | None = None
    db_name: str = "switchboard"
    public_url: str = ""
    #: Reverse proxies (addresses or networks) whose X-Forwarded-Proto/-Host/-For the hub believes.
    trusted_proxies: list[str] = field(default_factory=list)
    secret: str = ""
    #: SWITCHBOARD_SECRET_KEY: encrypts the channel secrets admins store in the desk (switchboard.channel_secrets).
    secret_key: str = ""
    queues: dict[str, QueueConfig] = field(default_factory=dict)
    default_queue: str = "general"
    bot: dict[str, Any] = field(default_factory=dict)
    channels: dict[str, dict[str, Any]] = field(default_factory=dict)
    outbox: dict[str, Any] = field(default_factory=dict)
    #: `outbox.poll_seconds`: how often an idle outbox worker looks for entries nobody woke it for (hub.outbox).
    outbox_poll_seconds: float = POLL_SECONDS
    #: A desk connection not re-stamped for this long (its process died) no longer makes its agent online.
    presence_ttl_seconds: float = 90.0
    #: Embedded database only: how long a crashed secantusd-py is restarted before `serve` exits non-zero.
    embedded_restart_give_up_seconds: float = 120.0
    #: Embedded database only: how long start-up waits for a previous server to release the storage.
    embedded_lock_wait_seconds: float = 30.0
    config_dir: Path = DEFAULT_CONFIG.parent
    #: Per channel: `{days: N, action: delete|anonymise}` for closed conversations (hub.retention).
    retention: dict[str, Any] = field(default_factory=dict)
    retention_interval_seconds: float = 3600.0
    #: Events older than this many days leave the event log (hub.eventlog); None (`0` in the file): kept whole.
    event_log_days: int | None = 30
    #: Waiting customers' place and wait are re-checked at least this often (0: never, tests drive passes).
    wait_announce_seconds: float = 15.0
    #: An agent's news waits this long unread before it is emailed to them (hub.newsmail).
    news_mail_delay_seconds: float = 120.0
    #: Canned responses: `name_fallback` is what `{{customer.first_name}}` says for a customer without a name.
    responses: dict[str, Any] = field(default_factory=dict)
    #: Serve `GET /metrics` (Prometheus; supervisors and API tokens with the `metrics` scope only).
    metrics_enabled: bool = True
    #: `/metrics` re-reads the outbox backlog and agents online at most this often (0: every scrape).
    metrics_refresh_seconds: float = 10.0
    #: Business-hours calendars by name (hub.calendars), seeded into the database; queues name theirs.
    calendars: dict[str, Any] = field(default_factory=dict)
    #: The history's aggregates catch up with the event log this often (0: not in this process; hub.aggregates).
    metrics_aggregate_seconds: float = 5.0
    #: The realtime bus's pause between two change-stream reads (hub.realtime; 0: none, a read per change).
    realtime_read_gap_seconds: float = READ_GAP_SECONDS
    #: Roles whose users must sign in with a one-time code (hub.totp); seeded on first start, then the desk's.
    require_totp_roles: list[str] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return self.public_url.rstrip("/") or f"http://{self.host}:{self.port}"


def _expand(value: Any) -> Any:
    if isinstance(value, str):
        return _ENV.sub(lambda m: os.environ.get(m.group(1), m.group(2) or ""), value)
    if isinstance(value, list):
        return [_expand(v) for v in value]
    if isinstance(value, dict):
        return {k: _expand(v) for k, v in value.items()}
    return value


def _seconds(section: dict[str, Any], key: str, default: float) -> float:
    """A positive number of seconds from the `hub` section (empty: the default)."""
    raw = section.get(key)
    if raw in (None, ""):
        return default
    try:
        value = float(raw)
    except (TypeError, ValueError):
        value = -1.0
    if not value > 0:
        raise ConfigError(f"hub.{key} must be a positive number of seconds, not {raw!r}")
    return value


def _gap(raw: Any) -> float:
    """`hub.realtime_read_gap_seconds`: zero or a short pause (empty: the default)."""
    if raw in (None, ""):
        return READ_GAP_SECONDS
    try:
        value = float(raw)
    except (TypeError, ValueError):
        value = -1.0
    if not 0 <= value <= 1:
        raise ConfigError(f"hub.realtime_read_gap_seconds must be between 0 and 1, not {raw!r}")
    return value


def _outbox_poll(raw: Any) -> float:
    """`outbox.poll_seconds`: a positive number of seconds (empty: the default)."""
    try:
        return _seconds({"poll_seconds": raw}, "poll_seconds", POLL_SECONDS)
    except ConfigError:
        raise ConfigError(f"outbox.poll_seconds must be a positive number of seconds, not {raw!r}") from None


def load_settings(path: Path | None = None, **overrides: Any) -> Settings:
    """Read the YAML file, expand `${VAR:-default}`, apply non-None overrides."""
    path = path or Path(os.environ.get("SWITCHBOARD_CONFIG", DEFAULT_CONFIG))
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read config {path}: {exc}") from exc
    raw = _expand(raw)
    hub = raw.get("hub", {})
    queues = {}
    for q in raw.get("queues", [{"name": "general"}]):
        known = {k: v for k, v in q.items() if k in QueueConfig.__dataclass_fields__}
        queues[q["name"]] = QueueConfig(**known)
    settings = Settings(
        host=hub.get("host", "127.0.0.1"),
        port=int(hub.get("port", 8080)),
        data_dir=Path(hub.get("data_dir", "var")),
        mongodb_uri=os.environ.get("MONGODB_URI") or hub.get("mongodb_uri") or None,
        db_name=hub.get("db_name", "switchboard"),
        public_url=hub.get("public_url", ""),
        trusted_proxies=_proxies(hub.get("trusted_proxies")),
        secret=os.environ.get("SWITCHBOARD_SECRET") or hub.get("secret", ""),
        secret_key=os.environ.get("SWITCHBOARD_SECRET_KEY", ""),
        queues=queues,
        default_queue=raw.get("default_queue", next(iter(queues))),
        bot=raw.get("bot", {}),
        channels={k: v or {} for k, v in (raw.get("channels") or {}).items()},
        outbox=raw.get("outbox", {}),
        outbox_poll_seconds=_outbox_poll((raw.get("outbox") or {}).get("poll_seconds")),
        presence_ttl_seconds=float(hub.get("presence_ttl_seconds", 90)),
        embedded_restart_give_up_seconds=_seconds(hub, "embedded_restart_give_up_seconds", 120),
        embedded_lock_wait_seconds=_seconds(hub, "embedded_lock_wait_seconds", 30),
        config_dir=path.resolve().parent,
        retention=raw.get("retention") or {},
        retention_interval_seconds=float(hub.get("retention_interval_seconds", 3600)),
        event_log_days=_days(hub.get("event_log_days", 30), "hub.event_log_days"),
        wait_announce_seconds=float(hub.get("wait_announce_seconds", 15)),
        news_mail_delay_seconds=_seconds(hub, "news_mail_delay_seconds", 120),
        responses=raw.get("responses") or {},
        metrics_enabled=_flag((hub.get("metrics") or {}).get("enabled", True), "hub.metrics.enabled"),
        metrics_refresh_seconds=float((hub.get("metrics") or {}).get("refresh_seconds", 10)),
        calendars=_calendars(raw.get("calendars"), queues),
        metrics_aggregate_seconds=float((hub.get("metrics") or {}).get("aggregate_seconds", 5)),
        require_totp_roles=_totp_roles((raw.get("auth") or {}).get("require_totp_roles")),
        realtime_read_gap_seconds=_gap(hub.get("realtime_read_gap_seconds")),
    )
    for key, value in overrides.items():
        if value is not None:
            setattr(settings, key, value)
    if settings.default_queue not in settings.queues:
        raise ConfigError(f"default_queue {settings.default_queue!r} is not a configured queue")
    return settings


def _calendars(raw: Any, queues: dict[str, QueueConfig]) -> dict[str, Any]:
    """The top-level `calendars` map, checked (a bad one stops start-up with the reason)."""
    if raw in (None, ""):
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError("calendars: a mapping from calendar name to {timezone, hours, holidays}")
    for name, spec in raw.items():
        try:
            parse_calendar(str(name), spec)
        except CalendarError as exc:
            raise ConfigError(f"calendars.{name}: {exc}") from exc
    for q in queues.values():
        if q.calendar and q.calendar not in raw:
            raise ConfigError(f"queues.{q.name}.calendar: no calendar named {q.calendar!r} under calendars")
    return dict(raw)


def _days(raw: Any, key: str) -> int | None:
    """A whole number of days, or 0 for "no limit" (None); from an environment variable, its digits."""
    if isinstance(raw, str) and raw.strip().isdigit():
        raw = int(raw)
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
        raise ConfigError(f"{key} must be a whole number of days (0: keep everything), not {raw!r}")
    return raw or None


def _flag(value: Any, key: str) -> bool:
    """A yes/no setting: YAML booleans, or true/false/1/0 from an environment variable."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "on", "1"):
        return True
    if text in ("false", "no", "off", "0"):
        return False
    raise ConfigError(f"{key} must be true or false, not {value!r}")


def _proxies(value: Any) -> list[str]:
    try:
        return parse_proxies(value)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"hub.trusted_proxies: {exc}") from exc


def _totp_roles(value: Any) -> list[str]:
    try:
        return check_roles(value if value is not None else [])
    except TotpError as exc:
        raise ConfigError(f"auth.require_totp_roles: {exc}") from exc


def ensure_secret(settings: Settings) -> str:
    """The hub's signing secret: configured, or generated once and kept in the data dir."""
    if settings.secret:
        return settings.secret
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    path = settings.data_dir / "secret"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(32), encoding="utf-8")
        path.chmod(0o600)
    settings.secret = path.read_text(encoding="utf-8").strip()
    return settings.secret
