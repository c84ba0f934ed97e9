"""Help-center articles: what trainers write once and customers, agents and the bot link to.

An article has a `title`, a Markdown `body`, a `category`, a `language` and a `published` flag.
Its `slug` (the public address, /help/<slug>) is made unique from the title; it follows the title
while the article has never been published and stays put from its first publication on, so a link
given to a customer keeps working after the title is edited.

Every change is recorded on the audit trail (`kb.article_*`) and bumps one small counter document
(`revision`): the bot's article index rebuilds when it changes, instead of re-reading articles on
every question. Readers ("was this article helpful?") are counted per article, once per visitor
token (`feedback`).

The knowledge base is small (tens to a few thousand articles): listings read the matching
articles through an index and filter the search text in Python; retrieval for the bot and the
help center's search ranks in memory (bot/kb).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hub.audit import AuditLog
from hub.models import utcnow
from hub.store import Doc, DuplicateKeyError, ObjectId, Store, oid

MAX_TITLE = 200
MAX_BODY = 50_000
MAX_CATEGORY = 60
MAX_SLUG = 80
_LANGUAGE = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})?")
#: The counter document whose `seq` is the knowledge base's revision.
REVISION_ID = "kb_revision"
#: Indexes (Store.ensure_indexes): by slug (unique), the public listing and the trainer's list.
KB_PUBLISHED = [("published", 1), ("language", 1), ("category", 1), ("title", 1)]
KB_BY_UPDATED = [("updated_at", -1)]
FEEDBACK_BY_VISITOR = [("article_id", 1), ("visitor", 1)]
#: Addresses of the help center's own pages (/help/search), never an article's.
RESERVED_SLUGS = frozenset({"search", "static", "feedback"})
_FIELDS = ("title", "body", "category", "language", "published")


class ArticleError(ValueError):
    """An article that cannot be saved as given; the message says why."""


@dataclass(frozen=True)
class Article:
    id: str
    slug: str
    title: str
    body: str
    category: str
    language: str
    published: bool
    updated_at: datetime
    #: Readers who answered "was this article helpful?" with yes / no.
    helpful: int = 0
    not_helpful: int = 0

    @classmethod
    def of(cls, doc: Doc) -> Article:
        feedback = doc.get("feedback") or {}
        return cls(id=str(doc["_id"]), slug=doc["slug"], title=doc["title"], body=doc["body"],
                   category=doc["category"], language=doc["language"], published=bool(doc["published"]),
                   updated_at=doc["updated_at"], helpful=int(feedback.get("yes", 0)),
                   not_helpful=int(feedback.get("no", 0)))


def slugify(title: str) -> str:
    """A readable address from a title: ASCII letters, digits and dashes ("Reset your PIN?" → "reset-your-pin")."""
    text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode("ascii").lower()
    slug = re.sub(r"[^a-z0-9]+", "-", text).strip("-")[:MAX_SLUG].strip("-")
    if slug in RESERVED_SLUGS:
        slug += "-article"
    return slug or "article"


def validated(fields: dict[str, Any], *, partial: bool = False) -> dict[str, Any]:
    """The article fields cleaned and checked (`partial`: only those given)."""
    out: dict[str, Any] = {}
    unknown = set(fields) - set(_FIELDS)
    if unknown:
        raise ArticleError(f"unknown field(s): {', '.join(sorted(unknown))}")
    for name in _FIELDS:
        if name not in fields:
            if partial:
                continue
            if name != "published":
                raise ArticleError(f"{name}: required")
            out["published"] = False
            continue
        value = fields[name]
        if name == "published":
            if not isinstance(value, bool):
                raise ArticleError("published: true or false")
            out[name] = value
            continue
        if not isinstance(value, str):
            raise ArticleError(f"{name}: text")
        value = value.strip()
        if name == "title" and not 0 < len(value) <= MAX_TITLE:
            raise ArticleError(f"title: 1-{MAX_TITLE} characters")
        if name == "body" and not 0 < len(value) <= MAX_BODY:
            raise ArticleError(f"body: 1-{MAX_BODY} characters")
        if name == "category" and not 0 < len(value) <= MAX_CATEGORY:
            raise ArticleError(f"category: 1-{MAX_CATEGORY} characters")
        if name == "language":
            value = value.lower()
            if not _LANGUAGE.fullmatch(value):
                raise ArticleError("language: a language code such as en, de or pt-br")
        out[name] = value
    return out


class KnowledgeBase:
    """The articles (collection `kb_articles`); attribute `knowledge` of hub.hub.Hub."""

    def __init__(self, store: Store, audit: AuditLog) -> None:
        self.store = store
        self.collection = store.kb_articles
        self.feedback_votes = store.kb_feedback
        self.audit = audit
        self._published: list[Article] = []
        self._published_at = -1

    # -- reading -----------------------------------------------------------------------------

    async def get(self, article_id: str | ObjectId) -> Article | None:
        try:
            _id = oid(article_id)
        except ValueError:
            return None
        doc = await self.collection.find_one({"_id": _id})
        return Article.of(doc) if doc else None

    async def get_by_slug(self, slug: str) -> Article | None:
        doc = await self.collection.find_one({"slug": slug})
        return Article.of(doc) if doc else None

    async def list(self, *, published_only: bool = False, query: str | None = None, category: str | None = None,
                   language: str | None = None, limit: int = 50) -> list[Article]:
        """Articles, newest change first (published ones only: by category and title); `query`
        keeps those whose title, category or body contains it (case-insensitive)."""
        if published_only:
            filter_: Doc = {"published": True}
            if language:
                filter_["language"] = language
                if category:
                    filter_["category"] = category
            docs = await self.collection.find(filter_, sort=KB_PUBLISHED).to_list()
        else:
            docs = await self.collection.find({}, sort=KB_BY_UPDATED).to_list()
        articles = [Article.of(doc) for doc in docs]
        if category:
            articles = [a for a in articles if a.category == category]
        if language:
            articles = [a for a in articles if a.language == language]
        if query and query.strip():
            needle = query.strip().casefold()
            articles = [a for a in articles
                        if needle in a.title.casefold() or needle in a.category.casefold()
                        or needle in a.body.casefold()]
        return articles[:max(0, limit)]

    async def published(self, language: str | None = None) -> list[Article]:
        """Every published article (of one language), by category and title: what the bot indexes.

        Kept in memory per revision: while nothing changed (in any process: the revision is in the
        database), a call costs one lookup of the counter document instead of reading the articles.
        Their `helpful` counts may lag there (answers do not bump the revision); `get` reads them fresh."""
        revision = await self.revision()
        if self._published_at != revision:
            self._published = await self.list(published_only=True, limit=1_000_000)
            self._published_at = revision
        return [a for a in self._published if language is None or a.language == language]

    async def categories(self, language: str | None = None) -> list[str]:
        """The categories of published articles, sorted."""
        return sorted({a.category for a in await self.published(language)}, key=str.casefold)

    async def languages(self) -> list[str]:
        """The languages published articles are written in."""
        return sorted({a.language for a in await self.published()})

    async def revision(self) -> int:
        doc = await self.store.counters.find_one({"_id": REVISION_ID})
        return int(doc["seq"]) if doc else 0

    # -- writing -----------------------------------------------------------------------------

    async def create(self, *, title: str, body: str, category: str, language: str, published: bool,
                     actor: Doc | None, ip: str | None = None) -> Article:
        fields = validated({"title": title, "body": body, "category": category, "language": language,
                            "published": published})
        now = utcnow()
        doc: Doc = {**fields, "created_at": now, "updated_at": now, "created_by": _actor_id(actor),
                    "ever_published": fields["published"], "feedback": {"yes": 0, "no": 0}}
        await self._insert_with_unique_slug(doc)
        await self._changed("kb.article_created", doc, actor, ip, {"published": doc["published"]})
        return Article.of(doc)

    async def update(self, article_id: str | ObjectId, *, actor: Doc | None, ip: str | None = None,
                     **fields: Any) -> Article:
        """Change some of title, body, category, language and published; raises ArticleError
        (LookupError for an unknown article)."""
        changes = validated(fields, partial=True)
        current = await self._doc(article_id)
        if current is None:
            raise LookupError("no such article")
        changes["updated_at"] = utcnow()
        changes["updated_by"] = _actor_id(actor)
        if changes.get("published"):
            changes["ever_published"] = True
        if not current.get("ever_published") and "title" in changes and changes["title"] != current["title"]:
            # never published: nobody has the address yet, so it follows the title
            await self._set_with_unique_slug(current["_id"], changes, slugify(changes["title"]))
        else:
            await self.collection.update_one({"_id": current["_id"]}, {"$set": changes})
        doc = {**current, **changes}
        action = "kb.article_updated"
        if "published" in changes and changes["published"] != current["published"]:
            action = "kb.article_published" if changes["published"] else "kb.article_unpublished"
        await self._changed(action, doc, actor, ip, {"fields": sorted(k for k in fields if k in _FIELDS)})
        return Article.of(doc)

    async def delete(self, article_id: str | ObjectId, *, actor: Doc | None, ip: str | None = None) -> None:
        current = await self._doc(article_id)
        if current is None:
            raise LookupError("no such article")
        await self.collection.delete_one({"_id": current["_id"]})
        await self.feedback_votes.delete_many({"article_id": current["_id"]})
        await self._changed("kb.article_deleted", current, actor, ip, {})

    async def feedback(self, article_id: str, visitor: str, helpful: bool) -> bool:
        """A reader's "was this helpful?": counted once per visitor token and article (a second
        answer replaces the first). False for an article that is not published."""
        current = await self._doc(article_id)
        if current is None or not current.get("published"):
            return False
        key = {"article_id": current["_id"], "visitor": visitor}
        before = await self.feedback_votes.find_one(key)
        answer = "yes" if helpful else "no"
        if before is not None and before["answer"] == answer:
            return True
        inc = {f"feedback.{answer}": 1}
        if before is None:
            try:
                await self.feedback_votes.insert_one({**key, "answer": answer, "at": utcnow()})
            except DuplicateKeyError:  # the same visitor's other click, at the same moment
                return True
        else:
            await self.feedback_votes.update_one({"_id": before["_id"]}, {"$set": {"answer": answer, "at": utcnow()}})
            inc[f"feedback.{before['answer']}"] = -1
        await self.collection.update_one({"_id": current["_id"]}, {"$inc": inc})
        return True

    # -- internals ---------------------------------------------------------------------------

    async def _doc(self, article_id: str | ObjectId) -> Doc | None:
        try:
            _id = oid(article_id)
        except ValueError:
            return None
        doc: Doc | None = await self.collection.find_one({"_id": _id})
        return doc

    async def _insert_with_unique_slug(self, doc: Doc) -> None:
        base = slugify(doc["title"])
        for n in range(1, 1000):
            doc["slug"] = base if n == 1 else f"{base[:MAX_SLUG - 5]}-{n}"
            doc.pop("_id", None)
            try:
                result = await self.collection.insert_one(doc)
            except DuplicateKeyError:
                continue
            doc["_id"] = result.inserted_id
            return
        raise ArticleError("title: too many articles with this title")

    async def _set_with_unique_slug(self, _id: ObjectId, changes: Doc, base: str) -> None:
        for n in range(1, 1000):
            changes["slug"] = base if n == 1 else f"{base[:MAX_SLUG - 5]}-{n}"
            try:
                await self.collection.update_one({"_id": _id}, {"$set": changes})
            except DuplicateKeyError:
                continue
            return
        raise ArticleError("title: too many articles with this title")

    async def _changed(self, action: str, doc: Doc, actor: Doc | None, ip: str | None,
                       details: dict[str, Any]) -> None:
        await self.store.counters.update_one({"_id": REVISION_ID}, {"$inc": {"seq": 1}}, upsert=True)
        await self.audit.record(action, actor=actor, ip=ip, details=details,
                                target={"type": "article", "id": doc["_id"], "name": doc["title"]})


def _actor_id(actor: Doc | None) -> ObjectId | None:
    return actor.get("_id") if actor else None
