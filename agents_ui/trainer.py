"""The bot trainer's REST API: intents, answers, escalation mapping, NLU inbox, training, versions.

Every route needs the `trainer` role (admins pass too) and, for unsafe methods, the
session's CSRF token (`agents_ui.auth.requires`). Handlers only translate HTTP to calls on
`bot.workbench.Workbench` and its errors to status codes; training and evaluation run as
background jobs whose progress reaches the desk WebSocket as `bot.training` events.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import yaml
from aiohttp import web

from agents_ui import schemas
from agents_ui.appkeys import EXTRAS
from agents_ui.auth import agent_of, error, requires
from bot.diff import diff
from bot.edits import (
    IntentExists,
    IntentNotFound,
    IntentPatch,
    add_intent,
    delete_intent,
    replace_all,
    update_intent,
)
from bot.inbox import REASONS
from bot.jobs import JobBusy
from bot.snapshot import INTENT_NAME, export_files, import_files
from bot.training_data import TrainingDataError
from bot.versions import Author, VersionConflict
from bot.workbench import NotInInbox, Workbench
from httpkit.bodies import accepts, fields_of
from hub.models import Role

FILES = ("nlu.yml", "domain.yml", "policy.yml")
#: Imported YAML larger than this is refused (BANKING77's whole nlu.yml is ~700 KB).
MAX_IMPORT_CHARS = 8 * 1024 * 1024


def _workbench(request: web.Request) -> Workbench:
    workbench: Workbench | None = request.app[EXTRAS].get("workbench")
    if workbench is None:
        raise error(409, "this hub's bot has no trainer workbench (not a built-in or Rasa bot service)")
    return workbench


def _author(request: web.Request) -> Author:
    agent = agent_of(request)
    return Author(str(agent["_id"]), str(agent.get("name") or agent["username"]))


def _int(value: Any, name: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise error(400, f"{name} must be a number") from exc


def _name(request: web.Request) -> str:
    name = request.match_info["name"]
    if not INTENT_NAME.match(name):
        raise error(404, f"no intent {name!r}")
    return name


def _saved(version: Any, changed: bool, **extra: Any) -> web.Response:
    return web.json_response({"version": version.info(), "changed": changed, **extra}, status=200)


def _translate(exc: Exception) -> web.HTTPException:
    """Domain errors of the workbench to HTTP."""
    if isinstance(exc, IntentNotFound):
        return error(404, f"no intent {exc.args[0]!r}")
    if isinstance(exc, IntentExists):
        return error(409, str(exc))
    if isinstance(exc, NotInInbox):
        return error(404, "that message is not in the NLU inbox (labelled or dismissed already?)")
    if isinstance(exc, JobBusy | VersionConflict):
        return error(409, str(exc))
    if isinstance(exc, LookupError):
        return error(404, str(exc.args[0]) if exc.args else "not found")
    return error(400, str(exc))


_DOMAIN_ERRORS = (TrainingDataError, IntentNotFound, IntentExists, NotInInbox, JobBusy, VersionConflict, LookupError)


def _patch(body: dict[str, Any], workbench: Workbench) -> IntentPatch:
    patch = IntentPatch.from_json(body)
    workbench.check_queue(patch.queue)
    return patch


# -- overview and intents ------------------------------------------------------------------


@requires(Role.TRAINER)
async def status(request: web.Request) -> web.Response:
    """The newest training-data version, the model this process answers with, the newest model and jobs."""
    return web.json_response(await _workbench(request).status())


@requires(Role.TRAINER)
async def list_intents(request: web.Request) -> web.Response:
    """Intents with example and answer counts, escalation queue, and F1 from the last evaluation."""
    try:
        return web.json_response(await _workbench(request).intents_overview())
    except LookupError as exc:
        raise _translate(exc) from exc


@requires(Role.TRAINER)
async def get_intent(request: web.Request) -> web.Response:
    """One intent of the newest version: examples (Rasa markup), answers per channel, queue and label."""
    name = _name(request)
    try:
        version = await _workbench(request).current()
    except LookupError as exc:
        raise _translate(exc) from exc
    assert version.snapshot is not None
    intent = version.snapshot.intent(name)
    if intent is None:
        raise error(404, f"no intent {name!r}")
    return web.json_response({"version": version.number, **intent.to_doc()})


@requires(Role.TRAINER)
@accepts(schemas.NewIntent)
async def create_intent(request: web.Request) -> web.Response:
    """Add an intent (`name`, optional `examples`, `answers` [{text, channel}], `queue`, `label`)."""
    workbench = _workbench(request)
    body = fields_of(request)
    name = body.get("name")
    if not isinstance(name, str) or not INTENT_NAME.match(name):
        raise error(400, "name: letters, digits, _ and -, starting with a letter")
    try:
        version, changed = await workbench.edit(add_intent(name, _patch(body, workbench)), _author(request))
    except _DOMAIN_ERRORS as exc:
        raise _translate(exc) from exc
    response = _saved(version, changed)
    response.set_status(201)
    return response


@requires(Role.TRAINER)
@accepts(schemas.IntentChange)
async def update_intent_(request: web.Request) -> web.Response:
    """Replace an intent's `examples`, `answers`, `queue` ("" removes the mapping) or `label`: a new version."""
    workbench = _workbench(request)
    body = fields_of(request)
    try:
        version, changed = await workbench.edit(update_intent(_name(request), _patch(body, workbench)),
                                                _author(request))
    except _DOMAIN_ERRORS as exc:
        raise _translate(exc) from exc
    return _saved(version, changed)


