"""The evaluation harness: hand-computed metrics, the dataset files and loaders, reports, gates, and a real run."""

import json
import math
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from assistant.types import Answer, Citation, Passage
from evals import metrics
from evals.dataset import BUNDLED, SAMPLE_CORPUS, Evidence, Item, load_dataset
from evals.gates import failed_gates, parse_gate
from evals.harness import Report, Row, aggregate, metric_names, pick, score_item

CORPUS = (SAMPLE_CORPUS / "peace-talks.txt").read_text(encoding="utf-8")
DOC = "/docs/a.txt"


def passage(text: str, start: int, line: int = 1, source: str = DOC) -> Passage:
    return Passage(source=source, title="a", text=text, start=start, end=start + len(text), line_start=line, line_end=line)


def citation(number: int, quote: str, start: int, supported: bool = True) -> Citation:
    return Citation(number=number, source=DOC, title="a", page=None, start=start, end=start + len(quote), line_start=1,
                    line_end=1, quote=quote, score=0.9, supported=supported)


def answer(text: str, passages=(), citations=(), refused: bool = False, total: float = 1.0) -> Answer:
    return Answer(question="q", standalone_question="q", text=text, citations=list(citations), refused=refused,
                  passages=list(passages), mode="extractive", timings={"retrieve": total / 2, "total": total})


# -- metrics ----------------------------------------------------------------------------------------------------

GOLD = [Evidence(source="a.txt", quote="Paris is the capital", start=100), Evidence(source="a.txt", quote="on the Seine", start=300)]
RANKED = [passage("nothing here", 0), passage("xx Paris is the capital yy", 90), passage("Paris lies on the Seine", 289)]


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


def test_citation_precision_recall_and_faithfulness():
    cites = [citation(1, "unrelated", 0), citation(2, "Paris is the capital", 100, supported=False),
             citation(3, "nothing", 700, supported=False)]
    assert metrics.citation_precision(cites, GOLD) == pytest.approx(2 / 3)  # 1 supports, 2 holds gold, 3 neither
    assert metrics.citation_recall(cites, GOLD) == 0.5
    assert metrics.citation_precision([], GOLD) is None
    assert metrics.citation_recall(cites, []) is None
    # Sentence 1 cites a supported citation, 2 an unsupported one, 3 nothing.
    text = "Paris is the capital [1]. It lies on the Seine [2]. It is big."
    assert metrics.faithfulness(text, cites[:2]) == pytest.approx(1 / 3)
    assert metrics.faithfulness("", cites) is None


def test_refusal_scores_and_percentiles():
    scores = metrics.refusal_scores(answerable=[True, True, False, False, False], refused=[True, False, True, True, False])
    assert scores == {"refusal.precision": pytest.approx(2 / 3), "refusal.recall": pytest.approx(2 / 3),
                      "refusal.answerable_refused": 0.5}
    assert metrics.refusal_scores([True], [False])["refusal.recall"] is None
    assert metrics.percentile([5, 1, 4, 2, 3], 50) == 3
    assert metrics.percentile([5, 1, 4, 2, 3], 95) == 5
    assert metrics.percentile(list(range(1, 21)), 95) == 19
    assert metrics.percentile([], 50) is None


# -- per-item scores and the run's aggregate ---------------------------------------------------------------------

def test_score_item_and_aggregate():
    good = Item(id="1", question="Capital?", answers=["Paris"], evidence=GOLD[:1], category="factoid")
    missed = Item(id="2", question="River?", answers=["Seine"], evidence=GOLD[1:], category="factoid")
    none = Item(id="3", question="Mayor?", answerable=False, category="unanswerable")
    rows = []
    for item, reply in [(good, answer("Paris is the capital [1].", RANKED, [citation(1, "Paris is the capital", 100)], total=1.0)),
                        (missed, answer("I could not find this.", RANKED[:1], refused=True, total=3.0)),
                        (none, answer("Paris is the capital [1].", RANKED, [citation(1, "Paris is the capital", 100)], total=2.0))]:
        rows.append(Row(item=item, answer=reply, scores=score_item(item, reply, k=3), passed=False))
    assert rows[0].scores["retrieval.hit@1"] == 0.0 and rows[0].scores["retrieval.hit@3"] == 1.0
    assert rows[0].scores["answer.contains"] == 1.0 and rows[0].scores["citation.recall"] == 1.0
    assert rows[1].scores["answer.f1"] == 0.0 and rows[1].scores["citation.faithfulness"] is None
    assert rows[2].scores["answer.contains"] is None and rows[2].scores["overall.exact"] == 0.0
    result = aggregate(rows, k=3)
    assert list(result) == metric_names(3)
    assert result["items"] == 3 and result["retrieval.hit@3"] == 0.5 and result["retrieval.mrr"] == 0.25
    assert result["answer.contains"] == 0.5 and result["citation.precision"] == 1.0
    assert result["refusal.recall"] == 0.0 and result["refusal.answerable_refused"] == 0.5
    assert result["latency.total.p50"] == 2.0 and result["latency.total.p95"] == 3.0 and result["latency.answer.p50"] is None


