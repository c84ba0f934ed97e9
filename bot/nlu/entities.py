"""Entity extraction from Rasa `regex:` and `lookup:` entries (and annotated example values).

Deterministic on purpose: order numbers and country names are patterns and lists, and
a trainer can see exactly why a value was or was not found.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from bot.nlu.base import TrainingData
from hub.models import Entity


def _is_acronym(value: str) -> bool:
    """`US`, `UK`: matched case-sensitively so "send it to us" is not a country."""
    return value.isupper() and len(value) <= 4


class EntityExtractor:
    def __init__(self, data: TrainingData, synonyms: Mapping[str, list[str]] | None = None) -> None:
        self._canonical: dict[str, str] = {}
        for canonical, variants in (synonyms or {}).items():
            for v in variants:
                self._canonical[v.lower()] = canonical
        self._regexes: list[tuple[str, re.Pattern[str]]] = []
        for etype, patterns in data.regexes.items():
            for p in patterns:
                try:
                    self._regexes.append((etype, re.compile(p)))
                except re.error as exc:
                    raise ValueError(f"regex for {etype} does not compile: {p!r}: {exc}") from exc
        values: dict[str, set[str]] = {k: set(v) for k, v in data.lookups.items()}
        # annotated examples teach values of entity types that have no regex of their own
        for _intent, text, start, end, etype in data.annotations:
            if etype not in data.regexes:
                values.setdefault(etype, set()).add(text[start:end])
        # a synonym of a known value is a value too ("Britain" for "United Kingdom")
        for vals in values.values():
            lowered = {v.lower() for v in vals}
            for canonical, variants in (synonyms or {}).items():
                if canonical.lower() in lowered:
                    vals.update(variants)
        self._lookups: list[tuple[str, re.Pattern[str]]] = []
        for etype, vals in values.items():
            ordered = sorted((v for v in vals if v.strip()), key=len, reverse=True)
            loose = [re.escape(v) for v in ordered if not _is_acronym(v)]
            strict = [re.escape(v) for v in ordered if _is_acronym(v)]
            if loose:
                self._lookups.append((etype, re.compile(rf"(?<!\w)(?:{'|'.join(loose)})(?!\w)", re.IGNORECASE)))
            if strict:
                self._lookups.append((etype, re.compile(rf"(?<!\w)(?:{'|'.join(strict)})(?!\w)")))

    def extract(self, text: str) -> tuple[Entity, ...]:
        """All matches, overlaps resolved in favour of the longer (then earlier) one."""
        found: list[Entity] = []
        for etype, pattern in self._regexes:
            for m in pattern.finditer(text):
                if m.end() > m.start():
                    found.append(Entity(etype, m.group(0), m.start(), m.end()))
        for etype, pattern in self._lookups:
            for m in pattern.finditer(text):
                value = self._canonical.get(m.group(0).lower(), m.group(0))
                found.append(Entity(etype, value, m.start(), m.end()))
        found.sort(key=lambda e: (-(e.end - e.start), e.start))
        kept: list[Entity] = []
        for ent in found:
            if all(ent.end <= k.start or ent.start >= k.end for k in kept):
                kept.append(ent)
        return tuple(sorted(kept, key=lambda e: e.start))
