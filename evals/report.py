"""A run's report.json, report.md and self-contained report.html, and the terminal summary, with deltas against an older
run."""

import base64
import io
import json
from html import escape
from pathlib import Path

from evals.dataset import Evidence
from evals.harness import STAGES, Report, Row
from evals.metrics import cites, holds

STYLE = """body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top;text-align:left}.num{text-align:right}
.pass{color:#16803c;font-weight:bold}.fail{color:#b91c1c;font-weight:bold}blockquote{margin:2px 0;color:#555}
td.item{max-width:28em}small{color:#666}.gold{background:#fef3c7}"""


def load_metrics(path: Path) -> dict[str, float | None]:
    """The metrics of an earlier report.json, for --compare."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))["metrics"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"--compare {path}: not a readable report.json ({exc})") from None


def write_reports(report: Report, out: Path, old: dict[str, float | None] | None = None) -> list[Path]:
    """report.json, report.md and report.html in `out`; returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    files = {"report.json": report.model_dump_json(indent=2), "report.md": markdown(report, old),
             "report.html": to_html(report, old)}
    for name, text in files.items():
        (out / name).write_text(text, encoding="utf-8")
    return [out / name for name in files]


def fmt(name: str, value: float | None) -> str:
    if value is None:
        return "n/a"
    return str(int(value)) if name == "items" else f"{value:.3f}"


def metric_rows(metrics: dict[str, float | None], old: dict[str, float | None] | None = None) -> list[list[str]]:
    """[metric, value] per metric, plus [old value, delta] when comparing."""
    rows = []
    for name, value in metrics.items():
        row = [name, fmt(name, value)]
        if old is not None:
            before = old.get(name)
            # + 0.0 turns a rounded -0.0 into 0.0, so no change prints as +0.000
            row += [fmt(name, before),
                    "" if value is None or before is None else f"{round(value - before, 3) + 0.0:+.3f}"]
        rows.append(row)
    return rows


def _header(old: dict | None) -> list[str]:
    return ["metric", "value"] + (["old", "delta"] if old is not None else [])


def category_columns(report: Report) -> list[str]:
    k = report.settings["k"]
    return ["items", "overall.pass", "answer.contains", "citation.precision", "citation.located", "verifier.accepted",
            f"retrieval.hit@{k}", "refusal.recall", "refusal.answerable_refused"]


def category_rows(report: Report) -> list[list[str]]:
    return [[category] + [fmt(name, scores[name]) for name in category_columns(report)]
            for category, scores in report.by_category.items()]


def _title(report: Report) -> str:
    s = report.settings
    return (f"{report.dataset}: {fmt('items', report.metrics['items'])} items, mode {s['mode']}, k {s['k']}"
            + (f", llm {s['llm']}" if s["mode"] == "llm" else "") + f", {report.seconds:.0f} s")


