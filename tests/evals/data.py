"""Evaluation data the evals tests share: gold evidence, ranked passages, the fixture set, a small report."""

from pathlib import Path

from evals.dataset import SAMPLE_CORPUS, Evidence, Item
from evals.harness import Report, Row, aggregate, score_item
from tests.helpers import answer, citation, passage

CORPUS = (SAMPLE_CORPUS / "peace-talks.txt").read_text(encoding="utf-8")
FIXTURE = Path(__file__).parents[1] / "fixtures" / "evalset.jsonl"
GOLD = [Evidence(source="a.txt", quote="Paris is the capital", start=100),
        Evidence(source="a.txt", quote="on the Seine", start=300)]
RANKED = [passage("nothing here", 0), passage("xx Paris is the capital yy", 90),
          passage("Paris lies on the Seine", 289)]


def fake_report() -> Report:
    item = Item(id="x<1>", question="Who? <script>alert(1)</script>", answers=["Paris"], evidence=GOLD[:1],
                category="factoid")
    reply = answer("Paris <b>is</b> the capital [1].", RANKED, [citation(1, "Paris is the capital", 100)])
    miss = Item(id="m", question="Mayor?", answerable=False, category="near-miss")
    wrong = answer("The mayor is <i>Anne</i> [1].", RANKED, [citation(1, "Anne became mayor", 600)])
    rows = [Row(item=item, answer=reply, scores=score_item(item, reply, 5), failure=""),
            Row(item=miss, answer=wrong, scores=score_item(miss, wrong, 5), failure="answered, should refuse")]
    return Report(dataset="fake", notes=["excluded articles Normans"],
                  settings={"mode": "extractive", "k": 5, "llm": "x"},
                  ingest={}, metrics=aggregate(rows, 5), by_category={"factoid": aggregate(rows[:1], 5),
                                                                      "near-miss": aggregate(rows[1:], 5)},
                  rows=rows, seconds=1.0)
