"""Desk users (agents, trainers, supervisors, admins) and their server-side sessions."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from hub.models import Role, utcnow
from hub.names import MAX_COUNT, MAX_NAME, MAX_USERNAME, name_problem
from hub.store import Doc, DuplicateKeyError, ObjectId, Store

SESSION_DAYS = 7
#: Failed logins per username within LOCKOUT_MINUTES before further attempts are refused.
MAX_FAILURES = 5
LOCKOUT_MINUTES = 15


class AccountError(Exception):
    pass


class LockedOut(AccountError):
    """Too many failed logins for this username: try again later."""


def _check_new_account(username: object, name: object, roles: object, capacity: object) -> None:
    """Bounded, displayable names and a sane capacity, whoever creates the account (HTTP, CLI)."""
    problem = name_problem(username, "username", MAX_USERNAME)
    if problem is None and name is not None:
        problem = name_problem(name, "name", MAX_NAME)
    if problem is None and roles is not None and not (
            isinstance(roles, list) and all(isinstance(r, Role) for r in roles)):
        problem = f"roles must be some of {', '.join(r.value for r in Role)}"
    if problem is None and (not isinstance(capacity, int) or isinstance(capacity, bool)
                            or not 0 <= capacity <= MAX_COUNT):
        problem = f"capacity must be an integer from 0 to {MAX_COUNT}"
    if problem is not None:
        raise AccountError(problem)


@dataclass(frozen=True)
class SessionInfo:
    token: str
    csrf: str
    agent: Doc


class AccountService:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._hasher = PasswordHasher()
        #: Checked against when the username is unknown, so timing does not reveal which exist.
        self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(16))

    async def create(self, username: str, password: str, *, name: str | None = None,
                     roles: list[Role] | None = None, capacity: int = 5) -> Doc:
        username = username.strip().lower() if isinstance(username, str) else username
        _check_new_account(username, name, roles, capacity)
        if not username or len(password) < 8:
            raise AccountError("a username and a password of at least 8 characters are required")
        doc: Doc = {
            "username": username,
            "name": name or username,
            "password_hash": self._hasher.hash(password),
            "roles": [r.value for r in (roles or [Role.AGENT])],
            "capacity": capacity,
            "presence": "offline",
            "created_at": utcnow(),
        }
        try:
            result = await self.store.agents.insert_one(doc)
        except DuplicateKeyError as exc:
            raise AccountError(f"user {username!r} exists") from exc
        doc["_id"] = result.inserted_id
        return doc

    async def ensure_admin(self) -> tuple[str, str] | None:
        """Seed an admin on first start. Returns (username, password) when one was created."""
        if await self.store.agents.find_one({}, projection={"_id": 1}) is not None:
            return None
        password = secrets.token_urlsafe(12)
        await self.create("admin", password, name="Administrator",
                          roles=[Role.ADMIN, Role.SUPERVISOR, Role.TRAINER, Role.AGENT])
        return "admin", password

    async def login(self, username: str, password: str) -> SessionInfo | None:
        """A new session for valid credentials; None if wrong; `LockedOut` after repeated failures."""
        username = username.strip().lower()[:200]
        since = utcnow() - timedelta(minutes=LOCKOUT_MINUTES)
        failures = await self.store.login_failures.count_documents({"username": username, "at": {"$gte": since}})
        if failures >= MAX_FAILURES:
            raise LockedOut(f"too many failed logins; try again in {LOCKOUT_MINUTES} minutes")
        agent = await self.store.agents.find_one({"username": username})
        if agent is None or agent.get("disabled"):
            self._verify(self._dummy_hash, password)
            await self._record_failure(username)
            return None
        if not self._verify(agent["password_hash"], password):
            await self._record_failure(username)
            return None
        if self._hasher.check_needs_rehash(agent["password_hash"]):
            await self.store.agents.update_one({"_id": agent["_id"]},
                                               {"$set": {"password_hash": self._hasher.hash(password)}})
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        await self.store.sessions.insert_one({
            "_id": token, "agent_id": agent["_id"], "csrf": csrf, "created_at": utcnow(),
            "expires_at": utcnow() + timedelta(days=SESSION_DAYS),
        })
        return SessionInfo(token, csrf, agent)

    async def _record_failure(self, username: str) -> None:
        now = utcnow()
        await self.store.login_failures.insert_one(
            {"username": username, "at": now, "expires_at": now + timedelta(minutes=LOCKOUT_MINUTES)}
        )

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    async def session(self, token: str) -> SessionInfo | None:
        """The live session for a cookie value, or None (expired sessions are refused here too)."""
        if not token:
            return None
        session = await self.store.sessions.find_one({"_id": token})
        if session is None or session["expires_at"] < utcnow():
            return None
        agent = await self.store.agents.find_one({"_id": session["agent_id"]})
        if agent is None or agent.get("disabled"):
            return None
        return SessionInfo(token, session["csrf"], agent)

    async def change_password(self, agent_id: ObjectId, current: str, new: str, keep_session: str) -> None:
        """Check the current password, store the new hash, end every other session of this user."""
        agent = await self.store.agents.find_one({"_id": agent_id})
        if agent is None or not self._verify(agent["password_hash"], current):
            raise AccountError("the current password is wrong")
        if len(new) < 8:
            raise AccountError("the new password needs at least 8 characters")
        await self.store.agents.update_one({"_id": agent_id}, {"$set": {"password_hash": self._hasher.hash(new)}})
        await self.store.sessions.delete_many({"agent_id": agent_id, "_id": {"$ne": keep_session}},
                                              hint=[("agent_id", 1)])

    async def logout(self, token: str) -> None:
        await self.store.sessions.delete_one({"_id": token})

    async def list(self) -> list[Doc]:
        return await self.store.agents.find({}, projection={"password_hash": 0}, sort=[("username", 1)]).to_list()

    async def get(self, agent_id: ObjectId) -> Doc | None:
        return await self.store.agents.find_one({"_id": agent_id}, projection={"password_hash": 0})

    async def update(self, agent_id: ObjectId, *, name: str | None = None, roles: list[Role] | None = None,
                     capacity: int | None = None, disabled: bool | None = None) -> tuple[Doc, Doc] | None:
        """Change a desk user's name, roles, capacity or disabled flag: (before, after), or None if unknown.

        Disabling ends the user's sessions at once (a leaver must not keep a desk open).
        """
        changes: Doc = {k: v for k, v in (("name", name), ("capacity", capacity), ("disabled", disabled))
                        if v is not None}
        if roles is not None:
            changes["roles"] = [r.value for r in roles]
        before = await self.store.agents.find_one_and_update({"_id": agent_id}, {"$set": changes},
                                                             projection={"password_hash": 0})
        if before is None:
            return None
        if disabled:
            await self.store.sessions.delete_many({"agent_id": agent_id}, hint=[("agent_id", 1)])
        return before, {**before, **changes}



def has_role(agent: Doc, *roles: Role) -> bool:
    held = set(agent.get("roles", []))
    return Role.ADMIN.value in held or any(r.value in held for r in roles)
