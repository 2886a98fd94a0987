"""Sentence vectors computed at ingest: stored with each chunk, used by answering, removed with the document, and
collections stored before them still answer (real Chroma, real model)."""

import numpy as np
import pytest

from assistant import Assistant
from assistant.settings import Settings
from ingest import ingest_paths
from ingest.chunking import sentence_spans
from ingest.embedding import get_embedder
from ingest.records import SENTENCE_VECTORS_FORMAT, pack_vectors, unpack_vectors
from ingest.store import open_store
from tests.helpers import SAMPLE

QUESTION = "Who did Trump send to Moscow?"


def _store(settings: Settings):
    return open_store(settings, get_embedder(settings).identity)


class SpyEmbedder:
    """Wraps the assistant's embedder and records every text it is asked to encode."""

    def __init__(self, embedder, monkeypatch):
        self.texts: list[str] = []
        original = embedder.encode

        def encode(texts):
            self.texts += list(texts)
            return original(texts)

        monkeypatch.setattr(embedder, "encode", encode)
        embedder.query_vector.cache_clear()
        monkeypatch.setattr(embedder, "_sentences", {})


@pytest.fixture
def ingested(settings) -> Settings:
    report = ingest_paths([SAMPLE], settings)
    assert report.added > 0 and not report.failed
    return settings


def test_ingest_stores_one_vector_per_sentence_that_matches_its_sentence(ingested):
    store = _store(ingested)
    chunks = store.everything()
    assert store.collection.metadata["sentence_vectors"] == SENTENCE_VECTORS_FORMAT
    embedder = get_embedder(ingested)
    hits = total = 0
    for chunk in chunks:
        vectors = unpack_vectors(chunk.meta.sentence_vectors)
        spans = sentence_spans(chunk.text)
        assert vectors.shape == (len(spans), embedder.dimension)
        assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
        # Each stored vector is nearest to its own sentence embedded alone, not to its neighbours'.
        alone = embedder.encode([chunk.text[s:e] for s, e in spans])
        hits += int(np.sum(np.argmax(vectors @ alone.T, axis=1) == np.arange(len(spans))))
        total += len(spans)
    assert total > 20 and hits / total >= 0.8


def test_packing_keeps_cosines_and_refuses_unknown_formats():
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(7, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    back = unpack_vectors(pack_vectors(vectors))
    assert np.abs(np.sum(back * vectors, axis=1) - 1.0).max() < 2e-3
    assert np.abs((back @ back.T) - (vectors @ vectors.T)).max() < 5e-3
    assert unpack_vectors("f16:7:AAAA") is None


def test_an_answer_on_a_fresh_collection_embeds_only_the_question(ingested, monkeypatch):
    bot = Assistant(ingested)
    spy = SpyEmbedder(bot.embedder, monkeypatch)
    answer = bot.ask(QUESTION)
    assert not answer.refused and answer.citations
    passage_sentences = {p.text[s:e] for p in answer.passages for s, e in sentence_spans(p.text)}
    assert QUESTION in spy.texts
    assert not set(spy.texts) & passage_sentences, "answering embedded passage sentences ingest had stored"


def test_a_collection_stored_before_sentence_vectors_still_answers(ingested, monkeypatch):
    store = _store(ingested)
    got = store.collection.get(include=["metadatas"])
    store.collection.update(ids=got["ids"], metadatas=[{"sentence_vectors": None} for _ in got["ids"]])
    assert all(c.meta.sentence_vectors is None for c in store.everything())
    bot = Assistant(ingested)
    spy = SpyEmbedder(bot.embedder, monkeypatch)
    answer = bot.ask(QUESTION)
    assert not answer.refused and answer.citations
    passage_sentences = {p.text[s:e] for p in answer.passages for s, e in sentence_spans(p.text)}
    assert set(spy.texts) & passage_sentences, "old chunks have no stored vectors: answering must embed them"


def test_removing_a_document_removes_its_sentence_vectors(ingested, tmp_path):
    other = tmp_path / "other.txt"
    other.write_text("The lighthouse keeper lit the lamp at dusk. The ships passed safely.\n", encoding="utf-8")
    ingest_paths([other], ingested)
    store = _store(ingested)
    assert store.remove(str(SAMPLE)) > 0
    left = store.collection.get(include=["metadatas"])["metadatas"]
    assert left and {m["source"] for m in left} == {str(other)}
    assert all(m.get("sentence_vectors") for m in left)


def test_a_moved_chunk_keeps_its_sentence_vectors(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", collection="moved", chunk_tokens=16, chunk_overlap_tokens=0)
    doc = tmp_path / "notes.txt"
    body = ("The ferry leaves the harbour at nine every morning. It returns from the island at five. "
            "Tickets are sold on board by the purser. Bicycles travel free of charge on weekdays.\n")
    doc.write_text(body, encoding="utf-8")
    ingest_paths([doc], settings)
    doc.write_text("A new first line about the timetables.\n" + body, encoding="utf-8")
    second = ingest_paths([doc], settings)
    assert second.updated > 0 and second.added > 0 and second.unchanged == 0  # kept chunks: metadata rewritten
    chunks = _store(settings).everything()
    assert len(chunks) > 2 and all(unpack_vectors(c.meta.sentence_vectors) is not None for c in chunks)


@pytest.mark.slow
def test_a_chroma_server_returns_the_stored_vectors_with_the_query(chroma_server, tmp_path, monkeypatch):
    settings = Settings(data_dir=tmp_path / "data", collection="served", chroma_url=chroma_server.url)
    assert ingest_paths([SAMPLE], settings).added > 0
    bot = Assistant(settings)
    spy = SpyEmbedder(bot.embedder, monkeypatch)
    answer = bot.ask(QUESTION)
    assert not answer.refused and answer.citations
    assert all(p.sentence_vectors for p in answer.passages)
    assert spy.texts == [QUESTION]
