"""What changed between two training-data versions, per intent.

Versions are stored whole, so a diff between any two (not only neighbours) is a
comparison of two snapshots: examples added and removed, answers changed, escalation
mapping and label changed, plus the parts that belong to no intent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.snapshot import IntentSpec, TrainingSnapshot


@dataclass
class IntentDiff:
    intent: str
    #: `added`, `removed` or `changed`.
    status: str
    examples_added: list[str] = field(default_factory=list)
    examples_removed: list[str] = field(default_factory=list)
    answers_changed: bool = False
    answers_before: list[dict[str, Any]] = field(default_factory=list)
    answers_after: list[dict[str, Any]] = field(default_factory=list)
    queue_changed: bool = False
    queue_before: str | None = None
    queue_after: str | None = None
    label_changed: bool = False
    label_before: str | None = None
    label_after: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"intent": self.intent, "status": self.status,
                               "examples_added": self.examples_added, "examples_removed": self.examples_removed,
                               "answers_changed": self.answers_changed,
                               "queue_changed": self.queue_changed, "label_changed": self.label_changed}
        if self.answers_changed:
            out.update(answers_before=self.answers_before, answers_after=self.answers_after)
        if self.queue_changed:
            out.update(queue_before=self.queue_before, queue_after=self.queue_after)
        if self.label_changed:
            out.update(label_before=self.label_before, label_after=self.label_after)
        return out


@dataclass
class SnapshotDiff:
    intents: list[IntentDiff] = field(default_factory=list)
    #: Responses that answer no intent: name -> {before, after}.
    responses: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: regexes / lookups / synonyms: "kind:name" -> {added, removed}.
    entities: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    #: Policy settings: key -> {before, after}.
    policy: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.intents or self.responses or self.entities or self.policy)

    def as_dict(self) -> dict[str, Any]:
        return {
            "intents": [d.as_dict() for d in self.intents],
            "responses": [{"name": k, **v} for k, v in self.responses.items()],
            "entities": [{"name": k, **v} for k, v in self.entities.items()],
            "policy": [{"key": k, **v} for k, v in self.policy.items()],
        }


def _intent_diff(before: IntentSpec | None, after: IntentSpec | None) -> IntentDiff | None:
    name = (after or before).name  # type: ignore[union-attr]
    old_examples = before.examples if before else []
    new_examples = after.examples if after else []
    old_answers = [a.to_doc() for a in before.answers] if before else []
    new_answers = [a.to_doc() for a in after.answers] if after else []
    d = IntentDiff(
        intent=name,
        status="added" if before is None else "removed" if after is None else "changed",
        examples_added=[e for e in new_examples if e not in set(old_examples)],
        examples_removed=[e for e in old_examples if e not in set(new_examples)],
        answers_changed=old_answers != new_answers,
        answers_before=old_answers,
        answers_after=new_answers,
        queue_before=before.queue if before else None,
        queue_after=after.queue if after else None,
        label_before=before.label if before else None,
        label_after=after.label if after else None,
    )
    d.queue_changed = d.queue_before != d.queue_after
    d.label_changed = d.label_before != d.label_after
    changed = d.examples_added or d.examples_removed or d.answers_changed or d.queue_changed or d.label_changed
    reordered = before is not None and after is not None and before.examples != after.examples
    if d.status == "changed" and not changed and not reordered:
        return None
    return d


def _lists(
    kind: str, old: dict[str, list[str]], new: dict[str, list[str]], out: dict[str, dict[str, list[str]]]
) -> None:
    for name in [*new, *(n for n in old if n not in new)]:
        before, after = old.get(name, []), new.get(name, [])
        added = [v for v in after if v not in before]
        removed = [v for v in before if v not in after]
        if added or removed:
            out[f"{kind}:{name}"] = {"added": added, "removed": removed}


def diff(old: TrainingSnapshot, new: TrainingSnapshot) -> SnapshotDiff:
    """Changes that turn `old` into `new` (intents in `new`'s order, removed ones last)."""
    out = SnapshotDiff()
    old_by_name = {i.name: i for i in old.intents}
    new_by_name = {i.name: i for i in new.intents}
    for name in [*new_by_name, *(n for n in old_by_name if n not in new_by_name)]:
        d = _intent_diff(old_by_name.get(name), new_by_name.get(name))
        if d is not None:
            out.intents.append(d)
    for name in [*new.responses, *(n for n in old.responses if n not in new.responses)]:
        before = [a.to_doc() for a in old.responses.get(name, [])]
        after = [a.to_doc() for a in new.responses.get(name, [])]
        if before != after:
            out.responses[name] = {"before": before, "after": after}
    _lists("regex", old.regexes, new.regexes, out.entities)
    _lists("lookup", old.lookups, new.lookups, out.entities)
    _lists("synonym", old.synonyms, new.synonyms, out.entities)
    for key in [*new.policy, *(k for k in old.policy if k not in new.policy)]:
        if old.policy.get(key) != new.policy.get(key):
            out.policy[key] = {"before": old.policy.get(key), "after": new.policy.get(key)}
    return out


def summarise(d: SnapshotDiff) -> str:
    """One line for the versions list ("+3 examples in refund, new intent gift_cards")."""
    parts: list[str] = []
    for i in d.intents:
        if i.status == "added":
            parts.append(f"new intent {i.intent}")
        elif i.status == "removed":
            parts.append(f"deleted intent {i.intent}")
        else:
            if i.examples_added:
                parts.append(f"+{len(i.examples_added)} example{'s' * (len(i.examples_added) > 1)} in {i.intent}")
            if i.examples_removed:
                parts.append(f"-{len(i.examples_removed)} example{'s' * (len(i.examples_removed) > 1)} "
                             f"in {i.intent}")
            if i.answers_changed:
                parts.append(f"answers of {i.intent}")
            if i.queue_changed:
                parts.append(f"{i.intent} → {i.queue_after or 'no queue'}")
            if i.label_changed:
                parts.append(f"label of {i.intent}")
    if d.responses:
        parts.append("responses " + ", ".join(d.responses))
    if d.entities:
        parts.append("entities " + ", ".join(d.entities))
    if d.policy:
        parts.append("policy " + ", ".join(d.policy))
    text = "; ".join(parts) or "no change"
    return text if len(text) <= 200 else text[:199] + "…"
