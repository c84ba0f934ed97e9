"""An escalation's reads that need no transaction, started before it.

An escalation that opens a ticket is answered after its transaction's round trips one after the other; two
of its reads do not need the transaction's snapshot, so they run beside its first statements instead:

- the conversation's messages so far (the ticket's words): all stored already (the customer's at ingest), and
  the transaction writes none before it reads them;
- the tickets still waiting in the queue the bot asked for, created before the reads started (the customer's
  place in line): the transaction writes none of them, and a ticket created between this read and the new
  ticket is the same few milliseconds of race a read inside the transaction has between its snapshot and the
  ticket's time (longer when the transaction is retried; the widget's banner then shows the place the line gives,
  hub.waitannouncer). It answers only for a ticket opened after it, in that queue
  (`position_for`); a ticket the conversation joins, or a fallback queue, is read inside the transaction as
  before.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hub.store import Doc


@dataclass
class ReadsAhead:
    texts: asyncio.Task[list[str]]
    #: The queue the bot asked for, and when the waiting read started.
    queue: str
    since: datetime
    #: How many of `queue`'s tickets, created before `since`, wait for an agent.
    waiting: asyncio.Task[int]

    def position_for(self, ticket: Doc) -> asyncio.Task[int] | None:
        """The waiting read, if it answers for this ticket: opened after it started, in its queue."""
        if ticket["queue"] == self.queue and ticket["created_at"] >= self.since:
            return self.waiting
        return None

    def let_go(self) -> None:
        """Cancel what the transaction did not wait for (it stopped before), and take the error of what failed,
        so that nothing is left running or reported as never retrieved."""
        for task in (self.texts, self.waiting):
            _let_go(task)


def _let_go(task: asyncio.Task[Any]) -> None:
    if not task.done():
        task.cancel()
    elif not task.cancelled():
        task.exception()
