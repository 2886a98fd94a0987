"""What starts must not load what it does not need: counted loads and builds, never timings."""

import ast
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import ingest.embedding as embedding
from assistant.api import Assistant
from assistant.retrieval import LexicalIndex, Terms
from ingest import Ingestor, ingest_paths
from ingest.embedding import Embedder, get_embedder
from ingest.store import open_store
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


LOAD_CHILD = """
import sys
from assistant.api import Assistant
from assistant.settings import Settings
bot = Assistant(Settings(data_dir=sys.argv[1], collection=sys.argv[2]))
lexical = bot.retriever.lexical
lexical.refresh()
print(lexical.builds, len(lexical.ids), [lexical.ids[i] for i in lexical.search(sys.argv[3], 3)])
"""


def child_index(settings, query: str) -> tuple[int, int, list[str]]:
    """(BM25 builds, chunks indexed, top ids for `query`) in a new process on the same store."""
    done = subprocess.run([sys.executable, "-c", LOAD_CHILD, str(settings.data_dir), settings.collection, query],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    builds, chunks, ids = done.stdout.strip().splitlines()[-1].split(" ", 2)
    return int(builds), int(chunks), ast.literal_eval(ids)


def index_folder(settings) -> Path:
    folders = list((settings.data_dir / "lexical").iterdir())
    assert len(folders) == 1
    return folders[0]


def test_the_lexical_index_is_built_once_and_loaded_by_other_processes(settings, tmp_path):
    ingest_paths([SAMPLE_DIR], settings)
    bot = Assistant(settings)
    bot.retriever.lexical.refresh()
    assert bot.retriever.lexical.builds == 1
    builds, chunks, ids = child_index(settings, "Truth Social post")
    assert builds == 0 and chunks == len(bot.retriever.lexical.ids) > 0  # loaded, not rebuilt
    assert ids == [bot.retriever.lexical.ids[i] for i in bot.retriever.lexical.search("Truth Social post", 3)]

    extra = tmp_path / "extra.txt"
    extra.write_text("The Quillfeather Observatory opened in 1893 on Brankmoor Hill.\n")
    ingest_paths([extra], settings)  # a write bumps the version: every saved index is stale
    builds, chunks_after, ids = child_index(settings, "Quillfeather Observatory")
    assert builds == 1 and chunks_after == chunks + 1 and len(ids) == 1
    assert child_index(settings, "Quillfeather Observatory")[0] == 0  # and the rebuilt one is shared in turn
    assert [p.name for p in index_folder(settings).iterdir()] == [settings_version(settings)]  # old one gone

    extra.unlink()
    ingest_paths([SAMPLE_DIR], settings, prune=True)  # removal bumps it too
    builds, chunks_pruned, ids = child_index(settings, "Quillfeather Observatory")
    assert (builds, chunks_pruned, ids) == (1, chunks, [])


def settings_version(settings) -> str:
    return open_store(settings, get_embedder(settings).identity).version()


@pytest.mark.parametrize("damage", ["truncate", "garble", "half"])
def test_a_damaged_lexical_index_is_rebuilt_not_fatal(settings, damage):
    ingest_paths([SAMPLE_DIR], settings)
    store = open_store(settings, get_embedder(settings).identity)
    folder = settings.data_dir / "lexical-test"
    LexicalIndex(store, Terms(), folder).refresh()
    saved = folder / store.version()
    if damage == "truncate":
        matrix = saved / "data.csc.index.npy"
        matrix.write_bytes(matrix.read_bytes()[:40])
    elif damage == "garble":
        (saved / "chunks.json").write_text('{"version": "x", "ids": [')
    else:
        (saved / "indptr.csc.index.npy").unlink()
    again = LexicalIndex(store, Terms(), folder)
    assert again.search("Truth Social", 3) and again.builds == 1
    reloaded = LexicalIndex(store, Terms(), folder)  # the rebuilt index replaced the damaged one on disk
    reloaded.refresh()
    assert reloaded.builds == 0 and reloaded.ids == again.ids


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