def test_metric_names_are_documented():
    documented = (Path(__file__).parent.parent / "evals" / "README.md").read_text()
    for name in metric_names(5, judged=True):
        assert f"`{name}`" in documented or name.startswith("latency."), name
    assert "`latency.STAGE.p50`" in documented


def test_pick_spreads_a_limit_over_the_set():
    items = [Item(id=str(i), question="q") for i in range(10)]
    assert [i.id for i in pick(items, 3)] == ["0", "3", "6"]
    assert pick(items, None) == items and pick(items, 50) == items


# -- datasets ---------------------------------------------------------------------------------------------------

def test_bundled_dataset_file_is_valid():
    raw = [json.loads(line) for line in (BUNDLED / "peace-talks.jsonl").read_text(encoding="utf-8").splitlines()]
    lines = CORPUS.split("\n")
    assert len({r["id"] for r in raw}) == len(raw)
    assert sum(r["answerable"] for r in raw) >= 40 and sum(not r["answerable"] for r in raw) >= 12
    assert {r["category"] for r in raw} == {"factoid", "paraphrase", "why-how", "follow-up", "unanswerable"}
    for r in raw:
        assert set(r) == {"id", "question", "history", "answers", "evidence", "answerable", "category"}, r["id"]
        assert r["answerable"] == (r["category"] != "unanswerable") == bool(r["answers"]) == bool(r["evidence"]), r["id"]
        assert all(answer in CORPUS for answer in r["answers"]), r["id"]
        for ev in r["evidence"]:
            assert ev["source"] == "peace-talks.txt" and ev["quote"] in lines[ev["line"] - 1], (r["id"], ev)
        if r["category"] == "follow-up":
            assert r["history"] and all(len(turn) == 2 for turn in r["history"]), r["id"]


def test_load_bundled_dataset_locates_quotes():
    dataset = load_dataset("peace-talks")
    assert dataset.corpus == [SAMPLE_CORPUS] and len(dataset.items) >= 52
    for item in dataset.items:
        for ev in item.evidence:
            assert CORPUS[ev.start:ev.start + len(ev.quote)] == ev.quote
            assert CORPUS.count("\n", 0, ev.start) + 1 == ev.line


def test_jsonl_loader_reports_bad_lines_and_quotes(tmp_path):
    (tmp_path / "set").mkdir()
    (tmp_path / "set" / "doc.txt").write_text("first line\nsecond line\n", encoding="utf-8")
    path = tmp_path / "set.jsonl"
    path.write_text(json.dumps({"id": "a", "question": "q", "answers": ["second"],
                                "evidence": [{"source": "doc.txt", "quote": "second"}]}) + "\n")
    item = load_dataset(path).items[0]
    assert (item.evidence[0].start, item.evidence[0].line, item.category) == (11, 2, "answerable")
    path.write_text(json.dumps({"id": "a", "question": "q", "evidence": [{"source": "doc.txt", "quote": "second", "line": 1}]}))
    with pytest.raises(ValueError, match="not on line 1"):
        load_dataset(path)
    path.write_text('{"id": "a"}\n')
    with pytest.raises(ValueError, match="set.jsonl:1"):
        load_dataset(path)
    with pytest.raises(ValueError, match="no dataset"):
        load_dataset("no-such-set")


