"""`assistant bench`: the speed benchmark (one run, every ratio against its baseline) and, as its subcommands, the
benchmarks that run on their own (load, listing, tokens, reader latency) and the benchmark's child processes."""

import json
import shlex
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from assistant.cli.console import fail
from evals.bench.load import DEFAULT_RSS_GROWTH_MB
from evals.bench.run import DEFAULT_MEMORY_MB, SQUAD_SUBSET

bench_app = typer.Typer(help="Measure speed and memory: `assistant bench` runs the whole benchmark; the subcommands "
                             "run one benchmark on its own.")


def parse_scales(text: str) -> list[int]:
    try:
        scales = [int(float(part)) for part in text.replace("k", "000").split(",") if part.strip()]
    except ValueError:
        raise typer.BadParameter(f"expected sizes like 1000,10000,100000, got {text!r}") from None
    if not scales or min(scales) < 1:
        raise typer.BadParameter("expected positive sizes")
    return scales


@bench_app.callback(invoke_without_command=True)
def bench(
    ctx: typer.Context,
    corpus: Annotated[Optional[Path], typer.Option(
        help="A file or folder to ingest (default: Python's pydoc topics).")] = None,
    scale: Annotated[Optional[str], typer.Option(help="Collection sizes for query latency, comma-separated "
                                                 "(default 1000,10000,100000; --quick: 150,400).")] = None,
    out: Annotated[Path, typer.Option(help="Folder for bench.json and bench.png.")] = Path("bench-out"),
    quick: Annotated[bool, typer.Option(
        help="The smallest run with every ratio (tiny corpus, small scales, no child processes).")] = False,
    reps: Annotated[int, typer.Option(min=1, help="Repetitions of each measurement; ingest splits the corpus into "
                                                  "2 x REPS interleaved parts.")] = 3,
    memory: Annotated[bool, typer.Option(help="Measure peak RSS ingesting a generated 50 MB corpus (~115k chunks) with "
                                              "the real encoder: about an hour on 2 cores.")] = False,
    memory_mb: Annotated[Optional[float], typer.Option(
        help=f"Size of the memory run's generated corpus in MB (0: skip). Without --memory the encoder is stubbed, so "
             f"the run measures the pipeline's and Chroma's memory in minutes (default {DEFAULT_MEMORY_MB:g}; "
             "--quick: 0).")] = None,
    profile: Annotated[bool, typer.Option(
        help="Also write cProfile reports of ingest, retrieval and answering into --out.")] = False,
    all_backends: Annotated[bool, typer.Option(
        "--all-backends", help="Also time our ingest with the other backend (fp32).")] = False,
    squad: Annotated[Path, typer.Option(
        help="SQuAD 2.0 JSON for the retrieval parity of the backends (dev data).")] = SQUAD_SUBSET,
    markdown: Annotated[bool, typer.Option(
        "--markdown", help="Also write the targets and latency table, with this command, the date and the machine's "
                           "load, into --doc between its two marker lines.")] = False,
    doc: Annotated[Path, typer.Option(help="The page --markdown writes the table into.")] = Path("docs/performance.md"),
    results_file: Annotated[Optional[Path], typer.Option(
        "--results", help="With --markdown: write the table of this earlier bench.json instead of running.")] = None,
):
    """Measure ingest and query speed against the raw model and the naive LangChain recipe; print the table
    (the subcommands below are the benchmarks that run on their own)."""
    if ctx.invoked_subcommand is not None:
        return
    from evals.bench.report import markdown_parts, table, write_markdown
    from evals.bench.run import run_bench

    if results_file is not None and not markdown:
        fail("--results goes with --markdown")
    try:
        if markdown:
            markdown_parts(doc)  # a page without the markers fails now, not after the run
        if results_file is not None:
            results = json.loads(results_file.read_text(encoding="utf-8"))
            write_markdown(results, doc)
            typer.echo(f"wrote the table of {results_file} into {doc}")
            return
    except (OSError, ValueError) as exc:
        fail(str(exc))
    scales = parse_scales(scale) if scale else None
    if memory_mb is None:
        memory_mb = 50.0 if memory else 0.0 if quick else DEFAULT_MEMORY_MB
    try:
        results = run_bench(corpus, scales, out, quick=quick, reps=reps, memory_mb=memory_mb, memory_real=memory,
                            subprocesses=not quick, profile=profile, all_backends=all_backends, squad=squad,
                            command=shlex.join(["assistant", *sys.argv[1:]]))
    except (ValueError, RuntimeError) as exc:
        fail(str(exc), 1)
    typer.echo(table(results))
    typer.echo(f"wrote {out / 'bench.json'} and {out / 'bench.png'}")
    if markdown:
        write_markdown(results, doc)
        typer.echo(f"wrote the table into {doc}")



def report(results: dict, out: Path | None) -> None:
    """A load run's results as JSON on stdout (and in `out`); exit code 1 when a target was missed."""
    text = json.dumps(results, indent=2)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n")
    typer.echo(text)
    raise typer.Exit(0 if results["ok"] else 1)


