"""Hybrid retrieval: dense (Chroma) + lexical (BM25) fused by reciprocal rank, overlapping chunks merged."""

import json
import math
import os
import re
import shutil
import threading
from collections.abc import Collection
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, SkipValidation

from assistant.types import Marks, Passage, SentenceVectors
from ingest.chunking import sentence_spans
from ingest.records import ChunkMeta, StoredChunk, unpack_vectors
from ingest.structure import chunk_heading, indexed_text

if TYPE_CHECKING:  # imported when an index is built or loaded: start-up stays quick
    import bm25s

_RRF_K = 60  # the constant from Cormack et al.; damps the weight of top ranks
_WORD = re.compile(r"\w+")
# The documents retrieval may draw from: one source path, several, or None (or none) for the whole collection.
Sources = str | Collection[str] | None


def source_set(sources: Sources) -> frozenset[str] | None:
    """The documents to draw from as a set of source paths; None: the whole collection."""
    return frozenset([sources] if isinstance(sources, str) else sources or ()) or None


def _where(sources: frozenset[str] | None) -> dict | None:
    """The Chroma filter for those documents."""
    if sources is None:
        return None
    return {"source": next(iter(sources))} if len(sources) == 1 else {"source": {"$in": sorted(sources)}}


class QueryEmbedder(Protocol):
    def query_vector(self, text: str) -> np.ndarray:
        """The unit vector of a question."""


class ChunkStore(Protocol):
    """What retrieval reads from the store (ingest.store.Store)."""

    def version(self) -> str: ...

    def query(self, vector, k: int, where: dict | None = None) -> list[StoredChunk]: ...

    def get(self, ids: list[str]) -> list[StoredChunk]: ...

    def everything(self) -> list[StoredChunk]: ...

    def count(self) -> int: ...


class Lexical(Protocol):
    """What hybrid retrieval and answering read from the lexical index (LexicalIndex)."""

    ids: list[str]

    def refresh(self) -> None: ...

    def search(self, query: str, k: int, sources: "Sources" = None) -> list[int]: ...

    def idf(self, term: str) -> float: ...


class Terms:
    """Stemmed, stop-word-free terms: the one tokenizer shared by BM25 and lexical scoring."""

    def __init__(self):
        import Stemmer
        from bm25s.stopwords import STOPWORDS_EN

        self._stem = Stemmer.Stemmer("english").stemWord
        self._stop = frozenset(STOPWORDS_EN)

    def __call__(self, text: str) -> list[str]:
        return [self._stem(w) for w in _WORD.findall(text.lower()) if w not in self._stop]


@lru_cache(maxsize=1)
def shared_terms() -> Terms:
    """The one Terms of a process: its stemmer loads once."""
    return Terms()


def bm25_idf(n: int, df: int) -> float:
    """BM25's inverse document frequency of a term found in `df` of `n` documents."""
    return math.log(1 + (n - df + 0.5) / (df + 0.5))


