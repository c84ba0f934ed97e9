"""Contacts from a CSV file, and back: a desk moving from another tool, or a CRM's export, so that the first message of
a known customer lands on a record that already has their name, company and tags; and the desk's contacts exported
in the same columns (`export_rows`), which this import reads back.

Columns (the header row names them, in any order and case): `name`, `email`, `phone`, `tags` (separated by `;` or
`,`), and any other column is an attribute, its key the header made a key ("Company name" -> `company_name`). Each
row needs an email or a phone. A row whose email (else phone) a contact holds updates that contact: the file's name
and attributes replace theirs, its tags are added, an address they lack is added; an empty cell changes nothing.
Otherwise a contact is created with the row's address as its identity, as writing first to a customer does
(hub.outbound), so their next email or text joins it.

A row the hub refuses (no address, a malformed one, an address another contact holds, a bad tag) is reported with
its line number and the reason; the other rows are imported. A check (`dry_run`) reads and reports without writing.
Each change is audited as an edit of that contact (`contact.updated`), the import as a whole once
(`contacts.imported`, the counts). At most `MAX_ROWS` rows per file: larger files are split.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from hub.audit import AuditLog
from hub.contactbook import (
    ATTRIBUTE_KEY,
    EMAIL,
    MAX_ATTRIBUTES,
    PHONE,
    TAG,
    ContactBook,
    ContactConflict,
    ContactError,
    edit_changes,
)
from hub.contacts import ContactService
from hub.display import display_name
from hub.models import Sender
from hub.store import Doc, Store

MAX_ROWS = 1000
#: The columns the hub reads as such; every other column is an attribute.
KNOWN = ("name", "email", "phone", "tags")


class NotContacts(ValueError):
    """A file the hub cannot read as contacts at all (no header, no address column, too many rows)."""


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    #: (line number in the file, reason) for each row not imported.
    refused: list[tuple[int, str]] = field(default_factory=list)

    def public(self) -> dict[str, object]:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged,
                "refused": [{"line": line, "reason": reason} for line, reason in self.refused]}


def column_key(header: str) -> str:
    """A header as the key it names: "Company name" -> "company_name"."""
    return re.sub(r"[^a-z0-9]+", "_", header.strip().lower()).strip("_")


def read_rows(text: str) -> list[tuple[int, dict[str, str]]]:
    """The rows of the file, each with its line number and its non-empty cells by column key; raises NotContacts
    for a file that is not a table of contacts (or that the csv module cannot read: a cell over its size limit)."""
    try:
        return _read_rows(text)
    except csv.Error as exc:
        raise NotContacts(f"the file cannot be read as CSV: {exc}") from None


def _read_rows(text: str) -> list[tuple[int, dict[str, str]]]:
    sample = text.lstrip("\ufeff")
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(sample), dialect)
    try:
        header = next(reader)
    except StopIteration:
        raise NotContacts("the file is empty") from None
    keys = [column_key(h) for h in header]
    if not {"email", "phone"} & set(keys):
        raise NotContacts("the first row names the columns, and one of them is email or phone")
    bad = [h for h, k in zip(header, keys, strict=True) if k and k not in KNOWN and not ATTRIBUTE_KEY.fullmatch(k)]
    if bad:
        raise NotContacts(f"column {bad[0]!r} cannot be an attribute: it must start with a letter "
                           "(at most 40 letters, digits and _)")
    named = [k for k in keys if k]
    if len(set(named)) != len(named):
        raise NotContacts("two columns have the same name")
    if len([k for k in named if k not in KNOWN]) > MAX_ATTRIBUTES:
        raise NotContacts(f"at most {MAX_ATTRIBUTES} attribute columns")
    rows: list[tuple[int, dict[str, str]]] = []
    for cells in reader:
        if not any(c.strip() for c in cells):
            continue
        if len(rows) == MAX_ROWS:
            raise NotContacts(f"at most {MAX_ROWS} contacts per file: split it")
        rows.append((reader.line_num, {k: _unquoted(c.strip()) for k, c in zip(keys, cells, strict=False)
                                       if k and c.strip()}))
    return rows


def _unquoted(text: str) -> str:
    """A cell as it was before an export kept a spreadsheet from running it (httpkit.csvcells: "'=x" -> "=x")."""
    return text[1:] if text[:1] == "'" and text[1:2] in ("=", "+", "-", "@") else text


def _address(row: dict[str, str]) -> tuple[str | None, str | None]:
    """The row's email and phone, checked (raises ContactError with the reason)."""
    email = row.get("email", "").lower() or None
    if email and not EMAIL.fullmatch(email):
        raise ContactError(f"{row['email']!r} is not an email address")
    phone = re.sub(r"[\s().-]", "", row.get("phone", "")) or None
    if phone and phone.startswith("00"):
        phone = "+" + phone[2:]
    if phone and not PHONE.fullmatch(phone):
        raise ContactError(f"{row['phone']!r} is not a phone number with its country code (+4930123456)")
    if not email and not phone:
        raise ContactError("no email and no phone")
    return email, phone


def _tags(row: dict[str, str]) -> list[str]:
    """The row's tags, checked as the contact page checks them (raises ContactError)."""
    tags = sorted({t.strip().lower() for t in re.split(r"[;,]", row.get("tags", "")) if t.strip()})
    if len(tags) > 30 or any(not TAG.fullmatch(t) for t in tags):
        raise ContactError("tags: at most 30, each a word of up to 40 letters, digits, space . : -")
    return tags


#: Contacts read per round of an export (the server reads one batch per round, the hub holds one).
EXPORT_BATCH = 500
#: The contacts an export leaves out: merged-away records (their survivor holds them) and erased ones.
LIVE = {"merged_into": None, "erased_at": None}


