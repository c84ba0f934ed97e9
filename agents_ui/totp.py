"""Two-factor sign-in over HTTP (hub.totp): the login's code step, enrolment, turning it off, the
admins' reset and the roles that must use it. Every change is recorded in the audit trail."""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import Field

from agents_ui.appkeys import HUB
from agents_ui.auth import agent_of, error, requires, same_origin
from agents_ui.desk import session_response
from httpkit.bodies import accepts, body_of
from httpkit.errors import retry_later
from httpkit.fields import Body, Secret, Token
from hub.accounts import Throttled
from hub.hub import Hub
from hub.models import Role
from hub.store import Doc, oid
from hub.totp import TotpError

Code = Annotated[str, Field(min_length=1, max_length=40, description="a 6-digit code or a recovery code")]


class LoginCode(Body):
    pending: Annotated[Token, Field(min_length=1, description="the `pending` token the password step returned")]
    code: Code


class TotpCode(Body):
    code: Code


class TotpOff(Body):
    code: Code | None = Field(None, description="a current code or a recovery code")
    password: Secret | None = Field(None, description="or your password")


class TotpPolicy(Body):
    roles: Annotated[list[Role], Field(max_length=len(Role))] = Field(
        description="the roles whose users must sign in with a one-time code")


def _hub(request: web.Request) -> Hub:
    hub: Hub = request.app[HUB]
    return hub


def _target(agent: Doc) -> Doc:
    return {"type": "agent", "id": agent["_id"], "name": agent.get("name")}


@accepts(LoginCode)
async def login_code(request: web.Request) -> web.Response:
    """The login's second step for a user with two-factor sign-in: the `pending` token of the password
    step and a current code (or a recovery code, used once); sets the session cookie like the login."""
    if not same_origin(request) or request.content_type != "application/json":
        raise error(403, "login must be a JSON request from this origin")
    body = body_of(request, LoginCode)
    hub = _hub(request)
    try:
        answered = await hub.totp.answer(body.pending, body.code, request.remote or "")
    except Throttled as exc:
        await hub.audit.record("login.refused", ip=request.remote, details={"step": "code", "reason": str(exc)})
        raise retry_later(429, str(exc), exc.retry_after) from exc
    except TotpError as exc:
        raise error(401, str(exc)) from exc
    if answered is None:
        await hub.audit.record("login.failed", ip=request.remote, details={"step": "code"})
        raise error(401, "wrong code")
    agent, kind = answered
    info = await hub.accounts.open_session(agent)
    await hub.audit.record("login", actor=agent, ip=request.remote,
                           details={"username": agent["username"], "second_factor": kind})
    return await session_response(request, info)


@requires(enrolling=True)
async def status(request: web.Request) -> web.Response:
    """Your two-factor sign-in: `enabled`, an unconfirmed enrolment (`pending`), recovery codes left,
    and whether your role `required`s it."""
    return web.json_response(await _hub(request).totp.status(agent_of(request)))


@requires(enrolling=True)
async def setup(request: web.Request) -> web.Response:
    """Start enrolling: a new `secret` (text for manual entry), its otpauth `uri` and `qr`, the QR code as
    an SVG `data:` URI; shown this once, it takes effect when confirmed with a code."""
    try:
        return web.json_response(await _hub(request).totp.begin(agent_of(request)))
    except TotpError as exc:
        raise error(409, str(exc)) from exc


@requires(enrolling=True)
@accepts(TotpCode)
async def confirm(request: web.Request) -> web.Response:
    """Finish enrolling with a current code: two-factor sign-in is on; the recovery codes, shown once."""
    hub, agent = _hub(request), agent_of(request)
    try:
        codes = await hub.totp.confirm(agent, body_of(request, TotpCode).code)
    except TotpError as exc:
        raise error(400, str(exc)) from exc
    await hub.audit.record("totp.enabled", actor=agent, target=_target(agent), ip=request.remote,
                           details={"username": agent["username"]})
    return web.json_response({"enabled": True, "recovery_codes": codes})


