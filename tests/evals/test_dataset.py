"""evals.dataset: the bundled set's file, the JSONL and SQuAD 2.0 loaders, splits, and the reporting set's
exclusions."""

import json
from pathlib import Path

import pytest

from evals.dataset import BUNDLED, SAMPLE_CORPUS, Evidence, load_dataset, only_categories
from tests.evals.data import CORPUS, FIXTURE


def test_bundled_dataset_file_is_valid():
    raw = [json.loads(line) for line in (BUNDLED / "peace-talks.jsonl").read_text(encoding="utf-8").splitlines()]
    lines = CORPUS.split("\n")
    assert len({r["id"] for r in raw}) == len(raw)
    assert sum(r["answerable"] for r in raw) >= 40 and sum(not r["answerable"] for r in raw) >= 12
    assert {r["category"] for r in raw} == {"factoid", "paraphrase", "why-how", "follow-up", "unanswerable"}
    for r in raw:
        assert set(r) == {"id", "question", "history", "answers", "evidence", "answerable", "category"}, r["id"]
        assert r["answerable"] == (r["category"] != "unanswerable") == bool(r["answers"]) \
            == bool(r["evidence"]), r["id"]
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
    path.write_text(json.dumps({"id": "a", "question": "q",
                                "evidence": [{"source": "doc.txt", "quote": "second", "line": 1}]}))
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
    assert (impossible.answerable, impossible.answers, impossible.evidence,
            impossible.category) == (False, [], [], "unanswerable")
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
    assert text[wrapped.start:].startswith("carries four lanes of\nroad traffic") and (wrapped.line, wrapped.line_end) \
        == (2, 3)
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
