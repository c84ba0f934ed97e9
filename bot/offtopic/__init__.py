"""Built-in off-topic utterances: what a support bot should recognise as *not its business*.

A bot trained only on its own intents has never seen a question outside them, so it squeezes "what's the
weather tomorrow" into the nearest FAQ with misplaced confidence. These utterances, written for Switchboard
across many everyday domains (smart home, weather, music, travel, small talk, other industries' customer
service, ...), are added to training as out-of-scope examples by default, so that a fresh bot knows what
"something else" looks like before any trainer has written a single negative.

The data lives next to this module as ``<domain>.txt`` files (one utterance per line, ``#`` comments) and is
read with :mod:`importlib.resources`, so it works from a source checkout, an editable install and a wheel.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

__all__ = ["domains", "normalise", "utterances"]

_SUFFIX = ".txt"


def normalise(text: str) -> str:
    """Lower-case ``text`` and collapse punctuation and spacing, the key under which duplicates are dropped.

    "What's the weather?" and "whats the weather" are one utterance to a classifier; keeping both would only
    weigh that phrasing twice.
    """
    return " ".join(re.sub(r"[^\w\s]", "", text.lower()).split())


@cache
def _files() -> dict[str, tuple[str, ...]]:
    """Every domain file's utterances in file order, comments and blank lines left out (read once)."""
    found: dict[str, tuple[str, ...]] = {}
    for entry in resources.files(__name__).iterdir():
        if not entry.is_file() or not entry.name.endswith(_SUFFIX):
            continue
        lines = entry.read_text(encoding="utf-8").splitlines()
        found[entry.name[: -len(_SUFFIX)]] = tuple(
            line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#"))
    return dict(sorted(found.items()))


def domains() -> list[str]:
    """The names of the shipped domains (file stems, sorted), e.g. ``["cooking", "music", ...]``."""
    return list(_files())


@cache
def _all() -> tuple[tuple[str, str], ...]:
    seen: set[str] = set()
    out: list[tuple[str, str]] = []
    for domain, texts in _files().items():
        for text in texts:
            key = normalise(text)
            if key and key not in seen:
                seen.add(key)
                out.append((domain, text))
    return tuple(out)


def utterances(domains: list[str] | tuple[str, ...] | set[str] | None = None) -> list[tuple[str, str]]:
    """``(domain, text)`` pairs of the built-in negatives, deduplicated after :func:`normalise`.

    ``domains`` limits the result to those domains (unknown names raise ``ValueError`` rather than silently
    returning nothing, so a typo in a policy file shows). The first occurrence of a duplicate wins, in
    sorted-domain order, so the result is the same on every run.
    """
    pairs = _all()
    if domains is None:
        return list(pairs)
    wanted = set(domains)
    unknown = wanted - set(_files())
    if unknown:
        raise ValueError(f"unknown off-topic domain(s): {', '.join(sorted(unknown))}")
    return [pair for pair in pairs if pair[0] in wanted]
