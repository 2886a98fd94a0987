"""evals.harness: per-item scores, why an item failed, the run's aggregate, and a real run that repeats exactly."""


import pytest

from evals.dataset import Item
from evals.harness import Row, aggregate, metric_names, pick, score_item, why_failed
from tests.evals.data import GOLD, RANKED
from tests.helpers import ROOT, answer, citation

HARBOR = Item(id="h", question="When did the Harbor Bridge close?", answerable=False, category="near-miss")


def test_a_verified_answer_to_an_unanswerable_question_scores_zero():
    """The issue's case: a wrong answer whose citation the verifier accepts must not look right."""
    reply = answer("The Harbor Bridge opened to traffic in 1932 [1].",
                   citations=[citation(1, "The Harbor Bridge opened to traffic in 1932.", 0, supported=True)])
    scores = score_item(HARBOR, reply, k=5)
    assert scores["citation.precision"] == 0.0 and scores["verifier.accepted"] == 1.0
    assert scores["citation.located"] is None and scores["overall.exact"] == 0.0
    assert why_failed(HARBOR, reply, scores) == "answered, should refuse"
    result = aggregate([Row(item=HARBOR, answer=reply, scores=scores, failure=why_failed(HARBOR, reply, scores))], k=5)
    assert result["overall.pass"] == 0.0 and result["citation.precision"] == 0.0 and result["refusal.recall"] == 0.0
    refused = answer("I could not find this in the documents.", refused=True)
    assert why_failed(HARBOR, refused, score_item(HARBOR, refused, k=5)) == ""


def test_pass_needs_a_reference_a_gold_citation_and_no_refusal():
    item = Item(id="1", question="Capital?", answers=["Paris"], evidence=GOLD[:1])
    right = answer("Paris is the capital [1].", citations=[citation(1, "Paris is the capital", 100)])
    wrong_place = answer("Paris is big [1].", citations=[citation(1, "Paris is big.", 900, lines=(9, 9))])
    wrong_answer = answer("Lyon is a city [1].", citations=[citation(1, "Paris is the capital", 100)])
    refused = answer("I could not find this in the documents.", refused=True)
    reasons = [why_failed(item, reply,
                          score_item(item, reply, k=5)) for reply in (right, wrong_place, wrong_answer, refused)]
    assert reasons == ["", "cites no gold evidence", "no reference in the answer", "refused an answerable question"]

def test_score_item_and_aggregate():
    good = Item(id="1", question="Capital?", answers=["Paris"], evidence=GOLD[:1], category="factoid")
    missed = Item(id="2", question="River?", answers=["Seine"], evidence=GOLD[1:], category="factoid")
    none = Item(id="3", question="Mayor?", answerable=False, category="unanswerable")
    rows = []
    for item, reply in [(good, answer("Paris is the capital [1].", RANKED, [citation(1, "Paris is the capital", 100)],
                                      total=1.0)),
                        (missed, answer("I could not find this.", RANKED[:1], refused=True, total=3.0)),
                        (none, answer("Paris is the capital [1].", RANKED, [citation(1, "Paris is the capital", 100)],
                                      total=2.0))]:
        scores = score_item(item, reply, k=3)
        rows.append(Row(item=item, answer=reply, scores=scores, failure=why_failed(item, reply, scores)))
    assert rows[0].scores["retrieval.hit@1"] == 0.0 and rows[0].scores["retrieval.hit@3"] == 1.0
    assert rows[0].scores["answer.contains"] == 1.0 and rows[0].scores["citation.recall"] == 1.0
    assert rows[1].scores["answer.f1"] == 0.0 and rows[1].scores["citation.faithfulness"] is None
    assert rows[2].scores["answer.contains"] is None and rows[2].scores["overall.exact"] == 0.0
    result = aggregate(rows, k=3)
    assert list(result) == metric_names(3)
    assert result["items"] == 3 and result["retrieval.hit@3"] == 0.5 and result["retrieval.mrr"] == 0.25
    # The unanswerable item's citation has no gold to hold, so it is wrong.
    assert result["answer.contains"] == 0.5 and result["citation.precision"] == 0.5 and result["verifier.accepted"] \
        == 1.0
    assert result["overall.pass"] == 0.3333 and result["citation.located"] == 0.5
    assert result["refusal.recall"] == 0.0 and result["refusal.answerable_refused"] == 0.5
    assert result["latency.total.p50"] == 2.0 and result["latency.total.p95"] == 3.0 \
        and result["latency.answer.p50"] is None


def test_metric_names_are_documented():
    documented = (ROOT / "evals" / "README.md").read_text()
    for name in metric_names(5, judged=True):
        assert f"`{name}`" in documented or name.startswith("latency."), name
    assert "`latency.STAGE.p50`" in documented


def test_pick_spreads_a_limit_over_the_set():
    items = [Item(id=str(i), question="q") for i in range(10)]
    assert [i.id for i in pick(items, 3)] == ["0", "3", "6"]
    assert pick(items, None) == items and pick(items, 50) == items

@pytest.mark.slow
def test_run_eval_on_the_bundled_set_is_deterministic(tmp_path):
    from assistant.settings import Settings
    from evals import run_eval
    from evals.report import write_reports

    first, second = (run_eval("peace-talks", Settings(), limit=12, progress=False) for _ in range(2))
    quality = lambda report: {k: v for k, v in report.metrics.items() if not k.startswith("latency.")}  # noqa: E731
    assert quality(first) == quality(second)
    assert [r.answer.text for r in first.rows] == [r.answer.text for r in second.rows]
    assert first.metrics["items"] == 12 and len(first.by_category) == 5
    paths = write_reports(first, tmp_path / "out")
    assert all(p.stat().st_size > 0 for p in paths)
