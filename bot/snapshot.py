"""Training data as one versionable value: intents with their examples, answers and mapping.

A `TrainingSnapshot` is everything a bot is built from (``nlu.yml``, ``domain.yml`` and
``policy.yml``), regrouped the way trainers think: per intent, its examples (Rasa markup
kept, so `[12345](order_number)` annotations survive), its answers (the `utter_<intent>`
variants, one per channel where needed), the queue it escalates to and its button label.
Everything else (other responses, regex/lookup/synonym entries, the rest of the policy and
domain) is carried along unchanged.

Snapshots are stored whole in each training-data version (`bot.versions`), converted to a
`BotConfig` through the same parsers as the YAML files (`to_config`), and normalised on
every commit (`normalise`), so the digest of equal data is equal whoever wrote it.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from bot.config import BotConfig, dump_policy, parse_policy, policy_to_dict
from bot.nlu.entities import EntityExtractor
from bot.responses import Responses, ResponseVariant, parse_responses
from bot.training_data import TrainingDataError, annotate, dump_nlu, dump_yaml, parse_nlu

#: Intent names trainers may create (Rasa's own names are identifiers too).
INTENT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]{0,63}$")
#: Domain keys the snapshot holds itself; the others are kept as they are for export.
_OWN_DOMAIN_KEYS = ("version", "intents", "responses")


@dataclass
class Answer:
    """One variant of an intent's answer; `channel` None is the fallback for every other channel."""

    text: str
    channel: str | None = None
    buttons: list[dict[str, str]] = field(default_factory=list)
    #: Keys we do not interpret (image, custom...), kept for the round trip.
    extra: dict[str, Any] = field(default_factory=dict)

    def to_doc(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"text": self.text}
        if self.channel is not None:
            doc["channel"] = self.channel
        if self.buttons:
            doc["buttons"] = [dict(b) for b in self.buttons]
        doc.update(self.extra)
        return doc

    @staticmethod
    def from_variant(v: ResponseVariant) -> Answer:
        return Answer(v.text, v.channel, [{"title": b.title, "payload": b.payload} for b in v.buttons],
                      copy.deepcopy(dict(v.extra)))

    @staticmethod
    def from_doc(doc: dict[str, Any]) -> Answer:
        extra = {k: v for k, v in doc.items() if k not in ("text", "channel", "buttons")}
        channel = doc.get("channel")
        buttons = [{"title": str(b.get("title", "")), "payload": str(b.get("payload", b.get("title", "")))}
                   for b in doc.get("buttons") or [] if isinstance(b, dict)]
        return Answer(str(doc.get("text", "")), str(channel) if channel else None, buttons, extra)


@dataclass
class IntentSpec:
    name: str
    #: Examples with Rasa entity markup, in the trainers' order.
    examples: list[str] = field(default_factory=list)
    answers: list[Answer] = field(default_factory=list)
    #: Escalate to a person in this queue whenever this intent is recognised (policy `escalate:`).
    queue: str | None = None
    #: Short title on "Did you mean" buttons (policy `labels:`).
    label: str | None = None

    def to_doc(self) -> dict[str, Any]:
        return {"name": self.name, "examples": list(self.examples), "answers": [a.to_doc() for a in self.answers],
                "queue": self.queue, "label": self.label}

    @staticmethod
    def from_doc(doc: dict[str, Any]) -> IntentSpec:
        return IntentSpec(str(doc["name"]), [str(e) for e in doc.get("examples", [])],
                          [Answer.from_doc(a) for a in doc.get("answers", [])], doc.get("queue"), doc.get("label"))


