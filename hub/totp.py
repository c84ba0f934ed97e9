"""Two-factor sign-in: time-based one-time passwords (RFC 6238, computed by pyotp) and recovery codes.

* Enrolment: `begin` stores a new secret as *pending* and hands it out once (text, otpauth URI and a
  QR code as an SVG `data:` URI); `confirm` with a current code turns it on and returns eight
  single-use recovery codes, which are kept only as SHA-256 digests. After that the secret is
  never returned by any call.
* Login: a user with TOTP on gets no session from the password alone, only an opaque pending-login
  token (kept as a digest, five minutes, five tries); the code step is rate limited by the login
  throttle (its own counters, `totp:<username>`), and a code is accepted once: the accepted time step is
  stored and a code of that step or an older one is refused (no replay within its window).
* Policy: the roles that must use TOTP (`auth.require_totp_roles`, seeded into `settings` on first
  start, then edited by admins). A user holding one of them without TOTP may only enrol.

`agents.totp_enabled` mirrors whether a user has TOTP on, so the per-request policy check reads
only the account the session already loaded; the secret itself lives in the `totp` collection.
"""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta

import pyotp
import segno

from hub.freshreads import FreshReads
from hub.hashing import token_digest
from hub.login_throttle import LoginThrottle
from hub.models import Role, utcnow
from hub.store import Doc, ObjectId, Store

ISSUER = "Switchboard"
PENDING_LOGIN = timedelta(minutes=5)
PENDING_TRIES = 5
RECOVERY_CODES = 8
POLICY_ID = "totp_policy"
#: How long a process trusts its copy of the policy (another process's change shows within this).
POLICY_CACHE_SECONDS = 5.0

__all__ = ["LoginChallenge", "PendingLoginExpired", "TotpError", "TotpService"]


class TotpError(Exception):
    """A refused enrolment or code (shown to the user)."""


class PendingLoginExpired(TotpError):
    def __init__(self) -> None:
        super().__init__("the sign-in has expired; enter your password again")


@dataclass(frozen=True)
class LoginChallenge:
    """The answer to a right password when TOTP is on: no session, a token for the code step."""

    token: str
    expires_in: int


_digest = token_digest


def _normalise(code: str) -> str:
    return "".join(ch for ch in code.lower() if ch.isalnum())


def new_recovery_codes() -> tuple[list[str], list[str]]:
    """(codes to show once, their digests to store): `xxxxx-xxxxx`, 50 random bits each."""
    codes = [f"{raw[:5]}-{raw[5:]}" for raw in (secrets.token_hex(5) for _ in range(RECOVERY_CODES))]
    return codes, [_digest(_normalise(c)) for c in codes]


def qr_image(uri: str) -> str:
    """The otpauth URI as an SVG QR code (segno) in a `data:` URI, for an <img> (no markup to insert)."""
    image: str = segno.make(uri, error="m").svg_data_uri(scale=5, border=2)
    return image


def check_roles(roles: object) -> list[str]:
    """The role names of a policy, validated (each once, in Role order)."""
    known = [r.value for r in Role]
    if not isinstance(roles, list) or not all(isinstance(r, str) and r in known for r in roles):
        raise TotpError(f"roles must be some of {', '.join(known)}")
    return [r for r in known if r in roles]


