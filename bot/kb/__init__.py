"""The knowledge base in the bot: retrieval over help-center articles (BM25, optional dense tier)."""

from bot.kb.index import ArticleIndex, ArticleLike, Hit, markdown_text

__all__ = ["ArticleIndex", "ArticleLike", "Hit", "markdown_text"]
