"""Words that say nothing of what a customer needs: greetings, nudges, thanks, yes and no, asking for a person.

A message of these alone ("Hello?", "Ist da jemand?", "Des nouvelles ?", "¿Hay alguien ahí?") names no ticket and is
no question (`says_what`): the ticket keeps the subject the customer's first real question gave it, and the bot's
next ticket takes that question, not "Hi". In the languages the chat widget speaks (English, German, French and
Spanish: channels/widget/locales); a message in another language names the ticket, as any message did before.
"""

from __future__ import annotations

import re

#: Small talk by language (lower case; a word with an apostrophe is one word: "quelqu'un", "s'il").
WORDS: dict[str, frozenset[str]] = {lang: frozenset(text.split()) for lang, text in {
    "en": """hi hello hey hallo hiya yo good morning afternoon evening day there here anyone anybody someone somebody
        still are you is it me i i'm im am please pls thanks thank ok okay yes yeah yep no nope waiting wait can could
        would need want help talk speak chat to with a an the person human agent real have got question quick problem
        issue any news update updates on this so far yet""",
    "de": """hallo hi hey moin servus guten morgen tag abend grüß gott ist da dort hier jemand noch sind sie du bitte
        danke dankeschön vielen dank ok okay ja nein warte warten ich brauche hilfe möchte will würde gern gerne mit
        einem einer menschen mensch mitarbeiter mitarbeiterin person sprechen reden chatten habe eine frage kurze
        problem gibt es neuigkeiten neues dazu schon etwas""",
    "fr": """bonjour bonsoir salut coucou allô allo il y a quelqu'un encore là ici vous êtes tu es s'il plaît svp
        merci beaucoup ok oui non d'accord attends attendez j'attends je j'ai besoin d'aide aide voudrais veux
        aimerais parler discuter à avec un une humain agent conseiller conseillère personne une question petite
        problème des nouvelles du nouveau alors toujours""",
    "es": """hola buenos buenas días dias tardes noches hay alguien ahí ahi aquí aqui todavía todavia está esta
        usted tú tu por favor gracias muchas vale ok sí si no espero espera esperando necesito ayuda quiero quisiera
        me gustaría hablar con un una persona humano agente asesor tengo pregunta problema alguna novedad noticias
        ya""",
}.items()}
SMALL_TALK = frozenset().union(*WORDS.values())
_WORD = re.compile(r"[\w']+")


def says_what(text: str | None) -> bool:
    """Whether a customer's message says what they need, so that it can name a ticket or stand as their question:
    any word beyond small talk (`SMALL_TALK`, in any of its languages)."""
    words = _WORD.findall((text or "").lower().replace("\u2019", "'"))  # a typographic apostrophe, as phones type it
    return any(w not in SMALL_TALK for w in words)