async def export_rows(store: Store) -> AsyncIterator[list[list[str]]]:
    """The contacts as rows, a batch at a time, the header first: name, email, phone, tags, then every attribute
    any contact has, by key (their first email and phone; the columns `ContactImport` reads)."""
    keys: set[str] = set()
    async for doc in store.contacts.find(LIVE, projection={"attributes": 1}, batch_size=EXPORT_BATCH):
        keys.update(doc.get("attributes") or {})
    attributes = sorted(keys)
    yield [["name", "email", "phone", "tags", *attributes]]
    batch: list[list[str]] = []
    async for c in store.contacts.find(LIVE, sort=[("_id", 1)], batch_size=EXPORT_BATCH,  # oldest first
                                       projection={"name": 1, "emails": 1, "phones": 1, "tags": 1, "attributes": 1}):
        values = c.get("attributes") or {}
        batch.append([c.get("name") or "", (c.get("emails") or [""])[0], (c.get("phones") or [""])[0],
                      "; ".join(c.get("tags") or []), *(str(values.get(k, "")) for k in attributes)])
        if len(batch) == EXPORT_BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


class ContactImport:
    def __init__(self, store: Store, contacts: ContactService, book: ContactBook, audit: AuditLog) -> None:
        self.store = store
        self.contacts = contacts
        self.book = book
        self.audit = audit

    async def run(self, text: str, actor: Doc, *, dry_run: bool = False, ip: str | None = None) -> ImportReport:
        """Import (or with `dry_run`, check) the file; raises NotContacts for a file that is not contacts."""
        report = ImportReport()
        planned: dict[tuple[str, str], Doc] = {}  # a check's contacts to be created, by their addresses
        for line, row in read_rows(text):
            try:
                outcome = await (self._check(row, planned) if dry_run else self._row(row, actor, ip))
            except (ContactError, ContactConflict) as exc:
                report.refused.append((line, str(exc)))
                continue
            setattr(report, outcome, getattr(report, outcome) + 1)
        if not dry_run:
            await self.audit.record("contacts.imported", actor=actor, ip=ip,
                                    details={"created": report.created, "updated": report.updated,
                                             "refused": len(report.refused)})
        return report

    async def _holder(self, key: str, value: str | None) -> Doc | None:
        """The live contact holding this address."""
        return None if value is None else await self.store.contacts.find_one({key: value, **LIVE})

    async def _found(self, email: str | None, phone: str | None) -> Doc | None:
        """The live contact holding the row's email, else its phone; refused (before anything is written) when
        two contacts hold them."""
        by_email, by_phone = await self._holder("emails", email), await self._holder("phones", phone)
        if by_email is not None and by_phone is not None and by_email["_id"] != by_phone["_id"]:
            raise ContactConflict(f"{email} belongs to {display_name(by_email)} and {phone} to "
                                  f"{display_name(by_phone)}: merge the two contacts first")
        return by_email or by_phone

    async def _check(self, row: dict[str, str], planned: dict[tuple[str, str], Doc]) -> str:
        """What importing the row would do, written nowhere: "created", "updated" or "unchanged" (raises ContactError
        with the reason). `planned`: the contacts as the rows before left them, by address: a later row with the
        address of a contact an earlier row creates updates it, as the import will."""
        email, phone, tags, attributes = _parts(row)
        found = await self._found(email, phone)
        # as an earlier row left it, if one did: a contact it created, or changed
        contact = planned.get(("emails", email or "")) or planned.get(("phones", phone or "")) or found
        created = contact is None
        if contact is None:
            contact = {"emails": [email] if email else [], "phones": [phone] if phone else []}
        changes, _ = edit_changes(contact, **_edit(row, contact, email, phone, tags, attributes))
        contact = {**contact, **changes}
        for key, value in (("emails", email), ("phones", phone)):
            if value:
                planned[(key, value)] = contact
        return "created" if created else "updated" if changes else "unchanged"

    async def _row(self, row: dict[str, str], actor: Doc, ip: str | None) -> str:
        """"created", "updated" or "unchanged" (raises ContactError with the reason)."""
        email, phone, tags, attributes = _parts(row)
        contact = await self._found(email, phone)
        created = contact is None
        if contact is None:
            channel, address = ("email", email) if email else ("sms", phone)
            assert address is not None
            contact = await self.contacts.resolve(channel, Sender(address, display_name=row.get("name"),
                                                                  email=email, phone=phone))
        edited = await self.book.edit(contact["_id"], actor, **_edit(row, contact, email, phone, tags, attributes),
                                      ip=ip)
        if created:
            return "created"
        return "updated" if edited.get("updated_at") != contact.get("updated_at") else "unchanged"


def _parts(row: dict[str, str]) -> tuple[str | None, str | None, list[str], dict[str, str]]:
    """The row's email, phone, tags and attributes, checked (raises ContactError) before anything is written."""
    email, phone = _address(row)
    tags = _tags(row)
    if len(" ".join(row.get("name", "").split())) > 200:  # checked before a contact is created for the row
        raise ContactError("name: at most 200 characters")
    return email, phone, tags, {k: v for k, v in row.items() if k not in KNOWN}


def _edit(row: dict[str, str], contact: Doc, email: str | None, phone: str | None, tags: list[str],
          attributes: dict[str, str]) -> dict[str, Any]:
    """The row as an edit of the contact (`ContactBook.edit`'s arguments): its tags added to the contact's."""
    return {"name": row.get("name"),
            "email": email if email and email not in (contact.get("emails") or []) else None,
            "phone": phone if phone and phone not in (contact.get("phones") or []) else None,
            "attributes": attributes or None,
            "tags": sorted(set(contact.get("tags") or []) | set(tags)) if tags else None}
