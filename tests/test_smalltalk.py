"""Small talk names no ticket (hub.smalltalk): greetings, nudges, thanks and asking for a person, in the languages
the chat widget speaks; a message that says what the customer needs does, in any language."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.smalltalk import WORDS, says_what

LOCALES = Path(__file__).resolve().parents[1] / "channels" / "widget" / "locales"


@pytest.mark.parametrize("text", [
    "Hello?", "Are you still there??", "I want to talk to a human", "Any news on this?", "ok thanks",
    "Hallo, ist da jemand?", "Gibt es schon etwas Neues?", "Ich möchte mit einem Menschen sprechen", "Danke!",
    "Bonjour, il y a quelqu\u2019un ?", "Des nouvelles ?", "Je voudrais parler à un conseiller s'il vous plaît",
    "¿Hola, hay alguien ahí?", "Quiero hablar con una persona, por favor", "Muchas gracias", "", None])
def test_small_talk_says_nothing(text: str | None) -> None:
    assert not says_what(text)


@pytest.mark.parametrize("text", [
    "My card is blocked", "Meine Karte ist gesperrt", "Ma carte est bloquée", "Mi tarjeta está bloqueada",
    "Hallo, wo ist meine Bestellung 5521?", "Bonjour, ma commande n'est pas arrivée", "La mia carta è bloccata"])
def test_a_need_in_any_language_says_what(text: str) -> None:
    assert says_what(text)


def test_each_language_of_the_widget_has_its_words_in_lower_case() -> None:
    """A language the widget learns (a catalog in channels/widget/locales) needs its small talk here too."""
    assert set(WORDS) == {p.stem for p in LOCALES.glob("*.json")} == {"en", "de", "fr", "es"}
    for words in WORDS.values():
        assert words and all(w == w.lower() and " " not in w for w in words)
