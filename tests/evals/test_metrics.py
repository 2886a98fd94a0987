"""The evaluation harness: hand-computed metrics, the dataset files and loaders, reports, gates, and a real run."""

import json
import math
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from assistant.types import Answer, Citation, Passage
from evals import metrics, stats
from evals.dataset import BUNDLED, SAMPLE_CORPUS, Evidence, Item, load_dataset, only_categories
from evals.gates import failed_gates, parse_gate
from evals.harness import Report, Row, aggregate, metric_names, pick, score_item, why_failed

CORPUS = (SAMPLE_CORPUS / "peace-talks.txt").read_text(encoding="utf-8")
DOC = "/docs/a.txt"
FIXTURE = Path(__file__).parents[1] / "fixtures" / "evalset.jsonl"


def passage(text: str, start: int, line: int = 1, source: str = DOC) -> Passage:
    return Passage(source=source, title="a", text=text, start=start, end=start + len(text), line_start=line, line_end=line)


def citation(number: int, quote: str, start: int, supported: bool = True, source: str = DOC, lines: tuple[int, int] = (1, 1),
             page: int | None = None) -> Citation:
    return Citation(number=number, source=source, title="a", page=page, start=start, end=start + len(quote), line_start=lines[0],
                    line_end=lines[1], quote=quote, score=0.9, supported=supported)


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


def test_cites_needs_the_same_file_and_overlapping_quotes():
    gold = Evidence(source="a.txt", quote="Paris is the capital", start=100)
    assert metrics.cites(citation(1, "Paris is the capital of France.", 100), gold)  # the cited sentence holds the quote
    assert metrics.cites(citation(1, "is the cap", 105), gold)  # overlapping char spans
    assert metrics.cites(citation(1, "capital of France.", 112), gold)  # overlapping, neither contains the other
    assert not metrics.cites(citation(1, "Lyon is a city.", 110), gold)  # spans overlap, texts do not: other offsets
    assert not metrics.cites(citation(1, ". Next", 119), gold)  # sharing a full stop is not holding evidence
    assert not metrics.cites(citation(1, "Paris is the capital of France.", 100, source="/docs/b.txt"), gold)  # other file
    assert not metrics.cites(citation(1, "Lyon is a city.", 400), gold)
    # Without offsets (PDF, DOCX, HTML) the quotes must contain one another, whitespace aside.
    loose = Evidence(source="a.pdf", quote="The canal opened\nthroughout in 1801.  It was busy.")
    assert metrics.cites(citation(1, "The canal opened throughout in 1801.", 5000, source="a.pdf"), loose)
    assert metrics.cites(citation(1, "Yes: the canal opened throughout in 1801. It was busy. Then not.", 0, source="a.pdf"),
                         loose.model_copy(update={"quote": "the canal opened throughout in 1801. It was busy."}))
    assert not metrics.cites(citation(1, "The canal closed in 1901.", 0, source="a.pdf"), loose)
    assert not metrics.cites(citation(1, "", 0, source="a.pdf"), loose)


def test_citation_precision_counts_gold_only_never_the_verdict():
    cites = [citation(1, "unrelated", 0), citation(2, "Paris is the capital", 100, supported=False),
             citation(3, "nothing", 700, supported=False)]
    assert metrics.citation_precision(cites, GOLD) == pytest.approx(1 / 3)  # only 2 holds gold; 1's support counts for nothing
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
    assert metrics.citation_located([citation(1, "y", 0, lines=(6, 7)), citation(2, "z", 0, lines=(1, 3))], [on_lines]) == 0.0
    # HTML lines count the file on disk, not the extracted text the citation's lines count: the quote decides.
    html = Evidence(source="a.html", quote="Paris is the capital", line=40)
    assert metrics.citation_located([citation(1, "Paris is the capital.", 0, source="a.html", lines=(3, 3))], [html]) == 1.0
    assert metrics.citation_located([citation(1, "Lyon is a city.", 0, source="a.html", lines=(40, 40))], [html]) == 0.0
    by_quote = Evidence(source="a.docx", quote="Paris is the capital")
    assert metrics.citation_located([citation(1, "Paris is the capital.", 0, source="a.docx")], [by_quote]) == 1.0
    assert metrics.citation_located([citation(1, "Lyon is a city.", 0, source="a.docx")], [by_quote]) == 0.0
    assert metrics.citation_located([], [by_quote]) == 0.0
    assert metrics.citation_located([citation(1, "y", 0)], []) is None


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
    reasons = [why_failed(item, reply, score_item(item, reply, k=5)) for reply in (right, wrong_place, wrong_answer, refused)]
    assert reasons == ["", "cites no gold evidence", "no reference in the answer", "refused an answerable question"]


