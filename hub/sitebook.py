"""Widget sites: each website that embeds the chat widget, stored in the database.

A site has a name (the slug in `data-site`), a title, the origins its pages are served from
(CORS), colours, a greeting, a pre-chat form, per-site text overrides and an identity secret
(the key its backend signs user JWTs and `user_hash` values with). The YAML section
`channels.widget.sites` seeds the collection on first start; afterwards admins edit sites in
the desk, and `switchboard config apply` re-applies a file (`diff` / `apply` below).

Every process keeps all sites in memory (`SiteBook.sites`): the widget's CORS checks and
session handling read memory only, never the database. A change writes the site and a
`widget.sites_changed` event; each process's `run` follows the realtime bus and reloads on
that event, and the writing process reads them again at once (`hub.latestread` keeps overlapping
reloads in order).

Identity secrets are generated here (never typed by an admin) and shown once. Rotation keeps the
previous secret valid for a grace period (default one day) so a site's backend can switch keys
without refusing signed-in users in between; a grace of 0 revokes the old key at once.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from hub.latestread import LatestRead
from hub.models import utcnow
from hub.realtime import Change, RealtimeBus
from hub.store import Doc, PyMongoError, Store

log = logging.getLogger(__name__)

COLLECTION = "widget_sites"
SITES_CHANGED = "widget.sites_changed"
#: `settings` document marking that the YAML sites were seeded once (an admin's deletions then stick).
SEEDED_ID = "widget_sites.seeded"
DEFAULT_GRACE_SECONDS = 24 * 3600
MAX_GRACE_SECONDS = 30 * 24 * 3600
#: Bytes of randomness in a generated identity secret (43 URL-safe characters: above HS256's 32-byte minimum).
SECRET_BYTES = 32

NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,39}$"
COLOR_PATTERN = r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$"
TEXT_KEY_PATTERN = r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$"
MAX_TITLE = 80
MAX_GREETING = 1000
MAX_ORIGINS = 50
MAX_TEXTS = 200
MAX_TEXT = 500
COLOR_KEYS = ("primary",)
PRECHAT_MODES = ("required", "optional", "off")
#: The fields an admin edits; other YAML keys (sound, max_upload_bytes, ...) are kept as they are.
EDITABLE = ("title", "allowed_origins", "colors", "greeting", "prechat", "texts")
SECRET_FIELDS = ("identity_secret", "identity_secret_previous", "previous_valid_until", "identity_secret_set_at")


class SiteError(ValueError):
    """A site the widget cannot use, with the reason in words."""


# -- validation (shared by the admin API's schemas, the YAML seed and `config apply`) -----------------
def check_name(name: str) -> str:
    if not isinstance(name, str) or not re.fullmatch(NAME_PATTERN, name):
        raise SiteError(f"site name {name!r}: 1-40 lower-case letters, digits, - or _, starting with a letter or digit")
    return name


def check_origin(origin: str) -> str:
    """`*` or an origin as browsers send it (`https://shop.example.com[:port]`): no path, query or user."""
    if origin == "*":
        return origin
    if not isinstance(origin, str) or len(origin) > 300:
        raise SiteError("an origin is a URL like https://shop.example.com")
    parts = urlsplit(origin.strip())
    try:
        port = parts.port
    except ValueError as exc:
        raise SiteError(f"origin {origin!r}: bad port") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SiteError(f"origin {origin!r}: must start with https:// or http:// and name a host")
    if parts.username or parts.password or parts.query or parts.fragment or parts.path not in ("", "/"):
        raise SiteError(f"origin {origin!r}: only scheme, host and port (no path, query or user)")
    host = parts.hostname.lower()
    ipv6 = ":" in host and re.fullmatch(r"[0-9a-f:.]+", host)
    if not (ipv6 or re.fullmatch(r"[a-z0-9]([a-z0-9.-]*[a-z0-9])?", host)):
        raise SiteError(f"origin {origin!r}: not a host name")
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "")


def check_color(value: str) -> str:
    if not isinstance(value, str) or not re.fullmatch(COLOR_PATTERN, value):
        raise SiteError(f"colour {value!r}: a hex colour like #2457d6")
    return value.lower()


def normalise(raw: dict[str, Any], name: str = "") -> Doc:
    """A site's settings checked and in stored shape (raises SiteError). Unknown keys are kept as given."""
    if not isinstance(raw, dict):
        raise SiteError(f"site {name!r}: settings must be a mapping")
    out: Doc = {k: v for k, v in raw.items() if k not in (*EDITABLE, *SECRET_FIELDS, "_id", "updated_at")}
    title = raw.get("title", "Chat with us")
    if not isinstance(title, str) or not 0 < len(title.strip()) <= MAX_TITLE:
        raise SiteError(f"site {name!r}: title must be 1-{MAX_TITLE} characters")
    out["title"] = title.strip()
    origins = raw.get("allowed_origins", ["*"])
    if not isinstance(origins, list) or len(origins) > MAX_ORIGINS:
        raise SiteError(f"site {name!r}: allowed_origins must be a list of at most {MAX_ORIGINS} origins")
    out["allowed_origins"] = list(dict.fromkeys(check_origin(o) for o in origins))
    colors = raw.get("colors") or {}
    if not isinstance(colors, dict) or set(colors) - set(COLOR_KEYS):
        raise SiteError(f"site {name!r}: colors may set {', '.join(COLOR_KEYS)}")
    out["colors"] = {k: check_color(v) for k, v in colors.items() if v}
    greeting = raw.get("greeting") or ""
    if not isinstance(greeting, str) or len(greeting) > MAX_GREETING:
        raise SiteError(f"site {name!r}: greeting must be text of at most {MAX_GREETING} characters")
    out["greeting"] = greeting.strip()
    prechat = raw.get("prechat") or {}
    if not isinstance(prechat, dict):
        raise SiteError(f"site {name!r}: prechat must be a mapping")
    form = {"enabled": bool(prechat.get("enabled", False))}
    for field in ("name", "email"):
        mode = str(prechat.get(field, "optional"))
        if mode not in PRECHAT_MODES:
            raise SiteError(f"widget site {name!r}: prechat.{field} must be required, optional or off, not {mode!r}")
        form[field] = mode
    out["prechat"] = form
    texts = raw.get("texts") or {}
    if not isinstance(texts, dict) or len(texts) > MAX_TEXTS:
        raise SiteError(f"site {name!r}: texts must map at most {MAX_TEXTS} message keys to text")
    _check_texts(texts, f"site {name!r}: texts", depth=2)
    out["texts"] = dict(texts)
    return out


