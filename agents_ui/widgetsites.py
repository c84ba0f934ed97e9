"""Widget sites in the desk: admins list, create, edit and delete the sites that embed the chat widget,
generate or rotate a site's identity secret (shown once), copy the embed snippet and see a live preview.

The sites live in `hub.sitebook.SiteBook` (handed over by the composition root in `EXTRAS["sites"]`); a
change is in memory in this process at once and in every other process on the next bus event, so a new
site's origin passes CORS and its snippet works without a restart. Every change is on the audit trail
(`widget_site.created|updated|deleted|secret_rotated`), never with a secret in it.
"""

from __future__ import annotations

import html
import json
from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import AfterValidator, Field

from agents_ui.appkeys import EXTRAS, HUB
from agents_ui.auth import agent_of, error, requires
from httpkit.bodies import accepts, body_of, parse_object, validate
from httpkit.fields import Body, Flag, Text
from hub import sitebook
from hub.models import Role
from hub.sitebook import SiteBook, SiteError


def _checked(check: Any) -> Any:
    def run(value: str) -> str:
        try:
            return str(check(value))
        except SiteError as exc:
            raise ValueError(str(exc)) from exc
    return AfterValidator(run)


Origin = Annotated[str, Field(max_length=300, description="https://shop.example.com, or * (any)"),
                   _checked(sitebook.check_origin)]
Color = Annotated[str, Field(pattern=sitebook.COLOR_PATTERN, description="a hex colour like #2457d6")]
TextKey = Annotated[str, Field(pattern=sitebook.TEXT_KEY_PATTERN)]
ShortText = Annotated[str, Field(min_length=1, max_length=sitebook.MAX_TEXT)]
Mode = Literal["required", "optional", "off"]


class Colors(Body):
    primary: Color = "#2457d6"


class Prechat(Body):
    enabled: Flag = False
    name: Mode = "required"
    email: Mode = "optional"


class SiteLook(Body):
    """What a visitor sees (also what the live preview shows before it is saved)."""

    title: Annotated[str, Field(min_length=1, max_length=sitebook.MAX_TITLE)] = "Chat with us"
    colors: Colors = Field(default_factory=Colors)
    greeting: Annotated[Text, Field(max_length=sitebook.MAX_GREETING)] = ""
    prechat: Prechat = Field(default_factory=Prechat)
    texts: Annotated[dict[TextKey, ShortText | dict[TextKey, ShortText | dict[TextKey, ShortText]]],
                     Field(max_length=sitebook.MAX_TEXTS)] = Field(
        default_factory=dict, description="per-site overrides of the widget's texts: message key -> text (every "
        "language), or language code -> {message key -> text}; a plural text may be {form -> text}")


class SiteFields(SiteLook):
    allowed_origins: Annotated[list[Origin], Field(max_length=sitebook.MAX_ORIGINS)] = Field(
        default_factory=list, description="the origins of the pages that embed the widget (CORS)")


class RotateSecret(Body):
    grace_seconds: Annotated[int, Field(ge=0, le=sitebook.MAX_GRACE_SECONDS)] = Field(
        sitebook.DEFAULT_GRACE_SECONDS, description="how long the previous secret stays valid (0: revoke now)")


def _book(request: web.Request) -> SiteBook:
    book: SiteBook = request.app[EXTRAS]["sites"]
    return book


def _hub_url(request: web.Request) -> str:
    settings = request.app[EXTRAS].get("settings")
    return settings.base_url if settings is not None and settings.public_url else f"{request.scheme}://{request.host}"


def _name(request: web.Request) -> str:
    name = request.match_info["name"]
    try:
        return sitebook.check_name(name)
    except SiteError as exc:
        raise error(400, str(exc)) from exc


def snippet(hub_url: str, name: str) -> str:
    return f'<script src="{html.escape(hub_url)}/widget.js" data-site="{html.escape(name)}" async></script>'


def _view(request: web.Request, name: str, cfg: dict[str, Any]) -> dict[str, Any]:
    return {**sitebook.public_view(name, cfg), "snippet": snippet(_hub_url(request), name)}


@requires(Role.ADMIN)
async def list_sites(request: web.Request) -> web.Response:
    book = _book(request)
    return web.json_response({"sites": [_view(request, n, book.sites[n]) for n in sorted(book.sites)],
                              "hub_url": _hub_url(request)})


