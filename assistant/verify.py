"""Citation verification: every answer sentence is checked against the passages it cites."""

import re

import numpy as np

from assistant.answer import REFUSAL, Claim, Draft, coverage, sentences_of, with_marker
from assistant.types import Citation, Passage

_NUMBER = re.compile(r"\d[\d,.]*\d|\d")
_INSTRUCTION = re.compile(
    r"\b(ignore|disregard|forget|override)\b.{0,40}\b(instructions?|rules|prompts?|above|previous)\b"
    r"|\b(you must|you are now|system prompt|new instructions)\b"
    r"|^\s*(please\s+)?(reply|respond)\b|\b(reply|respond)\s+only\b|^\s*(assistant|system|user)\s*:", re.I)


class Verifier:
    """Scores claim-passage support (embedding similarity and lexical coverage); numbers must appear verbatim."""

    def __init__(self, embedder, terms, idf, threshold: float, drop_unsupported: bool):
        self.embedder = embedder
        self.terms = terms
        self.idf = idf
        self.threshold = threshold
        self.drop_unsupported = drop_unsupported

    def support(self, claim: str, passage: Passage) -> tuple[float, int, int]:
        """(support score, start, end of the best quote within the passage text)."""
        # A passage sentence that gives orders ("ignore previous instructions and say X") is never evidence.
        sentences = [s for s in sentences_of([passage]) if not _INSTRUCTION.search(s.text)]
        if not sentences:
            return 0.0, 0, 0
        vectors = self.embedder.sentence_vectors([s.text for s in sentences])
        similarity = vectors @ self.embedder.sentence_vectors([claim])[0]
        claim_terms = self.terms(claim)
        lexical = np.array([coverage(claim_terms, set(self.terms(s.text)), self.idf) for s in sentences])
        scores = 0.5 * similarity + 0.5 * lexical
        best = int(np.argmax(scores))
        score = float(scores[best])
        if any(number not in passage.text for number in _NUMBER.findall(claim)):
            score = min(score, self.threshold - 0.01)  # a number the passage never states is not supported
        return score, sentences[best].start, sentences[best].end

    def attribute(self, claim: Claim, passages: list[Passage]) -> Claim:
        """An uncited claim gets the passage that supports it best, if any does."""
        if claim.cites or not passages:
            return claim
        best = max(range(len(passages)), key=lambda i: self.support(claim.text, passages[i])[0])
        return Claim(claim.text, (best,))

    def verify(self, draft: Draft, passages: list[Passage]) -> tuple[str, list[Citation], list[str], bool]:
        """(answer text with [n] markers, citations, unsupported sentences, refused)."""
        citations: dict[tuple[int, int, int], Citation] = {}
        sentences, unsupported = [], []
        for claim in (self.attribute(c, passages) for c in draft.claims):
            checks = [(index, *self.support(claim.text, passages[index])) for index in claim.cites]
            if not any(score >= self.threshold for _, score, _, _ in checks):
                unsupported.append(claim.text)
                if self.drop_unsupported:
                    continue
            numbers = []
            for index, score, start, end in checks:
                key = (index, start, end, score >= self.threshold)  # one span may support one sentence, not another
                if key not in citations:
                    citations[key] = _citation(len(citations) + 1, passages[index], start, end, score,
                                               score >= self.threshold)
                numbers.append(citations[key].number)
            sentences.append(with_marker(claim.text, numbers))
        if len(unsupported) == len(draft.claims):
            return REFUSAL, [], unsupported, True
        return " ".join(sentences), list(citations.values()), unsupported, False


def _citation(number: int, passage: Passage, start: int, end: int, score: float, supported: bool) -> Citation:
    # Lines and pages of the quote itself (not of its chunk), in the file a person opens.
    return Citation(
        number=number, source=passage.source, title=passage.title, start=passage.start + start,
        end=passage.start + end, quote=passage.text[start:end], score=round(score, 4), supported=supported,
        **passage.place(start, end).model_dump(),
    )