@requires(Role.TRAINER)
async def delete_intent_(request: web.Request) -> web.Response:
    """Delete an intent with its examples, answers and mapping: a new version."""
    try:
        version, changed = await _workbench(request).edit(delete_intent(_name(request)), _author(request))
    except _DOMAIN_ERRORS as exc:
        raise _translate(exc) from exc
    return _saved(version, changed)


# -- training, evaluation, try-it --------------------------------------------------------------


async def _start_job(request: web.Request, kind: str) -> web.Response:
    """Start a `train` or `evaluate` job on the body's `version` (default: the newest): 202 with its id."""
    body = fields_of(request)
    workbench = _workbench(request)
    start = workbench.start_training if kind == "train" else workbench.start_evaluation
    try:
        job = await start(_int(body.get("version"), "version"), _author(request))
    except _DOMAIN_ERRORS as exc:
        raise _translate(exc) from exc
    return web.json_response({"job": job}, status=202)


@requires(Role.TRAINER)
@accepts(schemas.TrainingJob)
async def train(request: web.Request) -> web.Response:
    """Train on `version` (default: the newest) in the background; progress arrives as `bot.training` events."""
    return await _start_job(request, "train")


@requires(Role.TRAINER)
@accepts(schemas.TrainingJob)
async def evaluate(request: web.Request) -> web.Response:
    """Cross-validate `version` (default: the newest) in the background: P/R/F1 per intent, confused pairs."""
    return await _start_job(request, "evaluate")


@requires(Role.TRAINER)
async def get_job(request: web.Request) -> web.Response:
    """A training or evaluation job: status, progress 0..1, message, result or error."""
    job = await _workbench(request).jobs.get(request.match_info["id"])
    if job is None:
        raise error(404, "no such job")
    return web.json_response(job.as_dict())


@requires(Role.TRAINER)
async def get_evaluation(request: web.Request) -> web.Response:
    """The last evaluation report (404 before the first)."""
    report = await _workbench(request).latest_evaluation()
    if report is None:
        raise error(404, "no evaluation yet")
    return web.json_response(report)


@requires(Role.TRAINER)
@accepts(schemas.TryText)
async def try_it(request: web.Request) -> web.Response:
    """`text` (and `channel`, default widget) -> intent ranking and the decision the bot would take. Stores nothing."""
    body = fields_of(request)
    text = body.get("text")
    channel = body.get("channel") or "widget"
    if not isinstance(text, str) or not text.strip() or len(text) > 4000:
        raise error(400, "text is required (at most 4000 characters)")
    if not isinstance(channel, str):
        raise error(400, "channel must be a string")
    return web.json_response(await _workbench(request).try_text(text, channel))