class LexicalIndex:
    """BM25 over every chunk of the collection, rebuilt only when the collection's version changes.

    With a `folder` the index is saved there per version and shared by every process and replica: a new process
    loads it instead of rebuilding it. It holds chunk ids and sources only; texts come from the store on a hit."""

    def __init__(self, store: ChunkStore, terms: Terms, folder: Path | None = None):
        self.store = store
        self.terms = terms
        self.folder = folder
        self._lock = threading.Lock()
        self._version: str | None = None
        self._bm25: bm25s.BM25 | None = None
        self.ids: list[str] = []
        self.sources: list[str] = []
        self._df = np.zeros(0, np.int64)
        self.builds = 0  # indexes built (rather than loaded) by this object: what persistence saves

    def refresh(self) -> None:
        version = self.store.version()
        if version == self._version:
            return
        with self._lock:
            if version == self._version:
                return
            if not self._load(version):
                self._build(version)

    def _build(self, version: str) -> None:
        import bm25s

        got = self.store.everything()
        bm25 = bm25s.BM25()
        if got:
            vocab: dict[str, int] = {}
            corpus = [[vocab.setdefault(t, len(vocab)) for t in self.terms(_indexed(chunk))] for chunk in got]
            bm25.index(bm25s.tokenization.Tokenized(ids=corpus, vocab=vocab), show_progress=False)
        self._use(bm25, [chunk.id for chunk in got], [chunk.meta.source for chunk in got], version)
        self.builds += 1
        # Saved only when nothing was written meanwhile: the index on disk must be exactly its version's.
        if self.folder is not None and got and self.store.version() == version:
            self._save(bm25, version)

    def _use(self, bm25, ids: list[str], sources: list[str], version: str) -> None:
        indptr = np.asarray(bm25.scores["indptr"]) if ids else np.zeros(1, np.int64)
        # Each term's column holds one score per chunk that has it: its document frequency, for `idf`.
        self._df = np.diff(indptr)
        self.ids, self.sources, self._bm25, self._version = ids, sources, bm25, version

    def _path(self, version: str) -> Path:
        assert self.folder is not None  # only an index with a folder saves and loads
        return self.folder / re.sub(r"[^\w.-]", "_", version)

    def _save(self, bm25, version: str) -> None:
        """Written whole under a temporary name, then renamed: a reader sees the complete index or none."""
        target = self._path(version)
        partial = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}")
        try:
            bm25.save(partial, show_progress=False)
            (partial / "chunks.json").write_text(json.dumps({"version": version, "ids": self.ids,
                                                             "sources": self.sources}), encoding="utf-8")
            os.rename(partial, target)
        except OSError:
            return  # a read-only or full disk, or another process saved it first: this process keeps its own copy
        finally:
            shutil.rmtree(partial, ignore_errors=True)
        saved = target.stat().st_mtime
        for old in target.parent.iterdir():  # earlier versions are dead weight once this one is there
            if not old.name.startswith(".") and old.stat().st_mtime < saved:
                shutil.rmtree(old, ignore_errors=True)

    def _load(self, version: str) -> bool:
        """True when a saved index of this version was read whole; a damaged one is removed (and rebuilt)."""
        if self.folder is None or not self._path(version).is_dir():
            return False
        import bm25s

        path = self._path(version)
        try:
            chunks = json.loads((path / "chunks.json").read_text(encoding="utf-8"))
            bm25 = bm25s.BM25.load(path, show_progress=False)
            counts_agree = bm25.scores["num_docs"] == len(chunks["ids"]) == len(chunks["sources"])
            if chunks["version"] != version or not counts_agree:
                raise ValueError("index and chunk list disagree")
        except Exception:  # truncated, garbled or half-deleted files: rebuilding is the answer to all of them
            shutil.rmtree(path, ignore_errors=True)
            return False
        self._use(bm25, chunks["ids"], chunks["sources"], version)
        return True

    def idf(self, term: str) -> float:
        """BM25's inverse document frequency; a term no chunk has weighs the most."""
        column = self._bm25.vocab_dict.get(term) if self._bm25 is not None and self.ids else None
        df = int(self._df[column]) if column is not None and column < len(self._df) else 0
        return bm25_idf(len(self.ids), df)

    def search(self, query: str, k: int, sources: Sources = None) -> list[int]:
        """Positions (into ids/sources) of the best k chunks with any query term, from those documents."""
        self.refresh()
        bm25 = self._bm25
        vocab = bm25.vocab_dict if bm25 is not None and self.ids else {}
        tokens = [t for t in self.terms(query) if t in vocab]
        if not tokens or bm25 is None:
            return []
        scores = bm25.get_scores(tokens)
        allowed = source_set(sources)
        if allowed is not None:
            scores = np.where([s in allowed for s in self.sources], scores, 0.0)
        top = np.argsort(-scores, kind="stable")[:k]
        return [int(i) for i in top if scores[i] > 0]


def _indexed(chunk: StoredChunk) -> str:
    """The chunk as ingest embedded it (under its heading path), for BM25 to read the same words."""
    return indexed_text(chunk.text, chunk_heading(_marks(chunk.meta), chunk.meta.start))


def _marks(meta: ChunkMeta) -> Marks:
    return Marks.model_validate_json(meta.marks) if meta.marks else Marks()  # absent: stored before marks


def _passage(chunk: StoredChunk) -> Passage:
    meta = chunk.meta
    marks = _marks(meta)
    return Passage(source=meta.source, title=meta.title, text=chunk.text, start=meta.start, end=meta.end,
                   line_start=meta.line_start, line_end=meta.line_end, page=meta.page, chunk_ids=(chunk.id,),
                   marks=marks)


