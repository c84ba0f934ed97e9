"""The built-in NLU's tiers, assembled: the embeddings tier is the built-in NLU plus an encoder.

Kept apart from `builtin` and `embeddings` so that neither imports the other: the built-in
NLU takes any `Encoder`, and the encoder module knows nothing of the classifier around it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from bot.nlu.builtin import BuiltinNLU
from bot.nlu.classifier import EMBEDDINGS_PARAMS
from bot.nlu.embeddings import CachedEncoder, Encoder, MiniLMEncoder, default_cache_dir


def embeddings_nlu(
    cache_dir: Path | str | None = None,
    synonyms: Mapping[str, list[str]] | None = None,
    encoder: Encoder | None = None,
    ranking_length: int = 10,
) -> BuiltinNLU:
    """The built-in NLU with the embedding tier switched on (MiniLM unless `encoder` is given)."""
    cached = CachedEncoder(encoder or MiniLMEncoder(), cache_dir or default_cache_dir())
    return BuiltinNLU(EMBEDDINGS_PARAMS, synonyms=synonyms, ranking_length=ranking_length, encoder=cached)
