"""evals.metrics, computed by hand: retrieval, answer text, citations (gold only, never the verifier's verdict),
refusals and percentiles; each with a case that must come out low."""

import math

import pytest

from evals import metrics, stats
from evals.dataset import Evidence
from tests.evals.data import GOLD, RANKED
from tests.helpers import citation, passage


def test_holds_by_span_overlap_text_line_or_document():
    assert metrics.holds(passage("…s the cap", 105), GOLD[0])  # overlaps the quote's span
    assert not metrics.holds(passage("Paris is the capital", 500, source="/other/b.txt"), GOLD[0])  # other file
    assert metrics.holds(passage("Paris is  the\ncapital", 900), Evidence(source="a.txt", quote="Paris is the capital"))
    assert metrics.holds(passage("x", 0, line=7), Evidence(source="a.txt", line=7))
    assert not metrics.holds(passage("x", 0, line=8), Evidence(source="a.txt", line=7))
    assert metrics.holds(passage("x", 0), Evidence(source="a.txt"))


def test_retrieval_metrics():
    assert metrics.hit_at(RANKED, GOLD, 1) == 0.0
    assert metrics.hit_at(RANKED, GOLD, 2) == 1.0
    assert metrics.recall_at(RANKED, GOLD, 2) == 0.5
    assert metrics.recall_at(RANKED, GOLD, 3) == 1.0
    assert metrics.reciprocal_rank(RANKED, GOLD) == 0.5
    assert metrics.reciprocal_rank(RANKED[:1], GOLD) == 0.0
    # Gold at ranks 2 and 3; the ideal has them at ranks 1 and 2.
    expected = (1 / math.log2(3) + 1 / math.log2(4)) / (1 + 1 / math.log2(3))
    assert metrics.ndcg_at(RANKED, GOLD, 3) == pytest.approx(expected)
    assert metrics.ndcg_at(RANKED, GOLD, 2) == pytest.approx((1 / math.log2(3)) / (1 + 1 / math.log2(3)))
    assert metrics.ndcg_at([passage("Paris is the capital, on the Seine", 100)], GOLD, 3) == 1.0  # both in one passage


def test_squad_normalisation_exact_match_and_f1():
    assert metrics.normalize("The  Cat’s “Hat”, a RED one!") == "cats hat red one"
    assert metrics.exact_match("the Eiffel Tower.", ["Louvre", "Eiffel  tower"]) == 1.0
    assert metrics.exact_match("Eiffel Tower in Paris", ["Eiffel Tower"]) == 0.0
    # [big, red, dog] vs [red, dog, runs]: 2 common, P = R = 2/3.
    assert metrics.token_f1("the big red dog", ["red dog runs"]) == pytest.approx(2 / 3)
    assert metrics.token_f1("red dog", ["cat", "red dog"]) == 1.0
    assert metrics.token_f1("", ["red dog"]) == 0.0
    assert metrics.exact_match("anything", []) == 0.0


def test_contains_answer_matches_whole_words_after_normalisation():
    assert metrics.contains_answer("Envoy Steve Witkoff met Putin.", ["steve witkoff"]) == 1.0
    assert metrics.contains_answer("Envoy Steve Witkoff met Putin.", ["Wit"]) == 0.0
    assert metrics.contains_answer("It is “solution-based,” he said", ["solution-based"]) == 1.0
    assert metrics.contains_answer("", ["x"]) == 0.0


def test_cites_needs_the_same_file_and_overlapping_quotes():
    gold = Evidence(source="a.txt", quote="Paris is the capital", start=100)
    # the cited sentence holds the quote
    assert metrics.cites(citation(1, "Paris is the capital of France.", 100), gold)
    assert metrics.cites(citation(1, "is the cap", 105), gold)  # overlapping char spans
    assert metrics.cites(citation(1, "capital of France.", 112), gold)  # overlapping, neither contains the other
    assert not metrics.cites(citation(1, "Lyon is a city.", 110), gold)  # spans overlap, texts do not: other offsets
    assert not metrics.cites(citation(1, ". Next", 119), gold)  # sharing a full stop is not holding evidence
    # other file
    assert not metrics.cites(citation(1, "Paris is the capital of France.", 100, source="/docs/b.txt"), gold)
    assert not metrics.cites(citation(1, "Lyon is a city.", 400), gold)
    # Without offsets (PDF, DOCX, HTML) the quotes must contain one another, whitespace aside.
    loose = Evidence(source="a.pdf", quote="The canal opened\nthroughout in 1801.  It was busy.")
    assert metrics.cites(citation(1, "The canal opened throughout in 1801.", 5000, source="a.pdf"), loose)
    assert metrics.cites(citation(1, "Yes: the canal opened throughout in 1801. It was busy. Then not.", 0,
                                  source="a.pdf"),
                         loose.model_copy(update={"quote": "the canal opened throughout in 1801. It was busy."}))
    assert not metrics.cites(citation(1, "The canal closed in 1901.", 0, source="a.pdf"), loose)
    assert not metrics.cites(citation(1, "", 0, source="a.pdf"), loose)


