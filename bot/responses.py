"""Bot answers from a Rasa ``domain.yml`` ``responses:`` section, chosen per channel.

One intent can have a rich variant (widget, email) and a short one (SMS, voice);
a variant without `channel` is the fallback for every other channel.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from bot.training_data import TrainingDataError, dump_yaml
from hub.models import Entity, QuickReply

_SLOT = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SPACE_BEFORE_PUNCT = re.compile(r"[ \t]+([,.!?;:])")
_MULTI_SPACE = re.compile(r"[ \t]{2,}")


@dataclass(frozen=True)
class ResponseVariant:
    """One variation of an `utter_*` response."""

    text: str
    channel: str | None = None
    buttons: tuple[QuickReply, ...] = ()
    #: Keys we do not interpret (image, custom, condition...), kept for the round trip.
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RenderedResponse:
    text: str
    buttons: tuple[QuickReply, ...] = ()


def fill_template(template: str, values: Mapping[str, str]) -> str:
    """Replace `{slot}` placeholders; a slot with no value disappears without leaving a gap.

    Braces that are not a plain `{identifier}` are left as they are, so a stray `{` in
    an answer never breaks rendering.
    """
    filled = _SLOT.sub(lambda m: values.get(m.group(1), "") or "", template)
    if filled == template:
        return template
    filled = _SPACE_BEFORE_PUNCT.sub(r"\1", filled)
    filled = _MULTI_SPACE.sub(" ", filled)
    return "\n".join(line.strip() for line in filled.split("\n")).strip()


class Responses:
    """The `responses:` of a domain: name -> variations."""

    def __init__(self, responses: Mapping[str, list[ResponseVariant]] | None = None) -> None:
        self._responses: dict[str, list[ResponseVariant]] = {k: list(v) for k, v in (responses or {}).items()}

    def __contains__(self, name: object) -> bool:
        return name in self._responses

    def names(self) -> list[str]:
        return list(self._responses)

    def variants(self, name: str) -> list[ResponseVariant]:
        return list(self._responses.get(name, []))

    def choose(
        self, name: str, channel: str, seed: str = "", available: Iterable[str] | None = None
    ) -> ResponseVariant | None:
        """The variant for `channel`, else a channel-less one; stable for the same `seed`.

        With `available` (the slot names that have values), variants whose every
        `{slot}` can be filled are preferred, so "order {order_number}" is only said
        when we know the number and a slot-free variation covers the other case;
        among those, the ones using the most slots win.
        """
        options = self._responses.get(name, [])
        matching = [v for v in options if v.channel == channel] or [v for v in options if v.channel is None]
        if available is not None:
            have = set(available)
            complete = [v for v in matching if set(_SLOT.findall(v.text)) <= have]
            if complete:
                most = max(len(set(_SLOT.findall(v.text))) for v in complete)
                matching = [v for v in complete if len(set(_SLOT.findall(v.text))) == most]
        if not matching:
            return None
        return matching[zlib.crc32(seed.encode()) % len(matching)]

    def render(
        self,
        name: str,
        channel: str,
        *,
        entities: Iterable[Entity] = (),
        contact_name: str | None = None,
        seed: str = "",
        extra: Mapping[str, str] | None = None,
    ) -> RenderedResponse | None:
        """Pick and fill a response: `{name}` from the contact, other slots from entities."""
        values: dict[str, str] = dict(extra or {})
        for ent in entities:
            values.setdefault(ent.type, ent.value)
        if contact_name and contact_name.split():
            values.setdefault("name", contact_name.split()[0])
        variant = self.choose(name, channel, seed, available=[k for k, v in values.items() if v])
        if variant is None:
            return None
        return RenderedResponse(fill_template(variant.text, values), variant.buttons)


def parse_responses(doc: Mapping[str, Any]) -> Responses:
    """Read the `responses:` mapping of a parsed ``domain.yml``."""
    raw = doc.get("responses") or {}
    if not isinstance(raw, Mapping):
        raise TrainingDataError("domain.yml: 'responses:' must be a mapping")
    parsed: dict[str, list[ResponseVariant]] = {}
    for name, variations in raw.items():
        if not isinstance(variations, list):
            raise TrainingDataError(f"domain.yml: response {name} must be a list of variations")
        parsed[str(name)] = [_variant(str(name), v) for v in variations]
    return Responses(parsed)


def _variant(name: str, raw: Any) -> ResponseVariant:
    if isinstance(raw, str):
        return ResponseVariant(text=raw)
    if not isinstance(raw, Mapping):
        raise TrainingDataError(f"domain.yml: response {name}: each variation must be a mapping")
    buttons = tuple(
        QuickReply(title=str(b.get("title", "")), payload=str(b.get("payload", b.get("title", ""))))
        for b in raw.get("buttons") or []
        if isinstance(b, Mapping)
    )
    extra = {k: v for k, v in raw.items() if k not in ("text", "channel", "buttons")}
    channel = raw.get("channel")
    return ResponseVariant(
        text=str(raw.get("text", "")),
        channel=str(channel) if channel is not None else None,
        buttons=buttons,
        extra=extra,
    )


def load_domain(text: str) -> tuple[Responses, dict[str, Any]]:
    """Parse ``domain.yml`` text; returns the responses and the whole document."""
    doc = yaml.safe_load(text) or {}
    if not isinstance(doc, dict):
        raise TrainingDataError("domain.yml: top level must be a mapping")
    return parse_responses(doc), doc


def responses_to_dict(responses: Responses) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for name in responses.names():
        items = []
        for v in responses.variants(name):
            item: dict[str, Any] = {"text": v.text}
            if v.channel is not None:
                item["channel"] = v.channel
            if v.buttons:
                item["buttons"] = [{"title": b.title, "payload": b.payload} for b in v.buttons]
            item.update(v.extra)
            items.append(item)
        out[name] = items
    return out


def dump_domain(responses: Responses, intents: Iterable[str] = (), entities: Iterable[str] = ()) -> str:
    """A Rasa ``domain.yml`` with the intents, entities and responses (what a Rasa server needs)."""
    doc: dict[str, Any] = {"version": "3.1"}
    if intents:
        doc["intents"] = list(intents)
    if entities:
        doc["entities"] = list(entities)
    doc["responses"] = responses_to_dict(responses)
    return dump_yaml(doc)
