"""The widget's own words: complete catalogs, the visitor's language negotiated, a site's overrides checked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from channels.widget import i18n
from switchboard.config import ConfigError
from tests.conftest import http_client, make_settings, running


@pytest.mark.parametrize("language", sorted(set(i18n.catalogs()) - {"en"}))
def test_every_catalog_has_exactly_the_english_keys_placeholders_and_its_plural_forms(language: str) -> None:
    english, catalog = i18n.catalogs()["en"], i18n.catalogs()[language]
    assert list(catalog) == list(english)  # same keys, same order: translators diff them side by side
    for key, message in catalog.items():
        assert isinstance(message, dict) == isinstance(english[key], dict), key
        assert i18n.placeholders(message) == i18n.placeholders(english[key]), key
        if isinstance(message, dict):
            assert set(message) == i18n.plural_forms(language), key  # CLDR's forms for the language, no more
        forms = message.values() if isinstance(message, dict) else [message]
        assert all(form.strip() for form in forms), key


def test_english_plural_texts_have_the_english_forms_and_at_least_four_languages_ship() -> None:
    assert {"en", "de", "fr", "es"} <= set(i18n.catalogs())
    plural = {k: m for k, m in i18n.catalogs()["en"].items() if isinstance(m, dict)}
    assert plural and all(set(m) == {"one", "other"} and "count" in i18n.placeholders(m) for m in plural.values())


@pytest.mark.parametrize(("lang", "accept", "expected"), [
    ("de-AT,en-US", None, "de"),          # the region's language
    ("fr-CA,fr", "de", "fr"),             # navigator.languages wins over the header
    ("pt-BR,es-MX", None, "es"),          # the first of the visitor's languages with a catalog
    ("xx-YY", None, "en"),                # unknown: English
    ("", "it;q=0.9, fr-CH;q=0.8, de;q=0.5", "fr"),  # by q-value when the widget sent no list
    ("", "de;q=0, es", "es"),             # q=0 means "not this one"
    ("", None, "en"),
    ("<script>,de", None, "de"),          # malformed tags are dropped
])
def test_the_visitor_language_is_negotiated(lang: str, accept: str | None, expected: str) -> None:
    assert i18n.negotiate(i18n.preferences(lang, accept), i18n.catalogs()) == expected


@pytest.mark.parametrize(("texts", "reason"), [
    ({"send": "Go"}, "unknown text key 'send' (known keys: launcher.open"),
    ({"de": {"composer.sendd": "Los"}}, "texts.de: unknown text key 'composer.sendd'"),
    ({"typing.named": "{agent} tippt"}, "unknown placeholder {agent} (this text offers: {name})"),
    ({"composer.send": "{name}"}, "unknown placeholder {name} (this text offers: none)"),
    ({"qq": {"composer.send": "x"}}, "'qq' is neither a text key nor a known language code"),
    ({"fr": {"wait.estimate": {"two": "{count}", "other": "{count}"}}}, "'two' is not a plural form of fr"),
    ({"wait.estimate": {"one": "1"}}, "plural forms need at least 'other'"),
    ({"composer.send": 5}, "texts.composer.send must be text"),
    (["composer.send"], "texts must be a mapping"),
])
def test_a_wrong_override_is_refused_with_a_reason(texts: Any, reason: str) -> None:
    with pytest.raises(i18n.TextsError) as refused:
        i18n.validate_texts(texts)
    assert reason in str(refused.value)


def test_overrides_for_every_language_and_per_language_in_one_mapping() -> None:
    texts = i18n.validate_texts({"composer.send": "Go", "de": {"composer.send": "Los"},
                                 "fr": {"wait.estimate": {"one": "{count} minute", "many": "{count} minutes",
                                                          "other": "{count} minutes"}}})
    assert texts == {"*": {"composer.send": "Go"}, "de": {"composer.send": "Los"},
                     "fr": {"wait.estimate": {"one": "{count} minute", "many": "{count} minutes",
                                              "other": "{count} minutes"}}}
    assert i18n.texts_for("de", texts)["composer.send"] == "Los"
    assert i18n.texts_for("es", texts)["composer.send"] == "Go"
    assert i18n.texts_for("es", texts)["chat.end"] == "Finalizar chat"


async def test_a_site_with_a_wrong_text_key_does_not_start(mongo_uri: str, tmp_path: Path, shop_bot: Any) -> None:
    """The site book (seeding from YAML, the desk, `config apply`) checks overrides with the widget's catalogs."""
    settings = make_settings(mongo_uri, tmp_path)
    settings.channels["widget"]["sites"]["demo"]["texts"] = {"de": {"header.titel": "Hallo"}}
    with pytest.raises(ConfigError, match=r"site 'demo': texts.de: unknown text key 'header.titel'"):
        async with running(settings, shop_bot):
            pass


async def test_the_site_settings_speak_the_visitors_language_with_the_sites_overrides(
    mongo_uri: str, tmp_path: Path, shop_bot: Any
) -> None:
    settings = make_settings(mongo_uri, tmp_path)
    settings.channels["widget"]["sites"]["demo"]["texts"] = {
        "composer.send": "Go", "de": {"composer.send": "Los"}, "it": {"chat.end": "Termina la chat"}}
    async with running(settings, shop_bot) as runtime, http_client(runtime) as client:
        assert runtime.hub is not None

        async def site(query: str = "", **headers: str) -> dict[str, Any]:
            response = await client.get(f"/api/widget/sites/demo{query}", headers=headers)
            assert response.status == 200, await response.text()
            return await response.json()

        german = await site("?lang=de-AT,en-US")
        assert (german["locale"], german["dir"]) == ("de", "ltr")
        assert german["texts"]["composer.placeholder"] == "Ihre Nachricht …"
        assert german["texts"]["composer.send"] == "Los"  # the site's German override
        assert german["title"] == german["texts"]["header.title"] == "Demo shop"  # the site's own title setting
        assert set(german["texts"]) == set(i18n.keys())

        french = await site(**{"Accept-Language": "fr-CH, fr;q=0.9, en;q=0.5"})  # no ?lang: the header decides
        assert french["locale"] == "fr" and french["texts"]["chat.end"] == "Terminer"
        assert french["texts"]["composer.send"] == "Go"  # the override for every language

        unknown = await site("?lang=sw-KE")
        assert unknown["locale"] == "en" and unknown["texts"]["composer.placeholder"] == "Type your message…"

        # A language only the site adds: its one text, English for every other key.
        italian = await site("?lang=it-IT,de")
        assert italian["locale"] == "it"
        assert italian["texts"]["chat.end"] == "Termina la chat"
        assert italian["texts"]["composer.placeholder"] == "Type your message…"
        assert italian["max_upload_bytes"] == 10 * 1024 * 1024

        script = await (await client.get("/widget.js")).text()  # English inside: the fallback if the site fails
        assert '"composer.placeholder": "Type your message…"' in script and "{{english}}" not in script
