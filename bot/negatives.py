"""Built-in negatives: off-topic utterances the built-in NLU learns as out-of-scope by default.

The utterances ship with the package (`bot.offtopic`, one text file per domain). Training adds
them to the policy's out-of-scope intent (`out_of_scope_intent`, default ``out_of_scope``)
unless `policy.yml` says ``builtin_negatives: false``; a trainer can exclude single ones
(``excluded_negatives:``, a list of texts) when they clash with the bot's own intents.

Clash review: a negative clashes when it is a near duplicate of one of the trainer's
examples, by cosine similarity of TF-IDF vectors (word 1-2 grams, the classifier's own
normalisation) at or above `CLASH_SIMILARITY` (0.6). At that level two texts share most
of their words ("how do I reset my card pin" / "how do I reset my pin"); paraphrases with
different words stay below it.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from bot.nlu.base import TrainingData
from bot.nlu.classifier import WORD_TOKENS, normalise

#: Cosine similarity (TF-IDF word 1-2 grams) from which a negative counts as a near duplicate.
CLASH_SIMILARITY = 0.6


@functools.cache
def builtin() -> tuple[tuple[str, str], ...]:
    """Every shipped negative as (domain, text); empty when the package data is missing."""
    try:
        from bot import offtopic  # type: ignore[attr-defined]
    except ImportError:
        return ()
    return tuple((str(d), str(t)) for d, t in offtopic.utterances())


def key(text: str) -> str:
    """Exclusions match texts case- and space-insensitively."""
    return " ".join(text.lower().split())


def active(excluded: Collection[str] = ()) -> list[str]:
    """The negatives used for training: all shipped ones less the excluded ones."""
    skip = {key(t) for t in excluded}
    return [t for _d, t in builtin() if key(t) not in skip]


def with_negatives(
    data: TrainingData, oos_intent: str, *, enabled: bool = True, excluded: Collection[str] = ()
) -> TrainingData:
    """`data` plus the active negatives as examples of `oos_intent` (a new object; `data` is kept).

    A negative equal to one of the trainer's examples (of any intent) is left out: the
    trainer's word wins.
    """
    if not enabled:
        return data
    negatives = active(excluded)
    if not negatives:
        return data
    seen = {key(t) for examples in data.intents.values() for t in examples}
    intents = {name: list(examples) for name, examples in data.intents.items()}
    added = [t for t in negatives if key(t) not in seen]
    intents.setdefault(oos_intent, []).extend(added)
    return TrainingData(intents=intents, regexes=data.regexes, lookups=data.lookups, annotations=data.annotations,
                        negatives=data.negatives | frozenset(added))


def negatives_mask(data: TrainingData, texts: Sequence[str]) -> list[bool]:
    """For flattened `texts` of `data`: which are built-in negatives."""
    return [t in data.negatives for t in texts]


@dataclass(frozen=True)
class Clash:
    """A built-in negative that nearly duplicates one of the trainer's examples."""

    text: str
    domain: str
    intent: str
    example: str
    similarity: float
    excluded: bool

    def as_dict(self) -> dict[str, object]:
        return {"text": self.text, "domain": self.domain, "intent": self.intent, "example": self.example,
                "similarity": round(self.similarity, 3), "excluded": self.excluded}


def clashes(
    data: TrainingData,
    oos_intent: str,
    *,
    excluded: Collection[str] = (),
    negatives: Sequence[tuple[str, str]] | None = None,
    threshold: float = CLASH_SIMILARITY,
) -> list[Clash]:
    """Negatives whose nearest trainer example (outside `oos_intent`) is at least `threshold` similar.

    Most similar first; excluded negatives are listed too (marked), so they can be put back.
    """
    pool = list(builtin() if negatives is None else negatives)
    examples = [(name, t) for name, texts in data.intents.items() if name != oos_intent for t in texts]
    if not pool or not examples:
        return []
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, token_pattern=WORD_TOKENS,
                                 preprocessor=normalise)
    vectorizer.fit([t for _n, t in examples] + [t for _d, t in pool])
    similarity = (vectorizer.transform([t for _d, t in pool]) @ vectorizer.transform([t for _n, t in examples]).T)
    similarity = similarity.tocsr()
    skip = {key(t) for t in excluded}
    found: list[Clash] = []
    for row in range(similarity.shape[0]):
        start, end = similarity.indptr[row], similarity.indptr[row + 1]
        if start == end:
            continue
        values = similarity.data[start:end]
        best = int(np.argmax(values))
        score = float(values[best])
        if score < threshold:
            continue
        name, example = examples[int(similarity.indices[start + best])]
        domain, text = pool[row]
        found.append(Clash(text, domain, name, example, score, key(text) in skip))
    found.sort(key=lambda c: (-c.similarity, c.text))
    return found
