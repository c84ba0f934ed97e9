"""Widget sites in the database, edited by admins (issue 10): validation, audit, secrets shown once,
rotation with a grace period, CORS and identity following a change without a restart, `config apply`."""

from __future__ import annotations

import time
from typing import Any

import jwt
from aiohttp.test_utils import TestClient

from channels.widget.identity import user_hash as legacy_hash
from hub import sitebook
from hub.models import Role
from hub.sitebook import SiteBook, SiteError
from switchboard.bootstrap import Runtime
from tests.conftest import login
from tests.helpers import eventually

SHOP = "https://shop.example.com"
GOOD = {"title": "Acme help", "allowed_origins": [SHOP, "http://127.0.0.1:8123"], "colors": {"primary": "#aa3300"},
        "greeting": "Hi! How can we help?", "prechat": {"enabled": True, "name": "required", "email": "off"},
        "texts": {"composer.send": "Go", "de": {"prechat.start": "Los"}}}


async def as_admin(client: TestClient[Any, Any], runtime: Runtime) -> dict[str, str]:
    assert runtime.hub is not None
    await runtime.hub.accounts.create("root", "root's password", name="Root", roles=[Role.ADMIN])
    return {"X-CSRF-Token": await login(client, "root", "root's password")}


def user_jwt(secret: str, sub: str = "u-1") -> str:
    now = int(time.time())
    return jwt.encode({"sub": sub, "email": f"{sub}@example.com", "iat": now, "exp": now + 600}, secret,
                      algorithm="HS256")


async def test_the_yaml_sites_are_seeded_once_and_listed_without_secrets(client: TestClient[Any, Any],
                                                                         runtime: Runtime) -> None:
    headers = await as_admin(client, runtime)
    listed = await (await client.get("/api/admin/widget-sites")).json()
    demo = {s["name"]: s for s in listed["sites"]}["demo"]
    assert demo["title"] == "Demo shop" and demo["allowed_origins"] == ["*"]
    assert demo["identity_secret_set"] is True  # conftest's YAML secret, seeded
    assert "site-identity-secret" not in str(listed)
    assert demo["snippet"] == f'<script src="{listed["hub_url"]}/widget.js" data-site="demo" async></script>'
    assert runtime.sites is not None and runtime.store is not None
    # a second start does not bring back what an admin deleted
    assert (await client.delete("/api/admin/widget-sites/demo", headers=headers)).status == 200
    assert await runtime.sites.seed({"demo": {}}) == 0
    assert await runtime.store.db["widget_sites"].count_documents({}) == 0


async def test_admins_create_sites_and_bad_ones_are_refused(client: TestClient[Any, Any],
                                                            runtime: Runtime) -> None:
    assert runtime.hub is not None
    await runtime.hub.accounts.create("sam", "sam's password", name="Sam", roles=[Role.AGENT, Role.SUPERVISOR])
    csrf = await login(client, "sam", "sam's password")
    assert (await client.get("/api/admin/widget-sites")).status == 403
    assert (await client.put("/api/admin/widget-sites/acme", json=GOOD, headers={"X-CSRF-Token": csrf})).status == 403
    headers = await as_admin(client, runtime)
    for change, field in (({"allowed_origins": ["shop.example.com"]}, "allowed_origins"),
                          ({"allowed_origins": ["https://shop.example.com/path"]}, "no path"),
                          ({"allowed_origins": ["javascript://x"]}, "https://"),
                          ({"colors": {"primary": "red"}}, "colors.primary"),
                          ({"colors": {"primary": "#12345"}}, "colors.primary"),
                          ({"prechat": {"enabled": True, "name": "maybe"}}, "prechat.name"),
                          ({"texts": {"Send Button": "x"}}, "texts"),
                          ({"texts": {"composer.send": "x" * 501}}, "texts"),
                          ({"texts": {"header.titel": "x"}}, "unknown text key 'header.titel'"),
                          ({"texts": {"de": {"typing.named": "{nom} schreibt"}}}, "placeholder"),
                          ({"title": ""}, "title"),
                          ({"secret": "mine"}, "secret")):
        resp = await client.put("/api/admin/widget-sites/acme", json={**GOOD, **change}, headers=headers)
        assert resp.status == 422, (change, await resp.text())
        assert field in (await resp.json())["error"], (change, await resp.text())
    assert (await client.put("/api/admin/widget-sites/Bad%20Name", json=GOOD, headers=headers)).status == 400
    resp = await client.put("/api/admin/widget-sites/acme", json=GOOD, headers=headers)
    assert resp.status == 201, await resp.text()
    site = (await resp.json())["site"]
    assert site["identity_secret_set"] is False and site["colors"] == {"primary": "#aa3300"}
    changed = await client.put("/api/admin/widget-sites/acme", json={**GOOD, "title": "Acme"}, headers=headers)
    assert changed.status == 200 and (await changed.json())["created"] is False
    # what the widget reads: colours and text overrides pass through
    settings = await (await client.get("/api/widget/sites/acme?lang=de-DE")).json()
    assert {k: settings[k] for k in ("site", "title", "prechat", "greeting", "sound", "colors", "locale")} == {
        "site": "acme", "title": "Acme", "prechat": {"name": "required", "email": "off"},
        "greeting": "Hi! How can we help?", "sound": False, "colors": {"primary": "#aa3300"}, "locale": "de"}
    assert settings["texts"]["composer.send"] == "Go" and settings["texts"]["prechat.start"] == "Los"
    english = await (await client.get("/api/widget/sites/acme?lang=en")).json()
    assert english["texts"]["composer.send"] == "Go" and english["texts"]["prechat.start"] != "Los"
    trail = await runtime.hub.store.audit.find({"target.type": "widget_site"}, sort=[("_id", 1)]).to_list()
    assert [(r["action"], r["actor"]["username"], r["target"]["id"]) for r in trail] == [
        ("widget_site.created", "root", "acme"), ("widget_site.updated", "root", "acme")]
    assert trail[1]["details"]["title"] == "Acme"
    assert (await client.delete("/api/admin/widget-sites/acme", headers=headers)).status == 200
    assert (await client.delete("/api/admin/widget-sites/acme", headers=headers)).status == 404
    assert (await client.get("/api/widget/sites/acme")).status == 404