def test_refusal_scores_and_percentiles():
    scores = metrics.refusal_scores(answerable=[True, True, False, False, False], refused=[True, False, True, True, False])
    assert scores == {"refusal.precision": pytest.approx(2 / 3), "refusal.recall": pytest.approx(2 / 3),
                      "refusal.answerable_refused": 0.5}
    assert metrics.refusal_scores([True], [False])["refusal.recall"] is None
    assert stats.percentile([5, 1, 4, 2, 3], 50) == 3
    assert stats.percentile([5, 1, 4, 2, 3], 95) == 5
    assert stats.percentile(list(range(1, 21)), 95) == 19
    assert stats.percentile([], 50) is None


# -- per-item scores and the run's aggregate ---------------------------------------------------------------------

def test_score_item_and_aggregate():
    good = Item(id="1", question="Capital?", answers=["Paris"], evidence=GOLD[:1], category="factoid")
    missed = Item(id="2", question="River?", answers=["Seine"], evidence=GOLD[1:], category="factoid")
    none = Item(id="3", question="Mayor?", answerable=False, category="unanswerable")
    rows = []
    for item, reply in [(good, answer("Paris is the capital [1].", RANKED, [citation(1, "Paris is the capital", 100)], total=1.0)),
                        (missed, answer("I could not find this.", RANKED[:1], refused=True, total=3.0)),
                        (none, answer("Paris is the capital [1].", RANKED, [citation(1, "Paris is the capital", 100)], total=2.0))]:
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
    assert result["answer.contains"] == 0.5 and result["citation.precision"] == 0.5 and result["verifier.accepted"] == 1.0
    assert result["overall.pass"] == 0.3333 and result["citation.located"] == 0.5
    assert result["refusal.recall"] == 0.0 and result["refusal.answerable_refused"] == 0.5
    assert result["latency.total.p50"] == 2.0 and result["latency.total.p95"] == 3.0 and result["latency.answer.p50"] is None


def test_metric_names_are_documented():
    documented = (Path(__file__).parents[2] / "evals" / "README.md").read_text()
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
    assert first.evidence == [Evidence(source="Rhine_River-000.txt", quote="1,230 km", line=1, start=45, line_end=1)]
    assert (impossible.answerable, impossible.answers, impossible.evidence, impossible.category) == (False, [], [], "unanswerable")
    assert third.evidence[0].source == "Rhine_River-001.txt"
    path.write_text("[]")
    with pytest.raises(ValueError, match="not a SQuAD"):
        load_dataset(path)


def test_jsonl_set_with_its_own_corpus_splits_and_loose_quotes():
    dataset = load_dataset(FIXTURE)
    assert dataset.corpus == [FIXTURE.with_suffix("")] and dataset.notes == []
    by_id = {item.id: item for item in dataset.items}
    # The quote wraps a line on disk; it is found whitespace-insensitively, with the lines it covers.
    wrapped = by_id["b2"].evidence[0]
    text = (FIXTURE.with_suffix("") / "bridge.txt").read_text(encoding="utf-8")
    assert text[wrapped.start:].startswith("carries four lanes of\nroad traffic") and (wrapped.line, wrapped.line_end) == (2, 3)
    assert by_id["k1"].evidence[0].line == by_id["k1"].evidence[0].line_end == 5
    dev, test = load_dataset(FIXTURE, split="dev"), load_dataset(FIXTURE, split="test")
    assert [i.id for i in dev.items] == ["b1", "k1", "k3"] and [i.id for i in test.items] == ["b2", "b3", "k2"]
    assert test.name == "evalset-test" and test.notes == ["test half only (3 items)"]
    with pytest.raises(ValueError, match="no split field"):
        load_dataset("peace-talks", split="dev")
    with pytest.raises(ValueError, match="SQuAD files only"):
        load_dataset(FIXTURE, exclude_articles=["Normans"])


