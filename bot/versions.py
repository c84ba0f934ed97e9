"""Training-data versions in the database: every edit is a new, numbered, whole snapshot.

Why whole snapshots rather than diffs: a version is a few hundred KB at most (BANKING77's
10,000 examples are ~1 MB), training and export need the whole data anyway, a diff between
any two versions is one comparison, and a rollback is one insert. Version numbers are
unique (index `number`), so two trainers committing at once cannot both take the same
number: the loser re-applies its change on top of the winner's version and retries.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.diff import diff, summarise
from bot.edits import Change, replace_all
from bot.snapshot import TrainingSnapshot, normalise
from hub.models import utcnow
from hub.store import Doc, DuplicateKeyError, Store

COLLECTION = "training_versions"
#: Attempts at taking the next number when other processes commit at the same time.
_COMMIT_ATTEMPTS = 8


@dataclass(frozen=True)
class Author:
    id: str | None
    name: str

    def to_doc(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name}


SYSTEM = Author(None, "system")


@dataclass
class Version:
    number: int
    created_at: datetime
    author: Author
    summary: str
    digest: str
    parent: int | None = None
    rollback_of: int | None = None
    intents: int = 0
    examples: int = 0
    #: None in listings (which leave the data out).
    snapshot: TrainingSnapshot | None = None

    def info(self) -> dict[str, Any]:
        return {"number": self.number, "created_at": self.created_at.isoformat(), "author": self.author.to_doc(),
                "summary": self.summary, "digest": self.digest, "parent": self.parent,
                "rollback_of": self.rollback_of, "intents": self.intents, "examples": self.examples}

    @staticmethod
    def from_doc(doc: Doc) -> Version:
        author = doc.get("author") or {}
        return Version(
            number=int(doc["number"]),
            created_at=doc["created_at"],
            author=Author(author.get("id"), str(author.get("name", "?"))),
            summary=str(doc.get("summary", "")),
            digest=str(doc["digest"]),
            parent=doc.get("parent"),
            rollback_of=doc.get("rollback_of"),
            intents=int(doc.get("intents", 0)),
            examples=int(doc.get("examples", 0)),
            snapshot=TrainingSnapshot.from_doc(doc["data"]) if "data" in doc else None,
        )


class VersionConflict(Exception):
    """Too many concurrent commits in a row (should not happen with a handful of trainers)."""


class TrainingVersions:
    """The `training_versions` collection."""

    def __init__(self, store: Store) -> None:
        self.collection = store.db[COLLECTION]

    async def latest(self) -> Version | None:
        doc = await self.collection.find_one({}, sort=[("number", -1)])
        return Version.from_doc(doc) if doc else None

    async def get(self, number: int) -> Version | None:
        doc = await self.collection.find_one({"number": number})
        return Version.from_doc(doc) if doc else None

    async def list(self, limit: int = 50, before: int | None = None) -> list[Version]:
        """Newest first, without the data."""
        query: Doc = {"number": {"$lt": before}} if before is not None else {}
        docs = await self.collection.find(query, projection={"data": 0}, sort=[("number", -1)],
                                          limit=limit).to_list()
        return [Version.from_doc(d) for d in docs]

    async def seed(self, snapshot: TrainingSnapshot, author: Author = SYSTEM, summary: str = "seed") -> Version:
        """Version 1 from the configuration files, unless the database already has versions."""
        existing = await self.latest()
        if existing is not None:
            return existing
        normalised = await asyncio.to_thread(normalise, snapshot)
        doc = self._doc(1, None, normalised, author, summary)
        try:
            await self.collection.insert_one(doc)
        except DuplicateKeyError:  # another process seeded at the same moment
            pass
        latest = await self.latest()
        assert latest is not None
        return latest

    async def commit(self, change: Change, author: Author, summary: str | None = None,
                     rollback_of: int | None = None) -> tuple[Version, bool]:
        """Apply `change` to the newest version and store the result as the next one.

        Returns (version, changed): a change that leaves the data as it is stores nothing
        and returns the newest version. Errors of the change (`TrainingDataError`,
        `IntentNotFound`...) propagate and nothing is stored.
        """
        for _attempt in range(_COMMIT_ATTEMPTS):
            latest = await self.latest()
            if latest is None or latest.snapshot is None:
                raise LookupError("no training data: seed the first version before editing")
            new = await asyncio.to_thread(lambda s=latest.snapshot: normalise(change(s)))
            if new.digest() == latest.digest:
                return latest, False
            text = summary or summarise(diff(latest.snapshot, new))
            doc = self._doc(latest.number + 1, latest.number, new, author, text, rollback_of)
            try:
                await self.collection.insert_one(doc)
            except DuplicateKeyError:
                continue
            return Version.from_doc(doc), True
        raise VersionConflict("training data is being changed by others too often; try again")

    async def rollback(self, number: int, author: Author) -> tuple[Version, bool]:
        """A new version equal to version `number` (history is never rewritten)."""
        old = await self.get(number)
        if old is None or old.snapshot is None:
            raise LookupError(f"no training-data version {number}")
        return await self.commit(replace_all(old.snapshot), author, f"rollback to version {number}", number)

    @staticmethod
    def _doc(number: int, parent: int | None, snapshot: TrainingSnapshot, author: Author, summary: str,
             rollback_of: int | None = None) -> Doc:
        doc: Doc = {
            "number": number,
            "parent": parent,
            "created_at": utcnow(),
            "author": author.to_doc(),
            "summary": summary,
            "digest": snapshot.digest(),
            "intents": len(snapshot.intents),
            "examples": snapshot.example_count(),
            "data": snapshot.to_doc(),
        }
        if rollback_of is not None:
            doc["rollback_of"] = rollback_of
        return doc
