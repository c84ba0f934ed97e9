"""HTML mail to readable plain text, keeping what quote stripping needs to see.

Quoted history in HTML mail lives in `<blockquote>` (Apple Mail, Thunderbird) or
`<div class="gmail_quote">` (Gmail); its lines come out prefixed with `> ` so
`quoting.strip_reply` treats them like a plain-text reply. Signature blocks
that clients mark (`gmail_signature`, Outlook's `#Signature`) can be dropped.
The standard library's `HTMLParser` is used: it copes with broken markup.
"""

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser

#: Elements that end a line, and those that also leave a blank line (paragraphs).
_BLOCK = {
    "address", "article", "aside", "dd", "div", "dl", "dt", "fieldset", "figure", "footer", "form", "header",
    "li", "main", "nav", "section", "tr",
}
_PARAGRAPH = {"blockquote", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "ol", "p", "pre", "table", "ul"}
_SKIP = {"head", "script", "style", "template", "title", "xml", "o:p"}
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr"}
_QUOTE_CLASSES = ("gmail_quote", "yahoo_quoted", "moz-cite-prefix")
_SIGNATURE_CLASSES = ("gmail_signature", "moz-signature")
_SIGNATURE_IDS = ("signature", "signature_bookmark", "appendonsend")
_TAG = re.compile(r"<[^>]*>")


class _Extractor(HTMLParser):
    def __init__(self, drop_signatures: bool) -> None:
        super().__init__(convert_charrefs=True)
        self.drop_signatures = drop_signatures
        self.lines: list[str] = []
        self.current: list[str] = []
        #: Open elements, each with what it switched on (quote, skip, pre).
        self.stack: list[tuple[str, bool, bool, bool]] = []
        self.quote = 0
        self.skip = 0
        self.pre = 0
        self.href: str | None = None
        self.link_text: list[str] = []

    def _line(self) -> None:
        """End the current line, if it has text."""
        text = "".join(self.current)
        if not self.pre:
            text = " ".join(text.split())
        if text:
            self.lines.append("> " * self.quote + text)
        self.current = []

    def _blank(self) -> None:
        """End the line and leave one blank line (never two in a row)."""
        self._line()
        if self.lines and self.lines[-1].strip("> "):
            self.lines.append((">" * self.quote).strip())

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        tag = tag.lower()
        values = {k.lower(): (v or "") for k, v in attrs}
        classes = values.get("class", "").lower()
        ident = values.get("id", "").lower()
        if tag == "br":
            if "".join(self.current).strip():
                self._line()
            else:
                self._blank()
        elif tag in _PARAGRAPH:
            self._blank()
        elif tag in _BLOCK:
            self._line()
        if tag == "a":
            self.href = values.get("href")
            self.link_text = []
        if tag in _VOID:
            return
        is_quote = tag == "blockquote" or any(c in classes for c in _QUOTE_CLASSES)
        is_skip = tag in _SKIP or (self.drop_signatures and (
            any(c in classes for c in _SIGNATURE_CLASSES) or ident in _SIGNATURE_IDS))
        is_pre = tag == "pre"
        self.stack.append((tag, is_quote, is_skip, is_pre))
        self.quote += is_quote
        self.skip += is_skip
        self.pre += is_pre

    def handle_endtag(self, tag: str) -> None:
        tag = tag.lower()
        if tag == "a" and self.href is not None:
            text = "".join(self.link_text).strip()
            href = self.href.strip()
            if href.startswith(("http://", "https://")) and href != text and text and not self.skip:
                self.current.append(f" ({href})")
            self.href = None
        if tag in _PARAGRAPH:
            self._blank()
        elif tag in _BLOCK:
            self._line()
        if not any(open_tag == tag for open_tag, *_ in self.stack):
            return
        while self.stack:
            open_tag, is_quote, is_skip, is_pre = self.stack.pop()
            self.quote -= is_quote
            self.skip -= is_skip
            self.pre -= is_pre
            if open_tag == tag:
                break

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        if self.pre:
            parts = data.split("\n")
            for i, part in enumerate(parts):
                if i:
                    if "".join(self.current).strip():
                        self._line()
                    else:
                        self._blank()
                self.current.append(part)
        else:
            self.current.append(data.replace("\xa0", " "))
        if self.href is not None:
            self.link_text.append(data)

    def text(self) -> str:
        self._line()
        while self.lines and not self.lines[-1].strip("> "):
            self.lines.pop()
        return "\n".join(line.rstrip() for line in self.lines).strip("\n")


def html_to_text(html: str, *, drop_signatures: bool = False) -> str:
    """Readable text of an HTML body; quoted history as `> ` lines. Never raises."""
    parser = _Extractor(drop_signatures)
    try:
        parser.feed(html)
        parser.close()
    except (AssertionError, ValueError, IndexError):
        # The parser gave up on some markup (odd marked sections): strip tags crudely instead.
        return " ".join(unescape(_TAG.sub(" ", html)).split())
    return parser.text()
