"""The evaluation commands: `assistant eval` (a question set: table, reports, gates), `assistant claims`,
`assistant calibrate` and `assistant train-reader`. Each calls its evals function; evals is imported when it runs."""

from pathlib import Path
from typing import Annotated, Optional

import typer

from assistant.cli.console import ANSWERING, fail, settings_from, with_settings
from assistant.settings import Settings

# The offline runs' defaults live on their option objects in evals, whose modules take seconds to import: an option
# left out here (None) takes that default.


@with_settings(ANSWERING)
def eval_command(
    dataset: Annotated[str, typer.Option(help="A bundled set's name, or a .jsonl / SQuAD .json file.")] = "peace-talks",
    format: Annotated[Optional[str], typer.Option(help="jsonl or squad (default: from the file name).")] = None,
    corpus: Annotated[Optional[Path], typer.Option(
        help="Documents of a .jsonl set (default: the folder named like the file).")] = None,
    split: Annotated[Optional[str], typer.Option(help="dev or test: ask only that half of a bundled set.")] = None,
    exclude_articles: Annotated[Optional[str], typer.Option(
        help="SQuAD: comma-separated article titles to leave out ('' for none; default for squad2-cs224n-dev: "
             "the articles of squad2-dev-subset, the calibration set).")] = None,
    holdout_articles: Annotated[int, typer.Option(
        min=0, help="SQuAD: keep the last N articles out of the collection and ask their answerable questions, "
                    "which should then be refused (category out-of-collection).")] = 0,
    category: Annotated[Optional[list[str]], typer.Option(
        help="Ask only the items of this category (repeatable).")] = None,
    limit: Annotated[Optional[int], typer.Option(min=1, help="Ask only N items, spread evenly over the set.")] = None,
    judge: Annotated[Optional[str], typer.Option(
        help="provider:model of an LLM that also grades answers (optional).")] = None,
    out: Annotated[Path, typer.Option(help="Folder for report.json, report.md and report.html.")] = Path("eval-out"),
    compare: Annotated[Optional[Path], typer.Option(help="An earlier report.json to show deltas against.")] = None,
    fail_under: Annotated[Optional[list[str]], typer.Option(
        help="METRIC=VALUE: exit 1 when METRIC is worse than VALUE (repeatable; names in evals/README.md).")] = None,
    suite: Annotated[bool, typer.Option(
        help="Run the whole evaluation (evals/suite.py) and print one table; takes --mode, --llm, --k, --out, "
             "--external.")] = False,
    external: Annotated[Optional[Path], typer.Option(
        help="--suite: the folder holding squad2-cs224n-dev/ (default: ../shared/external-eval beside the "
             "project).")] = None,
    *, settings: Settings,
):
    """Score the assistant on a question set: retrieval, answers, citations, refusals, latency."""
    from assistant.errors import AssistantError
    from evals.dataset import load_dataset, only_categories
    from evals.gates import failed_gates, parse_gate
    from evals.harness import metric_names, run_eval
    from evals.report import load_metrics, summary, write_reports

    if suite:
        from evals.suite import run_suite, suite_sections

        if fail_under or compare or judge:
            fail("--suite prints one table; --fail-under, --compare and --judge apply to a single dataset")
        try:
            typer.echo(run_suite(suite_sections(external), settings, out))
        except (ValueError, AssistantError) as exc:
            fail(str(exc), 1)
        return
    if split not in (None, "dev", "test"):
        fail(f"--split {split!r}: use dev or test")
    # Everything that can be wrong with the arguments fails now, before a long run.
    try:
        gates = [parse_gate(gate, metric_names(settings.k, bool(judge))) for gate in fail_under or []]
        old = load_metrics(compare) if compare else None
        excluded = None if exclude_articles is None else [t.strip() for t in exclude_articles.split(",") if t.strip()]
        data = load_dataset(dataset, format, corpus, split, excluded, holdout_articles)
        data = only_categories(data, category) if category else data
    except ValueError as exc:
        fail(str(exc))
    try:
        report = run_eval(data, settings, limit=limit, judge=judge)
    except AssistantError as exc:
        fail(str(exc), 1)
    for failure in report.ingest.get("failed", []):
        typer.echo(f"warning: not ingested: {failure}", err=True)
    paths = write_reports(report, out, old)
    typer.echo(summary(report, old))
    typer.echo("wrote " + ", ".join(map(str, paths)))
    failures = failed_gates(report.metrics, gates)
    for failure in failures:
        typer.echo(failure, err=True)
    if failures:
        raise typer.Exit(1)