def _pairs(mapping: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Names are user data: stored as values, never as field names."""
    return [{"name": k, "items": list(v)} for k, v in mapping.items()]


def _unpairs(items: list[dict[str, Any]]) -> dict[str, list[Any]]:
    return {str(p["name"]): list(p["items"]) for p in items}


@dataclass
class TrainingSnapshot:
    intents: list[IntentSpec] = field(default_factory=list)
    #: Responses that answer no intent (utter_default, utter_handoff, utter_ask_feedback...).
    responses: dict[str, list[Answer]] = field(default_factory=dict)
    regexes: dict[str, list[str]] = field(default_factory=dict)
    lookups: dict[str, list[str]] = field(default_factory=dict)
    synonyms: dict[str, list[str]] = field(default_factory=dict)
    #: policy.yml, less what lives on the intents (escalate and labels of existing intents).
    policy: dict[str, Any] = field(default_factory=dict)
    #: domain.yml keys other than intents and responses (entities, slots...).
    domain: dict[str, Any] = field(default_factory=dict)

    # -- lookups -----------------------------------------------------------------------

    def intent(self, name: str) -> IntentSpec | None:
        return next((i for i in self.intents if i.name == name), None)

    def intent_names(self) -> list[str]:
        return [i.name for i in self.intents]

    def example_count(self) -> int:
        return sum(len(i.examples) for i in self.intents)

    # -- storage -----------------------------------------------------------------------

    def to_doc(self) -> dict[str, Any]:
        return {
            "intents": [i.to_doc() for i in self.intents],
            "responses": [{"name": k, "items": [a.to_doc() for a in v]} for k, v in self.responses.items()],
            "regexes": _pairs(self.regexes),
            "lookups": _pairs(self.lookups),
            "synonyms": _pairs(self.synonyms),
            # free-form YAML mappings (channel names, slot names) are kept as text
            "policy_yaml": dump_yaml(self.policy),
            "domain_yaml": dump_yaml(self.domain),
        }

    @staticmethod
    def from_doc(doc: dict[str, Any]) -> TrainingSnapshot:
        return TrainingSnapshot(
            intents=[IntentSpec.from_doc(i) for i in doc.get("intents", [])],
            responses={str(r["name"]): [Answer.from_doc(a) for a in r["items"]] for r in doc.get("responses", [])},
            regexes=_unpairs(doc.get("regexes", [])),
            lookups=_unpairs(doc.get("lookups", [])),
            synonyms=_unpairs(doc.get("synonyms", [])),
            policy=yaml.safe_load(doc.get("policy_yaml") or "{}") or {},
            domain=yaml.safe_load(doc.get("domain_yaml") or "{}") or {},
        )

    def digest(self) -> str:
        blob = json.dumps(self.to_doc(), sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()

    def copy(self) -> TrainingSnapshot:
        return copy.deepcopy(self)


# -- to and from the bot's configuration ---------------------------------------------------


def from_config(config: BotConfig) -> TrainingSnapshot:
    """Regroup a loaded configuration per intent."""
    data = config.training_data
    spans: dict[tuple[str, str], list[tuple[int, int, str]]] = {}
    for intent, text, start, end, etype in data.annotations:
        spans.setdefault((intent, text), []).append((start, end, etype))
    policy = policy_to_dict(config.policy)
    escalate: dict[str, str] = dict(policy.pop("escalate", {}))
    labels: dict[str, str] = dict(policy.pop("labels", {}))
    intents = []
    for name, texts in data.intents.items():
        intents.append(IntentSpec(
            name=name,
            examples=[annotate(t, spans.get((name, t), [])) for t in texts],
            answers=[Answer.from_variant(v) for v in config.responses.variants(f"utter_{name}")],
            queue=escalate.pop(name, None),
            label=labels.pop(name, None),
        ))
    # mappings of names that are no intent (yet) are kept in the policy, not lost
    if escalate:
        policy["escalate"] = escalate
    if labels:
        policy["labels"] = labels
    own = {f"utter_{n}" for n in data.intents}
    responses = {n: [Answer.from_variant(v) for v in config.responses.variants(n)]
                 for n in config.responses.names() if n not in own}
    return TrainingSnapshot(
        intents=intents,
        responses=responses,
        regexes={k: list(v) for k, v in data.regexes.items()},
        lookups={k: list(v) for k, v in data.lookups.items()},
        synonyms={k: list(v) for k, v in config.synonyms.items()},
        policy=policy,
        domain={k: v for k, v in config.domain.items() if k not in _OWN_DOMAIN_KEYS},
    )


def nlu_document(snapshot: TrainingSnapshot) -> dict[str, Any]:
    entries: list[dict[str, Any]] = [{"intent": i.name, "examples": list(i.examples)} for i in snapshot.intents]
    entries += [{"regex": k, "examples": list(v)} for k, v in snapshot.regexes.items()]
    entries += [{"lookup": k, "examples": list(v)} for k, v in snapshot.lookups.items()]
    entries += [{"synonym": k, "examples": list(v)} for k, v in snapshot.synonyms.items()]
    return {"version": "3.1", "nlu": entries}


def domain_document(snapshot: TrainingSnapshot) -> dict[str, Any]:
    responses: dict[str, list[dict[str, Any]]] = {}
    for i in snapshot.intents:
        if i.answers:
            responses[f"utter_{i.name}"] = [a.to_doc() for a in i.answers]
    for name, answers in snapshot.responses.items():
        responses[name] = [a.to_doc() for a in answers]
    return {"version": "3.1", "intents": snapshot.intent_names(), **copy.deepcopy(snapshot.domain),
            "responses": responses}


def policy_document(snapshot: TrainingSnapshot) -> dict[str, Any]:
    policy = copy.deepcopy(snapshot.policy)
    escalate = dict(policy.get("escalate") or {})
    labels = dict(policy.get("labels") or {})
    for i in snapshot.intents:
        if i.queue:
            escalate[i.name] = i.queue
        if i.label:
            labels[i.name] = i.label
    policy["escalate"] = escalate
    policy["labels"] = labels
    return policy


def to_config(snapshot: TrainingSnapshot) -> BotConfig:
    """Build the bot's configuration with the YAML files' own parsers (raises `TrainingDataError`)."""
    nlu = parse_nlu(dump_yaml(nlu_document(snapshot)))
    domain = domain_document(snapshot)
    responses = parse_responses(domain)
    policy = parse_policy(policy_document(snapshot))
    return BotConfig(training_data=nlu.data, responses=responses, policy=policy, synonyms=nlu.synonyms,
                     domain=domain)


def _check_intents(snapshot: TrainingSnapshot) -> None:
    seen: set[str] = set()
    for i in snapshot.intents:
        if not INTENT_NAME.match(i.name):
            raise TrainingDataError(f"intent name {i.name!r}: use letters, digits, _ and - (start with a letter)")
        if i.name in seen:
            raise TrainingDataError(f"intent {i.name!r} appears twice")
        seen.add(i.name)
        for e in i.examples:
            if not e.strip() or "\n" in e:
                raise TrainingDataError(f"intent {i.name!r}: examples must be one non-empty line each")
        for a in i.answers:
            if not a.text.strip():
                raise TrainingDataError(f"intent {i.name!r}: an answer has no text")


def normalise(snapshot: TrainingSnapshot) -> TrainingSnapshot:
    """Check, and rewrite in canonical form (e.g. `[x](type:value)` -> `[x](type)` + synonym).

    Raises `TrainingDataError` with a message a trainer can act on for data the bot
    could not be built from (bad names, empty examples, regexes that do not compile).
    """
    _check_intents(snapshot)
    config = to_config(snapshot)
    try:
        EntityExtractor(config.training_data, config.synonyms)
    except ValueError as exc:  # a regex that does not compile
        raise TrainingDataError(str(exc)) from exc
    return from_config(config)


# -- Rasa YAML files -----------------------------------------------------------------------


def export_files(snapshot: TrainingSnapshot) -> dict[str, str]:
    """``nlu.yml``, ``domain.yml`` (Rasa 3.x) and Switchboard's ``policy.yml``."""
    config = to_config(snapshot)
    return {
        "nlu.yml": dump_nlu(config.training_data, config.synonyms),
        "domain.yml": dump_yaml(domain_document(snapshot)),
        "policy.yml": dump_policy(config.policy),
    }


def import_files(current: TrainingSnapshot, nlu: str, domain: str | None = None,
                 policy: str | None = None) -> TrainingSnapshot:
    """A snapshot from Rasa files: examples from `nlu`, answers from `domain`, mapping from `policy`.

    What a file does not carry comes from `current`: without `domain` the intents keep
    their answers, without `policy` their queues and labels (for intents still present).
    """
    doc = parse_nlu(nlu)
    if domain is not None:
        parsed = yaml.safe_load(domain) or {}
        if not isinstance(parsed, dict):
            raise TrainingDataError("domain.yml: top level must be a mapping")
        responses: Responses = parse_responses(parsed)
        domain_doc = parsed
    else:
        previous = domain_document(current)
        responses, domain_doc = parse_responses(previous), previous
    if policy is not None:
        policy_doc = yaml.safe_load(policy) or {}
        if not isinstance(policy_doc, dict):
            raise TrainingDataError("policy.yml: top level must be a mapping")
    else:
        policy_doc = policy_document(current)
        kept = set(doc.data.intents)
        # intents that are gone take their mapping with them
        policy_doc["escalate"] = {k: v for k, v in policy_doc["escalate"].items()
                                  if k in kept or k not in current.intent_names()}
        policy_doc["labels"] = {k: v for k, v in policy_doc["labels"].items()
                                if k in kept or k not in current.intent_names()}
    config = BotConfig(training_data=doc.data, responses=responses, policy=parse_policy(policy_doc),
                       synonyms=doc.synonyms, domain=domain_doc)
    return normalise(from_config(config))

