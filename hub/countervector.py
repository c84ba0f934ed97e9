"""Bucket counters summed as numpy vectors: the history's hot loop at C speed.

A 90-day history at 200,000 tickets sums about 50,000 counters (90 day buckets of ~400 counters each,
most of them histogram bins, plus every agent's counters) and reads 400 percentiles from the histograms.
Done name by name in Python that was about two thirds of the request's time; here each bucket is one
`np.fromiter` of its column numbers and values and one vector addition.

Every counter name ever seen gets a column, for the life of the process (`COLUMNS`). The names are a
bounded set: the counters of `hub.metricdefs` and the histograms' bins (`fr_<n>`, `rs_<n>`, a few hundred
each for durations up to a year).

The sums are the same floats as a name-by-name sum: each column adds the buckets' values one at a time,
in the order they are added.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from hub.metricdefs import bin_value, nearest_rank

#: The histograms a vector holds: the prefix of their bins' names (`fr_12`: first response, bin 12).
HISTOGRAMS = ("fr", "rs")


class Columns(dict[str, int]):
    """Counter name -> column; a name not seen before gets the next column (`__missing__`)."""

    def __init__(self) -> None:
        super().__init__()
        self._bins: dict[str, tuple[np.ndarray, list[int]]] = {}
        self._bins_at = -1

    def __missing__(self, name: str) -> int:
        column = self[name] = len(self)
        return column

    def bins(self, histogram: str) -> tuple[np.ndarray, list[int]]:
        """The columns of a histogram's bins in bin order, and their bin numbers (recomputed when names were added)."""
        if self._bins_at != len(self):
            found: dict[str, list[tuple[int, int]]] = {prefix: [] for prefix in HISTOGRAMS}
            for name, column in self.items():
                prefix, sep, number = name.partition("_")
                if sep and prefix in found and number.isdigit():
                    found[prefix].append((int(number), column))
            self._bins = {}
            for prefix, pairs in found.items():
                pairs.sort()
                self._bins[prefix] = (np.array([c for _, c in pairs], dtype=np.intp), [n for n, _ in pairs])
            self._bins_at = len(self)
        return self._bins[histogram]


COLUMNS = Columns()


class CounterVector:
    """Summed counters by name, kept as one float vector over `COLUMNS`."""

    __slots__ = ("_cumulative", "v")

    def __init__(self) -> None:
        self.v = np.zeros(max(len(COLUMNS), 64))
        self._cumulative: dict[str, np.ndarray] = {}

    def _fit(self) -> None:
        if len(self.v) < len(COLUMNS):
            self.v = np.concatenate((self.v, np.zeros(len(COLUMNS) - len(self.v) + 64)))

    def add(self, counters: Mapping[str, float]) -> None:
        """Add a bucket's counters (name -> value)."""
        if not counters:
            return
        columns = np.fromiter(map(COLUMNS.__getitem__, counters), np.intp, len(counters))
        self._fit()
        self.v[columns] += np.fromiter(counters.values(), np.float64, len(counters))
        self._cumulative.clear()

    def merge(self, other: CounterVector) -> None:
        """Add another vector's sums."""
        if len(other.v) > len(self.v):
            self.v = np.concatenate((self.v, np.zeros(len(other.v) - len(self.v))))
        self.v[:len(other.v)] += other.v
        self._cumulative.clear()

    def get(self, name: str) -> float:
        column = COLUMNS.get(name)
        return float(self.v[column]) if column is not None and column < len(self.v) else 0.0

    def percentile(self, histogram: str, q: float) -> float | None:
        """The q-quantile of a histogram (`fr`, `rs`), as `hub.metricdefs.histogram_percentile` reads it."""
        columns, numbers = COLUMNS.bins(histogram)
        if not numbers:
            return None
        cached = self._cumulative.get(histogram)
        if cached is not None and len(cached) == len(columns):
            cumulative = cached
        else:  # kept until the next addition, or until another vector's new bins change the columns
            self._fit()
            cumulative = self._cumulative[histogram] = np.cumsum(self.v[columns])
        total = float(cumulative[-1])
        if total <= 0:
            return None
        reached = cumulative >= nearest_rank(round(total), q)
        if reached.any():
            return round(bin_value(numbers[int(reached.argmax())]), 3)
        counts = self.v[columns]
        return round(bin_value(numbers[int(np.flatnonzero(counts)[-1])]), 3)