def text_table(rows: list[list[str]]) -> list[str]:
    """Aligned plain-text lines: the header, a rule, the rows (first column left, the others right)."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths)))
             for row in rows]
    return [lines[0], "-" * len(lines[0]), *lines[1:]]


def summary(report: Report, old: dict[str, float | None] | None = None) -> str:
    """Plain-text tables for the terminal: every metric, then the headline metrics per category."""
    notes = [f"note: {note}" for note in report.notes]
    by_category = text_table([["category", *category_columns(report)], *category_rows(report)])
    return "\n".join([_title(report), *notes, *text_table([_header(old)] + metric_rows(report.metrics, old)), "",
                      *by_category])


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = [header, ["---"] * len(header), *rows]
    return "\n".join("| " + " | ".join(cell.replace("|", "\\|").replace("\n", " ") for cell in line) + " |"
                     for line in lines)


def failures_by_category(report: Report) -> dict[str, list[Row]]:
    """The failed rows, grouped by category (categories in report order)."""
    return {c: failed for c in report.by_category if (failed := [r for r in report.rows if r.item.category == c
                                                                 and not r.passed])}


def markdown(report: Report, old: dict[str, float | None] | None = None) -> str:
    failures = failures_by_category(report)
    sections = []
    for category, rows in failures.items():
        lines = [f"- `{r.item.id}` {r.item.question} -> {r.answer.text} ({r.failure}; references: "
                 f"{'; '.join(r.item.answers) or 'none: should refuse'})" for r in rows]
        sections += [f"### {category} ({len(rows)})", "\n".join(lines)]
    return "\n\n".join([
        f"# Evaluation: {_title(report)}", *report.notes,
        "## Metrics", _md_table(_header(old), metric_rows(report.metrics, old)),
        "## By category", _md_table(["category", *category_columns(report)], category_rows(report)),
        f"## Failed items ({sum(map(len, failures.values()))})", *(sections or ["None."]),
    ]) + "\n"


def _html_table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td{'' if i == 0 else ' class=num'}>{escape(c)}</td>"
                                    for i, c in enumerate(row)) + "</tr>"
                   for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _where(source: str, line_start: int, line_end: int, page: int | None = None) -> str:
    lines = f"{Path(source).name}:{line_start}" + (f"-{line_end}" if line_end != line_start else "")
    return lines + (f" p. {page}" if page else "")


def _gold_where(ev: Evidence) -> str:
    return Path(ev.source).name + (f":{ev.line}" if ev.line else "") + (f" p. {ev.page}" if ev.page else "")


ITEM_HEADER = ("<tr><th>#</th><th>question</th><th>answer</th><th>cited quote</th><th>gold quote</th>"
               "<th>result</th></tr>")


def _item_row(number: int, row: Row) -> str:
    """Question, answer, cited quotes and gold quotes side by side; the retrieved passages fold away."""
    item, answer = row.item, row.answer
    history = "".join(f"<div><small>user: {escape(u)}<br>assistant: {escape(a)}</small></div>" for u, a in item.history)
    cited = "".join(
        f"<div{' class=gold' if any(cites(c, ev) for ev in item.evidence) else ''}>[{c.number}] "
        f"{escape(_where(c.source, c.line_start, c.line_end, c.page))}"
        f" {'verified' if c.supported else '<b>unverified</b>'}"
        f"<blockquote>{escape(c.quote)}</blockquote></div>" for c in answer.citations)
    retrieved = "".join(
        f"<div>{rank}. {escape(_where(p.source, p.line_start, p.line_end, p.page))} score {p.score:.3f}"
        f"{' <b>gold</b>' if any(holds(p, ev) for ev in item.evidence) else ''}"
        f"<blockquote>{escape(p.text)}</blockquote></div>"
        for rank, p in enumerate(answer.passages, 1))
    gold = "".join(f"<div>{escape(_gold_where(ev))}<blockquote>{escape(ev.quote)}</blockquote></div>"
                   for ev in item.evidence)
    references = "<br>".join(escape(a) for a in item.answers)
    verdict = '<span class="pass">PASS</span>' if row.passed \
        else f'<span class="fail">FAIL</span><br><small>{escape(row.failure)}</small>'
    return (f"<tr><td>{number}</td><td class=item><b>{escape(item.id)}</b> "
            f"<small>{escape(item.category)}</small>{history}"
            f"<div>{escape(item.question)}</div></td>"
            f"<td class=item>{'<i>refused</i> ' if answer.refused else ''}{escape(answer.text)}</td>"
            f"<td class=item>{cited or '<i>nothing cited</i>'}<details><summary>{len(answer.passages)} "
            f"retrieved</summary>{retrieved}</details></td>"
            f"<td class=item>{gold or '<i>none: should refuse</i>'}"
            f"{f'<div><small>references: {references}</small></div>' if references else ''}</td>"
            f"<td>{verdict}</td></tr>")


def _items_table(rows: list[Row]) -> str:
    return f"<table>{ITEM_HEADER}{''.join(_item_row(n, row) for n, row in enumerate(rows, 1))}</table>"


def _png(figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def category_plot(report: Report) -> str:
    """Grouped bars: a few headline metrics per category (a base64 PNG)."""
    from matplotlib.figure import Figure

    names = category_columns(report)[1:6]
    categories = list(report.by_category)
    figure = Figure(figsize=(max(6, 1.5 * len(categories)), 3.5))
    axes = figure.subplots()
    width = 0.8 / len(names)
    for i, name in enumerate(names):
        values = [report.by_category[c][name] for c in categories]
        axes.bar([x + i * width for x in range(len(categories))], [float("nan") if v is None else v for v in values],
                 width, label=name)
    axes.set_xticks([x + 0.4 - width / 2 for x in range(len(categories))], categories)
    axes.set_ylim(0, 1.05)
    axes.set_title("Metrics by category")
    axes.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1, 1))
    return _png(figure)


def latency_plot(report: Report) -> str:
    """Box plots of per-item latency per stage, in seconds (a base64 PNG)."""
    from matplotlib.figure import Figure

    stages = [s for s in STAGES if any(s in r.answer.timings for r in report.rows)]
    figure = Figure(figsize=(6, 3.5))
    axes = figure.subplots()
    if stages:
        axes.boxplot([[r.answer.timings[s] for r in report.rows if s in r.answer.timings] for s in stages])
        axes.set_xticks(range(1, len(stages) + 1), stages)
    axes.set_ylabel("seconds")
    axes.set_title("Latency per question")
    return _png(figure)


def to_html(report: Report, old: dict[str, float | None] | None = None) -> str:
    plots = "".join(f'<img alt="{name}" src="data:image/png;base64,{png}">'
                    for name, png in (("metrics by category", category_plot(report)),
                                      ("latency", latency_plot(report))))
    failures = failures_by_category(report)
    failed = "".join(f"<h3>{escape(category)} ({len(rows)})</h3>{_items_table(rows)}"
                     for category, rows in failures.items())
    passed = [row for row in report.rows if row.passed]
    settings = ", ".join(f"{name}={value}" for name, value in report.settings.items())
    notes = "".join(f"<p>{escape(note)}</p>" for note in report.notes)
    return (f"<!doctype html><html><head><meta charset=utf-8><title>Evaluation: {escape(report.dataset)}</title>"
            f"<style>{STYLE}</style></head><body><h1>Evaluation: {escape(_title(report))}</h1>{notes}"
            f"<h2>By category</h2>{_html_table(['category', *category_columns(report)], category_rows(report))}"
            f"<h2>Failures ({len(report.rows) - len(passed)}), by category</h2>{failed or '<p>None.</p>'}"
            f"<h2>Passed ({len(passed)})</h2><details><summary>show</summary>{_items_table(passed)}</details>"
            f"<h2>All metrics</h2>{_html_table(_header(old), metric_rows(report.metrics, old))}{plots}"
            f"<p><small>{escape(settings)}</small></p></body></html>\n")
