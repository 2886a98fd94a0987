"""ingest.store on embedded Chroma with the sha256 fake embedder (tests/fakes.py): identity, whole documents,
removal, paged reads and one-line errors. What is tested is the store, not the model's vectors."""

import threading

import numpy as np
import pytest

from assistant.errors import AssistantError, ModelMismatch
from assistant.settings import Settings
from ingest import Ingestor
from ingest.records import ChunkMeta
from ingest.store import open_store
from tests.fakes import FAKE_BACKEND
from tests.fakes import fake_embedder as make_fake


def chunk_meta(source: str, doc_hash: str, n_chunks: int, index: int, **extra) -> ChunkMeta:
    return ChunkMeta(source=source, doc_hash=doc_hash, n_chunks=n_chunks, start=index, end=index + 1, line_start=1,
                     line_end=1, title=source, index=index, **extra)


def put(store, embedder, source: str, doc_hash: str, n_chunks: int, indexes, **extra) -> None:
    """Chunks `indexes` of one version of a document, vectors from the fake."""
    texts = [f"{source} {doc_hash} chunk {i}" for i in indexes]
    store.upsert([f"{source}-{doc_hash}-{i}" for i in indexes], embedder.encode(texts).tolist(), texts,
                 [chunk_meta(source, doc_hash, n_chunks, i, **extra) for i in indexes])


@pytest.fixture
def store(settings, fake_embedder):
    return open_store(settings, fake_embedder.identity)


def test_the_fake_embedder_is_deterministic_unit_length_and_tells_texts_apart(fake_embedder, settings):
    vectors = fake_embedder.encode(["a lighthouse", "a lighthouse", "a ferry"])
    assert vectors.shape == (3, fake_embedder.dimension) and np.allclose(np.linalg.norm(vectors, axis=1), 1)
    assert np.array_equal(vectors[0], vectors[1]) and not np.allclose(vectors[0], vectors[2])
    assert np.array_equal(make_fake(settings).encode(["a ferry"])[0], vectors[2])  # the same in every instance
    assert fake_embedder.identity["embedding_backend"] == FAKE_BACKEND  # never passes for the real model's store


def test_a_collection_refuses_vectors_of_another_model(settings, store, fake_embedder):
    put(store, fake_embedder, "/d/a.txt", "h1", 1, [0])
    other = {**fake_embedder.identity, "embedding_backend": "int8"}
    with pytest.raises(ModelMismatch, match=f"was embedded with .*{FAKE_BACKEND}.*this run uses .*int8"):
        open_store(settings, other).count()
    assert open_store(settings, fake_embedder.identity).count() == 1


def test_readers_see_a_version_of_a_document_whole_or_not_at_all(store, fake_embedder):
    put(store, fake_embedder, "/d/a.txt", "old", 2, [0, 1])
    put(store, fake_embedder, "/d/a.txt", "new", 3, [0, 1])  # the new version is half written
    seen = store.everything()
    assert {c.meta.doc_hash for c in seen} == {"old"} and len(seen) == 2
    put(store, fake_embedder, "/d/a.txt", "new", 3, [2])
    assert sorted(c.meta.doc_hash for c in store.everything()) == ["new", "new", "new", "old", "old"]


def test_removing_a_document_deletes_all_its_chunks_and_changes_the_version(store, fake_embedder):
    put(store, fake_embedder, "/d/a.txt", "h1", 3, [0, 1, 2])
    put(store, fake_embedder, "/d/b.txt", "h2", 1, [0])
    store.bump_version()
    before = store.version()
    assert store.remove("/d/a.txt") == 3
    assert store.sources() == {"/d/b.txt"} and store.version() != before
    again = store.version()
    assert store.remove("/d/a.txt") == 0 and store.version() == again  # nothing removed: readers keep their index