@requires(Role.TRAINER)
async def list_models(request: web.Request) -> web.Response:
    """Published model versions, newest first, with their training-data version and metrics."""
    models = await _workbench(request).models.list()
    return web.json_response({"models": [m.as_dict() for m in models]})


# -- NLU inbox ---------------------------------------------------------------------------------


@requires(Role.TRAINER)
async def inbox(request: web.Request) -> web.Response:
    """Customer messages to review, newest first (`reason` filter, `before` ISO time to page) and counts."""
    workbench = _workbench(request)
    reason = request.query.get("reason") or None
    if reason is not None and reason not in REASONS:
        raise error(400, f"reason must be one of {', '.join(REASONS)}")
    before = None
    if request.query.get("before"):
        try:
            before = datetime.fromisoformat(request.query["before"])
        except ValueError as exc:
            raise error(400, "before must be an ISO 8601 time") from exc
    limit = _int(request.query.get("limit"), "limit") or 50
    items = await workbench.inbox.list(reason, min(max(limit, 1), 200), before)
    return web.json_response({"items": [i.as_dict() for i in items], "counts": await workbench.inbox.counts()})


@requires(Role.TRAINER)
@accepts(schemas.InboxLabel)
async def label(request: web.Request) -> web.Response:
    """Label an inbox message with `intent` (or `out_of_scope: true`): its text becomes an example."""
    workbench = _workbench(request)
    body = fields_of(request)
    intent = body.get("intent")
    if body.get("out_of_scope") is True:
        intent = workbench.bot.config.policy.out_of_scope_intent
    if not isinstance(intent, str) or not intent:
        raise error(400, "intent (or out_of_scope: true) is required")
    try:
        version, changed = await workbench.label(request.match_info["id"], intent, _author(request))
    except _DOMAIN_ERRORS as exc:
        raise _translate(exc) from exc
    return _saved(version, changed, intent=intent)


@requires(Role.TRAINER)
async def dismiss(request: web.Request) -> web.Response:
    """Take a message out of the inbox without learning from it."""
    try:
        await _workbench(request).dismiss(request.match_info["id"], _author(request))
    except _DOMAIN_ERRORS as exc:
        raise _translate(exc) from exc
    return web.json_response({"ok": True})


# -- versions ------------------------------------------------------------------------------------


@requires(Role.TRAINER)
async def list_versions(request: web.Request) -> web.Response:
    """Training-data versions, newest first (`before` number to page), with author, time and summary."""
    limit = _int(request.query.get("limit"), "limit") or 50
    versions = await _workbench(request).versions.list(min(max(limit, 1), 200),
                                                       _int(request.query.get("before"), "before"))
    return web.json_response({"versions": [v.info() for v in versions]})


@requires(Role.TRAINER)
async def version_diff(request: web.Request) -> web.Response:
    """Changes from version `from` to version `to` (default: the newest) per intent."""
    workbench = _workbench(request)
    start = _int(request.query.get("from"), "from")
    if start is None:
        raise error(400, "from is required")
    try:
        old = await workbench.version_snapshot(start)
        new = await workbench.version_snapshot(_int(request.query.get("to"), "to"))
    except LookupError as exc:
        raise _translate(exc) from exc
    assert old.snapshot is not None and new.snapshot is not None
    return web.json_response({"from": old.info(), "to": new.info(), **diff(old.snapshot, new.snapshot).as_dict()})


@requires(Role.TRAINER)
async def rollback(request: web.Request) -> web.Response:
    """A new version equal to version `number` (nothing is deleted; train to put it live)."""
    number = _int(request.match_info["number"], "number")
    assert number is not None
    try:
        version, changed = await _workbench(request).versions.rollback(number, _author(request))
    except _DOMAIN_ERRORS as exc:
        raise _translate(exc) from exc
    return _saved(version, changed)


