"""Versions and jobs against the real database: concurrent commits, rollback, job failures."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from agents_ui.appkeys import EXTRAS
from bot.edits import IntentPatch, add_intent, update_intent
from bot.jobs import JobBusy
from bot.nlu.base import ProgressCallback
from bot.versions import Author
from bot.workbench import Workbench
from switchboard.bootstrap import Runtime
from tests.trainer.conftest import finished_job

TINA, TOM = Author("1", "Tina"), Author("2", "Tom")


def _workbench(runtime: Runtime) -> Workbench:
    assert runtime.app is not None
    workbench: Workbench = runtime.app[EXTRAS]["workbench"]
    return workbench


async def test_concurrent_commits_each_get_their_own_version(trainer_runtime: Runtime) -> None:
    versions = _workbench(trainer_runtime).versions
    results = await asyncio.gather(
        versions.commit(add_intent("gift_cards", IntentPatch(examples=["gift card"])), TINA),
        versions.commit(update_intent("refund", IntentPatch(label="Money back")), TOM),
        versions.commit(add_intent("loyalty", IntentPatch(examples=["points"])), TOM),
    )
    assert sorted(v.number for v, changed in results if changed) == [2, 3, 4]
    latest = await versions.latest()
    assert latest is not None and latest.snapshot is not None and latest.number == 4
    assert {"gift_cards", "loyalty"} <= set(latest.snapshot.intent_names())
    assert latest.snapshot.intent("refund").label == "Money back"  # type: ignore[union-attr]  # none lost
    parents = {v.number: v.parent for v in await versions.list()}
    assert parents == {4: 3, 3: 2, 2: 1, 1: None}


async def test_rollback_is_a_new_version_equal_to_the_old_one(trainer_runtime: Runtime) -> None:
    versions = _workbench(trainer_runtime).versions
    await versions.commit(add_intent("gift_cards", IntentPatch(examples=["gift card"])), TINA)
    rolled, changed = await versions.rollback(1, TOM)
    first = await versions.get(1)
    assert changed and first is not None
    assert (rolled.number, rolled.rollback_of, rolled.digest, rolled.author) == (3, 1, first.digest, TOM)
    with pytest.raises(LookupError):
        await versions.rollback(9, TOM)


async def test_jobs_run_one_at_a_time_and_failures_are_recorded(trainer_runtime: Runtime) -> None:
    assert trainer_runtime.hub is not None
    jobs = _workbench(trainer_runtime).jobs
    release = asyncio.Event()

    async def slow(progress: ProgressCallback) -> dict[str, Any]:
        for i in range(50):  # many reports: coalesced into a few writes
            progress(i / 100, f"step {i}")
        await release.wait()
        return {"ok": True}

    async def broken(progress: ProgressCallback) -> dict[str, Any]:
        progress(0.3, "about to fail")
        raise RuntimeError("the data is cursed")

    subscription = trainer_runtime.hub.bus.subscribe()
    job = await jobs.start("train", 1, TINA, slow)
    with pytest.raises(JobBusy):
        await jobs.start("train", 1, TOM, slow)
    failing = await jobs.start("evaluate", 1, TOM, broken)  # another kind may run meanwhile
    failed = await finished_job(subscription, failing)
    assert failed["status"] == "failed" and failed["error"] == "the data is cursed"
    assert failed["progress"] == pytest.approx(0.3)
    release.set()
    done = await finished_job(subscription, job)
    subscription.close()
    assert done["status"] == "succeeded" and done["result"] == {"ok": True}
    view = await jobs.get(job)
    assert view is not None and view.progress == 1.0 and view.kind == "train"
    written = await trainer_runtime.hub.store.events.count_documents({"type": "bot.training", "job_id": job})
    assert 2 <= written < 50
    assert jobs.running("train") is None
    await jobs.start("train", 1, TOM, slow)  # free again
    release.set()