def _check_texts(texts: dict[Any, Any], label: str, depth: int) -> None:
    """Shape only: keys like message keys (or language codes), values short text or, `depth` levels deep, a
    mapping (one language's texts, a plural text's forms). What the keys mean is the widget's check."""
    for key, value in texts.items():
        if not isinstance(key, str) or not re.fullmatch(TEXT_KEY_PATTERN, key):
            raise SiteError(f"{label}: {key!r} is not a message key (like 'composer.send') or a language code")
        if isinstance(value, dict) and depth > 0 and len(value) <= MAX_TEXTS:
            _check_texts(value, f"{label}.{key}", depth - 1)
        elif not isinstance(value, str) or not 0 < len(value) <= MAX_TEXT:
            raise SiteError(f"{label}.{key} must be 1-{MAX_TEXT} characters")


def new_secret() -> str:
    return secrets.token_urlsafe(SECRET_BYTES)


def public_view(name: str, cfg: Doc) -> Doc:
    """What the admin API shows: everything but the secrets (only whether one is set, and the grace)."""
    view: Doc = {"name": name, **{k: cfg.get(k) for k in EDITABLE}}
    view["identity_secret_set"] = bool(cfg.get("identity_secret"))
    set_at, until = cfg.get("identity_secret_set_at"), cfg.get("previous_valid_until")
    view["identity_secret_set_at"] = set_at.isoformat() if isinstance(set_at, datetime) else None
    view["previous_secret_valid_until"] = until.isoformat() if isinstance(until, datetime) and until > utcnow() \
        else None
    return view


