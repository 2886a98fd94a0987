"""evals.suite: one table with a column per section, on fake sections and on a real run of the fixture set."""

import json

import pytest

from evals.dataset import load_dataset
from tests.evals.data import FIXTURE


def test_suite_prints_one_table_with_a_column_per_section(tmp_path):
    from assistant.settings import Settings
    from evals.suite import Section, SectionResult, run_suite

    def section(name: str, metrics: dict, notes: list[str]) -> Section:
        return Section(name, f"{name} data", lambda settings, out: SectionResult(name, f"{name} data", metrics, notes))

    text = run_suite([section("bundled", {"items": 10.0, "citation.precision": 0.5}, ["test half only"]),
                      section("claims", {"claims.caught": 0.25}, [])], Settings(), tmp_path)
    lines = text.splitlines()
    assert lines[0].split() == ["metric", "bundled", "claims"]
    rows = {line.split()[0]: line.split()[1:] for line in lines[2:] if line
            and not line.startswith(("bundled:", "claims:", "total"))}
    assert rows["items"] == ["10",
                             "n/a"] and rows["citation.precision"] == ["0.500", "n/a"] and rows["claims.caught"] \
                                 == ["n/a", "0.250"]
    assert "bundled: bundled data; test half only" in lines and lines[-1].startswith("total")
    saved = json.loads((tmp_path / "suite.json").read_text())
    assert [s["name"] for s in saved["sections"]] == ["bundled", "claims"]

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
