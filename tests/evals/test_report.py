"""evals.report: JSON, Markdown and HTML reports, escaped, failures first, with the change against an old run."""

import json

from tests.evals.data import fake_report


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
    assert html.index("<h2>By category") < failures < html.index("<h3>near-miss (1)</h3>") \
        < html.index("Anne became mayor") < passed
    assert passed < html.index("<h2>All metrics</h2>")
    assert html.index("Mayor?") < html.index("The mayor is &lt;i&gt;Anne") < html.index("Anne became mayor") \
        < html.index("none: should refuse")
    assert "answered, should refuse" in html and "excluded articles Normans" in html
    assert "### near-miss (1)" in paths[1].read_text()
    text = summary(report, old)
    assert "+0.500" in paths[1].read_text() and "+0.500" in text
    assert "note: excluded articles Normans" in text and "citation.located" in text and "verifier.accepted" in text
