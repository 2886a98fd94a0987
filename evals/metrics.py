"""Deterministic scores: retrieval against gold evidence, SQuAD answer matching, citations, refusals and latency."""

import math
import re
import string
import unicodedata
from collections import Counter
from pathlib import Path

from assistant.types import Citation, Passage, marker_numbers, strip_markers
from evals.dataset import Evidence
from ingest.chunking import sentence_spans

WORD = re.compile(r"\w")


def holds(passage: Passage, evidence: Evidence) -> bool:
    """A passage holds gold evidence: same file name, and its span overlaps the quote or its text contains it."""
    if not same_file(passage.source, evidence.source):
        return False
    if evidence.quote and evidence.start is not None and passage.start < evidence.start + len(evidence.quote) \
        and evidence.start < passage.end:
        return True
    if evidence.quote:
        return squeeze(evidence.quote) in squeeze(passage.text)
    if evidence.line is not None:
        return passage.line_start <= evidence.line <= passage.line_end
    return True  # the evidence names only the document


def same_file(source: str, gold_source: str) -> bool:
    return Path(source).name == Path(gold_source).name


def squeeze(text: str) -> str:
    """Whitespace-normalised text: PDF and HTML extraction wrap and space lines differently from the gold quote."""
    return " ".join(text.split())


def cites(citation: Citation, evidence: Evidence) -> bool:
    """A citation's quoted span holds gold evidence: same file, and the cited and gold quotes overlap.

    They overlap by char span when the gold offset is known (plain-text files), or when one contains the other after
    whitespace normalisation. Gold without a quote is matched by its location. Whether the verifier supports it
    does not count.
    """
    if not same_file(citation.source, evidence.source):
        return False
    if not evidence.quote:
        return located(citation, evidence)
    cited, gold = squeeze(citation.quote), squeeze(evidence.quote)
    if evidence.start is not None:
        first, last = max(citation.start, evidence.start), min(citation.end, evidence.start + len(evidence.quote))
        # Gold offsets count the file on disk, citation offsets the extracted (maybe reflowed) text: the spans overlap
        # only if the gold text they share is in the cited quote too, and holds a word.
        shared = squeeze(evidence.quote[first - evidence.start:last - evidence.start])
        if first < last and WORD.search(shared) and shared in cited:
            return True
    return bool(cited) and (gold in cited or cited in gold)


def located(citation: Citation, evidence: Evidence) -> bool:
    """A citation names the gold location: the gold page within its pages, or the gold lines overlapping its lines.

    Gold with neither (DOCX), or with lines that do not count the extracted text (HTML), is located by the quote;
    gold naming only the document by the file.
    """
    if not same_file(citation.source, evidence.source):
        return False
    if evidence.page is not None:
        # Citations gain `page_end` when a quote spans pages; until then a citation covers one page.
        last = getattr(citation, "page_end", None) or citation.page
        return citation.page is not None and citation.page <= evidence.page <= last
    # Gold lines count the file on disk, as citation lines do for plain text (the quote was located there), not HTML.
    if evidence.line is not None and (evidence.start is not None or not evidence.quote):
        return citation.line_start <= (evidence.line_end or evidence.line) and evidence.line <= citation.line_end
    return cites(citation, evidence) if evidence.quote else True


# Retrieval: `passages` are ranked best first.

def hit_at(passages: list[Passage], evidence: list[Evidence], k: int) -> float:
    return float(any(holds(p, ev) for p in passages[:k] for ev in evidence))


def recall_at(passages: list[Passage], evidence: list[Evidence], k: int) -> float:
    """Share of gold evidence pieces held by some top-k passage."""
    return sum(any(holds(p, ev) for p in passages[:k]) for ev in evidence) / len(evidence)


def reciprocal_rank(passages: list[Passage], evidence: list[Evidence]) -> float:
    return next((1 / rank for rank, p in enumerate(passages, 1) if any(holds(p, ev) for ev in evidence)), 0.0)


def ndcg_at(passages: list[Passage], evidence: list[Evidence], k: int) -> float:
    """Each gold piece gains 1/log2(rank+1) at the first passage holding it; the ideal finds one per rank from rank
    1."""
    ranks = [next((r for r, p in enumerate(passages[:k], 1) if holds(p, ev)), None) for ev in evidence]
    dcg = sum(1 / math.log2(r + 1) for r in ranks if r is not None)
    ideal = sum(1 / math.log2(r + 1) for r in range(1, min(len(evidence), k) + 1))
    # One passage may hold several pieces, which beats the one-per-rank ideal.
    return min(dcg / ideal, 1.0)


# Answers, as in the official SQuAD evaluation script.

def normalize(text: str) -> str:
    """Lowercase, drop punctuation (Unicode too: the text has curly quotes), articles and extra whitespace."""
    text = "".join(ch for ch in text.lower() if ch not in string.punctuation
                   and not unicodedata.category(ch).startswith("P"))
    return " ".join(re.sub(r"\b(a|an|the)\b", " ", text).split())


def exact_match(prediction: str, references: list[str]) -> float:
    return max((float(normalize(prediction) == normalize(ref)) for ref in references), default=0.0)


def token_f1(prediction: str, references: list[str]) -> float:
    return max((_f1(normalize(prediction).split(), normalize(ref).split()) for ref in references), default=0.0)


def _f1(predicted: list[str], reference: list[str]) -> float:
    if not predicted or not reference:
        return float(predicted == reference)
    common = sum((Counter(predicted) & Counter(reference)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(reference)
    return 2 * precision * recall / (precision + recall)


def contains_answer(prediction: str, references: list[str]) -> float:
    """Whether some reference appears in the prediction as whole words, after normalisation."""
    padded = f" {normalize(prediction)} "
    return float(any(norm and f" {norm} " in padded for norm in map(normalize, references)))


# Citations.

def citation_precision(citations: list[Citation], evidence: list[Evidence]) -> float | None:
    """Share of citations whose quoted span holds gold evidence; None when nothing is cited.

    An unanswerable item has no gold evidence, so every citation it gets is wrong.
    """
    if not citations:
        return None
    return sum(any(cites(c, ev) for ev in evidence) for c in citations) / len(citations)


def citation_recall(citations: list[Citation], evidence: list[Evidence]) -> float | None:
    """Share of gold evidence pieces that some citation holds; None without gold evidence."""
    if not evidence:
        return None
    return sum(any(cites(c, ev) for c in citations) for ev in evidence) / len(evidence)


def citation_located(citations: list[Citation], evidence: list[Evidence]) -> float | None:
    """1 when some citation names the location of some gold evidence piece, else 0; None without gold evidence."""
    if not evidence:
        return None
    return float(any(located(c, ev) for c in citations for ev in evidence))


def verifier_accepted(citations: list[Citation]) -> float | None:
    """Share of citations the verifier marked supported: what it accepts, right or wrong; None when nothing is cited."""
    if not citations:
        return None
    return sum(c.supported for c in citations) / len(citations)


def faithfulness(text: str, citations: list[Citation]) -> float | None:
    """Share of answer sentences that cite something and whose citations all support them; None for an empty text."""
    supported = {c.number for c in citations if c.supported}
    # Split as the assistant splits answers into claims, so both count the same sentences.
    sentences = [text[start:end] for start, end in sentence_spans(text) if strip_markers(text[start:end]).strip()]
    if not sentences:
        return None
    cited = [set(marker_numbers(s)) for s in sentences]
    return sum(bool(numbers) and numbers <= supported for numbers in cited) / len(sentences)


# Refusals and latency, over a whole run.

def refusal_scores(answerable: list[bool], refused: list[bool]) -> dict[str, float | None]:
    """Precision and recall of refusing, counting unanswerable items as the positives, and the answerable-refused
    rate."""
    right = sum(r and not a for a, r in zip(answerable, refused))
    wrong = sum(r and a for a, r in zip(answerable, refused))
    return {
        "refusal.precision": _ratio(right, right + wrong),
        "refusal.recall": _ratio(right, answerable.count(False)),
        "refusal.answerable_refused": _ratio(wrong, answerable.count(True)),
    }


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None
