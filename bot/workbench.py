"""The bot trainer's workbench: one object the desk's trainer API talks to.

It ties together the versioned training data (`bot.versions`), model publishing and
hot swap (`bot.model_sync`), background jobs with live progress (`bot.jobs`), the NLU
inbox (`bot.inbox`) and the try-it box. Built by the composition root
(`switchboard.bootstrap.build_workbench`) for a `BotService`; `prepare` runs before the
hub starts (so the first message is answered by the right model), `start` after.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from typing import Any

from bot.edits import Change, label_example
from bot.evaluation import intent_report
from bot.inbox import NLUInbox
from bot.jobs import JobRunner
from bot.model_sync import ModelSync
from bot.negatives import CLASH_SIMILARITY, active, builtin, clashes, with_negatives
from bot.nlu.base import ProgressCallback
from bot.oos import exclude_negative, held_threshold, set_threshold, threshold_report
from bot.service import BotService
from bot.snapshot import TrainingSnapshot, to_config
from bot.training_data import TrainingDataError
from bot.versions import Author, TrainingVersions, Version
from hub.hub import Hub
from hub.models import BotTurn, Decision, utcnow
from hub.store import Doc, Store

EVALUATIONS = "evaluations"
#: The conversation id try-it turns run under (nothing is stored for them).
TRY_IT = "try-it"


class NotInInbox(LookupError):
    """The message is not (or no longer) waiting in the NLU inbox."""


def decision_view(decision: Decision) -> dict[str, Any]:
    return {
        "kind": decision.kind.value,
        "reason": decision.reason,
        "intent": decision.intent,
        "confidence": decision.confidence,
        "queue": decision.queue,
        "ranking": [{"name": s.name, "confidence": round(s.confidence, 4)} for s in decision.ranking],
        "entities": [{"type": e.type, "value": e.value} for e in decision.entities],
        "text": decision.text or decision.handoff_text or "",
        "quick_replies": [{"title": q.title, "payload": q.payload} for q in decision.quick_replies],
    }


class Workbench:
    def __init__(self, store: Store, bot: BotService, *, queues: Collection[str], retrain_locally: bool,
                 poll_seconds: float = 30.0) -> None:
        self.store = store
        self.bot = bot
        #: The queues an intent may escalate to (the composition root hands the hub's live ones: hub.queuebook).
        self.queues: Collection[str] = set(queues)
        self.versions = TrainingVersions(store)
        self.models = ModelSync(store, self.versions, bot, retrain_locally=retrain_locally,
                                poll_seconds=poll_seconds)
        self.jobs = JobRunner(store)
        self.inbox = NLUInbox(store)
        self.evaluations = store.db[EVALUATIONS]

    async def prepare(self) -> None:
        await self.models.prepare()

    def start(self, hub: Hub) -> None:
        self.jobs.use_spawner(hub.spawn)
        hub.spawn(self.models.watch(hub.bus), "bot-models")

    async def stop(self) -> None:
        await self.jobs.stop()

    # -- training data -------------------------------------------------------------------

    async def current(self) -> Version:
        version = await self.versions.latest()
        if version is None or version.snapshot is None:
            raise LookupError("no training data yet")
        return version

    def check_queue(self, queue: str | None) -> None:
        if queue and queue not in self.queues:
            raise TrainingDataError(f"unknown queue {queue!r} (configured: {', '.join(sorted(self.queues))})")

    async def edit(self, change: Change, author: Author, summary: str | None = None) -> tuple[Version, bool]:
        return await self.versions.commit(change, author, summary)

    async def version_snapshot(self, number: int | None) -> Version:
        version = await (self.versions.get(number) if number is not None else self.versions.latest())
        if version is None or version.snapshot is None:
            raise LookupError(f"no training-data version {number}")
        return version

    # -- jobs ----------------------------------------------------------------------------

    async def start_training(self, number: int | None, author: Author) -> str:
        version = await self.version_snapshot(number)

        async def work(progress: ProgressCallback) -> dict[str, Any]:
            model = await self.models.train(version, author, progress)
            return {"model_id": model.id, "model_number": model.number, "metrics": model.metrics}

        return await self.jobs.start("train", version.number, author, work)

    async def start_evaluation(self, number: int | None, author: Author) -> str:
        version = await self.version_snapshot(number)
        snapshot = version.snapshot
        assert snapshot is not None

        async def work(progress: ProgressCallback) -> dict[str, Any]:
            progress(0.05, f"cross-validating training data version {version.number}")
            report = await asyncio.to_thread(_report, snapshot)
            progress(0.95, "storing the report")
            doc: Doc = {"training_version": version.number, "digest": version.digest, "created_at": utcnow(),
                        "by": author.to_doc(), "report": report}
            result = await self.evaluations.insert_one(doc)
            return {"evaluation_id": str(result.inserted_id), "accuracy": report["accuracy"],
                    "macro_f1": report["macro_f1"]}

        return await self.jobs.start("evaluate", version.number, author, work)

    async def latest_evaluation(self) -> dict[str, Any] | None:
        doc = await self.evaluations.find_one({}, sort=[("created_at", -1)])
        if doc is None:
            return None
        report = {"id": str(doc["_id"]), "training_version": doc["training_version"],
                  "created_at": doc["created_at"].isoformat(), "by": doc.get("by"), **doc["report"]}
        latest = await self.versions.latest()
        if report.get("threshold") and latest is not None and latest.snapshot is not None:
            # the threshold the newest data holds (a trainer may have picked a point since), on the stored curve
            report["policy_threshold"] = held_threshold(report["threshold"], latest.snapshot.policy)
        return report

    # -- out of scope: the threshold point and the built-in negatives ------------------------

    async def set_threshold(self, value: float | None, author: Author) -> tuple[Version, bool]:
        """Store a trainer's point on the trade-off curve (None: the default objective) in a new version."""
        summary = "fallback threshold: default objective" if value is None else f"fallback threshold {value:.2f}"
        return await self.versions.commit(set_threshold(value), author, summary)

    async def exclude_negative(self, text: str, excluded: bool, author: Author) -> tuple[Version, bool]:
        change = exclude_negative(text, excluded)
        verb = "exclude" if excluded else "use again"
        return await self.versions.commit(change, author, f"built-in negatives: {verb} “{_short(text)}”")

    async def negative_clashes(self) -> dict[str, Any]:
        """Built-in negatives that nearly duplicate the newest version's examples (most similar first)."""
        version = await self.current()
        snapshot = version.snapshot
        assert snapshot is not None
        config = await asyncio.to_thread(to_config, snapshot)
        p = config.policy
        found = await asyncio.to_thread(clashes, config.training_data, p.out_of_scope_intent,
                                        excluded=p.excluded_negatives)
        return {"version": version.number, "enabled": p.builtin_negatives, "similarity": CLASH_SIMILARITY,
                "total": len(builtin()), "used": len(active(p.excluded_negatives)) if p.builtin_negatives else 0,
                "excluded": list(p.excluded_negatives), "clashes": [c.as_dict() for c in found]}

    # -- overview ------------------------------------------------------------------------

    async def intents_overview(self) -> dict[str, Any]:
        version = await self.current()
        snapshot = version.snapshot
        assert snapshot is not None
        evaluation = await self.latest_evaluation()
        f1 = {s["intent"]: s["f1"] for s in (evaluation or {}).get("intents", [])}
        return {
            "version": version.number,
            "evaluation": None if evaluation is None else {
                k: evaluation[k] for k in ("training_version", "created_at", "accuracy", "macro_f1")},
            "out_of_scope_intent": snapshot.policy.get("out_of_scope_intent"),
            "queues": sorted(self.queues),
            "intents": [{"name": i.name, "examples": len(i.examples), "answers": len(i.answers),
                         "channels": sorted({a.channel or "all" for a in i.answers}), "queue": i.queue,
                         "label": i.label, "f1": f1.get(i.name)} for i in snapshot.intents],
        }

    async def status(self) -> dict[str, Any]:
        latest = await self.versions.latest()
        newest_model = await self.models.latest()
        active = self.models.active
        last_job = await self.jobs.latest()
        return {
            "training_version": latest.info() if latest else None,
            "active_model": active.as_dict() if active else None,
            "latest_model": newest_model.as_dict() if newest_model else None,
            "answering_with_version": active.training_version if active else 1,
            "trained": bool(latest and self.bot.training_digest == latest.digest),
            "running": {k: self.jobs.running(k) for k in ("train", "evaluate")},
            "last_job": last_job.as_dict() if last_job else None,
        }

    # -- NLU inbox -----------------------------------------------------------------------

    async def label(self, message_id: str, intent: str, author: Author) -> tuple[Version, bool]:
        """Add the message's text to `intent` in a new version and take it out of the inbox."""
        item = await self.inbox.get(message_id)
        if item is None:
            raise NotInInbox(message_id)
        version, changed = await self.versions.commit(
            label_example(item.text, intent), author, f"inbox: “{_short(item.text)}” is {intent}")
        await self.inbox.resolve(item, author, intent=intent, version=version.number)
        return version, changed

    async def dismiss(self, message_id: str, author: Author) -> None:
        item = await self.inbox.get(message_id)
        if item is None:
            raise NotInInbox(message_id)
        await self.inbox.resolve(item, author, intent=None, version=None)

    # -- try it --------------------------------------------------------------------------

    async def try_text(self, text: str, channel: str) -> dict[str, Any]:
        """What the live model and policy would do with `text` as a first message (nothing stored)."""
        decision = await self.bot.decide(BotTurn(text=text, channel=channel, conversation_id=TRY_IT, state={}))
        active = self.models.active
        return {"decision": decision_view(decision), "model": active.as_dict() if active else None,
                "training_version": active.training_version if active else 1}


def _report(snapshot: TrainingSnapshot) -> dict[str, Any]:
    """Cross-validated per-intent report and the threshold objective's trade-off curve.

    Runs in a worker thread: it trains one model per fold, then one calibrated model whose
    held-out probabilities give the curve and the calibration error. The built-in negatives
    are in the data as the bot trains on them.
    """
    config = to_config(snapshot)
    p = config.policy
    data = with_negatives(config.training_data, p.out_of_scope_intent, enabled=p.builtin_negatives,
                          excluded=p.excluded_negatives)
    usable = type(data)(intents={k: v for k, v in data.intents.items() if len(v) >= 2}, negatives=data.negatives)
    if len(usable.intents) < 2:
        raise TrainingDataError("an evaluation needs at least two intents with two examples or more")
    report = intent_report(usable).as_dict()
    report["skipped_intents"] = sorted(set(data.intents) - set(usable.intents))
    _choice, part = threshold_report(usable, p)
    report.update(part)
    own = sum(len(v) for v in config.training_data.intents.values())
    report["negatives"] = {"enabled": p.builtin_negatives, "used": sum(len(v) for v in data.intents.values()) - own,
                           "excluded": len(p.excluded_negatives)}
    return report


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
