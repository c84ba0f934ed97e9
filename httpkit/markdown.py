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


def plain_text(markdown: str, limit: int | None = None) -> str:
    """The text of a Markdown body without markup, whitespace collapsed (a snippet with `limit`)."""
    text = nh3.clean(_MD.render(markdown), tags=set())
    text = _TAG.sub(" ", text)
    text = " ".join(text.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"')
                    .replace("&#39;", "'").split())
    if limit is not None and len(text) > limit:
        cut = text[:limit].rsplit(" ", 1)[0].rstrip(",.;:")
        text = cut + "…"
    return text
