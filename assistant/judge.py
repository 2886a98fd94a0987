"""Does this sentence answer this question, and does any? Reading signals combined by the fitted models."""

from dataclasses import dataclass
from typing import Callable

import numpy as np

from assistant.answerability import asked_slot, focus_words, holds_slot, names, numbers
from assistant.fitted import ANSWER_FEATURES, Models, sigmoid
from assistant.reader import Reader
from assistant.sentences import UNSEEN, Sentence, coverage, function_terms, neighbours, vectors_of
from assistant.types import Passage

RESCORED = 12  # candidates the reader reads (the best by similarity and coverage): its cost is per sentence


def refusal_row(scores: np.ndarray, features: np.ndarray, best: int) -> np.ndarray:
    """REFUSAL_FEATURES of a question: its best candidate's answer probability and signals, and whether the asked-for
    slot is missing from every candidate."""
    nowhere = features[:, ANSWER_FEATURES.index("slot_missing")].all()
    return np.concatenate([[scores[best]], features[best], [float(nowhere)]])


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
        # The reader costs per sentence: it reads only for models fitted to weigh it.
        self.reader = reader if models.answer.weighs("reader") or models.refuse.weighs("reader") else None
        self.terms = terms
        self.idf = idf
        self.model = models.answer
        self.refusal = models.refuse
        self.refuse_threshold = models.refuse.threshold if refuse_threshold is None else refuse_threshold
        self.function = function_terms(terms)  # never key terms

    def judge(self, question: str, sentences: list[Sentence], chosen: list[int], passages: list[Passage]) -> Judgement:
        """Rank the chosen sentences and refuse when the best is unlikely to answer (or there is none)."""
        features = self.features(question, sentences, chosen, passages)
        scores = self.model.probability(features)
        order = np.argsort(-scores, kind="stable")
        if not len(order):
            return Judgement(features, scores, order, 0.0, True)
        answerable = float(self.refusal.probability(refusal_row(scores, features, int(order[0]))[None])[0])
        return Judgement(features, scores, order, answerable, answerable < self.refuse_threshold)

    def features(self, question: str, sentences: list[Sentence], chosen: list[int],
                 passages: list[Passage]) -> np.ndarray:
        """One row of ANSWER_FEATURES per chosen sentence (indices into `sentences`, the passages' sentences in
        order)."""
        titles = [p.title for p in passages]
        # The same entity is looked for in the sentence's section of its passage (all of it when it has no headings)
        # and the title: each section is read once, not per sentence.
        sections: dict[str, tuple[str, set]] = {}

        def section(sentence: Sentence) -> tuple[str, set]:
            passage = passages[sentence.passage]
            whole = f"{passage.title} {passage.section_at(sentence.start)}"
            if whole not in sections:
                sections[whole] = (whole.lower(), numbers(whole))
            return sections[whole]
        if not chosen:
            return np.zeros((0, len(ANSWER_FEATURES)))
        vectors = vectors_of(self.embedder, [sentences[i] for i in chosen], passages)
        cosine = vectors @ self.embedder.query_vector(question)
        q_terms = self.terms(question)
        q_set = set(q_terms)
        q_key = q_set - self.function
        slot = asked_slot(question)
        q_names = {n.lower() for n in names(question)}
        q_numbers = numbers(question)
        top_idf = self.idf(UNSEEN)
        # Words of the question that no chunk of the collection holds ("GDP", "colour"): what it asks is not there.
        unknown = sum(self.idf(t) >= top_idf for t in q_key) / len(q_key) if q_key else 0.0
        focus = set(self.terms(" ".join(focus_words(question)))) - self.function
        rows = []
        for cos, i in zip(cosine, chosen):
            sentence = sentences[i]
            context_text = " ".join([titles[sentence.passage], *(s.text for s in neighbours(sentences, i))])
            terms = set(self.terms(sentence.text))
            context = set(self.terms(context_text))
            new = sum(self.idf(t) for t in terms - q_set) / (sum(self.idf(t) for t in terms) or 1.0)
            # The same entity: the question's names, and apart its numbers and versions ("Ledgerly 4.4.0" is not
            # 4.2.3), anywhere in the sentence's section or its title.
            lower, stated = section(sentence)
            found = sum(n in lower for n in q_names)
            numbers_found = len(q_numbers & stated) / len(q_numbers) if q_numbers else 1.0
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
            out[top, ANSWER_FEATURES.index("reader")] = sigmoid(logits)
        return out


