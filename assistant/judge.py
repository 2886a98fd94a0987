"""Does this sentence answer this question, and does any? Reading signals combined by logistic models fitted on dev data."""

import json
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Callable

import numpy as np

from assistant.answerability import asked_slot, focus_words, holds_slot, names, numbers
from assistant.errors import AssistantError
from assistant.reader import Reader
from assistant.types import Passage
from ingest.chunking import sentence_spans
from ingest.structure import pooled_as_judged, unit_text

MODEL_FILE = Path(__file__).parent / "models" / "judge.json"
ANSWER_FEATURES = ("cosine", "cosine_gap", "coverage", "context_coverage", "slot_found", "slot_missing",
                   "new_content", "names_found", "key_term_missing", "unknown_terms", "focus_missing",
                   "numbers_found", "reader")
RESCORED = 12  # candidates the reader reads (the best by similarity and coverage): its cost is per sentence
# The refusal decision reads the best sentence's answer probability beside that sentence's own signals, and whether
# any candidate at all holds what the question asks for (a price, a date, a person...).
REFUSAL_FEATURES = ("answer", *ANSWER_FEATURES, "slot_nowhere")
_UNSEEN = "\x00"  # a term no chunk holds: its IDF is the largest there is


@dataclass(frozen=True)
class Logistic:
    """A fitted logistic regression over named features; applying it is a dot product."""

    features: tuple[str, ...]
    weights: tuple[float, ...]
    bias: float
    threshold: float  # probability at or above which the decision is "yes"

    def over(self, names: tuple[str, ...]) -> "Logistic":
        """The same model over `names`, a signal it was not fitted on weighing 0 (a model file from before it)."""
        if names == self.features:
            return self
        given = dict(zip(self.features, self.weights))
        if set(given) - set(names):
            raise ValueError(f"signals {sorted(set(given) - set(names))} are not computed any more")
        return Logistic(names, tuple(given.get(n, 0.0) for n in names), self.bias, self.threshold)

    def probability(self, rows: np.ndarray) -> np.ndarray:
        if len(rows) == 0:
            return np.zeros(0)
        return 1.0 / (1.0 + np.exp(-(np.asarray(rows, float) @ np.array(self.weights) + self.bias)))


@dataclass(frozen=True)
class Models:
    """The calibrated decisions: does a sentence answer a question (ranks the sentences), does the best one answer
    it at all (else refuse), does a passage support a claim."""

    answer: Logistic
    refuse: Logistic
    support: Logistic

    def save(self, path: Path = MODEL_FILE) -> None:
        path.write_text(json.dumps({k: asdict(getattr(self, k)) for k in _KINDS}, indent=1) + "\n", encoding="utf-8")


_KINDS = ("answer", "refuse", "support")
# The verifier's signals, named here so a model file can be checked against them without importing the verifier.
SUPPORT_FEATURES = ("cosine", "coverage", "key_term_missing", "numbers_missing", "names_missing", "polarity_differs",
                    "antonym", "swapped", "reader")
_FEATURES = {"answer": ANSWER_FEATURES, "refuse": REFUSAL_FEATURES, "support": SUPPORT_FEATURES}


@cache
def load_models(path: Path = MODEL_FILE) -> Models:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        models = Models(*(Logistic(**{**data[k], "features": tuple(data[k]["features"]),
                                          "weights": tuple(data[k]["weights"])}).over(_FEATURES[k]) for k in _KINDS))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise AssistantError(f"{path}: not a judge model file ({exc}); run `python -m evals.calibrate`") from None
    return models


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
    rows = [passages[s.passage].sentence_vector(s.start, s.end)
            if pooled_as_judged(passages[s.passage], s.start, s.end) else None for s in sentences]
    missing = [i for i, row in enumerate(rows) if row is None]
    if missing:
        for i, row in zip(missing, embedder.sentence_vectors([sentences[i].text for i in missing])):
            rows[i] = row
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


def refusal_row(scores: np.ndarray, features: np.ndarray, best: int) -> np.ndarray:
    """REFUSAL_FEATURES of a question: its best candidate's answer probability and signals, and whether the asked-for
    slot is missing from every candidate."""
    nowhere = features[:, ANSWER_FEATURES.index("slot_missing")].all()
    return np.concatenate([[scores[best]], features[best], [float(nowhere)]])


def neighbours(sentences: list[Sentence], index: int) -> list[Sentence]:
    """The sentence with the one before and after it in the same passage."""
    return [s for s in sentences[max(0, index - 1): index + 2] if s.passage == sentences[index].passage]