class SiteBook:
    """Every widget site, in memory in each process, stored in `widget_sites` (_id: name)."""

    def __init__(self, store: Store, texts_check: Callable[[Any, str], Any] | None = None) -> None:
        """`texts_check(texts, label)`: the widget's own check of a site's text overrides (its message keys,
        placeholders and plural forms; raises ValueError with the reason), handed in by the composition root."""
        self.store = store
        self.texts_check = texts_check
        self.collection = store.db[COLLECTION]
        #: name -> the site's settings (the shape the widget reads: title, allowed_origins, prechat, ...).
        self.sites: dict[str, Doc] = {}
        self.loaded = asyncio.Event()
        self._reads = LatestRead()

    def normalise(self, raw: dict[str, Any], name: str = "") -> Doc:
        """`normalise` plus the widget's check of the text overrides (raises SiteError)."""
        out = normalise(raw, name)
        if self.texts_check is not None and out["texts"]:
            try:
                self.texts_check(out["texts"], f"site {name!r}: texts")
            except ValueError as exc:
                raise SiteError(str(exc)) from exc
        return out

    # -- reading (memory only) ----------------------------------------------------------------------
    def get(self, name: str) -> Doc | None:
        return self.sites.get(name)

    def identity_secrets(self, name: str, now: datetime | None = None) -> list[str]:
        """The keys a site's proofs are checked with: the current one, then the previous during its grace."""
        cfg = self.sites.get(name) or {}
        keys = [str(cfg["identity_secret"])] if cfg.get("identity_secret") else []
        until = cfg.get("previous_valid_until")
        if cfg.get("identity_secret_previous") and isinstance(until, datetime) and until > (now or utcnow()):
            keys.append(str(cfg["identity_secret_previous"]))
        return keys

    # -- start-up -----------------------------------------------------------------------------------
    async def seed(self, raw: dict[str, Any] | None) -> int:
        """On first start, store the configured sites (checked: a bad one raises SiteError). Returns how many.
        Later starts leave the database alone: the desk and `config apply` edit it."""
        checked = {check_name(str(n)): {**self.normalise(cfg or {}, str(n)), **_yaml_secret(cfg)}
                   for n, cfg in (raw or {}).items()}
        if await self.store.settings.find_one({"_id": SEEDED_ID}) is not None:
            return 0
        added = 0
        now = utcnow()
        for name, cfg in checked.items():
            result = await self.collection.update_one(
                {"_id": name}, {"$setOnInsert": {**cfg, "updated_at": now, "seeded": True}}, upsert=True)
            added += int(result.upserted_id is not None)
        await self.store.settings.update_one({"_id": SEEDED_ID}, {"$set": {"at": now, "sites": added}}, upsert=True)
        return added

    async def load(self) -> None:
        turn = self._reads.begin()
        sites: dict[str, Doc] = {}
        for doc in await self.collection.find({}).to_list():
            name = doc.pop("_id")
            sites[str(name)] = doc
        if self._reads.apply(turn):  # not a reload begun before a newer one already applied
            self.sites = sites
        self.loaded.set()

    async def run(self, bus: RealtimeBus) -> None:
        """Reload whenever any process changed a site (its event on the bus); for the hub's lifetime."""
        sub = bus.subscribe(maxsize=100, accept=_is_sites_change)
        first = True  # reload once at once: what changed between the first load and this subscription
        try:
            while True:
                if not first:
                    await sub.get()
                    while not sub.queue.empty():  # a burst of changes: one reload
                        sub.queue.get_nowait()
                first = False
                try:
                    await self.load()
                except PyMongoError as exc:
                    log.warning("widget sites: reload failed (%s); keeping the sites in memory", exc)
        finally:
            sub.close()

    # -- changes ------------------------------------------------------------------------------------
    async def save(self, name: str, fields: dict[str, Any]) -> tuple[Doc, bool]:
        """Create or update a site from its editable fields; returns (settings, created)."""
        check_name(name)
        current = self.sites.get(name) or await self.collection.find_one({"_id": name})
        base = {k: v for k, v in (current or {}).items() if k != "_id"}
        cfg = {**base, **self.normalise({**{k: base.get(k) for k in EDITABLE if k in base}, **fields}, name)}
        for key in SECRET_FIELDS:
            if key in base:
                cfg[key] = base[key]
        cfg["updated_at"] = utcnow()
        await self.collection.replace_one({"_id": name}, {"_id": name, **cfg}, upsert=True)
        await self._changed(name)
        return cfg, current is None

    async def delete(self, name: str) -> bool:
        result = await self.collection.delete_one({"_id": name})
        if result.deleted_count:
            await self._changed(name)
        return result.deleted_count > 0

    async def rotate_secret(self, name: str, grace_seconds: int = DEFAULT_GRACE_SECONDS) -> tuple[str, Doc]:
        """A new identity secret for the site (returned once: it is never shown again); the old one stays
        valid for `grace_seconds` (0: revoked now). Raises KeyError for an unknown site."""
        if not 0 <= grace_seconds <= MAX_GRACE_SECONDS:
            raise SiteError(f"grace must be 0-{MAX_GRACE_SECONDS} seconds")
        doc = await self.collection.find_one({"_id": name})
        if doc is None:
            raise KeyError(name)
        now = utcnow()
        secret = new_secret()
        update: Doc = {"identity_secret": secret, "identity_secret_set_at": now, "updated_at": now}
        old = doc.get("identity_secret")
        if old and grace_seconds > 0:
            update.update(identity_secret_previous=old, previous_valid_until=now + timedelta(seconds=grace_seconds))
        else:
            update.update(identity_secret_previous=None, previous_valid_until=None)
        await self.collection.update_one({"_id": name}, {"$set": update})
        cfg = {**{k: v for k, v in doc.items() if k != "_id"}, **update}
        await self._changed(name)
        return secret, cfg

    async def _changed(self, name: str) -> None:
        """This process reads every site again now (a read begun after the write: it holds it, and whatever
        other processes changed), the others when the event passes their bus."""
        await self.store.append_event(SITES_CHANGED, utcnow(), data={"site": name})
        await self.load()

    async def stop(self) -> None:
        return None


