"""The built-in off-topic negatives: enough of them, from enough domains, clean, and no copy of the starter bot."""

from __future__ import annotations

import re
from collections import Counter
from importlib import resources

import pytest

from bot import offtopic
from bot.config import load_bot_config
from tests.bot.conftest import CONFIG_DIR

MIN_TOTAL = 1500
MIN_DOMAINS = 14
MIN_PER_DOMAIN = 60


def _tokens(text: str) -> frozenset[str]:
    return frozenset(re.findall(r"[a-z0-9]+", text.lower().replace("'", "")))


def test_enough_unique_utterances_across_enough_domains() -> None:
    pairs = offtopic.utterances()
    assert len(pairs) >= MIN_TOTAL
    assert len({offtopic.normalise(text) for _, text in pairs}) == len(pairs)
    per_domain = Counter(domain for domain, _ in pairs)
    assert sorted(per_domain) == offtopic.domains()
    assert len(per_domain) >= MIN_DOMAINS
    thin = {domain: n for domain, n in per_domain.items() if n < MIN_PER_DOMAIN}
    assert not thin, f"domains with fewer than {MIN_PER_DOMAIN} utterances: {thin}"


def test_files_hold_no_duplicates_within_or_across_domains() -> None:
    """The loader would drop them silently; the files themselves should not carry dead lines."""
    where: dict[str, list[str]] = {}
    for entry in resources.files("bot.offtopic").iterdir():
        if not entry.name.endswith(".txt"):
            continue
        for line in entry.read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                where.setdefault(offtopic.normalise(line), []).append(entry.name)
    repeated = {key: files for key, files in where.items() if len(files) > 1}
    assert not repeated
    assert len(where) == len(offtopic.utterances())


def test_every_utterance_is_a_sensible_length_and_every_file_says_what_it_is() -> None:
    for domain, text in offtopic.utterances():
        assert text.strip() == text and 0 < len(text) <= 200, (domain, text)
        assert "\t" not in text and not text.startswith("- "), (domain, text)
    for entry in resources.files("bot.offtopic").iterdir():
        if entry.name.endswith(".txt"):
            head = entry.read_text(encoding="utf-8").splitlines()[:3]
            assert any("Switchboard" in line and line.startswith("#") for line in head), entry.name


def test_domain_filter_and_unknown_domain() -> None:
    weather = offtopic.utterances(["weather"])
    assert weather and {domain for domain, _ in weather} == {"weather"}
    assert offtopic.utterances(offtopic.domains()) == offtopic.utterances()
    with pytest.raises(ValueError, match="wether"):
        offtopic.utterances(["wether"])


def test_no_negative_is_a_near_copy_of_a_starter_bot_example() -> None:
    """The negatives must teach "something else", never contradict an example the starter bot trains on.

    The starter bot's own ``out_of_scope`` examples are compared too: a negative that copies one of them
    adds nothing, and the starter bot's tests ask questions that must be answered without a verbatim twin.
    """
    examples = [
        (intent, text, _tokens(text))
        for intent, texts in load_bot_config(CONFIG_DIR).training_data.intents.items()
        for text in texts
    ]
    near: list[tuple[str, str, str]] = []
    for _, negative in offtopic.utterances():
        mine = _tokens(negative)
        for intent, text, theirs in examples:
            if mine and theirs and len(mine & theirs) / len(mine | theirs) >= 0.8:
                near.append((negative, intent, text))
    assert not near, near[:10]