def test_jsonl_loader_takes_pages_and_leaves_other_formats_to_text_matching(tmp_path):
    (tmp_path / "set").mkdir()
    (tmp_path / "set" / "doc.pdf").write_bytes(b"%PDF-1.4 not really")
    path = tmp_path / "set.jsonl"
    path.write_text(json.dumps({"id": "a", "question": "q", "answers": ["x"], "split": "test",
                                "evidence": [{"source": "doc.pdf", "quote": "the x\nis here", "page": 2}]}) + "\n")
    ev = load_dataset(path).items[0].evidence[0]
    assert (ev.page, ev.start, ev.line) == (2, None, None)
    path.write_text(json.dumps({"id": "a", "question": "q", "split": "train"}) + "\n")
    with pytest.raises(ValueError, match="set.jsonl:1"):
        load_dataset(path)


def squad_file(folder: Path, titles: list[str]) -> Path:
    """A SQuAD 2.0 file with one paragraph per title: one answerable and one unanswerable question each."""
    data = [{"title": title, "paragraphs": [{"context": f"{title} lies on a river.", "qas": [
        {"id": f"{title}-a", "question": f"Where is {title}?", "is_impossible": False,
         "answers": [{"text": "on a river", "answer_start": len(title) + 6}]},
        {"id": f"{title}-u", "question": f"Who founded {title}?", "is_impossible": True, "answers": []}]}]}
        for title in titles]
    folder.mkdir(parents=True)
    (folder / "dev-v2.0.json").write_text(json.dumps({"version": "v2.0", "data": data}))
    return folder / "dev-v2.0.json"


def test_squad_reporting_set_excludes_calibration_articles_and_holds_out_others(tmp_path):
    reporting = squad_file(tmp_path / "squad2-cs224n-dev", ["Normans", "Basel", "Chur", "Bonn"])
    squad_file(tmp_path / "squad2-dev-subset", ["Normans", "Rhine"])
    dataset = load_dataset(reporting)
    assert dataset.name == "squad2-cs224n-dev" and not any(i.id.startswith("Normans") for i in dataset.items)
    assert sorted(p.name for p in dataset.corpus[0].iterdir()) == ["Basel-000.txt", "Bonn-000.txt", "Chur-000.txt"]
    assert dataset.notes == ["excluded articles Normans: they are in squad2-dev-subset, the calibration set"]
    assert len(load_dataset(reporting, exclude_articles=[]).items) == 8  # '' on the command line: exclude nothing
    chosen = load_dataset(reporting, exclude_articles=["Normans", "Chur"])
    assert {i.id.split("-")[0] for i in chosen.items} == {"Basel", "Bonn"}
    held = load_dataset(reporting, holdout_articles=1)
    assert sorted(p.name for p in held.corpus[0].iterdir()) == ["Basel-000.txt", "Chur-000.txt"]
    outside = [i for i in held.items if i.category == "out-of-collection"]
    # Bonn's answerable question must now be refused; its unanswerable one is not asked.
    assert [(i.id, i.answerable, i.answers, i.evidence) for i in outside] == [("Bonn-a", False, [], [])]
    assert "held out of the collection: Bonn" in held.notes[-1]
    asked = only_categories(held, ["out-of-collection"])
    assert [i.id for i in asked.items] == ["Bonn-a"] and asked.notes[-1] == "only out-of-collection (1 items)"
    with pytest.raises(ValueError, match="--category 'near-miss'"):
        only_categories(held, ["near-miss"])
    with pytest.raises(ValueError, match="no article 'Paris'"):
        load_dataset(reporting, exclude_articles=["Paris"])
    with pytest.raises(ValueError, match="below the 3 articles"):
        load_dataset(reporting, holdout_articles=3)
    with pytest.raises(ValueError, match="no dev/test split"):
        load_dataset(reporting, split="test")
    other = squad_file(tmp_path / "elsewhere", ["Normans", "Basel"])
    assert load_dataset(other).notes == [] and len(load_dataset(other).items) == 4  # only the reporting set excludes


# -- reports and the command --------------------------------------------------------------------------------------

