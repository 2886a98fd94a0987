"""Answer drafts: claims (sentences) with the passages they cite, written extractively or by an LLM."""

import re
from dataclasses import dataclass

import numpy as np

from assistant.answerability import can_answer, is_heading, open_quote
from assistant.types import Passage
from ingest.chunking import sentence_spans

REFUSAL = "I could not find this in the documents."
_MARKER = re.compile(r"\s*\[(\d+(?:\s*,\s*\d+)*)\]")
_TRAILING_MARKERS = re.compile(r"([.!?]+[\"'”’)]*)((?:\s*\[\d+(?:\s*,\s*\d+)*\])+)\s*")
_SECOND_MARGIN = 0.08


@dataclass(frozen=True)
class Claim:
    """One answer sentence and the passages (0-based, into the ranked list) it rests on."""

    text: str
    cites: tuple[int, ...]


@dataclass(frozen=True)
class Draft:
    claims: tuple[Claim, ...]
    best_score: float = 0.0


@dataclass(frozen=True)
class Sentence:
    passage: int
    start: int  # offsets into the passage text
    end: int
    text: str


def sentences_of(passages: list[Passage]) -> list[Sentence]:
    return [Sentence(i, s, e, p.text[s:e]) for i, p in enumerate(passages) for s, e in sentence_spans(p.text)]


def coverage(query_terms: list[str], terms: set[str], idf) -> float:
    """IDF-weighted share of the query's terms found in `terms`."""
    wanted = set(query_terms)
    total = sum(idf(t) for t in wanted)
    return sum(idf(t) for t in wanted if t in terms) / total if total else 0.0


class ExtractiveAnswerer:
    """Picks the passage sentences that best answer the question: embedding similarity plus lexical coverage."""

    def __init__(self, embedder, terms, idf, refuse_threshold: float, max_sentences: int, lexical_weight: float):
        self.embedder = embedder
        self.terms = terms
        self.idf = idf
        self.refuse_threshold = refuse_threshold
        self.max_sentences = max_sentences
        self.lexical_weight = lexical_weight

    def score(self, question: str, candidates: list[Sentence]) -> np.ndarray:
        if not candidates:
            return np.zeros(0)
        similarity = self.embedder.sentence_vectors([c.text for c in candidates]) @ self.embedder.query_vector(question)
        query_terms = self.terms(question)
        lexical = np.array([coverage(query_terms, set(self.terms(c.text)), self.idf) for c in candidates])
        return similarity + self.lexical_weight * lexical

    def draft(self, question: str, passages: list[Passage], said: str = "") -> Draft:
        """The best sentences, or none (a refusal); sentences in `said` (the last answer) are not repeated."""
        candidates = [c for c in sentences_of(passages) if c.text not in said]
        if not candidates:
            return Draft(())
        scores = self.score(question, candidates)
        # Headings summarise rather than state (unless a document has nothing else), and sentences that cannot
        # hold the asked-for kind of answer (a number, a date...) are out.
        headings = np.array([is_heading(c.text) for c in candidates])
        if not headings.all():
            scores = np.where(headings, -1.0, scores)
        scores = np.where([can_answer(question, c.text) for c in candidates], scores, -1.0)
        order = np.argsort(-scores, kind="stable")
        best = float(scores[order[0]])
        if best < self.refuse_threshold:
            return Draft((), best)
        # A second sentence only when it is nearly as relevant: "why/how" answers often span two.
        chosen = [candidates[i] for i in order[: self.max_sentences] if scores[i] >= best - _SECOND_MARGIN]
        for c in list(chosen):
            following = next((n for n in candidates if n.passage == c.passage and n.start > c.end), None)
            if open_quote(c.text) and following and following not in chosen:
                chosen.insert(chosen.index(c) + 1, following)
        return Draft(tuple(Claim(c.text, (c.passage,)) for c in chosen), best)


def parse_claims(text: str, n_passages: int) -> tuple[Claim, ...]:
    """Sentences of an LLM answer with their [n] / [n, m] markers; markers naming no passage are dropped."""
    # A marker written after the full stop belongs to the sentence before it.
    text = _TRAILING_MARKERS.sub(lambda m: f"{m.group(2)}{m.group(1)} ", text)
    claims = []
    for start, end in sentence_spans(text):
        sentence = text[start:end]
        numbers = [int(n) for group in _MARKER.findall(sentence) for n in re.split(r"\s*,\s*", group)]
        cites = tuple(dict.fromkeys(n - 1 for n in numbers if 1 <= n <= n_passages))
        clean = _MARKER.sub("", sentence).strip()
        if re.search(r"\w", clean):
            claims.append(Claim(clean, cites))
    return tuple(claims)


def with_marker(sentence: str, numbers: list[int]) -> str:
    """The sentence with ` [n]` markers placed before its final punctuation."""
    markers = "".join(f" [{n}]" for n in numbers)
    body = re.match(r"(.*?)([.!?]+[\"'”’)]*)?$", sentence, re.S)
    return f"{body.group(1)}{markers}{body.group(2) or ''}"
