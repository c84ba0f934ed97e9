"""The widget speaks the browser's language: German in a German browser, French in a French one,
English for a language without a catalog, and a site's override replaces one text."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect

from hub.models import Role
from switchboard.bootstrap import Runtime
from switchboard.config import Settings
from tests.browser.conftest import screenshot
from tests.conftest import make_settings

GERMAN_WEEKDAY = re.compile(r"^(Montag|Dienstag|Mittwoch|Donnerstag|Freitag|Samstag|Sonntag), ")


@pytest.fixture
def settings(mongo_uri: str, tmp_path: Path) -> Settings:
    """The demo site with a pre-chat form (name required, email optional), one Spanish text of its own,
    files up to 2 kB, and a wait announcer passing every second."""
    settings = make_settings(mongo_uri, tmp_path, wait_announce_seconds=1)
    site = settings.channels["widget"]["sites"]["demo"]
    site["prechat"] = {"enabled": True, "name": "required", "email": "optional"}
    site["texts"] = {"es": {"prechat.start": "¡Empecemos!"}}
    site["max_upload_bytes"] = 2048
    return settings


async def _open(browser: Any, live_url: str, locale: str) -> tuple[Any, Any]:
    ctx = await browser.new_context(locale=locale, viewport={"width": 900, "height": 640})
    page = await ctx.new_page()
    await page.goto(f"{live_url}/demo")
    await expect(page.locator(".sb-pre")).to_be_visible()
    return ctx, page


async def _start(page: Any, name: str) -> None:
    await page.locator(".sb-pre input[name=name]").fill(name)
    await page.locator(".sb-pre button").click()
    await expect(page.locator("#switchboard-widget")).to_have_attribute("data-ready", "true")


async def test_the_widget_speaks_the_browsers_language(browser: Any, live_url: str, runtime: Runtime) -> None:
    hub = runtime.hub
    assert hub is not None
    hub.router.snapshot_seconds = 0

    # German (de-DE -> de): the form, its error, the chat, the wait with its plural, times.
    ctx, page = await _open(browser, live_url, "de-DE")
    widget = page.locator("#switchboard-widget")
    await expect(widget).to_have_attribute("lang", "de")
    await expect(widget).to_have_attribute("dir", "ltr")
    pre = page.locator(".sb-pre")
    await expect(pre.locator("label")).to_have_text(["Ihr Name", "Ihre E-Mail-Adresse (optional)"])
    await expect(pre.locator("button")).to_have_text("Chat starten")
    await pre.locator("input[name=name]").fill("   ")  # passes the browser's check, not the hub's
    await pre.locator("button").click()
    await expect(pre.locator(".sb-err")).to_have_text("Bitte geben Sie Ihren Namen ein.")
    await screenshot(page, "widget-language-de-prechat")
    await _start(page, "Greta Garbo")
    await expect(page.locator(".sb-status")).to_have_text("online")
    await expect(page.locator(".sb-end")).to_have_text("Chat beenden")
    await expect(page.locator(".sb-form textarea")).to_have_attribute("placeholder", "Ihre Nachricht …")
    await expect(page.locator(".sb-form button[type=submit]")).to_have_text("Senden")
    await expect(page.locator(".sb-attach")).to_have_attribute("aria-label", "Datei senden")
    await expect(page.locator(".sb-btn")).to_have_attribute("aria-label", "Chat öffnen")
    box = page.locator(".sb-form textarea")
    await box.fill("Ich möchte bitte mit einem Menschen sprechen, a human please")
    await box.press("Enter")
    wait = page.locator(".sb-wait")
    await expect(wait).to_have_text("Sie sind Nummer 1 in der Warteschlange. Gerade ist niemand aus unserem Team "
                                    "online: Wir antworten, sobald jemand zurück ist.")
    ann = await hub.accounts.create("ann", "ann's password", name="Ann", roles=[Role.AGENT], capacity=5)
    await hub.presence.connect(ann["_id"])
    await expect(wait).to_have_text("Sie sind Nummer 1 in der Warteschlange. Geschätzte Wartezeit: etwa 1 Minute.")
    mine = page.locator(".sb-msg.in").first
    await expect(mine).to_have_attribute("data-time", re.compile(r"^\d{2}:\d{2}$"))  # 24-hour clock
    await expect(mine).to_have_attribute("title", GERMAN_WEEKDAY)
    [german_ticket] = await hub.store.tickets.find({}).to_list()
    await hub.activity.report(german_ticket, ann, "typing")
    await expect(page.locator(".sb-typing")).to_have_text("Ann schreibt …")
    await screenshot(page, "widget-language-de")
    await page.locator(".sb-form input[type=file]").set_input_files(
        {"name": "scan.pdf", "mimeType": "application/pdf", "buffer": b"%PDF" + b"0" * 4096})
    await expect(page.locator(".sb-status")).to_have_text("Datei nicht gesendet: größer als 2 kB")
    await ctx.close()

    # French (fr-FR -> fr): the form, the chat, an unread agent reply with its plural.
    ctx, page = await _open(browser, live_url, "fr-FR")
    await expect(page.locator("#switchboard-widget")).to_have_attribute("lang", "fr")
    await expect(page.locator(".sb-pre label")).to_have_text(["Votre nom", "Votre adresse e-mail (facultatif)"])
    await expect(page.locator(".sb-pre button")).to_have_text("Démarrer le chat")
    await _start(page, "Jeanne Moreau")
    await expect(page.locator(".sb-status")).to_have_text("en ligne")
    await expect(page.locator(".sb-end")).to_have_text("Terminer")
    await expect(page.locator(".sb-form textarea")).to_have_attribute("placeholder", "Votre message…")
    await expect(page.locator(".sb-form button[type=submit]")).to_have_text("Envoyer")
    box = page.locator(".sb-form textarea")
    await box.fill("Je voudrais parler à un humain, a human please")
    await box.press("Enter")
    await expect(page.locator(".sb-wait")).to_contain_text("dans la file d\u2019attente.")
    await page.locator(".sb-btn").click()  # closed; an agent answers meanwhile
    [french_ticket] = await hub.store.tickets.find({"_id": {"$ne": german_ticket["_id"]}}).to_list()
    await hub.tickets.reply(french_ticket["_id"], ann, "Bonjour, ici Ann.")
    await expect(page.locator(".sb-btn")).to_have_attribute("aria-label", "Ouvrir le chat (1 message non lu)")
    await page.locator(".sb-btn").click()
    await expect(page.locator(".sb-msg.out").last).to_contain_text("Bonjour, ici Ann.")
    await screenshot(page, "widget-language-fr")
    await ctx.close()

    # A language without a catalog: English.
    ctx, page = await _open(browser, live_url, "sw-KE")
    await expect(page.locator("#switchboard-widget")).to_have_attribute("lang", "en")
    await expect(page.locator(".sb-pre label")).to_have_text(["Your name", "Your email (optional)"])
    await expect(page.locator(".sb-pre button")).to_have_text("Start chat")
    await ctx.close()

    # Spanish, with the site's own words for one text.
    ctx, page = await _open(browser, live_url, "es-MX")
    await expect(page.locator("#switchboard-widget")).to_have_attribute("lang", "es")
    await expect(page.locator(".sb-pre label")).to_have_text(["Su nombre", "Su correo electrónico (opcional)"])
    await expect(page.locator(".sb-pre button")).to_have_text("¡Empecemos!")  # not the catalog's "Iniciar chat"
    await ctx.close()
