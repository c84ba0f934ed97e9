"""Every reason a ticket can be opened for has words in the desk (agents read words, not codes)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from bot.policy import Reason
from channels.email.inbound import TOO_MANY_BOT_ANSWERS
from hub.outbound import REASON as OUTBOUND

ROOT = Path(__file__).resolve().parent.parent


def _policy_escalation_reasons() -> set[str]:
    """The `Reason` of every `self._escalate(...)` call in the bot's policy (its fourth argument)."""
    tree = ast.parse((ROOT / "bot" / "policy.py").read_text())
    found = set()
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "_escalate"
                and len(node.args) >= 4 and isinstance(node.args[3], ast.Attribute)):
            found.add(getattr(Reason, node.args[3].attr))
    return found


def _desk_labels() -> set[str]:
    source = (ROOT / "agents_ui" / "static" / "desk.js").read_text()
    block = re.search(r"const REASONS = \{(.*?)\};", source, re.S)
    assert block, "desk.js has no REASONS table"
    return set(re.findall(r"(\w+):\s*\"", block.group(1)))


def test_every_ticket_reason_has_words_in_the_desk() -> None:
    from_policy = _policy_escalation_reasons()
    assert {Reason.HUMAN_REQUESTED, Reason.NO_RESPONSE, Reason.NLU_UNAVAILABLE} <= from_policy  # the walk works
    # the hub's and the channels' own: the pipeline's fallback, a reply to a closed ticket, a split, the email
    # channel's mailbox without a bot and its sender the bot stopped answering, a ticket an agent started
    others = {"escalated", "reply_after_close", "split", "email", TOO_MANY_BOT_ANSWERS, OUTBOUND}
    missing = (from_policy | others) - _desk_labels()
    assert not missing, f"desk.js REASONS has no words for {sorted(missing)}"
