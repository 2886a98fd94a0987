"""ingest.embedding: the model loads only when needed (counted loads, never timings), questions are embedded
without torch, and the ONNX export equals torch's vectors."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import ingest.embedding as embedding
from ingest import Ingestor
from ingest.embedding import Embedder, get_embedder
from tests.helpers import ROOT, SAMPLE_DIR


@pytest.fixture
def loads(monkeypatch) -> list[str]:
    """Backends of every model load in this test."""
    seen: list[str] = []
    original = embedding._load

    def counting(path, backend, *rest):
        seen.append(backend)
        return original(path, backend, *rest)

    monkeypatch.setattr(embedding, "_load", counting)
    return seen


def fresh_ingestor(settings) -> Ingestor:
    """An ingestor with its own embedder, as a new process has (the shared one may be loaded by other tests)."""
    return Ingestor(settings, embedder=Embedder(settings.embedding_model, settings.embedding_backend,
                                                settings.embed_batch_size, settings.model_cache_dir))


def test_a_no_op_ingest_never_loads_the_model(settings, loads):
    first = fresh_ingestor(settings).run([SAMPLE_DIR])
    assert first.added > 0 and loads == [settings.embedding_backend]  # new chunks: the model loads, once
    again = fresh_ingestor(settings)
    report = again.run([SAMPLE_DIR])
    assert (report.added, report.unchanged) == (0, first.added)
    assert loads == [settings.embedding_backend] and again.embedder._model is None


ASK_CHILD = """
import atexit, sys
from assistant.cli import app
# At exit, as `ask` skips the interpreter's teardown (exit handlers still run).
atexit.register(lambda: print("heavy:", sorted(m for m in ("torch", "transformers", "sentence_transformers")
                                               if m in sys.modules), flush=True))
app(["ask", "Who posted on Truth Social?", "--data-dir", sys.argv[1], "--collection", sys.argv[2]])
"""


def test_ask_answers_without_importing_torch(sample_settings):
    assert sample_settings.query_backend == "onnx"
    get_embedder(sample_settings, "onnx").warm_up()  # the one-off export happens here, not in the child
    done = subprocess.run([sys.executable, "-c", ASK_CHILD, str(sample_settings.data_dir), sample_settings.collection],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Truth Social" in done.stdout and "[1]" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "heavy: []"


def test_onnx_vectors_equal_torch_fp32_and_the_export_is_cached(settings, monkeypatch):
    texts = ["The Quillfeather Observatory opened in 1893.", "Who signed the agreement?", "word " * 400]
    onnx = Embedder(settings.embedding_model, "onnx", cache_dir=settings.model_cache_dir).encode(texts)
    fp32 = get_embedder(settings, "fp32").encode(texts)
    int8 = get_embedder(settings, "int8").encode(texts)
    assert onnx.shape == fp32.shape and np.allclose((onnx * fp32).sum(axis=1), 1.0, atol=1e-4)
    assert (onnx * int8).sum(axis=1).min() < 0.999  # int8 drifts: the comparison can tell vectors apart
    exports = []
    monkeypatch.setattr(embedding, "_export", lambda *args: exports.append(args))
    again = Embedder(settings.embedding_model, "onnx", cache_dir=settings.model_cache_dir)
    assert np.allclose(again.encode(texts), onnx, atol=1e-6) and exports == []  # loaded from the disk cache


def test_onnx_export_writes_its_file_whole(tmp_path, monkeypatch):
    path = embedding.resolve_model_path(embedding.DEFAULT_EMBEDDING_MODEL)

    def failing(model_path, target):
        Path(target).write_bytes(b"half an onnx file")
        raise RuntimeError("export interrupted")

    monkeypatch.setattr(embedding, "_export", failing)
    with pytest.raises(RuntimeError):
        embedding.onnx_file(path, "onnx", tmp_path)
    assert list(tmp_path.iterdir()) == []  # nothing a later run could mistake for a finished export
