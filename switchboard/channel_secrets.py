"""Channel secrets set by admins in the desk: encrypted at rest, write-only, applied at start-up.

Each value is encrypted with AES-256-GCM (`cryptography`) under a key derived from the
`SWITCHBOARD_SECRET_KEY` environment variable (at least 32 characters; SHA-256 of it is the AES key).
The channel and field name are the authenticated data, so a ciphertext copied to another field does
not decrypt. One document per channel section in `channel_secrets`: `{_id: "slack", secrets: [{field,
value (nonce + ciphertext, base64), changed_at}]}`; the plaintext is never stored, returned or logged.

A stored value overrides the configuration file's for that field at the next start (channel adapters
are built once, at start-up). Without the key, editing is off and the file's secrets are used; with
stored secrets and no key, or the wrong key, start-up stops with a one-line error.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import os
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from hub.models import utcnow
from hub.store import Doc, Store

COLLECTION = "channel_secrets"
ENV_KEY = "SWITCHBOARD_SECRET_KEY"
MIN_KEY_LENGTH = 32
NONCE_BYTES = 12


class ChannelSecretsError(Exception):
    """The stored secrets cannot be used (no key, wrong key, unknown field): a one-line reason."""


def secret_fields(section: str, config: dict[str, Any]) -> dict[str, str]:
    """The secret fields of a channel section (dotted paths into its configuration) and their labels."""
    if section == "slack":
        return {"bot_token": "Bot token (xoxb-…)", "signing_secret": "Signing secret",
                "app_token": "App-level token (xapp-…, Socket Mode)"}
    if section == "telegram":
        fields: dict[str, str] = {}
        for bot in (config.get("bots") or {}):
            fields[f"bots.{bot}.token"] = f"Bot {bot}: BotFather token"
            fields[f"bots.{bot}.secret_token"] = f"Bot {bot}: webhook secret token"
        return fields
    if section == "phone":
        return {"auth_token": "Twilio auth token"}
    if section == "email":
        fields = {"relay.password": "SMTP relay password"} if config.get("relay") else {}
        for name, box in (config.get("mailboxes") or {}).items():
            if (box or {}).get("imap"):
                fields[f"mailboxes.{name}.imap.password"] = f"Mailbox {name}: IMAP password"
        return fields
    return {}


def get_path(config: dict[str, Any], path: str) -> Any:
    node: Any = config
    for part in path.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def set_path(config: dict[str, Any], path: str, value: str) -> None:
    parts = path.split(".")
    node = config
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[parts[-1]] = value


@dataclass(frozen=True)
class SecretState:
    field: str
    label: str
    #: `stored` (set in the desk), `config` (the configuration file has one), or None (not set).
    source: str | None
    changed_at: datetime | None


class ChannelSecrets:
    def __init__(self, store: Store, key: str | None) -> None:
        self.collection = store.db[COLLECTION]
        self._aead = AESGCM(hashlib.sha256(key.encode("utf-8")).digest()) if key else None
        self.key_problem = _key_problem(key)

    @property
    def editable(self) -> bool:
        return self.key_problem is None

    def _cipher(self) -> AESGCM:
        if self._aead is None or self.key_problem is not None:
            raise ChannelSecretsError(self.key_problem or f"{ENV_KEY} is not set")
        return self._aead

    def encrypt(self, section: str, field: str, value: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._cipher().encrypt(nonce, value.encode("utf-8"), f"{section}:{field}".encode())
        return base64.b64encode(nonce + sealed).decode("ascii")

    def decrypt(self, section: str, field: str, stored: str) -> str:
        raw = base64.b64decode(stored)
        try:
            plain = self._cipher().decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], f"{section}:{field}".encode())
        except InvalidTag as exc:
            raise ChannelSecretsError(f"the stored secret channels.{section}.{field} cannot be decrypted with "
                                      f"{ENV_KEY}: it is not the key it was stored with") from exc
        return plain.decode("utf-8")

    async def put(self, section: str, field: str, value: str | None) -> None:
        """Store (or with None, forget) one secret; the configuration file's value applies again when forgotten."""
        doc = await self.collection.find_one({"_id": section}) or {"_id": section, "secrets": []}
        kept = [s for s in doc.get("secrets", []) if s["field"] != field]
        if value is not None:
            kept.append({"field": field, "value": self.encrypt(section, field, value), "changed_at": utcnow()})
        await self.collection.replace_one({"_id": section}, {"_id": section, "secrets": kept}, upsert=True)

    async def stored(self, sections: list[str]) -> dict[str, list[Doc]]:
        """The stored entries (still encrypted) per section."""
        docs = self.collection.find({"_id": {"$in": sections}})
        return {d["_id"]: list(d.get("secrets", [])) async for d in docs}

    async def states(self, section: str, config: dict[str, Any]) -> list[SecretState]:
        """Whether each secret field is set, and where; never its value."""
        stored = {s["field"]: s for s in (await self.stored([section])).get(section, [])}
        states = []
        for field, label in secret_fields(section, config).items():
            if field in stored:
                states.append(SecretState(field, label, "stored", stored[field]["changed_at"]))
            else:
                states.append(SecretState(field, label, "config" if get_path(config, field) else None, None))
        return states

    async def apply(self, channels: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """The channel configurations with the stored secrets in place of the file's (a deep copy).

        Raises ChannelSecretsError when secrets are stored but cannot be decrypted."""
        effective = copy.deepcopy(channels)
        stored = await self.stored(list(channels))
        for section, entries in stored.items():
            for entry in entries:
                set_path(effective[section], entry["field"], self.decrypt(section, entry["field"], entry["value"]))
        return effective

    async def values(self, channels: dict[str, dict[str, Any]]) -> list[str]:
        """Every stored plaintext (for the log redactor), or [] when they cannot be decrypted."""
        out: list[str] = []
        try:
            effective = await self.apply(channels)
        except ChannelSecretsError:
            return out
        for section, config in effective.items():
            out += [str(v) for f in secret_fields(section, config) if (v := get_path(config, f))]
        return out


def _key_problem(key: str | None) -> str | None:
    if not key:
        return (f"set {ENV_KEY} (at least {MIN_KEY_LENGTH} random characters) in the hub's environment to store "
                "channel secrets here; secrets in the configuration file and its environment variables still work")
    if len(key) < MIN_KEY_LENGTH:
        return f"{ENV_KEY} is too short: use at least {MIN_KEY_LENGTH} random characters"
    return None