async def test_cors_follows_a_new_site_without_a_restart(client: TestClient[Any, Any], runtime: Runtime) -> None:
    headers = await as_admin(client, runtime)
    # the seeded demo site allows any origin; make it strict so only the new site's origin can pass
    demo = await client.put("/api/admin/widget-sites/demo", json={"allowed_origins": ["https://demo.example"]},
                            headers=headers)
    assert demo.status == 200
    preflight = await client.options("/api/widget/session", headers={"Origin": SHOP})
    assert "Access-Control-Allow-Origin" not in preflight.headers
    assert (await client.put("/api/admin/widget-sites/acme", json=GOOD, headers=headers)).status == 201
    preflight = await client.options("/api/widget/session", headers={"Origin": SHOP})
    assert preflight.headers["Access-Control-Allow-Origin"] == SHOP
    resp = await client.post("/api/widget/session", json={"site": "acme", "name": "Ann"}, headers={"Origin": SHOP})
    assert resp.status == 200 and resp.headers["Access-Control-Allow-Origin"] == SHOP
    other = await client.post("/api/widget/session", json={"site": "demo"}, headers={"Origin": SHOP})
    assert "Access-Control-Allow-Origin" not in other.headers  # a site's origins open that site only


async def test_another_process_sees_a_change_through_the_bus(client: TestClient[Any, Any], runtime: Runtime) -> None:
    assert runtime.hub is not None and runtime.store is not None
    other = SiteBook(runtime.store)  # as a second hub process holds it
    await other.load()
    runtime.hub.spawn(other.run(runtime.hub.bus), "second process sites")
    headers = await as_admin(client, runtime)
    assert (await client.put("/api/admin/widget-sites/acme", json=GOOD, headers=headers)).status == 201

    async def seen() -> bool | None:
        return ("acme" in other.sites and other.sites["acme"]["allowed_origins"] == GOOD["allowed_origins"]) or None
    await eventually(seen, what="the other process's sites")
    assert (await client.delete("/api/admin/widget-sites/acme", headers=headers)).status == 200

    async def gone() -> bool | None:
        return "acme" not in other.sites or None
    await eventually(gone, what="the deletion in the other process")


async def test_the_secret_is_shown_once_and_rotation_keeps_the_old_one_for_the_grace(
        client: TestClient[Any, Any], runtime: Runtime) -> None:
    assert runtime.hub is not None
    headers = await as_admin(client, runtime)
    assert (await client.put("/api/admin/widget-sites/acme", json=GOOD, headers=headers)).status == 201
    refused = await client.post("/api/widget/session", json={"site": "acme", "user_jwt": user_jwt("x" * 43)})
    assert refused.status == 403 and "not configured" in (await refused.json())["error"]

    resp = await client.post("/api/admin/widget-sites/acme/secret", json={}, headers=headers)
    assert resp.status == 200 and resp.headers["Cache-Control"] == "no-store"
    first = (await resp.json())["identity_secret"]
    assert len(first.encode()) >= 32
    assert first not in await (await client.get("/api/admin/widget-sites")).text()  # never shown again
    ok = await client.post("/api/widget/session", json={"site": "acme", "user_jwt": user_jwt(first)})
    assert ok.status == 200 and (await ok.json())["verified"] is True

    resp = await client.post("/api/admin/widget-sites/acme/secret", json={"grace_seconds": 3600}, headers=headers)
    second = (await resp.json())["identity_secret"]
    assert second != first and (await resp.json())["site"]["previous_secret_valid_until"]
    for key in (second, first):  # the new key, and the old one during the grace, for JWTs and legacy hashes
        ok = await client.post("/api/widget/session", json={"site": "acme", "user_jwt": user_jwt(key, "u-2")})
        assert ok.status == 200, await ok.text()
        hashed = await client.post("/api/widget/session", json={"site": "acme", "user_id": "u-3",
                                                                 "user_hash": legacy_hash(key, "u-3")})
        assert hashed.status == 200 and (await hashed.json())["verified"] is True
    resp = await client.post("/api/admin/widget-sites/acme/secret", json={"grace_seconds": 0}, headers=headers)
    third = (await resp.json())["identity_secret"]
    old = await client.post("/api/widget/session", json={"site": "acme", "user_jwt": user_jwt(second)})
    assert old.status == 403 and "signature does not match" in (await old.json())["error"]
    old = await client.post("/api/widget/session", json={"site": "acme", "user_id": "u-3",
                                                         "user_hash": legacy_hash(second, "u-3")})
    assert old.status == 403
    assert (await client.post("/api/widget/session", json={"site": "acme", "user_jwt": user_jwt(third)})).status == 200
    bad = await client.post("/api/admin/widget-sites/acme/secret", json={"grace_seconds": -1}, headers=headers)
    assert bad.status == 422
    assert (await client.post("/api/admin/widget-sites/none/secret", json={}, headers=headers)).status == 404
    trail = await runtime.hub.store.audit.find({"action": "widget_site.secret_rotated"}, sort=[("_id", 1)]).to_list()
    assert [r["details"]["grace_seconds"] for r in trail] == [86400, 3600, 0]
    assert not any(s in str(trail) for s in (first, second, third))


