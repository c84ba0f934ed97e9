"""A PyMongo command listener counting the documents that reads returned: what a query really read from the server
(secantusd-py's `explain` can say index scan while it scans, so the benchmarks and cost tests count documents)."""

from __future__ import annotations

from pymongo import monitoring


class DocsRead(monitoring.CommandListener):
    """Counts the documents find/getMore/aggregate replies carry, of every collection or of `collection` only,
    and the commands sent (`commands`, of every collection)."""

    def __init__(self, collection: str | None = None) -> None:
        self.count = 0
        self.commands = 0
        self._suffix = f".{collection}" if collection else None

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.commands += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        cursor = event.reply.get("cursor") or {}
        if self._suffix is None or str(cursor.get("ns", "")).endswith(self._suffix):
            self.count += len(cursor.get("firstBatch") or cursor.get("nextBatch") or [])

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass
