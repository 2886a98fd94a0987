"""Answer drafts: claims (sentences) with the passages they cite, written extractively or by an LLM."""

import re
from dataclasses import dataclass

from assistant.answerability import addresses_assistant, is_heading, open_quote
from assistant.fitted import ANSWER_FEATURES
from assistant.judge import AnswerJudge, Judgement
from assistant.sentences import Sentence, sentences_of
from assistant.types import CITATION_MARKER, Passage, marker_numbers, strip_markers
from ingest.chunking import sentence_spans
from ingest.structure import heads_a_list, is_markup, is_row_or_item

REFUSAL = "I could not find this in the documents."
_TRAILING_MARKERS = re.compile(rf"([.!?]+[\"'”’)]*)((?:{CITATION_MARKER.pattern})+)\s*")
_SECOND_MARGIN = 0.15  # a second sentence must score nearly as well as the first...
_SECOND_NEW = 0.5  # ...and bring mostly new words: it adds to the answer, not merely resembles it
_NEWER_MARGIN = 0.1  # a newer message's sentence on the same subject leads if it scores this close to the best...
_CHANGED_MARGIN = 0.35  # ...or this close when it says that something changed ("The review has moved to Friday")
_CHANGED = re.compile(r"\b(now|moved|changed?|instead|revised|rescheduled|postponed|brought forward|final|"
                      r"no longer|cancell?ed|replaced)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Claim:
    """One answer sentence and the passages (0-based, into the ranked list) it rests on."""

    text: str
    cites: tuple[int, ...]


@dataclass(frozen=True)
class Draft:
    """The answer's claims before verification; none: a refusal."""

    claims: tuple[Claim, ...]


class ExtractiveAnswerer:
    """Answers with the passage sentence the judge rates most likely to answer, or refuses when the judge refuses."""

    def __init__(self, judge: AnswerJudge, max_sentences: int):
        self.judge = judge
        self.max_sentences = max_sentences

    def candidates(self, passages: list[Passage], said: str = "") -> tuple[list[Sentence], list[int]]:
        """Every passage sentence, and the indices of those that may answer: no headings, FAQ questions, text
        addressed to the assistant, or sentences of `said` (the last answer, for a follow-up)."""
        sentences = sentences_of(passages)
        chosen = [i for i, s in enumerate(sentences) if self._may_answer(passages[s.passage], s)
                  and not addresses_assistant(s.text) and not (said and s.text in said)]
        return sentences, chosen

    @staticmethod
    def _may_answer(passage: Passage, sentence: Sentence) -> bool:
        """Never markup (a header row, rule, caption, e-mail or quote header); a table row or list item unless it
        asks a question, full stop or not; any other line unless it reads as a heading."""
        if is_markup(passage, sentence.start, sentence.end) or heads_a_list(passage, sentence.start, sentence.end):
            return False
        if is_row_or_item(passage, sentence.start, sentence.end):
            return not sentence.text.rstrip().endswith("?")
        return not is_heading(sentence.text)

    def draft(self, question: str, passages: list[Passage], said: str = "") -> Draft:
        """The best sentences, or none (a refusal); sentences in `said` (the last answer) are not repeated."""
        sentences, chosen = self.candidates(passages, said)
        if not chosen:
            return Draft(())
        judged = self.judge.judge(question, sentences, chosen, passages)
        features, scores = judged.features, judged.scores
        if judged.refused:
            return Draft(())
        order = self._newest_first(question, passages, sentences, chosen, judged)
        best = float(scores[order[0]])
        picked = [chosen[order[0]]]
        slot_found, slot_missing = ANSWER_FEATURES.index("slot_found"), ANSWER_FEATURES.index("slot_missing")
        row_of = {i: row for row, i in enumerate(chosen)}
        following = _next_in_passage(sentences, picked[0])
        # The lead sets the scene and the very next sentence holds what was asked ("Wait 2 hours before switching it
        # on." "This lets the refrigerant settle."): the answer goes on with it.
        if (features[order[0], slot_missing] and following in row_of and features[row_of[following], slot_found]
                and self.max_sentences > 1):
            picked.append(following)
        for o in order[1:]:
            if len(picked) >= self.max_sentences or scores[o] < max(self.judge.model.threshold, best - _SECOND_MARGIN):
                break
            # A second sentence must answer too (hold the asked-for slot) and add to the first, not repeat it; nor
            # come from an older message of its thread (the newer one overrules what it said).
            second, lead = sentences[chosen[o]], sentences[picked[0]]
            if _older(passages, second, lead):
                continue
            if not features[o, slot_missing] and self._adds(question, lead.text, second.text):
                picked.append(chosen[o])
        for i in list(picked):
            following = _next_in_passage(sentences, i)
            if open_quote(sentences[i].text) and following is not None and following not in picked:
                picked.insert(picked.index(i) + 1, following)
        return Draft(tuple(Claim(sentences[i].text, (sentences[i].passage,)) for i in picked))

    def _newest_first(self, question: str, passages: list[Passage], sentences: list[Sentence], chosen: list[int],
                      judged: Judgement) -> list[int]:
        """The judge's order, except that a candidate from a newer e-mail message of the same thread, likely to
        answer, holding what was asked and a question word the best one holds (the same subject), leads: a later
        message supersedes an earlier one."""
        order, scores = list(judged.order), judged.scores
        missing = judged.features[:, ANSWER_FEATURES.index("slot_missing")]
        asked = set(self.judge.terms(question)) - self.judge.function

        def sent(o: int) -> str:
            s = sentences[chosen[o]]
            return passages[s.passage].context_at(s.start).sent

        best = order[0]
        subject = asked & set(self.judge.terms(sentences[chosen[best]].text))
        lead = best
        for o in order[1:]:
            if scores[o] < max(self.judge.model.threshold, scores[best] - _CHANGED_MARGIN):
                break
            text = sentences[chosen[o]].text
            close = scores[o] >= scores[best] - _NEWER_MARGIN or _CHANGED.search(text)
            same_thread = passages[sentences[chosen[o]].passage].source \
                == passages[sentences[chosen[lead]].passage].source
            if (close and same_thread and sent(lead) and sent(o) > sent(lead) and missing[o] <= missing[best]
                    and subject & set(self.judge.terms(text))):
                lead = o
        return [lead] + [o for o in order if o != lead]

    def _adds(self, question: str, first: str, second: str) -> bool:
        """The second sentence says mostly something the question and the first sentence do not."""
        known = set(self.judge.terms(question)) | set(self.judge.terms(first))
        terms = set(self.judge.terms(second))
        return bool(terms) and len(terms - known) / len(terms) >= _SECOND_NEW


def _older(passages: list[Passage], sentence: Sentence, than: Sentence) -> bool:
    """The sentence is from an older e-mail message (or quotes one) of the same thread as `than`."""
    first, second = passages[sentence.passage], passages[than.passage]
    sent, lead = first.context_at(sentence.start).sent, second.context_at(than.start).sent
    return first.source == second.source and bool(sent and lead) and sent < lead


def _next_in_passage(sentences: list[Sentence], i: int) -> int | None:
    """The index of the sentence after sentence i, if it is in the same passage."""
    following = i + 1
    if following < len(sentences) and sentences[following].passage == sentences[i].passage:
        return following
    return None


def parse_claims(text: str, n_passages: int) -> tuple[Claim, ...]:
    """Sentences of an LLM answer with their [n] / [n, m] markers; markers naming no passage are dropped."""
    # A marker written after the full stop belongs to the sentence before it.
    text = _TRAILING_MARKERS.sub(lambda m: f"{m.group(2)}{m.group(1)} ", text)
    claims = []
    for start, end in sentence_spans(text):
        sentence = text[start:end]
        numbers = marker_numbers(sentence)
        cites = tuple(dict.fromkeys(n - 1 for n in numbers if 1 <= n <= n_passages))
        clean = strip_markers(sentence).strip()
        if re.search(r"\w", clean):
            claims.append(Claim(clean, cites))
    return tuple(claims)


def with_marker(sentence: str, numbers: list[int]) -> str:
    """The sentence with ` [n]` markers placed before its final punctuation."""
    markers = "".join(f" [{n}]" for n in numbers)
    body = re.match(r"(.*?)([.!?]+[\"'”’)]*)?$", sentence, re.S)
    assert body is not None  # the pattern matches every string
    return f"{body.group(1)}{markers}{body.group(2) or ''}"
