"""Trainers' changes to training data, as pure functions of a snapshot.

Each returns a changed copy and leaves its input alone, so `TrainingVersions.commit`
can re-apply the same change on top of a newer version when two trainers race.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bot.snapshot import Answer, IntentSpec, TrainingSnapshot
from bot.training_data import TrainingDataError

Change = Callable[[TrainingSnapshot], TrainingSnapshot]

def protected_intents(snapshot: TrainingSnapshot) -> set[str]:
    """Intents the dialogue policy itself relies on: they can be edited, not deleted."""
    p = snapshot.policy
    return {str(p.get(k)) for k in ("human_request_intent", "out_of_scope_intent", "affirm_intent", "deny_intent")
            if p.get(k)}


class IntentNotFound(KeyError):
    """No intent of that name in the training data."""


class IntentExists(ValueError):
    """An intent of that name already exists."""


def clean_example(text: str) -> str:
    """One line, single spaces: the form an example is stored in."""
    return " ".join(text.split())


@dataclass(frozen=True)
class IntentPatch:
    """Fields of an intent to replace; None leaves a field as it is (`queue=""` removes the mapping)."""

    examples: Sequence[str] | None = None
    answers: Sequence[Answer] | None = None
    queue: str | None = None
    label: str | None = None

    @staticmethod
    def from_json(body: dict[str, Any]) -> IntentPatch:
        """Parse a request body; raises `TrainingDataError` on wrong types."""
        examples = body.get("examples")
        if examples is not None and (not isinstance(examples, list) or not all(isinstance(e, str) for e in examples)):
            raise TrainingDataError("examples must be a list of strings")
        answers = body.get("answers")
        parsed: list[Answer] | None = None
        if answers is not None:
            if not isinstance(answers, list) or not all(isinstance(a, dict) for a in answers):
                raise TrainingDataError("answers must be a list of {text, channel} objects")
            parsed = []
            for a in answers:
                channel_ok = a.get("channel") is None or isinstance(a["channel"], str)
                if not isinstance(a.get("text"), str) or not channel_ok:
                    raise TrainingDataError("each answer needs a text and an optional channel name")
                parsed.append(Answer.from_doc(a))
        for key in ("queue", "label"):
            if body.get(key) is not None and not isinstance(body[key], str):
                raise TrainingDataError(f"{key} must be a string or null")
        return IntentPatch(examples=examples, answers=parsed, queue=body.get("queue"), label=body.get("label"))


def _apply_patch(intent: IntentSpec, patch: IntentPatch) -> None:
    if patch.examples is not None:
        examples: list[str] = []
        for e in patch.examples:
            cleaned = clean_example(e)
            if cleaned and cleaned not in examples:
                examples.append(cleaned)
        intent.examples = examples
    if patch.answers is not None:
        intent.answers = [Answer(a.text.strip(), a.channel or None, list(a.buttons), dict(a.extra))
                          for a in patch.answers if a.text.strip()]
    if patch.queue is not None:
        intent.queue = patch.queue or None
    if patch.label is not None:
        intent.label = patch.label.strip() or None


def _forget_policy_mapping(snapshot: TrainingSnapshot, name: str) -> None:
    """Mappings kept in the policy for a name that was not an intent move onto the new intent."""
    for key in ("escalate", "labels"):
        mapping = snapshot.policy.get(key)
        if isinstance(mapping, dict):
            mapping.pop(name, None)
            if not mapping:
                snapshot.policy.pop(key)


def add_intent(name: str, patch: IntentPatch) -> Change:
    def change(snapshot: TrainingSnapshot) -> TrainingSnapshot:
        if snapshot.intent(name) is not None:
            raise IntentExists(f"intent {name!r} exists")
        new = snapshot.copy()
        intent = IntentSpec(name)
        legacy = new.responses.pop(f"utter_{name}", None)
        if legacy:
            intent.answers = legacy
        queue = (new.policy.get("escalate") or {}).get(name)
        label = (new.policy.get("labels") or {}).get(name)
        intent.queue, intent.label = queue, label
        _forget_policy_mapping(new, name)
        _apply_patch(intent, patch)
        new.intents.append(intent)
        return new

    return change


def update_intent(name: str, patch: IntentPatch) -> Change:
    def change(snapshot: TrainingSnapshot) -> TrainingSnapshot:
        new = snapshot.copy()
        intent = new.intent(name)
        if intent is None:
            raise IntentNotFound(name)
        _apply_patch(intent, patch)
        return new

    return change


def delete_intent(name: str) -> Change:
    def change(snapshot: TrainingSnapshot) -> TrainingSnapshot:
        if snapshot.intent(name) is None:
            raise IntentNotFound(name)
        if name in protected_intents(snapshot):
            raise TrainingDataError(f"intent {name!r} is used by the bot policy and cannot be deleted")
        new = snapshot.copy()
        new.intents = [i for i in new.intents if i.name != name]
        return new

    return change


def label_example(text: str, intent_name: str) -> Change:
    """`text` means `intent_name`: add it there and take it out of any other intent.

    The out-of-scope intent is created (with no answer) if the data has none yet.
    """
    cleaned = clean_example(text)

    def change(snapshot: TrainingSnapshot) -> TrainingSnapshot:
        if not cleaned:
            raise TrainingDataError("an empty message cannot be an example")
        new = snapshot.copy()
        target = new.intent(intent_name)
        if target is None:
            if intent_name != new.policy.get("out_of_scope_intent"):
                raise IntentNotFound(intent_name)
            target = IntentSpec(intent_name)
            new.intents.append(target)
        for other in new.intents:
            if other is not target and cleaned in other.examples:
                other.examples = [e for e in other.examples if e != cleaned]
        if cleaned not in target.examples:
            target.examples.append(cleaned)
        return new

    return change


def replace_all(snapshot: TrainingSnapshot) -> Change:
    """Rollback and import: the new version is exactly `snapshot`."""

    def change(_current: TrainingSnapshot) -> TrainingSnapshot:
        return snapshot.copy()

    return change
