"""Hybrid retrieval: dense (Chroma) + lexical (BM25) fused by reciprocal rank, overlapping chunks merged."""

import math
import re
import threading
from collections import Counter
from typing import Any

import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from assistant.types import Marks, Passage

_RRF_K = 60  # the constant from Cormack et al.; damps the weight of top ranks
_WORD = re.compile(r"\w+")


class Terms:
    """Stemmed, stop-word-free terms: the one tokenizer shared by BM25 and lexical scoring."""

    def __init__(self):
        import Stemmer
        from bm25s.stopwords import STOPWORDS_EN

        self._stem = Stemmer.Stemmer("english").stemWord
        self._stop = frozenset(STOPWORDS_EN)

    def __call__(self, text: str) -> list[str]:
        return [self._stem(w) for w in _WORD.findall(text.lower()) if w not in self._stop]


class LexicalIndex:
    """BM25 over every chunk of the collection, rebuilt only when the collection's version changes."""

    def __init__(self, store, terms: Terms):
        self.store = store
        self.terms = terms
        self._lock = threading.Lock()
        self._version = None
        self._bm25 = None
        self.ids: list[str] = []
        self.texts: list[str] = []
        self.metadatas: list[dict] = []
        self._df: Counter = Counter()

    def refresh(self) -> None:
        version = self.store.version()
        if version == self._version:
            return
        with self._lock:
            if version == self._version:
                return
            import bm25s

            got = self.store.everything()
            bm25, df = bm25s.BM25(), Counter()
            if got["ids"]:
                vocab: dict[str, int] = {}
                corpus = [[vocab.setdefault(t, len(vocab)) for t in self.terms(text)] for text in got["documents"]]
                bm25.index(bm25s.tokenization.Tokenized(ids=corpus, vocab=vocab), show_progress=False)
                inverse = list(vocab)
                df.update(inverse[i] for ids in corpus for i in set(ids))
            self.ids, self.texts, self.metadatas, self._df = got["ids"], got["documents"], got["metadatas"], df
            self._bm25, self._version = bm25, version

    def idf(self, term: str) -> float:
        """BM25's inverse document frequency; a term no chunk has weighs the most."""
        n, df = len(self.ids), self._df.get(term, 0)
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    def search(self, query: str, k: int, source: str | None = None) -> list[int]:
        """Positions (into ids/texts/metadatas) of the best k chunks with any query term."""
        self.refresh()
        vocab = self._bm25.vocab_dict if self.ids else {}
        tokens = [t for t in self.terms(query) if t in vocab]
        if not tokens:
            return []
        scores = self._bm25.get_scores(tokens)
        if source is not None:
            scores = np.where([m["source"] == source for m in self.metadatas], scores, 0.0)
        top = np.argsort(-scores, kind="stable")[:k]
        return [int(i) for i in top if scores[i] > 0]


def _passage(text: str, meta: dict, score: float, chunk_id: str) -> Passage:
    marks = Marks.model_validate_json(meta["marks"]) if "marks" in meta else Marks()  # absent: stored before marks
    return Passage(source=meta["source"], title=meta.get("title", ""), text=text, start=meta["start"], end=meta["end"],
                   line_start=meta["line_start"], line_end=meta["line_end"], page=meta.get("page"),
                   score=score, chunk_ids=(chunk_id,), marks=marks)


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

    store: Any
    embedder: Any
    lexical: Any
    k: int = 5
    source: str | None = None

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun,
                                k: int | None = None, source: str | None = None) -> list[Document]:
        return [Document(page_content=p.text, metadata=p.to_dict())
                for p in self.passages(query, k, source or self.source)]

    def passages(self, query: str, k: int | None = None, source: str | None = None) -> list[Passage]:
        k = self.k if k is None else k
        fetch = max(4 * k, 20)
        candidates: dict[str, Passage] = {}
        fused: dict[str, float] = {}
        dense = self.store.query(self.embedder.query_vector(query), fetch, {"source": source} if source else None)
        for rank, (chunk_id, text, meta) in enumerate(zip(dense["ids"][0], dense["documents"][0], dense["metadatas"][0])):
            candidates[chunk_id] = _passage(text, meta, 0.0, chunk_id)
            fused[chunk_id] = 1.0 / (_RRF_K + rank + 1)
        for rank, i in enumerate(self.lexical.search(query, fetch, source)):
            chunk_id = self.lexical.ids[i]
            candidates.setdefault(chunk_id, _passage(self.lexical.texts[i], self.lexical.metadatas[i], 0.0, chunk_id))
            fused[chunk_id] = fused.get(chunk_id, 0.0) + 1.0 / (_RRF_K + rank + 1)
        ranked: list[Passage] = []
        for chunk_id in sorted(fused, key=lambda c: (-fused[c], c)):
            merged = candidates[chunk_id].model_copy(update={"score": round(fused[chunk_id], 6)})
            touching = [i for i, kept in enumerate(ranked) if merge(kept, merged) is not None]
            if not touching and len(ranked) == k:
                break
            # Fold every kept passage it touches into one, kept at the best rank, so no two passages overlap.
            for i in touching:
                merged = merge(ranked[i], merged)
            position = touching[0] if touching else len(ranked)
            ranked = [p for i, p in enumerate(ranked) if i not in touching]
            ranked.insert(position, merged)
        return ranked