def test_citation_precision_counts_gold_only_never_the_verdict():
    cites = [citation(1, "unrelated", 0), citation(2, "Paris is the capital", 100, supported=False),
             citation(3, "nothing", 700, supported=False)]
    # only 2 holds gold; 1's support counts for nothing
    assert metrics.citation_precision(cites, GOLD) == pytest.approx(1 / 3)
    assert metrics.citation_precision(cites[:1], GOLD) == 0.0
    assert metrics.citation_recall(cites, GOLD) == 0.5
    assert metrics.citation_recall(cites[:1], GOLD) == 0.0
    assert metrics.citation_precision([], GOLD) is None
    assert metrics.citation_recall(cites, []) is None
    # Sentence 1 cites a supported citation, 2 an unsupported one, 3 nothing.
    text = "Paris is the capital [1]. It lies on the Seine [2]. It is big."
    assert metrics.faithfulness(text, cites[:2]) == pytest.approx(1 / 3)
    assert metrics.faithfulness("", cites) is None


def test_verifier_accepted_is_its_own_metric():
    cites = [citation(1, "unrelated", 0), citation(2, "Paris is the capital", 100, supported=False)]
    assert metrics.verifier_accepted(cites) == 0.5
    assert metrics.verifier_accepted(cites[1:]) == 0.0
    assert metrics.verifier_accepted([]) is None


def test_citation_located_by_page_lines_or_quote():
    on_page = Evidence(source="a.pdf", quote="x", page=3)
    assert metrics.citation_located([citation(1, "y", 0, source="a.pdf", page=3)], [on_page]) == 1.0
    assert metrics.citation_located([citation(1, "y", 0, source="a.pdf", page=2)], [on_page]) == 0.0
    assert metrics.citation_located([citation(1, "y", 0, source="a.pdf")], [on_page]) == 0.0  # no page at all
    assert metrics.citation_located([citation(1, "y", 0, source="b.pdf", page=3)], [on_page]) == 0.0
    on_lines = Evidence(source="a.txt", quote="x", line=4, line_end=5, start=40)
    assert metrics.citation_located([citation(1, "y", 0, lines=(5, 7))], [on_lines]) == 1.0
    assert metrics.citation_located([citation(1, "y", 0, lines=(6, 7)), citation(2, "z", 0, lines=(1, 3))],
                                    [on_lines]) == 0.0
    # HTML lines count the file on disk, not the extracted text the citation's lines count: the quote decides.
    html = Evidence(source="a.html", quote="Paris is the capital", line=40)
    assert metrics.citation_located([citation(1, "Paris is the capital.", 0, source="a.html", lines=(3, 3))],
                                    [html]) == 1.0
    assert metrics.citation_located([citation(1, "Lyon is a city.", 0, source="a.html", lines=(40, 40))], [html]) == 0.0
    by_quote = Evidence(source="a.docx", quote="Paris is the capital")
    assert metrics.citation_located([citation(1, "Paris is the capital.", 0, source="a.docx")], [by_quote]) == 1.0
    assert metrics.citation_located([citation(1, "Lyon is a city.", 0, source="a.docx")], [by_quote]) == 0.0
    assert metrics.citation_located([], [by_quote]) == 0.0
    assert metrics.citation_located([citation(1, "y", 0)], []) is None

def test_refusal_scores_and_percentiles():
    scores = metrics.refusal_scores(answerable=[True, True, False, False, False],
                                    refused=[True, False, True, True, False])
    assert scores == {"refusal.precision": pytest.approx(2 / 3), "refusal.recall": pytest.approx(2 / 3),
                      "refusal.answerable_refused": 0.5}
    assert metrics.refusal_scores([True], [False])["refusal.recall"] is None
    assert stats.percentile([5, 1, 4, 2, 3], 50) == 3
    assert stats.percentile([5, 1, 4, 2, 3], 95) == 5
    assert stats.percentile(list(range(1, 21)), 95) == 19
    assert stats.percentile([], 50) is None
