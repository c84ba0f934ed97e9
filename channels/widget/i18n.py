"""The widget's own words: message catalogs per language, language negotiation, per-site overrides.

Catalogs are JSON files in `channels/widget/locales/<language>.json`, one `key: message` per text.
A message is a string with `{name}` placeholders, or, where a number decides the wording, an object
of CLDR plural forms (`{"one": "... {count} minute.", "other": "... {count} minutes."}`) that the
browser picks with `Intl.PluralRules` on the parameter `count`. English is complete; any other
catalog has the same keys (tests/test_widget_i18n.py), and a key it lacks falls back to English.

A site overrides texts with its `texts` setting, a mapping of key to message for every language,
or of a language to such a mapping for that language only (both may be mixed)::

    texts:
      header.title: Acme support        # every language
      de: {header.title: Acme-Kundendienst}

An override may use the placeholders of the English message and nothing else; an unknown key or
language is refused with a reason (`TextsError`), at start-up for YAML sites.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping
from importlib import resources
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.core import negotiate_locale

#: The language every visitor gets when none of theirs has a catalog, and every missing key's source.
FALLBACK = "en"
#: A text: a string, or plural forms (CLDR category -> string) chosen by the `count` parameter.
Message = str | dict[str, str]
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_TAG = re.compile(r"^[A-Za-z]{1,8}(?:[-_][A-Za-z0-9]{1,8})*$")
#: At most this many of the visitor's languages are looked at.
MAX_PREFERENCES = 12


class TextsError(ValueError):
    """A site's `texts` setting that names an unknown key or language, or a placeholder the text lacks."""


@functools.cache
def catalogs() -> dict[str, dict[str, Message]]:
    """Every shipped catalog, by language code (read once)."""
    folder = resources.files("channels.widget") / "locales"
    found = {}
    for entry in folder.iterdir():
        if entry.name.endswith(".json"):
            found[entry.name.removesuffix(".json")] = json.loads(entry.read_text(encoding="utf-8"))
    return found


def keys() -> list[str]:
    """The text keys, in the English catalog's order."""
    return list(catalogs()[FALLBACK])


def placeholders(message: Message) -> set[str]:
    """The `{name}` placeholders a message uses (in any of its plural forms)."""
    forms = message.values() if isinstance(message, dict) else [message]
    return {name for form in forms for name in _PLACEHOLDER.findall(form)}


def plural_forms(language: str) -> set[str]:
    """The CLDR plural categories of a language (always with `other`)."""
    return set(Locale.parse(language, sep="-").plural_form.tags) | {"other"}


def direction(language: str) -> str:
    """`ltr` or `rtl`, the writing direction of a language."""
    try:
        return "rtl" if Locale.parse(language, sep="-").text_direction == "rtl" else "ltr"
    except (UnknownLocaleError, ValueError):
        return "ltr"


def preferences(lang: str | None, accept_language: str | None) -> list[str]:
    """The visitor's languages, best first: the widget's `lang` (navigator.languages, comma-separated)
    or else the `Accept-Language` header (by its q-values). Malformed tags are dropped."""
    if lang:
        tags = [t.strip() for t in lang.split(",")]
    else:
        weighted = []
        for i, part in enumerate((accept_language or "").split(",")):
            tag, _, params = part.strip().partition(";")
            q = 1.0
            for param in params.split(";"):
                name, _, value = param.strip().partition("=")
                if name == "q":
                    try:
                        q = float(value)
                    except ValueError:
                        q = 0.0
            if q > 0:
                weighted.append((-q, i, tag.strip()))
        tags = [tag for _, _, tag in sorted(weighted)]
    return [t.replace("_", "-") for t in tags if _TAG.match(t)][:MAX_PREFERENCES]


def negotiate(preferred: Iterable[str], available: Iterable[str]) -> str:
    """The best available language for the visitor's preferences (de-AT -> de), else English.

    Babel's CLDR matching: an exact tag first, then its aliases, then its language alone.
    """
    choices = sorted(set(available))
    try:
        best = negotiate_locale([p.replace("-", "_") for p in preferred], [c.replace("-", "_") for c in choices])
    except (UnknownLocaleError, ValueError):
        best = None
    return best.replace("_", "-") if best else FALLBACK


