"""Model versions in the database, and every hub process answering with the newest one.

A training (`ModelSync.train`) builds the model from one stored training-data version and
publishes a `models` document (training version, digest, metrics, who, when) plus a
`bot.model_published` event. Every hub process runs `ModelSync.watch`: the realtime bus
(a change stream on `events`) wakes it on that event, and a slow poll of `models` covers
anything a stream outage could hide. It then retrains from the same stored snapshot in a
worker thread and swaps the new model in.

Why retrain rather than ship the fitted model: the built-in classifier is deterministic
for the same data (fixed seeds), trains the starter data in well under a second and
BANKING77 in seconds, and a pickled scikit-learn model would be tens of MB (over
MongoDB's 16 MB document limit for large data) and unpickling what is read from a
database executes code. A Rasa backend is one shared server: the process that trains
pushes the model there, the others only swap the answers and policy.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.config import BotConfig
from bot.nlu.base import ProgressCallback
from bot.service import BotService
from bot.snapshot import from_config, normalise, to_config
from bot.training_data import TrainingDataError
from bot.versions import SYSTEM, Author, TrainingVersions, Version
from hub.models import utcnow
from hub.realtime import RealtimeBus
from hub.store import Doc, PyMongoError, Store

log = logging.getLogger(__name__)

MODELS = "models"
EVENT_PUBLISHED = "bot.model_published"


@dataclass(frozen=True)
class ModelVersion:
    id: str
    number: int
    training_version: int
    digest: str
    created_at: datetime
    by: Author
    backend_version: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)

    @staticmethod
    def from_doc(doc: Doc) -> ModelVersion:
        by = doc.get("by") or {}
        return ModelVersion(str(doc["_id"]), int(doc["number"]), int(doc["training_version"]), str(doc["digest"]),
                            doc["created_at"], Author(by.get("id"), str(by.get("name", "?"))),
                            doc.get("backend_version"), dict(doc.get("metrics") or {}))

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "number": self.number, "training_version": self.training_version,
                "digest": self.digest, "created_at": self.created_at.isoformat(), "by": self.by.to_doc(),
                "backend_version": self.backend_version, "metrics": self.metrics}


def training_metrics(config: BotConfig, seconds: float, bot: BotService) -> dict[str, Any]:
    """Counts and time, plus cross-validated accuracy when the backend computed it while training."""
    data = config.training_data
    metrics: dict[str, Any] = {"intents": len(data.intents), "examples": sum(len(v) for v in data.intents.values()),
                               "train_seconds": round(seconds, 3)}
    classifier = getattr(bot.backend, "classifier", None)
    proba = getattr(classifier, "cv_proba", None)
    labels = getattr(classifier, "cv_labels", None)
    if proba is not None and labels is not None and len(labels):
        from sklearn.metrics import f1_score

        predicted = proba.argmax(axis=1)
        metrics["cv_accuracy"] = round(float((predicted == labels).mean()), 4)
        metrics["cv_macro_f1"] = round(float(f1_score(labels, predicted, average="macro", zero_division=0)), 4)
    choice = bot.threshold
    if choice is not None:
        metrics["threshold"] = {**choice.summary(), "applied": config.policy.auto_threshold}
    return metrics


class ModelSync:
    """Publishes the models this process trains and follows the ones others publish."""

    def __init__(self, store: Store, versions: TrainingVersions, bot: BotService, *, retrain_locally: bool,
                 poll_seconds: float = 30.0) -> None:
        self.store = store
        self.models = store.db[MODELS]
        self.versions = versions
        self.bot = bot
        #: False for a shared Rasa server: the publisher trained it, followers only swap answers and policy.
        self.retrain_locally = retrain_locally
        self.poll_seconds = poll_seconds
        #: The published model this process answers with (None: the seeded data, never trained here).
        self.active: ModelVersion | None = None
        self._lock = asyncio.Lock()
        self._changed = asyncio.Condition()

    # -- queries ----------------------------------------------------------------------

    async def latest(self) -> ModelVersion | None:
        doc = await self.models.find_one({}, sort=[("number", -1)])
        return ModelVersion.from_doc(doc) if doc else None

    async def list(self, limit: int = 20) -> list[ModelVersion]:
        return [ModelVersion.from_doc(d) for d in await self.models.find({}, sort=[("number", -1)],
                                                                          limit=limit).to_list()]

    # -- start-up ---------------------------------------------------------------------

    async def prepare(self) -> None:
        """Before the hub starts: seed the data from the bot's files, then load the newest model.

        With no published model yet the bot answers from the seeded version, trained here
        only if it has no model (a bot built with `train=False`).
        """
        seed = await self.versions.seed(from_config(self.bot.config), SYSTEM, "seeded from the configuration files")
        model = await self.latest()
        version = await self.versions.get(model.training_version if model else 1) or seed
        async with self._lock:
            await self._load(version, model, initial=True)

    async def _load(self, version: Version, model: ModelVersion | None, initial: bool = False) -> None:
        """Make `version`'s data current (caller holds the lock); retrain unless the bot already has it."""
        assert version.snapshot is not None
        bot = self.bot
        if bot.training_digest == version.digest:
            await self._set_active(model)
            return
        config = await asyncio.to_thread(to_config, version.snapshot)
        same = False
        if bot.training_digest is None and initial:
            # a bot built from the same files: tag it instead of training it again
            mine = await asyncio.to_thread(lambda: normalise(from_config(bot.config)).digest())
            same = mine == version.digest and (bot.model_version is not None or not self.retrain_locally)
        if same:
            await bot.apply(config, train=False, training_digest=version.digest)
        else:
            log.info("bot: loading training data version %d (model %s)", version.number,
                     model.number if model else "-")
            await bot.apply(config, train=self.retrain_locally, training_digest=version.digest)
        await self._set_active(model)

    async def _set_active(self, model: ModelVersion | None) -> None:
        async with self._changed:
            self.active = model
            self._changed.notify_all()

    # -- following other processes -----------------------------------------------------

    async def sync(self) -> bool:
        """Answer with the newest published model; True when it changed."""
        async with self._lock:
            model = await self.latest()
            if model is None or (self.active is not None and self.active.id == model.id):
                return False
            version = await self.versions.get(model.training_version)
            if version is None:
                log.error("bot: model %d names training version %d, which is missing", model.number,
                          model.training_version)
                return False
            await self._load(version, model)
            return True

    async def watch(self, bus: RealtimeBus) -> None:
        """Hub background loop: sync on every `bot.model_published` event, and every `poll_seconds`."""
        subscription = bus.subscribe()
        try:
            await self._sync_logged()
            while True:
                # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation
                # that races a result, which would keep this loop alive through shutdown.
                try:
                    async with asyncio.timeout(self.poll_seconds):
                        change = await subscription.get()
                except TimeoutError:
                    await self._sync_logged()
                    continue
                if change.collection == "events" and change.document.get("type") == EVENT_PUBLISHED:
                    await self._sync_logged()
        finally:
            subscription.close()

    async def _sync_logged(self) -> None:
        try:
            await self.sync()
        except PyMongoError as exc:
            log.warning("bot: cannot check for new models (%s); will retry", exc)
        except Exception:  # a broken model must not stop the watcher: logged, next publish retries
            log.exception("bot: loading the newest model failed; still answering with the previous one")

    async def wait_for(self, model_id: str) -> None:
        """Until this process answers with model `model_id` (callers bound it with `asyncio.timeout`)."""
        async with self._changed:
            await self._changed.wait_for(lambda: self.active is not None and self.active.id == model_id)

    # -- training here -----------------------------------------------------------------

    async def train(self, version: Version, author: Author, progress: ProgressCallback,
                    job_id: str | None = None) -> ModelVersion:
        """Train on `version`, answer with the result at once, and publish it to every process.

        The bot keeps answering with the old model until the new one is complete.
        """
        assert version.snapshot is not None
        snapshot = version.snapshot
        progress(0.0, f"preparing training data version {version.number}")
        config = await asyncio.to_thread(to_config, snapshot)
        if sum(1 for v in config.training_data.intents.values() if v) < 2:
            raise TrainingDataError("at least two intents need examples before the bot can be trained")
        async with self._lock:
            started = time.monotonic()
            backend_version = await self.bot.apply(
                config, train=True, training_digest=version.digest,
                progress=lambda f, m: progress(0.05 + 0.85 * f, m),
            )
            seconds = time.monotonic() - started
            progress(0.92, "publishing the model")
            model = await self._publish(version, backend_version, training_metrics(config, seconds, self.bot),
                                        author, job_id)
            await self._set_active(model)
        return model

    async def _publish(self, version: Version, backend_version: str | None, metrics: dict[str, Any],
                       author: Author, job_id: str | None) -> ModelVersion:
        now = utcnow()
        number = await self.store.next_number("model")
        doc: Doc = {"number": number, "training_version": version.number, "digest": version.digest,
                    "backend_version": backend_version, "created_at": now, "by": author.to_doc(),
                    "metrics": metrics, "job_id": job_id}
        result = await self.models.insert_one(doc)
        doc["_id"] = result.inserted_id
        await self.store.append_event(EVENT_PUBLISHED, now, model_id=str(result.inserted_id), model_number=number,
                                      training_version=version.number)
        return ModelVersion.from_doc(doc)
