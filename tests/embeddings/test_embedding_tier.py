"""The accurate tier's plumbing (cache, feature stacking, versions) with a small fake encoder.

The real all-MiniLM-L6-v2 encoder needs torch, which CI does not install; it is
exercised by `benchmarks/nlu_banking77.sh` (see the README figures). The fake below
implements the same `Encoder` port: hashed bag-of-words vectors, L2-normalised.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bot.config import load_bot_config
from bot.nlu.builtin import BuiltinNLU
from bot.nlu.classifier import ClassifierParams, IntentClassifier
from bot.nlu.embeddings import CachedEncoder, EmbeddingCache, text_key
from bot.nlu.tiers import embeddings_nlu
from tests.bot.conftest import CONFIG_DIR


class HashingEncoder:
    """`Encoder` fake: each word maps to a fixed pseudo-random vector; a text is their normalised sum."""

    def __init__(self, name: str = "fake-hashing", dims: int = 32) -> None:
        self.name = name
        self.dims = dims
        self.calls: list[list[str]] = []

    def _word(self, word: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.sha256(word.encode()).digest()[:4], "little")
        return np.random.default_rng(seed).standard_normal(self.dims)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        rows = []
        for text in texts:
            v = sum((self._word(w) for w in text.lower().split()), np.zeros(self.dims))
            rows.append(v / (np.linalg.norm(v) or 1.0))
        return np.asarray(rows, dtype=np.float32).reshape(len(texts), self.dims)


TEXTS = ["lost my card", "card stolen", "where is my card", "send money", "transfer cash", "pay my friend"]
LABELS = ["card", "card", "card", "transfer", "transfer", "transfer"]


def test_cache_embeds_only_new_texts_and_survives_a_restart(tmp_path: Path) -> None:
    fake = HashingEncoder()
    cached = CachedEncoder(fake, tmp_path)
    first = cached.encode([*TEXTS, TEXTS[0]])  # a duplicate is embedded once
    assert fake.calls == [TEXTS] and cached.last_encoded == len(TEXTS)
    np.testing.assert_allclose(first[0], first[-1])
    np.testing.assert_allclose(first, fake.encode([*TEXTS, TEXTS[0]]), rtol=1e-6)

    again = cached.encode([*TEXTS, "block my card"])
    assert fake.calls[-1] == ["block my card"] and cached.last_encoded == 1
    np.testing.assert_allclose(again[: len(TEXTS)], first[: len(TEXTS)])

    reopened = HashingEncoder()
    assert CachedEncoder(reopened, tmp_path).encode(list(reversed(TEXTS))).shape == (len(TEXTS), 32)
    assert reopened.calls == []  # everything came from disk
    assert [p.name for p in tmp_path.iterdir()] == ["fake-hashing.npz"]  # no temporary files left


def test_cache_keys_depend_on_the_encoder(tmp_path: Path) -> None:
    assert text_key("a", "hello") != text_key("b", "hello")
    CachedEncoder(HashingEncoder("model-a"), tmp_path).encode(TEXTS)
    other = HashingEncoder("model-b")
    CachedEncoder(other, tmp_path).encode(TEXTS)
    assert other.calls == [TEXTS]
    assert len(EmbeddingCache(tmp_path, "model-a")) == len(EmbeddingCache(tmp_path, "model-b")) == len(TEXTS)


def test_single_messages_at_parse_time_are_not_cached(tmp_path: Path) -> None:
    cached = CachedEncoder(HashingEncoder(), tmp_path)
    assert cached.encode(["just one"]).shape == (1, 32)
    assert not (tmp_path / "fake-hashing.npz").exists()


def test_classifier_stacks_embeddings_with_tfidf() -> None:
    fake = HashingEncoder()
    params = ClassifierParams(calibration_folds=0)
    with_emb = IntentClassifier(params, fake).fit(TEXTS, LABELS)
    assert fake.calls == [TEXTS]
    assert with_emb.predict(["my card was stolen", "transfer money"]) == ["card", "transfer"]
    assert fake.calls[-1] == ["my card was stolen", "transfer money"]
    # the embedding block really is part of the features: the scores differ from the sparse-only model
    plain = IntentClassifier(params).fit(TEXTS, LABELS)
    assert not np.allclose(with_emb.predict_proba(["card stolen"]), plain.predict_proba(["card stolen"]))


async def test_embeddings_nlu_trains_on_the_starter_data_and_reuses_the_cache(tmp_path: Path) -> None:
    config = load_bot_config(CONFIG_DIR)
    fake = HashingEncoder()
    nlu = embeddings_nlu(tmp_path, synonyms=config.synonyms, encoder=fake)
    version = await nlu.train(config.training_data)
    unique = {t for examples in config.training_data.intents.values() for t in examples}
    assert len(fake.calls) == 1 and sorted(fake.calls[0]) == sorted(unique)

    parsed = await nlu.parse("where is my order 12345")
    assert parsed.intent is not None and parsed.intent.name == "order_status"
    assert [(e.type, e.value) for e in parsed.entities] == [("order_number", "12345")]

    # a trainer adds one example: only that one is embedded again
    data = config.training_data
    data.intents["order_status"].append("has my parcel left the warehouse")
    second = embeddings_nlu(tmp_path, synonyms=config.synonyms, encoder=fake)
    new_version = await second.train(data)
    assert new_version != version and fake.calls[-1] == ["has my parcel left the warehouse"]
    assert len(EmbeddingCache(tmp_path, fake.name)) == len(unique) + 1

    default = BuiltinNLU(synonyms=config.synonyms)
    assert await default.train(data) != new_version  # the encoder is part of the version id


def test_tier_weights_are_used(tmp_path: Path) -> None:
    nlu = embeddings_nlu(tmp_path, encoder=HashingEncoder())
    assert nlu.params.embedding_weight > 0
    assert nlu.encoder is not None and nlu.encoder.name == "fake-hashing"


def test_training_reports_embedding_progress_then_model_progress() -> None:
    fake = HashingEncoder()
    seen: list[tuple[float, str]] = []
    texts = [f"{t} {n}" for n in range(3) for t in TEXTS]  # 18 examples, embedded in chunks of 5
    labels = LABELS * 3
    clf = IntentClassifier(ClassifierParams(calibration_folds=2), fake)
    clf._embed(texts, lambda f, m: seen.append((f, m)), chunk=5)
    assert [len(c) for c in fake.calls] == [5, 5, 4, 4]
    assert [f for f, _ in seen] == sorted(f for f, _ in seen) and seen[-1][0] < 0.5
    assert seen[0][1] == "embedding examples 1-5 of 18"

    seen.clear()
    clf.fit(texts, labels, lambda f, m: seen.append((f, m)))
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert seen[0][1].startswith("embedding") and any(f == 0.5 and "training" in m for f, m in seen)