def claims_command(
    split: Annotated[str, typer.Option(help="dev or test: which claims to verify.")] = "test",
    paragraphs: Annotated[Optional[int], typer.Option(min=1, help="Paragraphs per article (test default: 4).")] = None,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Also write the report as JSON here.")] = None,
):
    """Claim-verification benchmark: does the verifier catch false claims and accept true ones, per kind of error?"""
    from evals.claims import run_claims, table

    if split not in ("dev", "test"):
        fail(f"--split {split!r}: use dev or test")
    report = run_claims(settings_from(), split, paragraphs)
    typer.echo(table(report))
    if json_out:
        json_out.write_text(report.model_dump_json(indent=1), encoding="utf-8")


def calibrate_command(
    dataset: Annotated[Optional[str], typer.Option(
        help="The SQuAD-format dev file (default: squad2-dev-subset).")] = None,
    split: Annotated[Optional[str], typer.Option(help="Only dev is accepted: test halves are for reporting.")] = None,
    max_refused: Annotated[Optional[float], typer.Option(
        help="Share of answerable dev questions the refusal threshold may refuse out-of-fold (target: <= 0.05).",
    )] = None,
    max_rejected: Annotated[Optional[float], typer.Option(
        help="Share of true dev claims the support threshold may reject, each claim set weighing the same "
             "(target: >= 0.90 accepted).")] = None,
    only: Annotated[Optional[str], typer.Option(
        help="Refit only 'judge' (answer and refusal) or only 'support' (the claim verifier).")] = None,
    dry_run: Annotated[bool, typer.Option(help="Print the fitted models without writing them.")] = False,
):
    """Fit the answer judge (sentence ranking, refusal) and the claim verifier on dev data only, into
    assistant/models/judge.json (about 2.5 minutes)."""
    from evals.calibrate import Calibration, main

    if only not in (None, "judge", "support"):
        fail(f"--only {only!r}: use judge or support")
    main(Calibration(**given(dataset=dataset, split=split, max_refused=max_refused, max_rejected=max_rejected,
                             only=only, dry_run=dry_run)))


def train_reader_command(
    claims: Annotated[Optional[int], typer.Option(min=0, help="FEVER pairs to train on.")] = None,
    snli: Annotated[Optional[int], typer.Option(min=0, help="SNLI pairs to train on.")] = None,
    qnli: Annotated[Optional[int], typer.Option(min=0, help="QNLI pairs to train on.")] = None,
    pairs: Annotated[Optional[int], typer.Option(
        min=1, help="Training pairs sampled from the mix (~2.5-8/s here).")] = None,
    negatives: Annotated[Optional[int], typer.Option(
        min=0, help="Other sentences of the paragraph per SQuAD question.")] = None,
    lr: Annotated[Optional[float], typer.Option(help="AdamW learning rate.")] = None,
    batch: Annotated[Optional[int], typer.Option(min=1, help="Pairs per training step.")] = None,
    checkpoint: Annotated[Optional[Path], typer.Option(
        help="Where the fine-tuned torch weights are kept, not shipped (default: .cache/reader-torch).")] = None,
    export_only: Annotated[bool, typer.Option(help="Re-export the kept checkpoint, no training.")] = False,
):
    """Train the reader (a MiniLM cross-encoder scoring question/sentence and claim/evidence pairs) and export it to
    int8 ONNX in assistant/models/; an hour or more on 2 cores."""
    from evals.train_reader import Training, main

    main(Training(**given(claims=claims, snli=snli, qnli=qnli, pairs=pairs, negatives=negatives, lr=lr, batch=batch,
                          checkpoint=checkpoint, export_only=export_only)))


def given(**options: object) -> dict[str, object]:
    """The options the command line set (None: the run's own default)."""
    return {name: value for name, value in options.items() if value is not None}
