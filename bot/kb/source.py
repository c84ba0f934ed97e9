"""The bot's copy of the published help-center articles, rebuilt when the store's revision changes.

`KnowledgeSource` is the part of `hub.knowledge.KnowledgeBase` the bot reads. The revision is asked
for at most once per `ttl` seconds, and only when the bot is about to offer an article (a fallback),
so a normal answer costs no database command; the index is rebuilt (in a thread) only when the
revision moved. The project's own 47 shop articles (bot/kb/evalset) are indexed beside the
published ones as a background corpus for word statistics only (never offered): BM25's idf
depends on how many articles there are, and with them `kb.min_score` means the same for a help
center of 3 articles as for one of 300.
Links are `{public_url}/help/{slug}`, relative `/help/{slug}` without a public URL.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any, Protocol

from bot.kb.index import ArticleIndex, Hit

_BACKGROUND: list[Any] = []


def background() -> list[Any]:
    """The evaluation set's 47 shop articles: word statistics for small knowledge bases (read once)."""
    if not _BACKGROUND:
        from bot.kb.evaluation import load_articles

        _BACKGROUND.extend(load_articles())
    return _BACKGROUND


class KnowledgeSource(Protocol):
    async def published(self, language: str | None = None) -> Sequence[Any]: ...

    async def revision(self) -> int: ...


class ArticleFinder:
    def __init__(self, source: KnowledgeSource, public_url: str | None = None, encoder: Any | None = None) -> None:
        self.source = source
        self.base = (public_url or "").rstrip("/")
        self.encoder = encoder
        self._index: ArticleIndex | None = None
        self._revision: int | None = None
        self._checked = float("-inf")
        self._lock = asyncio.Lock()

    def url(self, slug: str) -> str:
        return f"{self.base}/help/{slug}"

    async def index(self, ttl: float) -> ArticleIndex:
        """The index of the published articles, at most `ttl` seconds behind the store."""
        if self._index is not None and time.monotonic() - self._checked < ttl:
            return self._index
        async with self._lock:
            if self._index is None or time.monotonic() - self._checked >= ttl:
                revision = await self.source.revision()
                if revision != self._revision or self._index is None:
                    articles = [a for a in await self.source.published() if getattr(a, "published", True)]
                    self._index = await asyncio.to_thread(self._build, articles)
                    self._revision = revision
                self._checked = time.monotonic()
            return self._index

    def _build(self, articles: list[Any]) -> ArticleIndex:
        return ArticleIndex(articles, encoder=self.encoder, background=background())

    async def best(self, question: str, min_score: float, ttl: float) -> dict[str, str] | None:
        """The best article for `question` as an offer payload, if its BM25 score reaches `min_score`."""
        index = await self.index(ttl)
        if not len(index):
            return None
        if self.encoder is not None:  # the dense tier embeds the question: not on the event loop
            hits: list[Hit] = await asyncio.to_thread(index.search, question, 1)
        else:
            hits = index.search(question, 1)
        if not hits or hits[0].score < min_score:
            return None
        a = hits[0].article
        return {"slug": a.slug, "title": a.title, "url": self.url(a.slug), "snippet": hits[0].snippet}
