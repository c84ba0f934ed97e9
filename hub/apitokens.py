"""API tokens: personal (a user's, never more than that user's roles) and service (an admin's, no user).

A token is `sbt_` + 32 random bytes (URL-safe base64). The prefix lets secret scanners and
our log redaction recognise one. Only its SHA-256 is stored, so a copy of the database
grants nothing; the plain token is returned once, by `create`. A token carries scopes,
and every HTTP route that accepts tokens names the one scope it needs.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from hub.models import Role, utcnow
from hub.names import choices_problem
from hub.store import Doc, ObjectId, Store

PREFIX = "sbt_"
#: What each scope lets a token do, and the roles a user needs to hold a personal token with it.
SCOPE_ROLES: dict[str, tuple[Role, ...]] = {
    "tickets:read": (Role.AGENT, Role.SUPERVISOR),
    "tickets:write": (Role.AGENT,),
    "contacts": (Role.AGENT, Role.SUPERVISOR),
    "metrics": (Role.SUPERVISOR,),
}
SCOPES = tuple(SCOPE_ROLES)
#: `last_used_at` is written at most this often per token: a read per request, not a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)
MAX_NAME = 100
MAX_DAYS = 3650


class TokenError(Exception):
    """A token request that cannot be granted (bad name, unknown scope, a scope beyond your roles)."""


@dataclass(frozen=True)
class TokenPrincipal:
    """Who a valid token speaks for: its record, its scopes and, for a personal token, its user."""

    token: Doc
    scopes: frozenset[str]
    agent: Doc | None

    @property
    def acting_as(self) -> Doc:
        """The user the request acts as; a service token acts as itself (a user with no roles)."""
        if self.agent is not None:
            return self.agent
        return {"_id": self.token["_id"], "username": f"token:{self.token['name']}", "name": self.token["name"],
                "roles": [], "service": True}


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def looks_like_token(value: str) -> bool:
    return value.startswith(PREFIX) and 20 < len(value) < 200


def allowed_scopes(agent: Doc) -> set[str]:
    """The scopes a personal token of this user may carry (admins hold every role)."""
    held = set(agent.get("roles", []))
    if Role.ADMIN.value in held:
        return set(SCOPES)
    return {scope for scope, roles in SCOPE_ROLES.items() if held & {r.value for r in roles}}


def check_scopes(scopes: object) -> list[str]:
    problem = choices_problem(scopes, SCOPES, "scopes")
    if problem is not None:
        raise TokenError(problem)
    assert isinstance(scopes, list)
    return sorted(set(scopes))


def check_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME or not name.isprintable():
        raise TokenError(f"a name of 1 to {MAX_NAME} printable characters is required")
    return name.strip()


class ApiTokenService:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def create(self, name: object, scopes: object, *, owner: Doc | None, created_by: Doc,
                     expires_in_days: object = None) -> tuple[str, Doc]:
        """A new token: returns (plain token, stored record). `owner=None` makes a service token."""
        name = check_name(name)
        wanted = check_scopes(scopes)
        if owner is not None:
            beyond = sorted(set(wanted) - allowed_scopes(owner))
            if beyond:
                raise TokenError(f"your roles do not allow scope {beyond[0]!r}")
        expires_at: datetime | None = None
        if expires_in_days is not None:
            if not isinstance(expires_in_days, int) or isinstance(expires_in_days, bool) \
                    or not 1 <= expires_in_days <= MAX_DAYS:
                raise TokenError(f"expires_in_days must be a whole number from 1 to {MAX_DAYS}")
            expires_at = utcnow() + timedelta(days=expires_in_days)
        plain = PREFIX + secrets.token_urlsafe(32)
        doc: Doc = {
            "_id": ObjectId(),
            "hash": digest(plain),
            "hint": plain[: len(PREFIX) + 4],
            "name": name,
            "kind": "personal" if owner is not None else "service",
            "owner_id": owner["_id"] if owner is not None else None,
            "scopes": wanted,
            "created_at": utcnow(),
            "created_by": created_by["_id"],
            "expires_at": expires_at,
            "last_used_at": None,
            "revoked_at": None,
        }
        await self.store.api_tokens.insert_one(doc)
        return plain, doc

    async def authenticate(self, plain: str) -> TokenPrincipal | None:
        """The principal of a live token, or None (unknown, revoked, expired, or its user disabled)."""
        if not looks_like_token(plain):
            return None
        token = await self.store.api_tokens.find_one({"hash": digest(plain)})
        now = utcnow()
        if token is None or token.get("revoked_at") is not None:
            return None
        if token.get("expires_at") is not None and token["expires_at"] <= now:
            return None
        agent = None
        if token["owner_id"] is not None:
            agent = await self.store.agents.find_one({"_id": token["owner_id"]}, projection={"password_hash": 0})
            if agent is None or agent.get("disabled"):
                return None
        last = token.get("last_used_at")
        if last is None or now - last >= LAST_USED_RESOLUTION:
            await self.store.api_tokens.update_one({"_id": token["_id"]}, {"$set": {"last_used_at": now}})
        return TokenPrincipal(token, frozenset(token["scopes"]), agent)

    async def list(self, owner_id: ObjectId | None) -> list[Doc]:
        """Tokens of one user (`owner_id`), or every token (None: for admins), newest first."""
        query: Doc = {} if owner_id is None else {"owner_id": owner_id}
        return await self.store.api_tokens.find(query, projection={"hash": 0}, sort=[("created_at", -1)],
                                                limit=500).to_list()

    async def get(self, token_id: ObjectId) -> Doc | None:
        return await self.store.api_tokens.find_one({"_id": token_id}, projection={"hash": 0})

    async def revoke(self, token_id: ObjectId) -> Doc | None:
        """Revoke now (kept, marked, for the record); revoking twice keeps the first time."""
        await self.store.api_tokens.update_one({"_id": token_id, "revoked_at": None},
                                               {"$set": {"revoked_at": utcnow()}})
        return await self.get(token_id)


def token_view(doc: Doc, owner_name: str | None = None) -> dict[str, object]:
    """What the desk and the API show of a token: never its hash, only a short hint."""

    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value is not None else None

    return {
        "id": str(doc["_id"]), "name": doc["name"], "kind": doc["kind"], "scopes": doc["scopes"],
        "hint": doc["hint"] + "…", "owner": owner_name, "created_at": iso(doc["created_at"]),
        "last_used_at": iso(doc.get("last_used_at")), "expires_at": iso(doc.get("expires_at")),
        "revoked_at": iso(doc.get("revoked_at")),
        "active": doc.get("revoked_at") is None and (doc.get("expires_at") is None or doc["expires_at"] > utcnow()),
    }