async def test_the_preview_page_shows_the_unsaved_look(client: TestClient[Any, Any], runtime: Runtime) -> None:
    headers = await as_admin(client, runtime)
    assert (await client.put("/api/admin/widget-sites/acme", json=GOOD, headers=headers)).status == 201
    page = await client.get("/desk/widget-preview/acme", params={"look": '{"title": "Draft <b>", "greeting": "Hey"}'})
    assert page.status == 200 and "frame-ancestors 'self'" in page.headers["Content-Security-Policy"]
    text = await page.text()
    assert 'data-site="acme"' in text and "Draft &lt;b&gt;" in text and "<b>" not in text
    saved = await (await client.get("/desk/widget-preview/acme")).text()
    assert "Acme help" in saved and "#aa3300" in saved
    bad = await client.get("/desk/widget-preview/acme", params={"look": '{"colors": {"primary": "nope"}}'})
    assert bad.status == 422 and "colors.primary" in (await bad.json())["error"]
    for look in ("[" * 1500, "not json", "[1]"):
        bad = await client.get("/desk/widget-preview/acme", params={"look": look})
        assert bad.status == 400, look


async def test_config_apply_diffs_and_applies_sites(runtime: Runtime) -> None:
    book = runtime.sites
    assert book is not None
    desired = {"demo": {"title": "Demo shop", "allowed_origins": ["*"], "identity_secret": "site-identity-secret",
                        "identity_jwt_max_lifetime_seconds": 3600,
                        "prechat": {"enabled": False, "name": "required", "email": "optional"}},
               "acme": GOOD}
    assert sitebook.diff(book, desired) == ["+ widget site acme"]
    changed = {**desired, "demo": {**desired["demo"], "title": "Demo", "identity_secret": "n" * 40}}
    assert sitebook.diff(book, changed, prune=True) == ["~ widget site demo: title, identity_secret",
                                                        "+ widget site acme"]
    assert await sitebook.apply(book, changed) == ["~ widget site demo: title, identity_secret",
                                                   "+ widget site acme"]
    assert sitebook.diff(book, changed) == []
    assert book.sites["demo"]["title"] == "Demo" and book.identity_secrets("demo") == ["n" * 40]
    assert await sitebook.apply(book, {"acme": GOOD}, prune=True) == ["- widget site demo"]
    assert set(book.sites) == {"acme"}
    # `switchboard config apply` beside a running hub: its own book on the same database; the hub follows
    assert runtime.store is not None
    cli = SiteBook(runtime.store)
    await cli.load()
    assert await sitebook.apply(cli, {"acme": {**GOOD, "title": "From the file"}}) == ["~ widget site acme: title"]

    async def followed() -> bool | None:
        return book.sites["acme"]["title"] == "From the file" or None
    await eventually(followed, what="the running hub's sites after config apply")
    try:
        sitebook.diff(book, {"acme": {**GOOD, "colors": {"primary": "blue"}}})
    except SiteError as exc:
        assert "#2457d6" in str(exc)
    else:
        raise AssertionError("a bad colour was accepted")


def test_origins_are_checked_and_normalised() -> None:
    assert sitebook.check_origin("HTTPS://Shop.Example.com:8443/") == "https://shop.example.com:8443"
    assert sitebook.check_origin("http://[::1]:9000") == "http://[::1]:9000"
    for bad in ("ftp://x.example", "https://user@x.example", "https://x.example/a", "https://x.example?q=1",
                "https://", "https://exa mple.com", "https://x.example:99999"):
        try:
            sitebook.check_origin(bad)
        except SiteError:
            continue
        raise AssertionError(f"{bad} accepted")