@dataclass(frozen=True)
class Judgement:
    """The candidates' signals and answer probabilities, best first, and whether the question is refused."""

    features: np.ndarray  # one row of ANSWER_FEATURES per candidate
    scores: np.ndarray  # per candidate: the probability it answers the question
    order: np.ndarray  # candidate positions, most likely answer first
    answerable: float  # the probability that the best candidate answers at all
    refused: bool


class AnswerJudge:
    """Scores how likely each candidate sentence answers the question, from similarity, coverage and slot signals,
    and decides whether the best one answers at all: the one refusal decision of both modes."""

    def __init__(self, embedder, terms: Callable[[str], list[str]], idf: Callable[[str], float], models: Models,
                 refuse_threshold: float | None = None, reader: Reader | None = None):
        self.embedder = embedder
        self.reader = reader
        self.terms = terms
        self.idf = idf
        self.model = models.answer
        self.refusal = models.refuse
        self.refuse_threshold = models.refuse.threshold if refuse_threshold is None else refuse_threshold
        self._function = function_terms(terms)

    def judge(self, question: str, sentences: list[Sentence], chosen: list[int], passages: list[Passage]) -> Judgement:
        """Rank the chosen sentences and refuse when the best is unlikely to answer (or there is none)."""
        features = self.features(question, sentences, chosen, passages)
        scores = self.model.probability(features)
        order = np.argsort(-scores, kind="stable")
        if not len(order):
            return Judgement(features, scores, order, 0.0, True)
        answerable = float(self.refusal.probability(refusal_row(scores, features, int(order[0]))[None])[0])
        return Judgement(features, scores, order, answerable, answerable < self.refuse_threshold)

    def features(self, question: str, sentences: list[Sentence], chosen: list[int], passages: list[Passage]) -> np.ndarray:
        """One row of ANSWER_FEATURES per chosen sentence (indices into `sentences`, the passages' sentences in order)."""
        titles = [p.title for p in passages]
        # The same entity is looked for in the whole passage and its title: read each passage once, not per sentence.
        whole = [f"{p.title} {p.text}" for p in passages]
        passage_lower = [text.lower() for text in whole]
        passage_numbers = [numbers(text) for text in whole]
        if not chosen:
            return np.zeros((0, len(ANSWER_FEATURES)))
        cosine = vectors_of(self.embedder, [sentences[i] for i in chosen], passages) @ self.embedder.query_vector(question)
        q_terms = self.terms(question)
        q_set = set(q_terms)
        q_key = q_set - self._function
        slot = asked_slot(question)
        q_names = {n.lower() for n in names(question)}
        q_numbers = numbers(question)
        top_idf = self.idf(_UNSEEN)
        # Words of the question that no chunk of the collection holds ("GDP", "colour"): what it asks is not there.
        unknown = sum(self.idf(t) >= top_idf for t in q_key) / len(q_key) if q_key else 0.0
        focus = set(self.terms(" ".join(focus_words(question)))) - self._function
        rows = []
        for cos, i in zip(cosine, chosen):
            sentence = sentences[i]
            context_text = " ".join([titles[sentence.passage], *(s.text for s in neighbours(sentences, i))])
            terms = set(self.terms(sentence.text))
            context = set(self.terms(context_text))
            new = sum(self.idf(t) for t in terms - q_set) / (sum(self.idf(t) for t in terms) or 1.0)
            # The same entity: the question's names, and apart its numbers and versions ("Ledgerly 4.4.0" is not
            # 4.2.3), anywhere in the sentence's passage or its title.
            found = sum(n in passage_lower[sentence.passage] for n in q_names)
            numbers_found = (len(q_numbers & passage_numbers[sentence.passage]) / len(q_numbers)
                             if q_numbers else 1.0)
            missing = [self.idf(t) / top_idf for t in q_key - context]
            held = slot is not None and holds_slot(slot, sentence.text, question)
            rows.append([cos, 0.0, coverage(q_terms, terms, self.idf), coverage(q_terms, context, self.idf),
                         float(held), float(slot is not None and not held), new,
                         found / len(q_names) if q_names else 1.0, max(missing, default=0.0), unknown,
                         len(focus - context) / len(focus) if focus else 0.0, numbers_found, 0.0])
        out = np.array(rows)
        out[:, 1] = out[:, 0] - out[:, 0].max()  # how far below the best candidate's similarity
        if self.reader is not None:
            # The reader is costly per sentence, so it reads only today's likeliest candidates; the rest score 0.
            top = np.argsort(-(out[:, 0] + out[:, 2]), kind="stable")[:RESCORED]
            logits = self.reader.answers(question, [sentences[chosen[i]].text for i in top])
            out[top, ANSWER_FEATURES.index("reader")] = 1.0 / (1.0 + np.exp(-logits))
        return out


