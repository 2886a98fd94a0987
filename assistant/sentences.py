"""Candidate sentences as the judge and the verifier read them: the units of passages, their vectors, and the
term-coverage helpers both use."""

from dataclasses import dataclass
from typing import Callable

import numpy as np

from assistant.types import Passage
from ingest.chunking import sentence_spans
from ingest.structure import pooled_as_judged, unit_text

UNSEEN = "\x00"  # a term no chunk holds: its IDF is the largest there is


@dataclass(frozen=True)
class Sentence:
    passage: int
    start: int  # offsets into the passage text
    end: int
    text: str


def sentences_of(passages: list[Passage]) -> list[Sentence]:
    """Each passage's units, as judged: a table row with its headers, a list item under its heading (unit_text)."""
    return [Sentence(i, s, e, unit_text(p, s, e)) for i, p in enumerate(passages) for s, e in sentence_spans(p.text)]


def vectors_of(embedder, sentences: list[Sentence], passages: list[Passage]) -> np.ndarray:
    """Unit vectors of passage sentences: those ingest stored with the chunks, the rest (chunks stored before sentence
    vectors existed, or sentences across a chunk boundary) embedded now."""
    # A stored vector is of the unit under its heading: a row judged with its headers, a quote without its marks is
    # embedded now.
    stored = [passages[s.passage].sentence_vector(s.start, s.end)
              if pooled_as_judged(passages[s.passage], s.start, s.end) else None for s in sentences]
    missing = [i for i, row in enumerate(stored) if row is None]
    fresh = dict(zip(missing, embedder.sentence_vectors([sentences[i].text for i in missing]))) if missing else {}
    rows = [row if row is not None else fresh[i] for i, row in enumerate(stored)]
    return np.stack(rows) if rows else np.zeros((0, 0), np.float32)


def coverage(query_terms: list[str], terms: set[str], idf: Callable[[str], float]) -> float:
    """IDF-weighted share of the query's terms found in `terms`."""
    wanted = set(query_terms)
    total = sum(idf(t) for t in wanted)
    return sum(idf(t) for t in wanted if t in terms) / total if total else 0.0


def function_terms(terms: Callable[[str], list[str]]) -> frozenset[str]:
    """Stemmed function words ("has", "what", "which"): never key terms, however rare in a small collection."""
    from bm25s.stopwords import STOPWORDS_EN_PLUS

    return frozenset(terms(" ".join(STOPWORDS_EN_PLUS)))


def neighbours(sentences: list[Sentence], index: int) -> list[Sentence]:
    """The sentence with the one before and after it in the same passage."""
    return [s for s in sentences[max(0, index - 1): index + 2] if s.passage == sentences[index].passage]
