"""Importing contacts from a CSV file, and exporting them (hub.contactimport): supervisors and admins, from the
Contacts page.

The desk reads the file in the browser and sends its text; `dry_run` checks it first (what would be created and
updated, and each refused line with the reason), then the same request without it imports. The export streams every
contact in the same columns, cells a spreadsheet will not run as formulas.
"""

from __future__ import annotations

import csv
import io
from typing import Annotated

from aiohttp import web
from pydantic import AfterValidator, Field, Strict

from agents_ui.appkeys import HUB
from agents_ui.auth import agent_of, error, requires
from httpkit.bodies import accepts, body_of
from httpkit.csvcells import cell
from httpkit.fields import Body, no_surrogates
from hub.access import SUPERVISORS
from hub.contactimport import NotContacts, export_rows

#: A CSV file's text: 2 MB holds the largest file the hub takes (hub.contactimport.MAX_ROWS rows).
CsvText = Annotated[str, Strict(), Field(min_length=1, max_length=2_000_000), AfterValidator(no_surrogates)]


class ContactCsv(Body):
    csv: CsvText = Field(description="the file's text: a header row (name, email, phone, tags, and any attribute), "
                                     "then one contact per row; comma, semicolon or tab separated")
    dry_run: Annotated[bool, Strict()] = Field(False, description="true: check and report, write nothing")


@requires(*SUPERVISORS, scope="contacts")
@accepts(ContactCsv)
async def import_contacts(request: web.Request) -> web.Response:
    """Create or update contacts from a CSV file; the counts, and each refused line with the reason. 400 for a file
    that is not a table of contacts (no header with email or phone, too many rows)."""
    body = body_of(request, ContactCsv)
    try:
        report = await request.app[HUB].contact_import.run(body.csv, agent_of(request), dry_run=body.dry_run,
                                                           ip=request.remote)
    except NotContacts as exc:
        raise error(400, str(exc)) from exc
    return web.json_response({"dry_run": body.dry_run, **report.public()})


@requires(*SUPERVISORS, scope="contacts")
async def export_contacts(request: web.Request) -> web.StreamResponse:
    """Every contact (not the merged-away or erased ones) as a CSV file the import reads back: name, email, phone,
    tags, then each attribute. Streamed a batch at a time; the export is audited with its row count (a customer list
    leaving the desk)."""
    hub = request.app[HUB]
    response = web.StreamResponse(headers={"Content-Type": "text/csv; charset=utf-8",
                                           "Content-Disposition": 'attachment; filename="contacts.csv"'})
    await response.prepare(request)
    rows, complete = -1, False  # the header is not a contact
    try:
        async for batch in export_rows(hub.store):
            out = io.StringIO()
            csv.writer(out).writerows([[cell(v) for v in row] for row in batch])
            await response.write(out.getvalue().encode())
            rows += len(batch)
        await response.write_eof()
        complete = True
    finally:  # an export cut short is recorded too, with what it sent
        await hub.audit.record("contacts.exported", actor=agent_of(request), ip=request.remote,
                               details={"rows": max(rows, 0), **({} if complete else {"complete": False})})
    return response


def routes() -> list[web.RouteDef]:
    return [web.post("/api/contacts/import", import_contacts), web.get("/api/contacts/export.csv", export_contacts)]