def test_one_record_per_document_and_the_newer_first_chunk_wins(store, fake_embedder):
    put(store, fake_embedder, "/d/a.txt", "old", 2, [0, 1], ingested_at="2026-01-01T00:00:00+00:00")
    put(store, fake_embedder, "/d/a.txt", "new", 1, [0], ingested_at="2026-02-01T00:00:00+00:00")
    put(store, fake_embedder, "/d/b.txt", "h2", 1, [0])
    documents = store.documents()
    assert [d.source for d in documents] == ["/d/a.txt", "/d/b.txt"]
    assert (documents[0].content_hash, documents[0].chunks) == ("new", 1)


def test_a_malformed_server_url_is_one_line_naming_the_setting(settings, fake_embedder):
    with pytest.raises(AssistantError, match=r"^chroma_url: expected http://HOST:PORT, got 'ftp://x'$"):
        open_store(settings.with_overrides(chroma_url="ftp://x"), fake_embedder.identity)


def test_a_document_larger_than_chromas_batch_is_stored_whole(tmp_path, settings, monkeypatch):
    small = settings.with_overrides(chunk_tokens=16, chunk_overlap_tokens=0)
    ingestor = Ingestor(small, embedder=make_fake(small))
    # Chroma's real limit (~5,000 records) made this document 5,000 chunks long, minutes of writes under load; the
    # store splits at whatever limit Chroma names, so a small one takes the same path in a fraction of the time.
    monkeypatch.setattr(ingestor.store.client, "get_max_batch_size", lambda: 60)
    limit = ingestor.store.max_batch
    assert limit == 60
    doc = tmp_path / "ledger.txt"
    doc.write_text("\n".join(f"Entry {i}: ship {i} passed the light." for i in range(limit + 200)))
    done, sizes = threading.Event(), set()

    def watch():  # the lexical index's view, as often as it can be read
        while not done.is_set():
            sizes.add(len(ingestor.store.everything()))

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        report = ingestor.run([doc])
    finally:
        done.set()
        watcher.join(60)
    assert report.added > limit and not report.failed
    assert ingestor.store.count() == report.added
    assert sizes <= {0, report.added}, f"the lexical view saw {sorted(sizes)[:4]} of {report.added} chunks"
    assert ingestor.run([doc]).unchanged == report.added  # and it is seen as complete afterwards


@pytest.mark.slow
def test_a_collection_over_sqlites_variable_limit_is_read_in_pages(tmp_path):
    from assistant.retrieval import LexicalIndex, Terms

    settings = Settings(data_dir=tmp_path / "data", collection="big-store")
    store = open_store(settings, {"embedding_model": "test", "embedding_backend": "int8", "embedding_dim": 8})
    docs, per_doc = 34, 1000  # 34 000 rows: one unpaged read fails ("too many SQL variables")
    rng = np.random.default_rng(0)
    for d in range(docs):
        ids = [f"d{d}-{i}" for i in range(per_doc)]
        metas = [ChunkMeta(source=f"/docs/{d}.txt", doc_hash=f"h{d}", n_chunks=per_doc, start=i, end=i + 1,
                           line_start=i + 1, line_end=i + 1, title=f"doc {d}", index=i) for i in range(per_doc)]
        store.upsert(ids, rng.standard_normal((per_doc, 8)).astype(np.float32).tolist(),
                     [f"record {i} of volume v{d}x" for i in range(per_doc)], metas)
    store.bump_version()
    assert len(store.everything()) == docs * per_doc
    assert len(store.sources()) == docs and len(store.chunks_of("/docs/7.txt")) == per_doc
    index = LexicalIndex(store, Terms())
    hits = index.search("volume v33x", 5)
    assert hits and all(index.sources[i] == "/docs/33.txt" for i in hits)


# -- a document over the batch limit appears whole ---------------------------------------------------------------
LEDGER_Q = "ship passed the light"