@requires()
@accepts(TotpCode)
async def renew_recovery(request: web.Request) -> web.Response:
    """New recovery codes (a current code proves the device); the old ones stop working."""
    hub, agent = _hub(request), agent_of(request)
    try:
        codes = await hub.totp.new_recovery_codes(agent, body_of(request, TotpCode).code)
    except TotpError as exc:
        raise error(400, str(exc)) from exc
    await hub.audit.record("totp.recovery_renewed", actor=agent, target=_target(agent), ip=request.remote,
                           details={"username": agent["username"]})
    return web.json_response({"recovery_codes": codes})


@requires()
@accepts(TotpOff)
async def disable(request: web.Request) -> web.Response:
    """Turn your two-factor sign-in off with a current `code` or your `password` (not while a role of
    yours requires it: an admin can reset it instead)."""
    hub, agent = _hub(request), agent_of(request)
    body = body_of(request, TotpOff)
    if not agent.get("totp_enabled"):
        raise error(409, "two-factor sign-in is not on")
    if await hub.totp.required_for(agent):
        raise error(400, "your role requires two-factor sign-in; an admin can reset it if you lost your device")
    if body.code:
        ok = await hub.totp.verify(agent, body.code) is not None
    elif body.password:
        ok = await hub.accounts.check_password(agent["_id"], body.password)
    else:
        raise error(422, "a current code or your password is required")
    if not ok:
        raise error(400, "that code or password is not right")
    await hub.totp.remove(agent["_id"])
    await hub.audit.record("totp.disabled", actor=agent, target=_target(agent), ip=request.remote,
                           details={"username": agent["username"], "with": "code" if body.code else "password"})
    return web.json_response({"enabled": False})


@requires(Role.ADMIN)
async def reset(request: web.Request) -> web.Response:
    """Turn a user's two-factor sign-in off (a lost phone): they sign in with their password again, and
    enrol anew if their role requires it."""
    hub = _hub(request)
    try:
        agent_id = oid(request.match_info["id"])
    except ValueError as exc:
        raise error(404, str(exc)) from exc
    user = await hub.accounts.get(agent_id)
    if user is None:
        raise error(404, "no such user")
    was_on = await hub.totp.remove(agent_id)
    await hub.audit.record("totp.reset", actor=agent_of(request), target=_target(user), ip=request.remote,
                           details={"username": user["username"], "was_enabled": was_on})
    return web.json_response({"enabled": False, "was_enabled": was_on})


@requires(Role.ADMIN)
async def get_policy(request: web.Request) -> web.Response:
    """The roles whose users must sign in with a one-time code."""
    return web.json_response({"roles": sorted(await _hub(request).totp.required_roles()),
                              "all_roles": [r.value for r in Role]})


@requires(Role.ADMIN)
@accepts(TotpPolicy)
async def set_policy(request: web.Request) -> web.Response:
    """Choose the roles that must use two-factor sign-in; their users without it must enrol first."""
    hub = _hub(request)
    roles = [r.value for r in body_of(request, TotpPolicy).roles]
    before, after = await hub.totp.set_required_roles(roles)
    if before != after:
        await hub.audit.record("totp.policy_changed", actor=agent_of(request), target={"type": "setting",
                                                                                      "name": "require_totp_roles"},
                               ip=request.remote, details={"from": before, "to": after})
    return web.json_response({"roles": after, "all_roles": [r.value for r in Role]})


def routes() -> list[web.RouteDef]:
    return [
        web.post("/api/auth/login/code", login_code),
        web.get("/api/me/totp", status),
        web.post("/api/me/totp/setup", setup),
        web.post("/api/me/totp/confirm", confirm),
        web.post("/api/me/totp/recovery-codes", renew_recovery),
        web.post("/api/me/totp/disable", disable),
        web.post("/api/admin/users/{id}/totp/reset", reset),
        web.get("/api/admin/totp-policy", get_policy),
        web.put("/api/admin/totp-policy", set_policy),
    ]
