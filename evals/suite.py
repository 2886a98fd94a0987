"""`assistant eval --suite`: the whole evaluation in one run, printed as one table with a column per section.

A section is anything that returns named metrics; the question-set runs below are sections, and a benchmark
without questions (e.g. the claims benchmark) becomes one more `Section` in `suite_sections`.
"""

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from assistant.settings import Settings
from evals.dataset import EXTERNAL, OUT_OF_COLLECTION, REPORTING_SET, Dataset, load_dataset, only_categories

SQUAD_LIMIT = 200  # questions of the SQuAD reporting sample, spread evenly over its 15 articles
HOLDOUT = 2  # articles kept out of the collection for the out-of-collection section
OOC_LIMIT = 100
HEADLINE = ["items", "overall.pass", "answer.contains", "citation.precision", "citation.located", "verifier.accepted",
            "retrieval.hit@{k}", "refusal.recall", "refusal.answerable_refused", "latency.total.p50"]


@dataclass(frozen=True)
class SectionResult:
    """One column of the suite's table: named metrics, what data they come from, and what was left out."""

    name: str
    data: str
    metrics: dict[str, float | None]
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0


@dataclass(frozen=True)
class Section:
    name: str
    data: str  # the data and split the figures come from, for the table
    run: Callable[[Settings, Path], SectionResult]  # settings, the folder for its reports


def eval_section(name: str, data: str, load: Callable[[], Dataset], limit: int | None = None) -> Section:
    """A question-set run as a section: its headline metrics, its reports written to OUT/NAME."""
    def run(settings: Settings, out: Path) -> SectionResult:
        from evals.harness import run_eval
        from evals.report import write_reports

        report = run_eval(load(), settings, limit=limit, progress=False)
        write_reports(report, out / name)
        names = [metric.format(k=settings.k) for metric in HEADLINE]
        return SectionResult(name, data, {m: report.metrics.get(m) for m in names}, report.notes, report.seconds)
    return Section(name, data, run)


def suite_sections(external: Path | None = None) -> list[Section]:
    """The bundled sets' test halves, a SQuAD reporting sample and the out-of-collection setting."""
    reporting = (external or EXTERNAL) / REPORTING_SET / "dev-v2.0.json"
    return [
        eval_section("multidoc-test", "evals/datasets/multidoc.jsonl", lambda: load_dataset("multidoc", split="test")),
        eval_section("structure-test", "evals/datasets/structure.jsonl (tables, lists, e-mail)",
                     lambda: load_dataset("structure", split="test")),
        eval_section("squad-reporting", f"{REPORTING_SET}, {SQUAD_LIMIT} questions spread evenly",
                     lambda: load_dataset(reporting), SQUAD_LIMIT),
        eval_section(OUT_OF_COLLECTION, f"{REPORTING_SET}, {OOC_LIMIT} questions spread evenly",
                     lambda: only_categories(load_dataset(reporting, holdout_articles=HOLDOUT), [OUT_OF_COLLECTION]),
                     OOC_LIMIT),
        Section("claims", "the claims benchmark's test split (evals/claims.py: generated from the reporting "
                          "articles, hand-written on multidoc)", run_claims_section),
    ]


def run_claims_section(settings: Settings, out: Path) -> SectionResult:
    """The claims benchmark (test split) as a section; its full report goes to OUT/claims/claims.json."""
    from evals.claims import run_claims, section_metrics

    report = run_claims(settings, "test")
    (out / "claims").mkdir(parents=True, exist_ok=True)
    (out / "claims" / "claims.json").write_text(report.model_dump_json(indent=1), encoding="utf-8")
    return SectionResult("claims", "claims benchmark, test split", section_metrics(report), [", ".join(report.sets)])


def run_suite(sections: list[Section], settings: Settings, out: Path) -> str:
    """Run every section, write OUT/suite.json and each section's reports, and return the one table."""
    started = time.perf_counter()
    results = []
    for section in sections:
        began = time.perf_counter()
        result = section.run(settings, out)
        results.append(replace(result, seconds=round(time.perf_counter() - began, 1)))
    seconds = time.perf_counter() - started
    out.mkdir(parents=True, exist_ok=True)
    (out / "suite.json").write_text(json.dumps({"seconds": round(seconds, 1), "sections": [asdict(r) for r in results]},
                                               indent=2), encoding="utf-8")
    return table(results, seconds)


def table(results: list[SectionResult], seconds: float) -> str:
    """Metrics as rows, sections as columns (n/a where a section has no such metric), then what each column is."""
    from evals.report import fmt, text_table

    names = list(dict.fromkeys(name for r in results for name in r.metrics))
    rows = [["metric", *(r.name for r in results)]]
    rows += [[name, *(fmt(name, r.metrics.get(name)) for r in results)] for name in names]
    rows.append(["seconds", *(f"{r.seconds:.0f}" for r in results)])
    about = [f"{r.name}: {r.data}" + "".join(f"; {note}" for note in r.notes) for r in results]
    return "\n".join([*text_table(rows), "", *about, f"total {seconds:.0f} s"])
