"""httpkit.markdown: articles render as Markdown and nothing a browser would run survives."""

from __future__ import annotations

import re

import pytest

from httpkit.markdown import plain_text, render_html, snippet


@pytest.mark.parametrize("markdown", [
    "<script>alert(1)</script>", "[x](javascript:alert(1))", "[x](JaVaScRiPt:alert(1))", "![x](javascript:alert(1))",
    "<img src=x onerror=alert(1)>", '<a href="javascript:alert(1)">x</a>', "[x](data:text/html;base64,PHNjcmlwdD4=)",
    "<iframe src=https://evil.example></iframe>", "[x](vbscript:msgbox(1))", "<svg onload=alert(1)>",
    "[x](<javascript:alert(1)>)", "[x]: javascript:alert(1)\n\n[y][x]",
])
def test_nothing_runnable_survives(markdown: str) -> None:
    tags = re.findall(r"<[a-z][^>]*>", render_html(markdown))
    assert not [t for t in tags if re.search(r"script|data:|on[a-z]+=|<iframe|<svg", t, re.I)], tags


def test_markdown_renders_and_links_are_safe() -> None:
    html = render_html("# Title\n\nSome **bold**, `code` and a [link](https://example.com \"Ex\").\n\n"
                       "| a | b |\n|:-:|---|\n| 1 | 2 |\n\n- one\n- two\n\n> quoted")
    assert "<h1>Title</h1>" in html and "<strong>bold</strong>" in html and "<code>code</code>" in html
    assert '<a href="https://example.com" title="Ex" rel="noopener noreferrer nofollow">link</a>' in html
    assert '<th style="text-align:center">a</th>' in html and "<li>one</li>" in html and "<blockquote>" in html


def test_snippets_are_the_opening_prose_cut_at_a_word() -> None:
    body = "## Heading\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\nFirst *paragraph* here.\n\n```\ncode\n```\n\nSecond one."
    assert snippet(body) == "First paragraph here. Second one."
    assert snippet("word " * 100, 22) == "word word word word…"
    assert plain_text("A [link](https://x) & <b>") == "A link & <b>"