# -- Rasa YAML ------------------------------------------------------------------------------------


@requires(Role.TRAINER)
async def export(request: web.Request) -> web.Response:
    """`nlu.yml`, `domain.yml` (Rasa 3.x) and `policy.yml` of `version` (default: the newest), as JSON."""
    try:
        version = await _workbench(request).version_snapshot(_int(request.query.get("version"), "version"))
    except LookupError as exc:
        raise _translate(exc) from exc
    assert version.snapshot is not None
    return web.json_response({"version": version.number, "files": export_files(version.snapshot)})


@requires(Role.TRAINER)
async def export_file(request: web.Request) -> web.Response:
    """One exported file (`nlu.yml`, `domain.yml` or `policy.yml`) as a YAML download."""
    name = request.match_info["file"]
    if name not in FILES:
        raise error(404, f"file must be one of {', '.join(FILES)}")
    try:
        version = await _workbench(request).version_snapshot(_int(request.query.get("version"), "version"))
    except LookupError as exc:
        raise _translate(exc) from exc
    assert version.snapshot is not None
    return web.Response(text=export_files(version.snapshot)[name], content_type="application/x-yaml",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})


@requires(Role.TRAINER)
@accepts(schemas.RasaImport, max_bytes=3 * MAX_IMPORT_CHARS)
async def import_yaml(request: web.Request) -> web.Response:
    """Replace the training data from Rasa YAML: `nlu` (required), `domain` and `policy` texts: a new version."""
    workbench = _workbench(request)
    body = fields_of(request)
    texts = {k: body.get(k) for k in ("nlu", "domain", "policy")}
    if not isinstance(texts["nlu"], str) or not texts["nlu"].strip():
        raise error(400, "nlu (the text of an nlu.yml) is required")
    for key, value in texts.items():
        if value is not None and (not isinstance(value, str) or len(value) > MAX_IMPORT_CHARS):
            raise error(400, f"{key} must be YAML text of at most {MAX_IMPORT_CHARS} characters")
    try:
        current = await workbench.current()
        assert current.snapshot is not None
        imported = import_files(current.snapshot, texts["nlu"], texts["domain"] or None, texts["policy"] or None)
        for intent in imported.intents:
            workbench.check_queue(intent.queue)
        version, changed = await workbench.edit(replace_all(imported), _author(request),
                                                str(body.get("message") or "") or None)
    except _DOMAIN_ERRORS as exc:
        raise _translate(exc) from exc
    except yaml.YAMLError as exc:
        raise error(400, f"not valid YAML: {exc}") from exc
    return _saved(version, changed)


def routes() -> list[web.RouteDef]:
    prefix = "/api/trainer"
    return [
        web.get(f"{prefix}/status", status),
        web.get(f"{prefix}/intents", list_intents),
        web.post(f"{prefix}/intents", create_intent),
        web.get(f"{prefix}/intents/{{name}}", get_intent),
        web.put(f"{prefix}/intents/{{name}}", update_intent_),
        web.delete(f"{prefix}/intents/{{name}}", delete_intent_),
        web.post(f"{prefix}/train", train),
        web.post(f"{prefix}/evaluate", evaluate),
        web.get(f"{prefix}/jobs/{{id}}", get_job),
        web.get(f"{prefix}/evaluation", get_evaluation),
        web.post(f"{prefix}/try", try_it),
        web.get(f"{prefix}/models", list_models),
        web.get(f"{prefix}/inbox", inbox),
        web.post(f"{prefix}/inbox/{{id}}/label", label),
        web.post(f"{prefix}/inbox/{{id}}/dismiss", dismiss),
        web.get(f"{prefix}/versions", list_versions),
        web.get(f"{prefix}/diff", version_diff),
        web.post(f"{prefix}/versions/{{number}}/rollback", rollback),
        web.get(f"{prefix}/export", export),
        web.get(f"{prefix}/export/{{file}}", export_file),
        web.post(f"{prefix}/import", import_yaml),
    ]