def _with_vectors(passage: Passage, chunks: dict[str, StoredChunk]) -> Passage:
    """The passage with its chunks' stored sentence vectors (decoded for the returned passages only)."""
    vectors = None
    for chunk_id in passage.chunk_ids:
        found = _sentence_vectors(chunks[chunk_id])
        vectors = found if vectors is None else vectors.merged(found)
    return passage.model_copy(update={"sentence_vectors": vectors})


def _sentence_vectors(chunk: StoredChunk) -> SentenceVectors | None:
    """The chunk's stored sentence vectors keyed by document offsets; None when it has none (stored before they
    existed) or they do not match its sentences."""
    packed = chunk.meta.sentence_vectors
    vectors = unpack_vectors(packed) if packed else None
    spans = sentence_spans(chunk.text)
    if vectors is None or len(vectors) != len(spans):
        return None
    start = chunk.meta.start
    return SentenceVectors({(start + s, start + e): row for (s, e), row in zip(spans, vectors)})


def merge(a: Passage, b: Passage) -> Passage | None:
    """One passage covering both, when they are overlapping or touching spans of one document."""
    first, second = sorted((a, b), key=lambda p: p.start)
    if first.source != second.source or second.start > first.end:
        return None
    text = first.text if second.end <= first.end else first.text + second.text[first.end - second.start:]
    return first.model_copy(update={
        "text": text, "end": max(first.end, second.end), "line_end": max(first.line_end, second.line_end),
        "score": max(a.score, b.score), "chunk_ids": a.chunk_ids + b.chunk_ids,
        "marks": first.marks.merged(second.marks),
    })


class HybridRetriever(BaseRetriever):
    """A LangChain retriever: dense + BM25, reciprocal rank fusion, duplicates and overlaps merged."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    store: SkipValidation[ChunkStore]
    embedder: SkipValidation[QueryEmbedder]
    lexical: SkipValidation[Lexical]
    k: int = 5
    sources: Sources = None  # one source path or several

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun,
                                k: int | None = None, sources: Sources = None) -> list[Document]:
        return [Document(page_content=p.text, metadata=p.to_dict())
                for p in self.passages(query, k, sources or self.sources)]

    def passages(self, query: str, k: int | None = None, sources: Sources = None) -> list[Passage]:
        """The best k passages for the query, from those documents (all of them by default)."""
        k = self.k if k is None else k
        fetch = max(4 * k, 20)
        allowed = source_set(sources)
        chunks: dict[str, StoredChunk] = {}
        fused: dict[str, float] = {}
        dense = self.store.query(self.embedder.query_vector(query), fetch, _where(allowed))
        for rank, chunk in enumerate(dense):
            chunks[chunk.id] = chunk
            fused[chunk.id] = 1.0 / (_RRF_K + rank + 1)
        lexical = [self.lexical.ids[i] for i in self.lexical.search(query, fetch, allowed)]
        # Lexical hits the dense search did not bring are read from the store (gone since the index was built: skipped).
        chunks.update((chunk.id, chunk) for chunk in self.store.get([c for c in lexical if c not in chunks]))
        candidates = {chunk_id: _passage(chunk) for chunk_id, chunk in chunks.items()}
        for rank, chunk_id in enumerate(lexical):
            if chunk_id in candidates:
                fused[chunk_id] = fused.get(chunk_id, 0.0) + 1.0 / (_RRF_K + rank + 1)
        ranked: list[Passage] = []
        for chunk_id in sorted(fused, key=lambda c: (-fused[c], c)):
            merged = candidates[chunk_id].model_copy(update={"score": round(fused[chunk_id], 6)})
            touching = [i for i, kept in enumerate(ranked) if merge(kept, merged) is not None]
            if not touching and len(ranked) == k:
                break
            # Fold every kept passage it touches into one, kept at the best rank, so no two passages overlap.
            for i in touching:
                merged = merge(ranked[i], merged) or merged  # never None: `touching` holds the ones that merge
            position = touching[0] if touching else len(ranked)
            ranked = [p for i, p in enumerate(ranked) if i not in touching]
            ranked.insert(position, merged)
        return [_with_vectors(p, chunks) for p in ranked]