def _ledger_reader(settings, embedder):
    """What an answer reads: the hybrid retriever (dense and BM25) and the documents list, on its own Store."""
    from assistant.retrieval import HybridRetriever, LexicalIndex, Terms

    store = open_store(settings, embedder.identity)
    retriever = HybridRetriever(store=store, embedder=embedder, lexical=LexicalIndex(store, Terms()), k=50)

    def seen(source: str) -> tuple[int, int, bool]:
        """(passages from `source` among the retrieved, BM25 hits in it, whether the documents list shows it)."""
        passages = [p for p in retriever.passages(LEDGER_Q, 50) if p.source == source]
        lexical = [i for i in retriever.lexical.search(LEDGER_Q, 50) if retriever.lexical.sources[i] == source]
        return len(passages), len(lexical), any(d.source == source for d in store.documents())

    return seen


def _ledger(tmp_path, settings, batch: int = 4):
    small = settings.with_overrides(chunk_tokens=16, chunk_overlap_tokens=0)
    embedder = make_fake(small)
    ingestor = Ingestor(small, embedder=embedder)
    ingestor.store._max_batch = batch  # Chroma's real limit (5461 embedded) is too big for a quick test
    harbour = tmp_path / "harbour.txt"
    harbour.write_text("The harbour light shone all night.")
    ingestor.run([harbour])
    doc = tmp_path / "ledger.txt"
    doc.write_text("\n".join(f"Entry {i}: ship {i} passed the light." for i in range(40)))
    return small, embedder, ingestor, str(doc.resolve()), doc


def _on_upsert(monkeypatch, store, hook) -> None:
    """Call hook() after each batch `store` writes (between the writes of one document)."""
    from ingest.store import Store

    original = Store._call

    def watched(self, fn, *args, **kwargs):
        result = original(self, fn, *args, **kwargs)
        if self is store and getattr(fn, "__name__", "") == "upsert":
            hook()
        return result

    monkeypatch.setattr(Store, "_call", watched)


def test_a_document_over_the_batch_limit_is_never_seen_in_part(tmp_path, settings, monkeypatch):
    small, embedder, ingestor, source, doc = _ledger(tmp_path, settings)
    seen = _ledger_reader(small, embedder)
    between: list[tuple[int, int, bool]] = []
    _on_upsert(monkeypatch, ingestor.store, lambda: between.append(seen(source)))
    report = ingestor.run([doc])
    assert report.added > 3 * 4 and len(between) == -(-report.added // 4), (report.added, len(between))
    assert set(between) == {(0, 0, False)}, f"seen in part between writes: {between}"
    passages, lexical, listed = seen(source)
    assert passages > 0 and lexical > 0 and listed  # and whole once written
    assert ingestor.store.pending() == set() and ingestor.run([doc]).unchanged == report.added


def test_an_interrupted_large_document_stays_hidden_and_the_next_run_completes_it(tmp_path, settings, monkeypatch):
    from assistant.errors import StoreUnreachable

    small, embedder, ingestor, source, doc = _ledger(tmp_path, settings)
    seen = _ledger_reader(small, embedder)
    writes = []

    def fail_on_the_third() -> None:
        writes.append(1)
        if len(writes) == 3:
            raise StoreUnreachable("store unreachable at test: gone")

    _on_upsert(monkeypatch, ingestor.store, fail_on_the_third)
    with pytest.raises(StoreUnreachable):
        ingestor.run([doc])
    monkeypatch.undo()
    written = len(ingestor.store.chunks_of(source))
    assert written == 12 and seen(source) == (0, 0, False)  # three writes of 4 stored, none of them shown
    report = ingestor.run([doc])
    stored = ingestor.store.chunks_of(source)
    total = next(iter(stored.values())).n_chunks
    assert report.added == total - written and len(stored) == total  # no duplicate, none missing
    assert sorted(m.index for m in stored.values()) == list(range(total))
    assert ingestor.store.pending() == set() and seen(source)[0] > 0 and seen(source)[2]