@requires(Role.ADMIN)
@accepts(SiteFields)
async def save_site(request: web.Request) -> web.Response:
    """Create or change the site `name` (a slug): what a visitor sees and the origins it may be embedded on."""
    name = _name(request)
    body = body_of(request, SiteFields)
    try:
        cfg, created = await _book(request).save(name, body.model_dump())
    except SiteError as exc:
        raise error(422, str(exc)) from exc
    view = _view(request, name, cfg)
    await request.app[HUB].audit.record(
        "widget_site.created" if created else "widget_site.updated", actor=agent_of(request), ip=request.remote,
        target={"type": "widget_site", "id": name, "name": name}, details={k: view[k] for k in sitebook.EDITABLE})
    return web.json_response({"site": view, "created": created}, status=201 if created else 200)


@requires(Role.ADMIN)
async def delete_site(request: web.Request) -> web.Response:
    """Delete a site: its snippet stops working (unknown site) and its origins lose CORS at once."""
    name = _name(request)
    if not await _book(request).delete(name):
        raise error(404, "no such widget site")
    await request.app[HUB].audit.record("widget_site.deleted", actor=agent_of(request), ip=request.remote,
                                        target={"type": "widget_site", "id": name, "name": name})
    return web.json_response({"ok": True})


@requires(Role.ADMIN)
@accepts(RotateSecret)
async def rotate_secret(request: web.Request) -> web.Response:
    """Generate the site's identity secret, or a new one: the answer carries it this once, never again.
    The previous secret stays valid for `grace_seconds` so the site's backend can switch without a gap."""
    name = _name(request)
    grace = body_of(request, RotateSecret).grace_seconds
    try:
        secret, cfg = await _book(request).rotate_secret(name, grace)
    except KeyError as exc:
        raise error(404, "no such widget site") from exc
    view = _view(request, name, cfg)
    await request.app[HUB].audit.record(
        "widget_site.secret_rotated", actor=agent_of(request), ip=request.remote,
        target={"type": "widget_site", "id": name, "name": name},
        details={"grace_seconds": grace, "previous_valid_until": view["previous_secret_valid_until"]})
    return web.json_response({"site": view, "identity_secret": secret}, headers={"Cache-Control": "no-store"})


PREVIEW_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self'; "
               "img-src 'self' data:; frame-ancestors 'self'")
PREVIEW_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Widget preview</title>
<style>body{{margin:0;font:15px/1.5 system-ui,sans-serif;color:#445;background:repeating-linear-gradient(45deg,#f4f5f8,
#f4f5f8 12px,#eef0f4 12px,#eef0f4 24px);height:100vh}}p{{margin:0;padding:10px 16px;font-size:13px}}</style></head>
<body><p>Your web page. The widget below is a preview: nothing is sent.</p>
<script src="/widget.js" data-site="{site}" data-open="true" data-preview="{preview}"></script>
</body></html>"""


@requires(Role.ADMIN)
async def preview(request: web.Request) -> web.Response:
    """A page that shows the widget of site `name` as a visitor would see it, with the unsaved look in
    `?look=<JSON of SiteLook>` if given (the desk's editor), else the saved one. Nothing is sent from it."""
    name = _name(request)
    saved = _book(request).sites.get(name) or {}
    raw = parse_object(request.query["look"]) if "look" in request.query else \
        {k: saved[k] for k in ("title", "colors", "greeting", "prechat", "texts") if saved.get(k) is not None}
    look = validate(SiteLook, raw)
    settings = {"site": name, "title": look.title, "colors": look.colors.model_dump(),
                "greeting": look.greeting or None, "texts": look.texts, "sound": False,
                "prechat": look.prechat.model_dump(exclude={"enabled"}) if look.prechat.enabled else None}
    page = PREVIEW_PAGE.format(site=html.escape(name), preview=html.escape(json.dumps(settings), quote=True))
    return web.Response(text=page, content_type="text/html",
                        headers={"Content-Security-Policy": PREVIEW_CSP, "X-Frame-Options": "SAMEORIGIN",
                                 "Cache-Control": "no-store"})


def routes() -> list[web.RouteDef]:
    return [
        web.get("/api/admin/widget-sites", list_sites),
        web.put("/api/admin/widget-sites/{name}", save_site),
        web.delete("/api/admin/widget-sites/{name}", delete_site),
        web.post("/api/admin/widget-sites/{name}/secret", rotate_secret),
        web.get("/desk/widget-preview/{name}", preview),
    ]