def test_squad_v2_loader(tmp_path):
    context = "The Rhine flows through Basel. Its length is 1,230 km."
    squad = {"version": "v2.0", "data": [{"title": "Rhine River", "paragraphs": [
        {"context": context, "qas": [
            {"id": "q1", "question": "How long is the Rhine?", "is_impossible": False,
             "answers": [{"text": "1,230 km", "answer_start": 45}, {"text": "1,230 km", "answer_start": 45}]},
            {"id": "q2", "question": "How deep is the Rhine?", "is_impossible": True, "answers": [],
             "plausible_answers": [{"text": "1,230 km", "answer_start": 45}]}]},
        {"context": "Basel is in Switzerland.", "qas": [
            {"id": "q3", "question": "Where is Basel?", "answers": [{"text": "Switzerland", "answer_start": 12}]}]}]}]}
    path = tmp_path / "dev.json"
    path.write_text(json.dumps(squad))
    dataset = load_dataset(path)
    documents = sorted(dataset.corpus[0].iterdir())
    assert [d.name for d in documents] == ["Rhine_River-000.txt", "Rhine_River-001.txt"]
    assert documents[0].read_text(encoding="utf-8") == context
    first, impossible, third = dataset.items
    assert (first.answerable, first.answers, first.category) == (True, ["1,230 km"], "answerable")
    assert first.evidence == [Evidence(source="Rhine_River-000.txt", quote="1,230 km", line=1, start=45)]
    assert (impossible.answerable, impossible.answers, impossible.evidence, impossible.category) == (False, [], [], "unanswerable")
    assert third.evidence[0].source == "Rhine_River-001.txt"
    path.write_text("[]")
    with pytest.raises(ValueError, match="not a SQuAD"):
        load_dataset(path)


# -- reports and the command --------------------------------------------------------------------------------------

def fake_report() -> Report:
    item = Item(id="x<1>", question="Who? <script>alert(1)</script>", answers=["Paris"], evidence=GOLD[:1], category="factoid")
    reply = answer("Paris <b>is</b> the capital [1].", RANKED, [citation(1, "Paris is the capital", 100)])
    rows = [Row(item=item, answer=reply, scores=score_item(item, reply, 5), passed=True)]
    return Report(dataset="fake", settings={"mode": "extractive", "k": 5, "llm": "x"}, ingest={}, metrics=aggregate(rows, 5),
                  by_category={"factoid": aggregate(rows, 5)}, rows=rows, seconds=1.0)


def test_reports_are_written_and_escaped(tmp_path):
    from evals.report import summary, write_reports

    report = fake_report()
    old = dict(report.metrics, **{"answer.contains": 0.5})
    paths = write_reports(report, tmp_path / "out", old)
    assert [p.name for p in paths] == ["report.json", "report.md", "report.html"]
    assert json.loads(paths[0].read_text())["metrics"]["answer.contains"] == 1.0
    html = paths[2].read_text()
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)" in html and "Paris &lt;b&gt;is" in html
    assert html.count("data:image/png;base64,") == 2 and "PASS" in html
    assert "+0.500" in paths[1].read_text() and "+0.500" in summary(report, old)


def test_eval_command_gates(tmp_path, monkeypatch):
    from evals.cli import eval_command

    monkeypatch.setattr("evals.harness.run_eval", lambda *args, **kwargs: fake_report())
    app = typer.Typer()
    app.command()(eval_command)
    run = lambda *args: CliRunner().invoke(app, ["--out", str(tmp_path), *args])  # noqa: E731

    bad = run("--fail-under", "answer.contains")
    assert bad.exit_code == 2 and "expected METRIC=VALUE" in bad.output
    unknown = run("--fail-under", "answer.contain=0.5")
    assert unknown.exit_code == 2 and "unknown metric 'answer.contain'" in unknown.output
    passing = run("--fail-under", "answer.contains=0.9", "--fail-under", "latency.total.p95=5")
    assert passing.exit_code == 0, passing.output
    assert "answer.contains" in passing.output and (tmp_path / "report.html").is_file()
    failing = run("--fail-under", "answer.contains=0.9", "--fail-under", "refusal.recall=0.9", "--fail-under", "latency.total.p95=0.5",
                  "--compare", str(tmp_path / "report.json"))
    assert failing.exit_code == 1
    assert "FAIL refusal.recall: no value" in failing.output and "FAIL latency.total.p95 = 1 > 0.5" in failing.output
    assert "FAIL answer.contains" not in failing.output


def test_gate_parsing():
    assert parse_gate("answer.contains=0.85", ["answer.contains"]) == ("answer.contains", 0.85)
    with pytest.raises(ValueError, match="METRIC=VALUE"):
        parse_gate("answer.contains=high", ["answer.contains"])
    assert failed_gates({"a": 0.8, "refusal.answerable_refused": 0.04}, [("a", 0.8), ("refusal.answerable_refused", 0.05)]) == []
    assert len(failed_gates({"a": 0.79, "refusal.answerable_refused": 0.06}, [("a", 0.8), ("refusal.answerable_refused", 0.05)])) == 2


# -- a real run ---------------------------------------------------------------------------------------------------

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
