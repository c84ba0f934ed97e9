"""Rasa 3.x training data (``nlu.yml``) in and out of `TrainingData`.

Trainers edit the same YAML a Rasa server reads, so the built-in NLU and a Rasa
backend train from one source, and we can write it back for export or for
``POST /model/train``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from bot.nlu.base import TrainingData

#: `[text](entity)`, `[text](entity:value)` or `[text]{"entity": "x", ...}`.
_ANNOTATION = re.compile(r"\[(?P<text>[^\]\n]+)\](?:\((?P<paren>[^)\n]+)\)|(?P<json>\{[^}\n]*\}))")
_LIST_ITEM = re.compile(r"^\s*-\s?(.*)$")


class TrainingDataError(ValueError):
    """The YAML is not usable training data (the message says where)."""


@dataclass
class NLUDocument:
    """Everything in an ``nlu.yml``: the data the classifier needs, plus synonyms.

    Synonyms are kept apart because `TrainingData` (the NLU port) has no field for them;
    the built-in NLU uses them to normalise extracted entity values.
    """

    data: TrainingData = field(default_factory=TrainingData)
    #: canonical value -> spellings that mean it.
    synonyms: dict[str, list[str]] = field(default_factory=dict)


def parse_example(raw: str) -> tuple[str, list[tuple[int, int, str, str]]]:
    """Strip entity annotations from one example.

    Returns the plain text and (start, end, entity type, value) for each annotation,
    offsets in the plain text. `value` is the synonym target when one is given.
    """
    plain: list[str] = []
    spans: list[tuple[int, int, str, str]] = []
    pos = 0
    length = 0
    for m in _ANNOTATION.finditer(raw):
        before = raw[pos : m.start()]
        plain.append(before)
        length += len(before)
        text = m.group("text")
        entity, value = _annotation_target(m, text)
        start = length
        plain.append(text)
        length += len(text)
        if entity:
            spans.append((start, length, entity, value))
        pos = m.end()
    plain.append(raw[pos:])
    return "".join(plain), spans


def _annotation_target(m: re.Match[str], text: str) -> tuple[str, str]:
    if m.group("paren") is not None:
        entity, _, value = m.group("paren").partition(":")
        return entity.strip(), (value.strip() or text)
    try:
        spec = json.loads(m.group("json"))
    except json.JSONDecodeError:
        return "", text
    if not isinstance(spec, dict):
        return "", text
    return str(spec.get("entity", "")).strip(), str(spec.get("value", text))


def _block_items(block: Any, where: str) -> list[str]:
    """Rasa writes examples as a `|` block of `- ` lines; accept a YAML list too."""
    if block is None:
        return []
    if isinstance(block, list):
        return [str(x).strip() for x in block if str(x).strip()]
    if not isinstance(block, str):
        raise TrainingDataError(f"{where}: examples must be a block of '- ' lines")
    items = []
    for line in block.splitlines():
        if not line.strip():
            continue
        m = _LIST_ITEM.match(line)
        items.append((m.group(1) if m else line).strip())
    return [i for i in items if i]


def parse_nlu(text: str) -> NLUDocument:
    """Parse an ``nlu.yml`` string. Unknown sections are ignored, as Rasa does for other files."""
    doc = yaml.safe_load(text) or {}
    if not isinstance(doc, dict):
        raise TrainingDataError("nlu.yml: top level must be a mapping with an 'nlu:' list")
    entries = doc.get("nlu") or []
    if not isinstance(entries, list):
        raise TrainingDataError("nlu.yml: 'nlu:' must be a list")
    out = NLUDocument()
    data = out.data
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise TrainingDataError(f"nlu.yml: entry {i} is not a mapping")
        examples = _block_items(entry.get("examples"), f"nlu.yml entry {i}")
        if "intent" in entry:
            intent = str(entry["intent"])
            texts = data.intents.setdefault(intent, [])
            for raw in examples:
                plain, spans = parse_example(raw)
                texts.append(plain)
                for start, end, etype, value in spans:
                    data.annotations.append((intent, plain, start, end, etype))
                    surface = plain[start:end]
                    if value != surface:
                        _add_unique(out.synonyms.setdefault(value, []), surface)
        elif "regex" in entry:
            data.regexes.setdefault(str(entry["regex"]), []).extend(examples)
        elif "lookup" in entry:
            data.lookups.setdefault(str(entry["lookup"]), []).extend(examples)
        elif "synonym" in entry:
            for ex in examples:
                _add_unique(out.synonyms.setdefault(str(entry["synonym"]), []), ex)
    return out


def _add_unique(items: list[str], value: str) -> None:
    if value not in items:
        items.append(value)


def annotate(text: str, spans: list[tuple[int, int, str]]) -> str:
    """Put `[text](entity)` markup back into a plain example."""
    out = []
    pos = 0
    for start, end, etype in sorted(spans):
        if start < pos:
            continue  # overlapping annotations cannot be written in Rasa markup
        out.append(text[pos:start])
        out.append(f"[{text[start:end]}]({etype})")
        pos = end
    out.append(text[pos:])
    return "".join(out)


class _Block(str):
    """A string YAML should write as a `|` literal block."""


def _block_representer(dumper: yaml.SafeDumper, value: _Block) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", str(value), style="|")


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(_Block, _block_representer)


def _examples_block(items: list[str]) -> _Block:
    return _Block("".join(f"- {x}\n" for x in items))


def dump_yaml(doc: dict[str, Any]) -> str:
    """YAML the way Rasa files look: keys in insertion order, examples as `|` blocks."""
    return yaml.dump(doc, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=1000)


def nlu_to_dict(data: TrainingData, synonyms: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """The ``nlu.yml`` structure for `data`, annotations re-inserted into their examples."""
    spans: dict[tuple[str, str], list[tuple[int, int, str]]] = {}
    for intent, text, start, end, etype in data.annotations:
        spans.setdefault((intent, text), []).append((start, end, etype))
    entries: list[dict[str, Any]] = []
    for intent, texts in data.intents.items():
        items = [annotate(t, spans.get((intent, t), [])) for t in texts]
        entries.append({"intent": intent, "examples": _examples_block(items)})
    for name, patterns in data.regexes.items():
        entries.append({"regex": name, "examples": _examples_block(patterns)})
    for name, values in data.lookups.items():
        entries.append({"lookup": name, "examples": _examples_block(values)})
    for canonical, variants in (synonyms or {}).items():
        entries.append({"synonym": canonical, "examples": _examples_block(variants)})
    return {"version": "3.1", "nlu": entries}


def dump_nlu(data: TrainingData, synonyms: dict[str, list[str]] | None = None) -> str:
    """Write `data` back as ``nlu.yml`` text (parses back to an equal `TrainingData`)."""
    return dump_yaml(nlu_to_dict(data, synonyms))