def fake_report() -> Report:
    item = Item(id="x<1>", question="Who? <script>alert(1)</script>", answers=["Paris"], evidence=GOLD[:1], category="factoid")
    reply = answer("Paris <b>is</b> the capital [1].", RANKED, [citation(1, "Paris is the capital", 100)])
    miss = Item(id="m", question="Mayor?", answerable=False, category="near-miss")
    wrong = answer("The mayor is <i>Anne</i> [1].", RANKED, [citation(1, "Anne became mayor", 600)])
    rows = [Row(item=item, answer=reply, scores=score_item(item, reply, 5), failure=""),
            Row(item=miss, answer=wrong, scores=score_item(miss, wrong, 5), failure="answered, should refuse")]
    return Report(dataset="fake", notes=["excluded articles Normans"], settings={"mode": "extractive", "k": 5, "llm": "x"},
                  ingest={}, metrics=aggregate(rows, 5), by_category={"factoid": aggregate(rows[:1], 5),
                                                                      "near-miss": aggregate(rows[1:], 5)},
                  rows=rows, seconds=1.0)


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
    # Failures come first, under their category, with the cited quote beside the (absent) gold quote.
    failures, passed = html.index("<h2>Failures (1), by category</h2>"), html.index("<h2>Passed (1)</h2>")
    assert html.index("<h2>By category") < failures < html.index("<h3>near-miss (1)</h3>") < html.index("Anne became mayor") < passed
    assert passed < html.index("<h2>All metrics</h2>")
    assert html.index("Mayor?") < html.index("The mayor is &lt;i&gt;Anne") < html.index("Anne became mayor") < html.index("none: should refuse")
    assert "answered, should refuse" in html and "excluded articles Normans" in html
    assert "### near-miss (1)" in paths[1].read_text()
    text = summary(report, old)
    assert "+0.500" in paths[1].read_text() and "+0.500" in text
    assert "note: excluded articles Normans" in text and "citation.located" in text and "verifier.accepted" in text


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
    assert "FAIL refusal.recall = 0 < 0.9" in failing.output and "FAIL latency.total.p95 = 1 > 0.5" in failing.output
    assert "FAIL answer.contains" not in failing.output
    assert run("--split", "train").exit_code == 2
    mixed = run("--suite", "--fail-under", "answer.contains=0.9")
    assert mixed.exit_code == 2 and "--suite prints one table" in mixed.output


def test_gate_parsing():
    assert parse_gate("answer.contains=0.85", ["answer.contains"]) == ("answer.contains", 0.85)
    with pytest.raises(ValueError, match="METRIC=VALUE"):
        parse_gate("answer.contains=high", ["answer.contains"])
    assert failed_gates({"a": 0.8, "refusal.answerable_refused": 0.04}, [("a", 0.8), ("refusal.answerable_refused", 0.05)]) == []
    assert len(failed_gates({"a": 0.79, "refusal.answerable_refused": 0.06}, [("a", 0.8), ("refusal.answerable_refused", 0.05)])) == 2


def test_suite_prints_one_table_with_a_column_per_section(tmp_path):
    from assistant.settings import Settings
    from evals.suite import Section, SectionResult, run_suite

    def section(name: str, metrics: dict, notes: list[str]) -> Section:
        return Section(name, f"{name} data", lambda settings, out: SectionResult(name, f"{name} data", metrics, notes))

    text = run_suite([section("bundled", {"items": 10.0, "citation.precision": 0.5}, ["test half only"]),
                      section("claims", {"claims.caught": 0.25}, [])], Settings(), tmp_path)
    lines = text.splitlines()
    assert lines[0].split() == ["metric", "bundled", "claims"]
    rows = {line.split()[0]: line.split()[1:] for line in lines[2:] if line and not line.startswith(("bundled:", "claims:", "total"))}
    assert rows["items"] == ["10", "n/a"] and rows["citation.precision"] == ["0.500", "n/a"] and rows["claims.caught"] == ["n/a", "0.250"]
    assert "bundled: bundled data; test half only" in lines and lines[-1].startswith("total")
    saved = json.loads((tmp_path / "suite.json").read_text())
    assert [s["name"] for s in saved["sections"]] == ["bundled", "claims"]


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


@pytest.mark.slow
def test_suite_section_on_a_real_run(tmp_path):
    from assistant.settings import Settings
    from evals.suite import eval_section, run_suite

    section = eval_section("evalset-test", "fixture, test half", lambda: load_dataset(FIXTURE, split="test"))
    text = run_suite([section], Settings(), tmp_path)
    assert "evalset-test: fixture, test half; test half only (3 items)" in text
    report = json.loads((tmp_path / "evalset-test" / "report.json").read_text())
    assert report["metrics"]["items"] == 3 and (tmp_path / "evalset-test" / "report.html").is_file()
    for row in report["rows"]:
        if not row["item"]["answerable"] and row["answer"]["citations"]:
            assert row["scores"]["citation.precision"] == 0.0 and row["failure"] == "answered, should refuse"
