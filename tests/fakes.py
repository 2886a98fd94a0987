"""A deterministic stand-in for the embedding model, for tests of chunking, storing and bookkeeping (not of meaning)."""

from __future__ import annotations

import hashlib

import numpy as np

from assistant.settings import Settings
from ingest import Ingestor, IngestReport
from ingest.embedding import Embedder

# The backend the fake records in a collection's identity: a store it filled never passes for a real model's.
FAKE_BACKEND = "sha256"


class HashEncoder:
    """The Encoder protocol: one unit vector per text, and one per token of the model's tokenizer, each from a
    generator seeded by the sha256 of the text or token (Python's hash() is salted per process; this is the same in
    every process and on every run)."""

    def __init__(self, dimension: int, tokenizer):
        self.dimension = dimension
        self.tokenizer = tokenizer

    def _rows(self, keys: list[str]) -> np.ndarray:
        if not keys:
            return np.zeros((0, self.dimension), np.float32)
        vectors = np.stack([np.random.default_rng(int.from_bytes(hashlib.sha256(k.encode("utf-8", "surrogatepass"))
                                                                 .digest()[:8], "big")).standard_normal(self.dimension)
                            for k in keys])
        return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)

    def encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        return self._rows(texts)

    def encode_tokens(self, texts: list[str], batch_size: int) -> tuple[np.ndarray, list[np.ndarray]]:
        """The text vectors, plus a row per token (special tokens included, as the model's own pass gives)."""
        encodings = self.tokenizer.encode_batch(texts) if texts else []
        return self._rows(texts), [self._rows([f"token {i}" for i in e.ids]) for e in encodings]


def fake_embedder(settings: Settings) -> Embedder:
    """An Embedder with the real model's tokenizer, size and limits (read from its files, no weights) and hashed
    vectors: chunk boundaries are the real ones, similarities mean nothing."""
    embedder = Embedder(settings.embedding_model, FAKE_BACKEND, settings.embed_batch_size, settings.model_cache_dir)
    embedder._model = HashEncoder(embedder.dimension, embedder.tokenizer)
    return embedder


def ingest_fake(paths: list, settings: Settings, **options) -> IngestReport:
    """ingest_paths with the stand-in: the same chunks and bookkeeping, no model run (for tests of what is stored
    and indexed, not of what the vectors mean)."""
    return Ingestor(settings, embedder=fake_embedder(settings)).run(paths, **options)
