"""policy.yml `kb:` (help-center articles in the bot): parsed, defaulted, refused with a reason."""

from __future__ import annotations

import pytest
import yaml

from bot.config import KbPolicy, dump_policy, load_bot_config, parse_policy
from bot.training_data import TrainingDataError
from tests.conftest import ROOT


def test_kb_settings_are_read_and_round_trip() -> None:
    policy = parse_policy({"kb": {"enabled": False, "min_score": 4.5, "revision_ttl_seconds": 0}})
    assert policy.kb == KbPolicy(enabled=False, min_score=4.5, revision_ttl_seconds=0.0)
    assert parse_policy(yaml.safe_load(dump_policy(policy))) == policy
    assert parse_policy({}).kb == KbPolicy()


def test_the_starter_bot_offers_articles() -> None:
    kb = load_bot_config(ROOT / "config" / "bot").policy.kb
    assert kb.enabled and kb.min_score == 6.0


@pytest.mark.parametrize("raw", [["min_score"], {"min_score": "high"}, {"min_score": -1}, {"revision_ttl_seconds": -5}])
def test_bad_kb_settings_say_why(raw: object) -> None:
    with pytest.raises(TrainingDataError, match="kb"):
        parse_policy({"kb": raw})