class TotpService:
    def __init__(self, store: Store, throttle: LoginThrottle) -> None:
        self.store = store
        self.collection = store.totp
        self.pending = store.login_pending
        self.throttle = throttle
        self._policy: tuple[float, frozenset[str]] | None = None
        #: Requests arriving together when the cache has expired share the policy's read (a desk's three requests at
        #: once made three reads).
        self._reads: FreshReads[None, frozenset[str]] = FreshReads()
        #: Replaceable so tests can ask for the code of a given moment.
        self.clock = time.time

    # ---- policy -------------------------------------------------------------------------------
    async def seed_policy(self, roles: list[str]) -> None:
        """The configured roles, stored on first start only (afterwards the admins' choice stands)."""
        await self.store.settings.update_one({"_id": POLICY_ID}, {"$setOnInsert": {"roles": check_roles(roles)}},
                                             upsert=True)

    async def required_roles(self) -> frozenset[str]:
        now = time.monotonic()
        cached = self._cached(now)
        return cached if cached is not None else await self._reads.get(None, lambda: self._read_policy(now))

    def _cached(self, now: float) -> frozenset[str] | None:
        if self._policy is not None and now - self._policy[0] <= POLICY_CACHE_SECONDS:
            return self._policy[1]
        return None

    async def _read_policy(self, now: float) -> frozenset[str]:
        cached = self._cached(time.monotonic())  # a read that ended while this one waited for it
        if cached is not None:
            return cached
        doc = await self.store.settings.find_one({"_id": POLICY_ID})
        roles = frozenset((doc or {}).get("roles", []))
        self._policy = (now, roles)
        return roles

    async def set_required_roles(self, roles: list[str]) -> tuple[list[str], list[str]]:
        """Store the roles that must use TOTP: (before, after)."""
        after = check_roles(roles)
        before = await self.store.settings.find_one({"_id": POLICY_ID})
        await self.store.settings.update_one({"_id": POLICY_ID}, {"$set": {"roles": after}}, upsert=True)
        self._policy = None
        return list((before or {}).get("roles", [])), after

    async def required_for(self, agent: Doc) -> bool:
        """Does one of this user's roles require TOTP?"""
        return bool(set(agent.get("roles", [])) & await self.required_roles())

    async def enrolment_required(self, agent: Doc) -> bool:
        """A user whose role requires TOTP but who has none yet: they may only enrol."""
        return not agent.get("totp_enabled") and await self.required_for(agent)

    # ---- enrolment ----------------------------------------------------------------------------
    async def status(self, agent: Doc) -> Doc:
        doc = await self.collection.find_one({"_id": agent["_id"]}, projection={"recovery": 1, "pending_secret": 1})
        enabled = bool(agent.get("totp_enabled"))
        return {"enabled": enabled, "pending": bool(doc and doc.get("pending_secret")) and not enabled,
                "recovery_codes_left": len(doc.get("recovery", [])) if doc and enabled else 0,
                "required": await self.required_for(agent)}

    async def begin(self, agent: Doc) -> Doc:
        """A new pending secret for this user (replacing an unconfirmed one): secret, URI and QR code."""
        if agent.get("totp_enabled"):
            raise TotpError("two-factor sign-in is already on; turn it off first to enrol a new device")
        secret = pyotp.random_base32()
        await self.collection.update_one({"_id": agent["_id"]},
                                         {"$set": {"pending_secret": secret, "pending_at": utcnow()}}, upsert=True)
        uri = pyotp.TOTP(secret).provisioning_uri(name=agent["username"], issuer_name=ISSUER)
        return {"secret": secret, "uri": uri, "qr": qr_image(uri)}

    async def confirm(self, agent: Doc, code: str) -> list[str]:
        """Turn TOTP on with a current code for the pending secret; the recovery codes (shown once)."""
        if agent.get("totp_enabled"):
            raise TotpError("two-factor sign-in is already on")
        doc = await self.collection.find_one({"_id": agent["_id"]})
        if doc is None or not doc.get("pending_secret"):
            raise TotpError("start the enrolment first")
        step = self._matching_step(doc["pending_secret"], code)
        if step is None:
            raise TotpError("that code is not right; check the time on your phone and try the current code")
        codes, digests = new_recovery_codes()
        await self.collection.update_one({"_id": agent["_id"]}, {
            "$set": {"secret": doc["pending_secret"], "last_step": step, "recovery": digests, "enabled_at": utcnow()},
            "$unset": {"pending_secret": "", "pending_at": ""}})
        await self.store.agents.update_one({"_id": agent["_id"]}, {"$set": {"totp_enabled": True}})
        return codes

    async def new_recovery_codes(self, agent: Doc, code: str) -> list[str]:
        """Replace the recovery codes (a current code proves the device); the new ones, shown once."""
        if not await self.verify(agent, code):
            raise TotpError("that code is not right")
        codes, digests = new_recovery_codes()
        await self.collection.update_one({"_id": agent["_id"]}, {"$set": {"recovery": digests}})
        return codes

    async def remove(self, agent_id: ObjectId) -> bool:
        """Turn TOTP off (the user with a code or password, or an admin's reset). False if it was off."""
        before = await self.store.agents.find_one({"_id": agent_id}, projection={"totp_enabled": 1})
        await self.store.agents.update_one({"_id": agent_id}, {"$unset": {"totp_enabled": ""}})
        await self.collection.delete_one({"_id": agent_id})
        await self.pending.delete_many({"agent_id": agent_id}, hint=[("agent_id", 1)])
        return bool(before and before.get("totp_enabled"))

    # ---- codes --------------------------------------------------------------------------------
    def _matching_step(self, secret: str, code: str) -> int | None:
        """The time step (previous, current or next 30 s) whose code this is, or None."""
        code = _normalise(code)
        if len(code) != 6 or not code.isdigit():
            return None
        totp = pyotp.TOTP(secret)
        now = int(self.clock()) // totp.interval
        for step in (now - 1, now, now + 1):
            if hmac.compare_digest(totp.generate_otp(step), code):
                return step
        return None

    async def verify(self, agent: Doc, code: str) -> str | None:
        """Check a code of this user's once: "totp" or "recovery" if accepted, None if not.

        A TOTP code is accepted only if its time step is newer than the last accepted one (the check
        and the update are one write), a recovery code only while its digest is still stored (one
        `$pull`): two requests racing with the same code cannot both succeed.
        """
        if not agent.get("totp_enabled"):
            return None
        doc = await self.collection.find_one({"_id": agent["_id"]}, projection={"secret": 1})
        if doc is None or not doc.get("secret"):
            return None
        step = self._matching_step(doc["secret"], code)
        if step is not None:
            result = await self.collection.update_one({"_id": agent["_id"], "last_step": {"$lt": step}},
                                                      {"$set": {"last_step": step}})
            return "totp" if result.modified_count == 1 else None
        digest = _digest(_normalise(code))
        result = await self.collection.update_one({"_id": agent["_id"], "recovery": digest},
                                                  {"$pull": {"recovery": digest}})
        return "recovery" if result.modified_count == 1 else None

    # ---- the code step of a login ----------------------------------------------------------------
    async def challenge(self, agent: Doc) -> LoginChallenge:
        """The right password was given: an opaque token for the code step (stored as a digest)."""
        token = secrets.token_urlsafe(32)
        await self.pending.insert_one({"_id": _digest(token), "agent_id": agent["_id"], "tries": 0,
                                       "expires_at": utcnow() + PENDING_LOGIN})
        return LoginChallenge(token, int(PENDING_LOGIN.total_seconds()))

    async def answer(self, token: str, code: str, ip: str) -> tuple[Doc, str] | None:
        """The second step: (agent, "totp" or "recovery") for a right code, None for a wrong one.

        Raises `PendingLoginExpired` (unknown, expired, used or tried too often) or `Throttled`
        (too many wrong codes for this user or from this address, before the code is looked at).
        """
        key = _digest(token or "")
        pending = await self.pending.find_one({"_id": key})
        if pending is None or pending["expires_at"] < utcnow() or pending["tries"] >= PENDING_TRIES:
            raise PendingLoginExpired()
        agent = await self.store.agents.find_one({"_id": pending["agent_id"]}, projection={"password_hash": 0})
        if agent is None or agent.get("disabled") or not agent.get("totp_enabled"):
            await self.pending.delete_one({"_id": key})
            raise PendingLoginExpired()
        tickets = await self.throttle.admit("totp:" + agent["username"], ip)
        await self.pending.update_one({"_id": key}, {"$inc": {"tries": 1}})
        kind = await self.verify(agent, code)
        if kind is None:
            await self.throttle.failed(tickets)
            return None
        await self.throttle.succeeded("totp:" + agent["username"], ip, tickets)
        deleted = await self.pending.delete_one({"_id": key})
        if deleted.deleted_count != 1:  # a parallel request used this sign-in already
            raise PendingLoginExpired()
        return agent, kind
