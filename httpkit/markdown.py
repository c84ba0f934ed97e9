"""Markdown to safe HTML: the one renderer of help-center articles (public pages and the editor's preview).

markdown-it-py (CommonMark, plus tables and strikethrough) renders with raw HTML switched off,
so `<script>` in an article is shown as text; nh3 (the Rust `ammonia` sanitiser) then keeps only
the tags and attributes an article needs, only http(s) and mailto links (no `javascript:`,
`data:`), and gives every link `rel="noopener noreferrer nofollow"`. Either alone would do for
scripts; both together also survive a future change of either's defaults.
"""

from __future__ import annotations

import re

import nh3
from markdown_it import MarkdownIt

_MD = MarkdownIt("commonmark", {"html": False, "typographer": True}).enable(["table", "strikethrough",
                                                                             "replacements", "smartquotes"])
TAGS = {"p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "del", "s", "code", "pre",
        "blockquote", "ul", "ol", "li", "a", "img", "table", "thead", "tbody", "tr", "th", "td"}
ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title"}, "ol": {"start"},
              "th": {"style"}, "td": {"style"}}
URL_SCHEMES = {"http", "https", "mailto"}
_TAG = re.compile(r"<[^>]+>")
_MARKUP = re.compile(r"[*_`#>|~\[\]]+|!\[|\]\([^)]*\)")


def render_html(markdown: str) -> str:
    """Sanitised HTML of a Markdown text (safe to place inside a page as is)."""
    raw = _MD.render(markdown)
    return nh3.clean(raw, tags=TAGS, attributes=ATTRIBUTES, url_schemes=URL_SCHEMES,
                     link_rel="noopener noreferrer nofollow", filter_style_properties={"text-align"})


def snippet(markdown: str, limit: int = 160) -> str:
    """The article's opening prose (paragraphs and list items; no headings, tables or code) as plain
    text, cut at a word before `limit` characters: what listings show under a title."""
    parts: list[str] = []
    tokens = _MD.parse(markdown)
    in_table = False
    for i, token in enumerate(tokens):
        if token.type in ("table_open", "table_close"):
            in_table = token.type == "table_open"
        if (token.type == "inline" and not in_table and i and tokens[i - 1].type == "paragraph_open"
                and token.children is not None):
            parts.append("".join(c.content if c.type in ("text", "code_inline") else " "
                                 for c in token.children if c.type in ("text", "code_inline", "softbreak")))
        if sum(len(p) for p in parts) > limit:
            break
    text = " ".join(" ".join(parts).split())
    return _cut(text or plain_text(markdown), limit)


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0].rstrip(",.;:") + "…"


def plain_text(markdown: str, limit: int | None = None) -> str:
    """The text of a Markdown body without markup, whitespace collapsed (a snippet with `limit`)."""
    text = nh3.clean(_MD.render(markdown), tags=set())
    text = _TAG.sub(" ", text)
    text = " ".join(text.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"')
                    .replace("&#39;", "'").split())
    return text if limit is None else _cut(text, limit)