@bench_app.command()
def load(
    seconds: Annotated[float, typer.Option(min=1, help="Seconds of load per level and face.")] = 60.0,
    levels: Annotated[str, typer.Option(help="Client counts, comma-separated, lowest first.")] = "16,64",
    soak_minutes: Annotated[float, typer.Option(min=0, help="Then a mixed soak (page asks, /v1 streams) this long; "
                                                            "the full one is 30.")] = 0.0,
    out: Annotated[Optional[Path], typer.Option(help="Write the results here as JSON.")] = None,
):
    """Overload one `assistant chat` (page /ask and /v1) past its admission line: admitted answers/s, p50/p95,
    refused as busy, other errors, RSS; exit code 1 when a target is missed."""
    from evals.bench.load import run_overload_bench

    try:
        counts = tuple(int(part) for part in levels.split(",") if part.strip())
    except ValueError:
        raise typer.BadParameter(f"expected client counts like 16,64, got {levels!r}") from None
    if len(counts) < 2 or min(counts) < 1:
        raise typer.BadParameter("expected two or more positive client counts")
    results = run_overload_bench(levels=counts, seconds=seconds, soak_seconds=60 * soak_minutes)
    report(results, out)


@bench_app.command()
def steady(
    clients: Annotated[int, typer.Option(
        min=1, max=64, help="Concurrent clients per target (8-16 is the target range).")] = 8,
    seconds: Annotated[float, typer.Option(min=0.1, help="Seconds of load per target.")] = 60.0,
    max_requests: Annotated[int, typer.Option(min=1, help="Requests per target at most.")] = 20000,
    url: Annotated[Optional[str], typer.Option(help="A running chat page (127.0.0.1); default: start one.")] = None,
    pid: Annotated[Optional[int], typer.Option(help="The running chat page's process id, for its memory.")] = None,
    data_dir: Annotated[Optional[Path], typer.Option(help="Store for the started chat page and the API.")] = None,
    collection: Annotated[Optional[str], typer.Option(help="Collection name.")] = None,
    max_rss_growth_mb: Annotated[float, typer.Option(
        help="Allowed RSS growth after warm-up, MB.")] = DEFAULT_RSS_GROWTH_MB,
    only: Annotated[Optional[str], typer.Option(help="gradio or api (default both).")] = None,
    out: Annotated[Optional[Path], typer.Option(help="Write the results here as JSON.")] = None,
):
    """Bounded load on the chat page's /ask and on the Python API, on 127.0.0.1: requests, errors, answers/s, latency
    and the server's memory; exit code 1 on errors or memory growth over the bound."""
    from assistant.settings import Settings
    from evals.bench.load import run_load_bench

    if only not in (None, "gradio", "api"):
        fail(f"--only {only!r}: use gradio or api")
    settings = Settings().with_overrides(data_dir=data_dir, collection=collection) if data_dir or collection else None
    try:
        results = run_load_bench(settings, url, pid, clients, seconds, max_requests, max_rss_growth_mb,
                                 (only,) if only else ("gradio", "api"))
    except ValueError as exc:
        fail(str(exc))
    report(results, out)


@bench_app.command()
def listing(
    documents: Annotated[int, typer.Option(min=1, help="Documents in the collection.")] = 5000,
    chunks: Annotated[int, typer.Option(min=1, help="Chunks per document.")] = 4,
):
    """How long the document listing takes on a large collection, in the embedded store and on a `chroma run` server
    (random vectors: the listing reads metadata only)."""
    from evals.bench.listing import time_listing

    time_listing(documents, chunks, typer.echo)


@bench_app.command()
def tokens(
    runs: Annotated[int, typer.Option(min=1, help="Answers to time.")] = 3,
    max_tokens: Annotated[int, typer.Option(min=1, help="Tokens per answer at most.")] = 128,
    threads: Annotated[int, typer.Option(min=1, help="llama.cpp threads.")] = 2,
):
    """Tokens/s of the llama.cpp build this interpreter imports (SmolLM2-135M on the sample question with its
    passages) and the build's CPU features: run it once per build to compare builds."""
    from evals.bench.tokens import measure_tokens

    measure_tokens(runs, max_tokens, threads, typer.echo)


@bench_app.command("reader-latency")
def reader_latency(
    rounds: Annotated[int, typer.Option(min=1, help="Passes over the sample's questions.")] = 3,
):
    """Extractive answer latency with the learned reader and without, side by side in one process, on the sample."""
    from evals.bench.reader_latency import compare_reader_latency

    compare_reader_latency(rounds, typer.echo)


proc_app = typer.Typer(help="The benchmark's child processes, which it starts itself to sample their memory: "
                            "`memory` ingests, `answer` answers one question. Each prints its figures on stdout.")
bench_app.add_typer(proc_app, name="proc")


@proc_app.command("memory")
def proc_memory(
    corpus: Annotated[str, typer.Argument(help="File or folder to ingest.")],
    data_dir: Annotated[str, typer.Argument(help="A fresh embedded store.")],
    encoder: Annotated[str, typer.Argument(help="stub (pseudo-random vectors: the pipeline's memory) or real.")],
):
    """Ingest CORPUS into a fresh store; prints `ready SECONDS` once the model is loaded, then `done ADDED SECONDS
    FAILED`."""
    from evals.bench.proc import child_memory

    if encoder not in ("stub", "real"):
        fail(f"ENCODER {encoder!r}: use stub or real")
    child_memory(corpus, data_dir, encoder == "stub", typer.echo)


@proc_app.command("answer")
def proc_answer(
    data_dir: Annotated[str, typer.Argument(help="The embedded store.")],
    collection: Annotated[str, typer.Argument(help="Collection name.")],
    question: Annotated[str, typer.Argument(help="The question.")],
):
    """Answer one question through the Python API (the memory stand-in when the chat page cannot start); prints
    `answered REFUSED TEXT`."""
    from evals.bench.proc import child_answer

    child_answer(data_dir, collection, question, typer.echo)
