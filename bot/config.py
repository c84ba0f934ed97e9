"""The bot's configuration: Rasa-format ``nlu.yml`` and ``domain.yml`` plus our ``policy.yml``.

`policy.yml` is Switchboard's own: thresholds (as in Rasa's FallbackClassifier),
when to hand over to a person and to which queue, and where to ask "did that help?".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.nlu.base import TrainingData
from bot.responses import Responses, load_domain
from bot.training_data import TrainingDataError, dump_yaml, parse_nlu

NLU_FILE = "nlu.yml"
DOMAIN_FILE = "domain.yml"
POLICY_FILE = "policy.yml"


@dataclass(frozen=True)
class KbPolicy:
    """Help-center articles in the bot (policy.yml `kb:`): offered when no intent is confident."""

    enabled: bool = True
    #: The best article's BM25 score (bot.kb.index: title and body fields) must reach this to be offered.
    min_score: float = 6.0
    #: How long the bot trusts its copy of the articles before asking the store for its revision.
    revision_ttl_seconds: float = 10.0


@dataclass(frozen=True)
class BotPolicy:
    """When the bot answers, asks which intent was meant, or hands over to a person."""

    #: Below this top-intent confidence the message is a fallback.
    fallback_threshold: float = 0.45
    #: ``fallback_threshold: auto`` (policy.yml's default): the built-in NLU picks the threshold at every
    #: training with the default objective (`bot.evaluation.protect_in_scope`); `fallback_threshold` is the
    #: value before the first training (and always, for a Rasa backend).
    auto_threshold: bool = False
    #: The default objective gives up at most this much cross-validated in-scope accuracy.
    in_scope_tolerance: float = 0.01
    #: Train the built-in NLU with the shipped off-topic utterances as out-of-scope examples (bot.negatives).
    builtin_negatives: bool = True
    #: Built-in negatives a trainer excluded (their texts).
    excluded_negatives: tuple[str, ...] = ()
    #: When the top two intents are closer than this, ask which one was meant.
    ambiguity_threshold: float = 0.1
    #: The Nth fallback in a row escalates; the ones before ask the customer to rephrase.
    max_consecutive_fallbacks: int = 2
    human_request_intent: str = "talk_to_human"
    out_of_scope_intent: str = "out_of_scope"
    #: intent -> queue: these intents always go to a person in that queue.
    escalate: Mapping[str, str] = field(default_factory=dict)
    default_queue: str = "general"
    #: channel -> ask "Did that help?" after an answer ("default" for unlisted channels).
    ask_feedback: Mapping[str, bool] = field(default_factory=dict)
    #: Intents that are conversation glue, not questions: never followed by "Did that help?".
    smalltalk_intents: tuple[str, ...] = ("greet", "goodbye", "thanks", "affirm", "deny")
    #: intent -> short title for clarify buttons and numbered options.
    labels: Mapping[str, str] = field(default_factory=dict)
    affirm_intent: str = "affirm"
    deny_intent: str = "deny"
    #: How many intents a clarify question offers at most.
    max_clarify_options: int = 3
    kb: KbPolicy = field(default_factory=KbPolicy)

    def wants_feedback(self, channel: str) -> bool:
        return bool(self.ask_feedback.get(channel, self.ask_feedback.get("default", False)))

    def label(self, intent: str) -> str:
        return self.labels.get(intent) or intent.replace("_", " ").capitalize()

    def queue_for(self, intent: str | None) -> str:
        return self.escalate.get(intent or "", self.default_queue)


_FLOAT_KEYS = ("fallback_threshold", "ambiguity_threshold")
_STR_KEYS = (
    "human_request_intent",
    "out_of_scope_intent",
    "default_queue",
    "affirm_intent",
    "deny_intent",
)


def parse_policy(doc: Mapping[str, Any]) -> BotPolicy:
    """Build a `BotPolicy` from parsed ``policy.yml``; absent keys keep their defaults."""
    kwargs: dict[str, Any] = {}
    if str(doc.get("fallback_threshold", "auto")).strip().lower() == "auto":
        doc = {k: v for k, v in doc.items() if k != "fallback_threshold"}
        kwargs["auto_threshold"] = True
    if "in_scope_tolerance" in doc:
        tolerance = float(doc["in_scope_tolerance"])
        if not 0.0 <= tolerance <= 1.0:
            raise TrainingDataError("policy.yml: in_scope_tolerance must be between 0 and 1")
        kwargs["in_scope_tolerance"] = tolerance
    if "builtin_negatives" in doc:
        if not isinstance(doc["builtin_negatives"], bool):
            raise TrainingDataError("policy.yml: builtin_negatives must be true or false")
        kwargs["builtin_negatives"] = doc["builtin_negatives"]
    if "excluded_negatives" in doc:
        raw = doc["excluded_negatives"] or []
        if not isinstance(raw, list):
            raise TrainingDataError("policy.yml: excluded_negatives must be a list of texts")
        kwargs["excluded_negatives"] = tuple(str(x) for x in raw)
    for key in _FLOAT_KEYS:
        if key in doc:
            value = float(doc[key])
            if not 0.0 <= value <= 1.0:
                raise TrainingDataError(f"policy.yml: {key} must be between 0 and 1")
            kwargs[key] = value
    for key in _STR_KEYS:
        if key in doc:
            kwargs[key] = str(doc[key])
    if "max_consecutive_fallbacks" in doc:
        kwargs["max_consecutive_fallbacks"] = max(1, int(doc["max_consecutive_fallbacks"]))
    if "max_clarify_options" in doc:
        kwargs["max_clarify_options"] = max(2, int(doc["max_clarify_options"]))
    for key in ("escalate", "labels"):
        if key in doc:
            kwargs[key] = {str(k): str(v) for k, v in (doc[key] or {}).items()}
    if "ask_feedback" in doc:
        raw = doc["ask_feedback"]
        kwargs["ask_feedback"] = (
            {"default": raw} if isinstance(raw, bool) else {str(k): bool(v) for k, v in (raw or {}).items()}
        )
    if "smalltalk_intents" in doc:
        kwargs["smalltalk_intents"] = tuple(str(x) for x in doc["smalltalk_intents"] or ())
    if "kb" in doc:
        kwargs["kb"] = _parse_kb(doc["kb"] or {})
    return BotPolicy(**kwargs)


def _parse_kb(raw: Any) -> KbPolicy:
    if not isinstance(raw, Mapping):
        raise TrainingDataError("policy.yml: kb must be a mapping (enabled, min_score, revision_ttl_seconds)")
    kb = KbPolicy()
    try:
        min_score = float(raw.get("min_score", kb.min_score))
        ttl = float(raw.get("revision_ttl_seconds", kb.revision_ttl_seconds))
    except (TypeError, ValueError) as exc:
        raise TrainingDataError("policy.yml: kb.min_score and kb.revision_ttl_seconds must be numbers") from exc
    if min_score < 0 or ttl < 0:
        raise TrainingDataError("policy.yml: kb.min_score and kb.revision_ttl_seconds must not be negative")
    return KbPolicy(enabled=bool(raw.get("enabled", kb.enabled)), min_score=min_score, revision_ttl_seconds=ttl)


def policy_to_dict(policy: BotPolicy) -> dict[str, Any]:
    return {
        "fallback_threshold": "auto" if policy.auto_threshold else policy.fallback_threshold,
        "in_scope_tolerance": policy.in_scope_tolerance,
        "builtin_negatives": policy.builtin_negatives,
        "excluded_negatives": list(policy.excluded_negatives),
        "ambiguity_threshold": policy.ambiguity_threshold,
        "max_consecutive_fallbacks": policy.max_consecutive_fallbacks,
        "human_request_intent": policy.human_request_intent,
        "out_of_scope_intent": policy.out_of_scope_intent,
        "affirm_intent": policy.affirm_intent,
        "deny_intent": policy.deny_intent,
        "default_queue": policy.default_queue,
        "escalate": dict(policy.escalate),
        "ask_feedback": dict(policy.ask_feedback),
        "smalltalk_intents": list(policy.smalltalk_intents),
        "labels": dict(policy.labels),
        "max_clarify_options": policy.max_clarify_options,
        "kb": {"enabled": policy.kb.enabled, "min_score": policy.kb.min_score,
               "revision_ttl_seconds": policy.kb.revision_ttl_seconds},
    }


def dump_policy(policy: BotPolicy) -> str:
    return dump_yaml(policy_to_dict(policy))


@dataclass
class BotConfig:
    """Everything the bot is built from, read from one directory."""

    training_data: TrainingData
    responses: Responses
    policy: BotPolicy
    synonyms: dict[str, list[str]] = field(default_factory=dict)
    #: The parsed ``domain.yml`` as a whole (intents, entities, slots... for a Rasa server).
    domain: dict[str, Any] = field(default_factory=dict)


def load_bot_config(directory: Path | str) -> BotConfig:
    """Read ``nlu.yml``, ``domain.yml`` and ``policy.yml`` (optional) from `directory`."""
    root = Path(directory)
    nlu = parse_nlu((root / NLU_FILE).read_text(encoding="utf-8"))
    domain_path = root / DOMAIN_FILE
    if domain_path.exists():
        responses, domain = load_domain(domain_path.read_text(encoding="utf-8"))
    else:
        responses, domain = Responses(), {}
    policy_path = root / POLICY_FILE
    policy_doc = yaml.safe_load(policy_path.read_text(encoding="utf-8")) if policy_path.exists() else {}
    if not isinstance(policy_doc, Mapping):
        raise TrainingDataError("policy.yml: top level must be a mapping")
    return BotConfig(
        training_data=nlu.data,
        responses=responses,
        policy=parse_policy(policy_doc or {}),
        synonyms=nlu.synonyms,
        domain=domain,
    )
