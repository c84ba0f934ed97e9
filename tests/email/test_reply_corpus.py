"""Quoted history out, the customer's own words kept: every reply format in tests/email/replies/.

The corpus holds top-posted, bottom-posted and interleaved replies from the common clients in
several languages (see its README). Each case states exactly what the agent must see.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from channels.email.quoting import strip_reply

CORPUS = Path(__file__).parent / "replies"


def load(path: Path) -> tuple[str, str]:
    """(reply, expected) from a corpus file: comment lines, `--- reply`, body, `--- expected`, body."""
    text = path.read_text(encoding="utf-8")
    _, rest = text.split("--- reply\n", 1)
    reply, expected = rest.split("--- expected\n", 1)
    return reply.rstrip("\n"), expected.rstrip("\n")


CASES = sorted(CORPUS.glob("*.txt"))


def test_the_corpus_covers_the_common_clients_and_styles() -> None:
    names = " ".join(p.stem for p in CASES)
    for client in ("gmail", "outlook", "apple", "thunderbird", "yahoo", "samsung", "gmx"):
        assert client in names, client
    for style in ("top", "bottom", "interleaved"):
        assert style in names, style
    assert len(CASES) >= 30


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_reply_format(path: Path) -> None:
    reply, expected = load(path)
    assert strip_reply(reply) == expected
