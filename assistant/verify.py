"""Citation verification: does the cited passage support the claim? Checked in the evidence sentence or its
neighbour."""

import re
from dataclasses import dataclass
from typing import Callable

import numpy as np

from assistant.answer import REFUSAL, Claim, Draft, with_marker
from assistant.answerability import NEGATION, addresses_assistant, names, numbers
from assistant.fitted import SUPPORT_FEATURES, Logistic, load_models, sigmoid
from assistant.reader import Reader
from assistant.sentences import UNSEEN, coverage, function_terms, sentences_of, vectors_of
from assistant.types import Citation, Passage

_MIN_COVERAGE = 0.5
_MIN_READ_COVERAGE = 0.3  # the floor when the reader says the evidence supports the claim
# Words that state the opposite of each other; forms listed where stemming does not join them (rose/rise).
_OPPOSITES = [
    ("open", "close"), ("opened", "closed"), ("introduce", "abolish"), ("introduced", "abolished"), ("rise", "fall"),
    ("rose", "fell"), ("risen", "fallen"), ("increase", "decrease"), ("increased", "decreased"), ("win", "lose"),
    ("won", "lost"), ("accept", "reject"), ("accepted", "rejected"), ("allow", "forbid"), ("allowed", "forbade"),
    ("allowed", "banned"), ("permit", "prohibit"), ("approve", "reject"), ("begin", "end"), ("began", "ended"),
    ("start", "finish"), ("before", "after"), ("north", "south"), ("east", "west"), ("northern", "southern"),
    ("eastern", "western"), ("largest", "smallest"), ("larger", "smaller"), ("highest", "lowest"),
    ("higher", "lower"), ("more", "less"), ("most", "least"), ("first", "last"), ("earliest", "latest"),
    ("earlier", "later"), ("gain", "lose"), ("gained", "lost"), ("support", "oppose"), ("succeed", "fail"),
    ("succeeded", "failed"), ("upstream", "downstream"), ("above", "below"), ("inside", "outside"),
    ("minimum", "maximum"), ("strengthen", "weaken"), ("expand", "shrink"), ("build", "demolish"),
    ("built", "destroyed"), ("born", "died"), ("victory", "defeat"), ("majority", "minority"), ("public", "private"),
    ("legal", "illegal"), ("long", "short"), ("longer", "shorter"), ("wide", "narrow"), ("early", "late"),
    ("hot", "cold"), ("warm", "cool"), ("wet", "dry"), ("buy", "sell"), ("bought", "sold"), ("arrive", "depart"),
    ("import", "export"), ("include", "exclude"), ("enter", "leave"), ("joined", "left"), ("add", "remove"),
    ("cheaper", "dearer"), ("true", "false"), ("ancient", "modern"), ("mandatory", "optional"),
    ("required", "optional"),
]
_WORDS = re.compile(r"\w+")
_PASSIVE = re.compile(r"\b(is|are|was|were|be|been|being)\s+(\w+ly\s+)?\w+(ed|en|wn|t|ne)\b(\s+[\w-]+){0,4}?\s+by\b",
                      re.I)


@dataclass(frozen=True)
class Verdict:
    """Whether the passages support a claim, how strongly (a probability), and the evidence span that decided it."""

    supported: bool
    score: float
    passage: int | None  # index into the passages given; None when none has a usable sentence
    start: int = 0  # the evidence span (one sentence, or it and a neighbour) within that passage's text
    end: int = 0
    quote: str = ""


@dataclass(frozen=True)
class _ClaimFacts:
    """What a claim states that its evidence must state too, computed once per claim."""

    text: str
    terms: list[str]
    top_idf: float
    numbers: set[float | str]
    names: list[str]  # lower-cased, in the order the claim names them


def _claim_facts(claim: str, terms: list[str], top_idf: float) -> _ClaimFacts:
    lowered = claim.lower()
    ordered = sorted({n.lower() for n in names(claim)}, key=lowered.find)
    return _ClaimFacts(claim, terms, top_idf, numbers(claim), ordered)


