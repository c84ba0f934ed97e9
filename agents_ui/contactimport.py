"""Importing contacts from a CSV file (hub.contactimport): supervisors and admins, from the Contacts page.

The desk reads the file in the browser and sends its text; `dry_run` checks it first (what would be created and
updated, and each refused line with the reason), then the same request without it imports.
"""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import AfterValidator, Field, Strict

from agents_ui.appkeys import HUB
from agents_ui.auth import agent_of, error, requires
from httpkit.bodies import accepts, body_of
from httpkit.fields import Body, no_surrogates
from hub.access import SUPERVISORS
from hub.contactimport import NotContacts

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


def routes() -> list[web.RouteDef]:
    return [web.post("/api/contacts/import", import_contacts)]