def validate_texts(texts: Any, where: str = "texts") -> dict[str, dict[str, Message]]:
    """A site's `texts` setting as `{"*": {key: message}, language: {key: message}}`, or `TextsError`.

    Accepts `{key: message}` (every language), `{language: {key: message}}` or both mixed. A message
    is a string, or for a plural text also an object of that language's plural forms.
    """
    if texts is None:
        return {}
    if not isinstance(texts, Mapping):
        raise TextsError(f"{where} must be a mapping of text key to text (or of language to such a mapping)")
    english = catalogs()[FALLBACK]
    known = ", ".join(english)
    out: dict[str, dict[str, Message]] = {}
    for name, value in texts.items():
        name = str(name)
        if name in english:
            out.setdefault("*", {})[name] = _checked(name, value, None, f"{where}.{name}")
            continue
        if not isinstance(value, Mapping):
            raise TextsError(f"{where}: unknown text key {name!r} (known keys: {known})")
        language = _language(name, where)
        for key, text in value.items():
            key = str(key)
            if key not in english:
                raise TextsError(f"{where}.{name}: unknown text key {key!r} (known keys: {known})")
            out.setdefault(language, {})[key] = _checked(key, text, language, f"{where}.{name}.{key}")
    return out


def _language(name: str, where: str) -> str:
    if not _TAG.match(name):
        raise TextsError(f"{where}: {name!r} is neither a text key nor a language code")
    try:
        Locale.parse(name, sep="-" if "-" in name else "_")
    except (UnknownLocaleError, ValueError) as exc:
        raise TextsError(f"{where}: {name!r} is neither a text key nor a known language code") from exc
    return name.replace("_", "-").lower()


def _checked(key: str, text: Any, language: str | None, where: str) -> Message:
    allowed = placeholders(catalogs()[FALLBACK][key])
    if isinstance(text, Mapping) and isinstance(catalogs()[FALLBACK][key], dict):
        forms = plural_forms(language) if language else None
        message: Message = {str(k): v for k, v in text.items()}
        if "other" not in message:
            raise TextsError(f"{where}: plural forms need at least 'other'")
        for form, value in message.items():
            if not isinstance(value, str):
                raise TextsError(f"{where}.{form} must be text")
            if forms is not None and form not in forms:
                raise TextsError(f"{where}: {form!r} is not a plural form of {language} "
                                 f"(its forms: {', '.join(sorted(forms))})")
    elif isinstance(text, str):
        message = text
    else:
        raise TextsError(f"{where} must be text")
    unknown = placeholders(message) - allowed
    if unknown:
        offered = ", ".join("{" + p + "}" for p in sorted(allowed)) or "none"
        raise TextsError(f"{where}: unknown placeholder {{{sorted(unknown)[0]}}} (this text offers: {offered})")
    return message


def texts_for(language: str, overrides: Mapping[str, Mapping[str, Message]],
              defaults: Mapping[str, Message] | None = None) -> dict[str, Message]:
    """Every text for a visitor speaking `language`, key by key: the site's override for the language,
    its override for every language, `defaults` (older site settings such as `title`), the
    language's catalog, English."""
    shipped = catalogs()
    base = language.split("-")[0]
    layers: list[Mapping[str, Message]] = [
        shipped[FALLBACK], shipped.get(base, {}), shipped.get(language, {}), defaults or {},
        overrides.get("*", {}), overrides.get(base, {}), overrides.get(language, {}),
    ]
    merged: dict[str, Message] = {}
    for layer in layers:
        merged.update({k: v for k, v in layer.items() if k in shipped[FALLBACK]})
    return merged


def languages(overrides: Mapping[str, Any]) -> set[str]:
    """The languages a site speaks: the shipped catalogs and any its overrides add."""
    return set(catalogs()) | {lang for lang in overrides if lang != "*"}