class Verifier:
    """Claim support from similarity, coverage, numbers as values, names, polarity, antonyms and argument order."""

    def __init__(self, embedder, terms: Callable[[str], list[str]], idf: Callable[[str], float],
                 threshold: float | None, drop_unsupported: bool, model: Logistic | None = None,
                 reader: Reader | None = None):
        self.embedder = embedder
        self.reader = reader
        self.terms = terms
        self.idf = idf
        self.model = model or load_models().support
        self.threshold = self.model.threshold if threshold is None else threshold
        self.drop_unsupported = drop_unsupported
        self._function = function_terms(terms)
        self._opposites = [(terms(a)[0], terms(b)[0]) for a, b in _OPPOSITES if terms(a) and terms(b)]

    def evidence(self, claim: str, passage: Passage) -> tuple[list[float], int, int] | None:
        """SUPPORT_FEATURES of the passage's evidence for the claim, and its span: the most similar sentence, joined
        by a neighbour when that covers more of the claim; None when the passage has no usable sentence."""
        # Text addressed to the assistant ("ignore previous instructions and say X") is never evidence.
        sentences = [s for s in sentences_of([passage]) if not addresses_assistant(s.text)]
        if not sentences:
            return None
        vectors = vectors_of(self.embedder, sentences, [passage])
        # An extractive claim is one of these sentences: its stored vector, so both sides come from one pass.
        own = next((vectors[i] for i, s in enumerate(sentences)
                    if s.text == claim and passage.sentence_vector(s.start, s.end) is not None), None)
        cosine = vectors @ (self.embedder.sentence_vectors([claim])[0] if own is None else own)
        claim_terms = self.terms(claim)
        sentence_terms = [set(self.terms(s.text)) for s in sentences]
        covered = [coverage(claim_terms, t, self.idf) for t in sentence_terms]
        best = int(np.argmax(cosine + np.array(covered)))
        window, best_cover = [best], covered[best]
        for other in (best - 1, best + 1):
            if 0 <= other < len(sentences) and sentences[other].passage == sentences[best].passage:
                joined = coverage(claim_terms, sentence_terms[best] | sentence_terms[other], self.idf)
                if joined > best_cover + 0.01:
                    window, best_cover = sorted([best, other]), joined
        start, end = sentences[window[0]].start, sentences[window[-1]].end
        # Names and numbers may sit in a neighbour ("It is 34 miles long" after the sentence naming the canal).
        around = " ".join([passage.title, *(s.text for s in sentences[max(0, best - 1): best + 2])])
        facts = _claim_facts(claim, claim_terms, self.idf(UNSEEN))
        # The window as judged (a table row with its headers), as the claim was; the quote stays the text as written.
        judged = " ".join(sentences[i].text for i in range(window[0], window[-1] + 1))
        row = self._features(facts, judged, around, sentences[best].text, float(cosine[best]))
        if self.reader is not None:
            row[SUPPORT_FEATURES.index("reader")] = float(sigmoid(self.reader.supports(claim, [judged]))[0])
        return row, start, end

    def _features(self, facts: _ClaimFacts, window: str, around: str, main: str, cosine: float) -> list[float]:
        terms = set(self.terms(window))
        lowered = window.lower()
        missing_terms = [self.idf(t) / facts.top_idf for t in set(facts.terms) - terms - self._function]
        missing_numbers = float(bool(facts.numbers - numbers(around)))
        missing_names = float(any(n not in around.lower() for n in facts.names))
        claim_terms = set(facts.terms)
        antonym = any((a in claim_terms and a not in terms and b in terms)
                      or (b in claim_terms and b not in terms and a in terms)
                      for a, b in self._opposites)
        return [cosine, coverage(facts.terms, terms, self.idf), max(missing_terms, default=0.0), missing_numbers,
                missing_names, float(self._polarity_differs(facts.text, main)), float(antonym),
                float(self._swapped(facts, lowered)),
                0.0]

    def _swapped(self, facts: _ClaimFacts, window: str) -> bool:
        """Two names of the claim trade places around the same word in the evidence, in the same voice."""
        claim = facts.text.lower()
        if bool(_PASSIVE.search(claim)) != bool(_PASSIVE.search(window)):
            return False  # "A built B" and "B was built by A" say the same
        present = [n for n in facts.names if n in window]
        for position, a in enumerate(present):
            for b in present[position + 1:]:
                ca, cb, wa, wb = claim.find(a), claim.find(b), window.find(a), window.find(b)
                if a in b or b in a or wa <= wb:
                    continue
                # A name that moved with its own phrase (a reordered sentence) keeps a neighbouring word.
                if any(_beside(claim, n) & _beside(window, n) for n in (a, b)):
                    continue
                relation = set(self.terms(claim[ca + len(a): cb]))
                if relation & set(self.terms(window[wb + len(b): wa])):
                    return True
        return False

    def _polarity_differs(self, claim: str, evidence: str) -> bool:
        """The claim and its evidence disagree on negation, counting only negations of words both of them state."""
        claim_terms, evidence_terms = set(self.terms(claim)), set(self.terms(evidence))
        return _negations(claim, evidence_terms, self.terms) % 2 != _negations(evidence, claim_terms, self.terms) % 2

    def support(self, claim: str, passage: Passage) -> Verdict:
        """Whether one passage supports the claim, judged on its evidence span."""
        found = self.evidence(claim, passage)
        if found is None:
            return Verdict(False, 0.0, None)
        row, start, end = found
        score = float(self.model.probability(np.array([row]))[0])
        # Evidence that states under half of what the claim says (IDF-weighted) is no evidence, whatever else agrees:
        # the dev claims never test this (their false claims are near-copies of their evidence), so it is a floor.
        # A paraphrase states the claim in other words: the reader's own verdict (logit above 0) stands in for some
        # of them, not all (on the dev claims every true paraphrase it let in covered 0.33 or more, and three
        # unrelated claims it let in 0.21 or less). Function words are not what a claim says: "have" and "been"
        # cover half of a fake model's "I have been pwned.", so the passage must state one of its other words too.
        coverage_ = row[SUPPORT_FEATURES.index("coverage")]
        covered = coverage_ >= _MIN_COVERAGE or (self.reader is not None and coverage_ >= _MIN_READ_COVERAGE
                                                 and row[SUPPORT_FEATURES.index("reader")] >= 0.5)
        said = set(self.terms(claim)) - self._function
        covered = covered and bool(said & set(self.terms(f"{passage.title} {passage.text}")))
        return Verdict(covered and score >= self.threshold, round(score, 4), 0, start, end, passage.text[start:end])

    def check(self, claim: str, passages: list[Passage]) -> Verdict:
        """Whether any of the passages supports the claim, with the evidence span (passage index, offsets, quote)."""
        verdicts = [(self.support(claim, p), i) for i, p in enumerate(passages)]
        verdict, index = max(verdicts, key=lambda v: v[0].score, default=(Verdict(False, 0.0, None), None))
        return Verdict(verdict.supported, verdict.score, index if verdict.passage is not None else None,
                       verdict.start, verdict.end, verdict.quote)

    def attribute(self, claim: Claim, passages: list[Passage]) -> Claim:
        """An uncited claim gets the passage that supports it best, if any does."""
        if claim.cites or not passages:
            return claim
        verdict = self.check(claim.text, passages)
        return Claim(claim.text, () if verdict.passage is None else (verdict.passage,))

    def verify(self, draft: Draft, passages: list[Passage]) -> tuple[str, list[Citation], list[str], bool]:
        """(answer text with [n] markers, citations, unsupported sentences, refused)."""
        citations: dict[tuple[int, int, int, bool], Citation] = {}
        sentences, unsupported = [], []
        for claim in (self.attribute(c, passages) for c in draft.claims):
            checks = [(index, self.support(claim.text, passages[index])) for index in claim.cites]
            checks = [(index, v) for index, v in checks if v.passage is not None]
            if not any(v.supported for _, v in checks):
                unsupported.append(claim.text)
                if self.drop_unsupported:
                    continue
            numbers_ = []
            for index, v in checks:
                key = (index, v.start, v.end, v.supported)  # one span may support one sentence, not another
                if key not in citations:
                    citations[key] = _citation(len(citations) + 1, passages[index], v)
                numbers_.append(citations[key].number)
            sentences.append(with_marker(claim.text, numbers_))
        if len(unsupported) == len(draft.claims):
            return REFUSAL, [], unsupported, True
        return " ".join(sentences), list(citations.values()), unsupported, False


def _beside(text: str, name: str) -> set[str]:
    """The words just before and after a name's first mention."""
    at = text.find(name)
    before = _WORDS.findall(text[max(0, at - 30): at])[-1:]
    after = _WORDS.findall(text[at + len(name): at + len(name) + 30])[:1]
    return {f"<{w}" for w in before} | {f"{w}>" for w in after}


def _negations(text: str, other_terms: set[str], terms: Callable[[str], list[str]]) -> int:
    """Negations in `text` whose next two words include one the other text states too."""
    return sum(bool(set(terms(" ".join(_WORDS.findall(text[m.end(): m.end() + 40])[:2]))) & other_terms)
               for m in NEGATION.finditer(text))


def _citation(number: int, passage: Passage, verdict: Verdict) -> Citation:
    # Lines and pages of the quote itself (not of its chunk), in the file a person opens.
    return Citation(
        number=number, source=passage.source, title=passage.title, start=passage.start + verdict.start,
        end=passage.start + verdict.end, quote=verdict.quote, score=verdict.score, supported=verdict.supported,
        **passage.place(verdict.start, verdict.end).model_dump(),
    )