def _is_sites_change(change: Change) -> bool:
    return change.collection == "events" and change.document.get("type") == SITES_CHANGED


def _yaml_secret(cfg: Any) -> Doc:
    """A secret written in the YAML (e.g. from an environment variable) is seeded as the site's key."""
    secret = str((cfg or {}).get("identity_secret") or "") if isinstance(cfg, dict) else ""
    return {"identity_secret": secret, "identity_secret_set_at": utcnow()} if secret else {}


# -- `switchboard config apply`: the sites section ------------------------------------------------------
def site_fields(cfg: Doc) -> Doc:
    """What the desk edits of a site, in comparable form (for `config apply`'s field-level diff)."""
    return _comparable(cfg)


def _comparable(cfg: Doc) -> Doc:
    return {k: cfg.get(k) for k in EDITABLE}


def diff(book: SiteBook, desired: dict[str, Any], prune: bool = False) -> list[str]:
    """What `apply` would change, one line per site (`+ name`, `~ name: fields`, `- name`); [] when in step.
    `desired` is the YAML's `channels.widget.sites`; raises SiteError for a bad site. Secret values never
    appear: a changed secret reads `identity_secret`."""
    lines: list[str] = []
    for name, raw in (desired or {}).items():
        check_name(str(name))
        want = book.normalise(raw or {}, str(name))
        have = book.sites.get(str(name))
        if have is None:
            lines.append(f"+ widget site {name}")
            continue
        changed = [k for k in EDITABLE if _comparable(want)[k] != _comparable(have)[k]]
        changed += [k for k in want if k not in EDITABLE and want[k] != have.get(k)]
        secret = str((raw or {}).get("identity_secret") or "")
        if secret and secret != have.get("identity_secret"):
            changed.append("identity_secret")
        if changed:
            lines.append(f"~ widget site {name}: {', '.join(changed)}")
    if prune:
        lines += [f"- widget site {name}" for name in sorted(set(book.sites) - {str(n) for n in desired or {}})]
    return lines


async def apply(book: SiteBook, desired: dict[str, Any], prune: bool = False) -> list[str]:
    """Make the stored sites match `desired` (created or updated; removed with `prune`); returns `diff`'s lines.
    A secret in the file replaces the stored one (no grace: the file is the source of truth)."""
    lines = diff(book, desired, prune)
    changed = {line.split()[3].rstrip(":") for line in lines}
    for name, raw in (desired or {}).items():
        if str(name) not in changed:
            continue
        raw = raw or {}
        cfg, _ = await book.save(str(name), {k: v for k, v in raw.items() if k not in SECRET_FIELDS})
        secret = str(raw.get("identity_secret") or "")
        if secret and secret != cfg.get("identity_secret"):
            now = utcnow()
            update = {"identity_secret": secret, "identity_secret_set_at": now, "identity_secret_previous": None,
                      "previous_valid_until": None}
            await book.collection.update_one({"_id": str(name)}, {"$set": update})
            await book._changed(str(name))
    if prune:
        for line in lines:
            if line.startswith("- "):
                await book.delete(line.split()[3])
    return lines


__all__ = ["SITES_CHANGED", "SiteBook", "SiteError", "apply", "check_color", "check_name", "check_origin", "diff",
           "new_secret", "normalise", "public_view"]
