"""Re-reads of an in-memory copy applied in the order they began, so a slow one never undoes a newer one.

Every process keeps some definitions in memory (widget sites, queues, ticket fields, automation rules, webhook
subscriptions) and reads them again when an event on the realtime bus says another process changed them, and
after its own changes. Two such reads can overlap (a burst of events, an event passing while the process saves),
and the one that began first may end last: applied blindly, the copy would go back to what the database held
before the newer read began (a revoked widget secret accepted again until the next change). Each read takes a
turn when it begins; its result is applied only if no read that began later has been applied already. A process
applies its own change by such a read too (begun after its write, so holding it and every other finished one),
never by editing its copy, which would drop another process's change an overlapping read was bringing.
"""

from __future__ import annotations


class LatestRead:
    """Turns for the reads of one in-memory copy (see the module). Not a lock: reads still run at once."""

    def __init__(self) -> None:
        self._begun = 0
        self._applied = 0

    def begin(self) -> int:
        """Take a turn just before reading."""
        self._begun += 1
        return self._begun

    def apply(self, turn: int) -> bool:
        """Whether the result of the read that took `turn` is to be applied (then it is the latest)."""
        if turn < self._applied:
            return False
        self._applied = turn
        return True
