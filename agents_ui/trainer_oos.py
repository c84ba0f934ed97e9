"""The trainer's out-of-scope API: pick a point on the threshold trade-off curve, review built-in negatives.

Role `trainer` (admins pass too). Both changes are new training-data versions (the policy's
``fallback_threshold`` and ``excluded_negatives``), live at the next training, and recorded in
the audit trail (`bot.threshold_set`, `bot.negative_excluded`, `bot.negative_included`).
"""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import Field, Strict

from agents_ui.appkeys import HUB
from agents_ui.auth import agent_of, error, requires
from agents_ui.trainer import _DOMAIN_ERRORS, _author, _saved, _translate, _workbench
from httpkit.bodies import accepts, fields_of
from httpkit.fields import Body, Flag, Text
from hub.models import Role


class ThresholdPick(Body):
    threshold: Annotated[float, Strict(), Field(ge=0.0, le=1.0)] | None = Field(
        ..., description="fallback threshold (a point on the trade-off curve), or null for the default objective")


class NegativeExclusion(Body):
    text: Annotated[Text, Field(min_length=1, max_length=500)] = Field(..., description="a built-in negative")
    excluded: Flag = Field(True, description="true: leave it out of training; false: use it again")


@requires(Role.TRAINER)
@accepts(ThresholdPick)
async def pick_threshold(request: web.Request) -> web.Response:
    """Store a point of the evaluation report's curve as the fallback threshold (null: back to `auto`)."""
    value = fields_of(request).get("threshold")
    if isinstance(value, bool) or (value is not None and not isinstance(value, int | float)):
        raise error(400, "threshold must be a number between 0 and 1, or null")
    threshold = None if value is None else round(float(value), 2)
    try:
        version, changed = await _workbench(request).set_threshold(threshold, _author(request))
    except _DOMAIN_ERRORS as exc:
        raise _translate(exc) from exc
    if changed:
        await request.app[HUB].audit.record(
            "bot.threshold_set", actor=agent_of(request), target={"name": f"training data v{version.number}"},
            ip=request.remote, details={"fallback_threshold": "auto" if threshold is None else threshold})
    return _saved(version, changed, fallback_threshold="auto" if threshold is None else threshold)


@requires(Role.TRAINER)
async def negative_clashes(request: web.Request) -> web.Response:
    """Built-in negatives that nearly duplicate the newest version's examples, and the excluded ones."""
    try:
        return web.json_response(await _workbench(request).negative_clashes())
    except LookupError as exc:
        raise _translate(exc) from exc


@requires(Role.TRAINER)
@accepts(NegativeExclusion)
async def exclude_negative(request: web.Request) -> web.Response:
    """Leave one built-in negative out of training (`excluded: false` puts it back): a new version."""
    body = fields_of(request)
    text = str(body["text"])
    excluded = bool(body.get("excluded", True))
    try:
        version, changed = await _workbench(request).exclude_negative(text, excluded, _author(request))
    except _DOMAIN_ERRORS as exc:
        raise _translate(exc) from exc
    if changed:
        await request.app[HUB].audit.record(
            "bot.negative_excluded" if excluded else "bot.negative_included", actor=agent_of(request),
            target={"name": f"training data v{version.number}"}, ip=request.remote, details={"text": text})
    return _saved(version, changed, excluded=excluded)


def routes() -> list[web.RouteDef]:
    prefix = "/api/trainer"
    return [
        web.put(f"{prefix}/threshold", pick_threshold),
        web.get(f"{prefix}/negatives/clashes", negative_clashes),
        web.put(f"{prefix}/negatives/excluded", exclude_negative),
    ]
