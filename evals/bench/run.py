"""`assistant bench`: ingest and query speed measured side by side with their baselines.

One run prints a table, writes bench.json and bench.png (latency against collection size). Every figure that has a
target is a ratio against a baseline run in the same invocation (medians of repetitions) or a latency percentile; the
module imports nothing heavy until a run starts, so `assistant` stays quick to start."""

import os
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from evals.bench.common import say
from evals.bench.report import write_outputs
from evals.dataset import EXTERNAL

DEFAULT_SCALES = (1000, 10000, 100000)
# the memory run does not fit the 10-minute default run: --memory-mb N (stub encoder) or --memory
DEFAULT_MEMORY_MB = 0.0
LEVELS = [1, 4, 8]
SQUAD_SUBSET = EXTERNAL / "squad2-dev-subset" / "dev-v2.0.json"

# name: (description, target text, test on the value); the targets of issue 16.
TARGETS: dict[str, tuple[str, str, Callable[[float], bool]]] = {
    "ingest_vs_raw_same_backend": ("1 ingest (default backend) / raw encode, same backend", ">= 0.9",
                                   lambda v: v >= 0.9),
    "ingest_vs_raw_fp32": ("1 ingest (default backend) / raw fp32 encode", ">= 1.7", lambda v: v >= 1.7),
    "ingest_vs_naive": ("1 ingest (default) / naive LangChain recipe, MB/min", "> 1", lambda v: v > 1.0),
    "reingest_speedup": ("2 first ingest / re-ingest (same process)", ">= 20", lambda v: v >= 20),
    "noop_ingest_cli_s": ("2 no-op `assistant ingest`, s", "< 3", lambda v: v < 3),
    "noop_ingest_vs_floor": ("2 no-op `assistant ingest` / floor", "< 0.33", lambda v: v < 1 / 3),
    "retrieval_p50_ms_at_100k": ("3 retrieval p50 at 100k chunks, ms", "< 30", lambda v: v < 30),
    "answer_p50_ms_at_10k": ("3 extractive answer p50 at 10k chunks, ms", "< 150", lambda v: v < 150),
    "cold_ask_answer_s": ("4 cold `assistant ask` (bench corpus), answer s", "< 5", lambda v: v < 5),
    "cold_ask_vs_floor": ("4 cold `assistant ask` / floor", "< 0.5", lambda v: v < 0.5),
    "cold_ask_answer_s_at_max": ("4 cold `assistant ask` at the largest scale, s", "< 8", lambda v: v < 8),
    "chat_ready_s": ("4 `assistant chat` ready, s", "< 8", lambda v: v < 8),
    "chat_rss_after_mb": ("5 chat RSS after the concurrency runs, MB", "< 700", lambda v: v < 700),
    "parity_points_min": ("6 default backends - torch fp32, hit@5/MRR, worst (hybrid)", ">= -1", lambda v: v >= -1.0),
    "memory_peak_rss_mb": ("7 peak RSS of the memory run's ingest, MB", "< 1500", lambda v: v < 1500),
}
# The same figures before issue 16's work (`assistant bench` on a quiet machine, as quoted in the issue).
BASELINE = {"ingest_vs_raw_same_backend": 0.84, "ingest_vs_raw_fp32": 1.23, "noop_ingest_cli_s": 16.7,
            "noop_ingest_vs_floor": 1.11, "retrieval_p50_ms_at_100k": 40.9, "answer_p50_ms_at_10k": 312,
            "cold_ask_answer_s": 15.2, "cold_ask_vs_floor": 1.23, "chat_ready_s": 18.7, "chat_rss_after_mb": 898}


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def bench_settings(base, data_dir: Path, collection: str, backend: str):
    """The base settings on a throwaway embedded store (model_validate can clear chroma_url, unlike with_overrides)."""
    from assistant.settings import Settings

    return Settings.model_validate({**base.model_dump(), "data_dir": data_dir, "chroma_url": None,
                                    "collection": collection, "embedding_backend": backend})


def run_bench(corpus: Path | None = None, scales: list[int] | None = None, out: Path = Path("bench-out"),
              quick: bool = False, reps: int = 3, memory_mb: float = 0.0, memory_real: bool = False,
              subprocesses: bool = True, squad: Path | None = SQUAD_SUBSET, profile: bool = False,
              all_backends: bool = False, command: str = "assistant bench",
              log: Callable[[str], None] = say) -> dict:
    """Run every measurement, write bench.json and bench.png into `out`, and return the results.

    `quick` is the smallest run that still produces every ratio: a ~24 KB corpus, one repetition, small scales, ten
    questions, no child processes and no SQuAD parity."""
    from assistant.settings import Settings
    from evals.bench.concurrency import LoadCounter, measure_api_concurrency, measure_api_process_rss, measure_chat
    from evals.bench.corpus import PYDOC_QUESTIONS, corpus_files, corpus_questions, split_groups, write_pydoc_corpus
    from evals.bench.ingest import measure_cli_reingest, measure_ingest, measure_reingest
    from evals.bench.latency import measure_scales
    from evals.bench.memory import measure_memory
    from evals.bench.parity import measure_parity, pair_name
    from evals.bench.startup import measure_cold_start
    from evals.dataset import load_dataset

    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    scales = sorted(set(scales or ([150, 400] if quick else DEFAULT_SCALES)))
    reps = 1 if quick else max(1, reps)
    base = Settings()
    counter = LoadCounter().install()
    cpu_started = _cpu_times()
    results: dict = {"command": command, "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                     "machine": _machine(), "load_before": load_average(),
                     "config": {"quick": quick, "reps": reps, "scales": scales,
                                "backend_default": base.embedding_backend,
                                "embedding_model": base.embedding_model, "k": base.k,
                                "query_backend": base.query_backend,
                                "parity_default": pair_name(base.embedding_backend, base.query_backend)}}
    profile_dir = out if profile else None
    sections, last = {}, [started]

    def mark(name: str) -> None:
        now = time.perf_counter()
        sections[name] = round(now - last[0], 1)
        last[0] = now

    results["section_seconds"] = sections
    try:
        with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
            work = Path(tmp)
            data_dir = work / "data"

            def settings_for(collection: str, backend: str):
                return bench_settings(base, data_dir, collection, backend)

            if corpus is not None:
                files = corpus_files(corpus)
                if not files:
                    raise ValueError(f"--corpus {corpus}: no supported files")
                corpus_root, corpus_name = corpus, str(corpus)
            else:
                corpus_root = work / "corpus"
                files = write_pydoc_corpus(corpus_root, 24_000 if quick else None)
                corpus_name = "pydoc_data.topics"
            if corpus is None:
                questions = list(PYDOC_QUESTIONS)
            else:
                from ingest.loaders import load_document

                questions = corpus_questions([load_document(path).text for path in files[:200]], 60)
            questions = questions[:10] if quick else questions
            results["config"] |= {"corpus": corpus_name, "questions": len(questions)}
            default = settings_for(f"bench-{base.embedding_backend}", base.embedding_backend)

            log(f"[1/7] ingest throughput on {corpus_name} ({len(files)} files) in {min(len(files), 2 * reps)} "
                "interleaved parts")
            mark("setup")
            backends = (base.embedding_backend, *({"int8", "fp32"} - {base.embedding_backend} if all_backends else ()))
            results["ingest"] = measure_ingest(split_groups(files, 2 * reps), settings_for, work, log,
                                                       profile_dir, backends)
            first = results["ingest"]["first_ingest_s"][base.embedding_backend]
            mark("ingest")
            log("[2/7] re-ingest of the unchanged corpus")
            results["reingest"] = measure_reingest(default, files, first, 1 if quick else 3, log)
            if subprocesses:
                cli = attempt("`assistant ingest` re-ingest", log, measure_cli_reingest, data_dir,
                              default.collection, default.embedding_backend, corpus_root, first)
                results["reingest"]["cli"] = cli
            mark("reingest")
            question = questions[0]
            per_run = 8 if quick else 16
            if subprocesses:
                log("[4/7] cold start and the chat process")
                results["cold_start"] = attempt("cold start", log, measure_cold_start, default, question, 3, log)
                chat = measure_chat(default, questions, LEVELS, reps, 12, log)
                if not chat.get("available"):
                    chat["api_process"] = attempt("API process RSS", log, measure_api_process_rss, default,
                                                  question)
                    log(f"  stand-in: a Python-API process answering one question peaks at "
                        f"{chat['api_process'].get('peak_rss_mb', 0):.0f} MB RSS")
                results["chat"] = chat
                mark("cold_start_and_chat")
            log("[5/7] answers per second with 1, 4 and 8 threads on the Python API")
            results["concurrency"] = measure_api_concurrency(default, questions, LEVELS, reps, per_run, counter, log)
            mark("concurrency")
            log(f"[3/7] query latency at {', '.join(map(str, scales))} chunks: {len(questions)} questions retrieved, "
                f"{min(50, len(questions))} answered")
            results["latency"] = measure_scales(default, scales, questions, log, profile_dir)
            mark("latency")
            if subprocesses and scales:
                log(f"[4/7] cold `assistant ask` again at {max(scales)} chunks (the saved lexical index is loaded)")
                results["cold_start_at_max"] = attempt("cold start at the largest scale", log,
                                                       measure_cold_start, default, question, 2, log,
                                                       f" at {max(scales)} chunks")
                mark("cold_start_at_max")
            log("[6/7] every backend against torch fp32: retrieval parity")
            datasets = [("peace-talks", load_dataset("peace-talks"))]
            if squad is not None and not quick and Path(squad).is_file():
                datasets.append(("squad2-dev-subset", load_dataset(squad, format="squad")))
            results["parity"] = measure_parity(datasets, settings_for, log, base.k, 15 if quick else None)
            mark("parity")
            if memory_mb:
                log(f"[7/7] peak RSS ingesting a {memory_mb:g} MB corpus")
                results["memory"] = attempt("memory", log, measure_memory, work, memory_mb, not memory_real,
                                            base.embedding_backend, log)
            else:
                log("[7/7] memory: skipped (--memory-mb 0)")
            mark("memory")
    finally:
        counter.uninstall()
    results["model_loads"] = counter.loads
    results["load_after"] = load_average()
    results["other_processes_cpu"] = _other_cpu(cpu_started)
    results["seconds"] = round(time.perf_counter() - started, 1)
    results["ratios"] = ratios(results)
    results["targets"] = targets(results)
    write_outputs(results, out)
    return results


def attempt(name: str, log, fn, *args) -> dict:
    """A part that runs other processes: its failure is recorded (and printed), not fatal to a ten-minute run."""
    try:
        return fn(*args)
    except Exception as exc:
        log(f"  {name} failed: {str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__}")
        return {"error": f"{type(exc).__name__}: {str(exc)[:1000]}"}


def _cpu_times() -> tuple[float, float, float]:
    """(wall clock, busy CPU seconds of the whole machine, CPU seconds of this process and its waited-for children)."""
    import psutil

    machine = psutil.cpu_times()
    own = psutil.Process().cpu_times()
    busy = sum(machine) - machine.idle - getattr(machine, "iowait", 0.0)
    return time.perf_counter(), busy, own.user + own.system + own.children_user + own.children_system


def _other_cpu(started: tuple[float, float, float]) -> float | None:
    """Share of the machine's CPU that other processes used since `started` (0: we had it to ourselves)."""
    try:
        wall, busy, own = (now - then for now, then in zip(_cpu_times(), started))
        return round(max(0.0, (busy - own) / (wall * (os.cpu_count() or 1))), 3)
    except Exception:  # psutil without these counters on this platform
        return None


def _machine() -> dict:
    import platform

    import torch

    return {"python": platform.python_version(), "cpus": os.cpu_count(), "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(), "platform": platform.platform()}


def _at(latency: list[dict], scale: int, key: str) -> float | None:
    return next((row[key] for row in latency if row["scale"] == scale), None)


def ratios(results: dict) -> dict:
    """Every headline ratio in one flat mapping (None where its part did not run)."""
    ingest = results["ingest"]["ratios"]
    backend = results["config"]["backend_default"]
    latency = results.get("latency", [])
    concurrency = results.get("concurrency", {}).get("shared", {})
    gradio = results.get("chat", {}).get("gradio", {})

    def rate(levels: dict, n: int) -> float | None:
        return levels[str(n)]["answers_per_s"] / levels["1"]["answers_per_s"] if str(n) in levels and "1" in levels \
            else None

    return {
        **{name: value for name, value in ingest.items() if name.startswith("raw_")},
        "ingest_vs_raw_same_backend": ingest[f"ingest_{backend}_vs_raw_{backend}"],
        "ingest_vs_raw_fp32": ingest[f"ingest_{backend}_vs_raw_fp32" if backend != "fp32"
                                     else "ingest_fp32_vs_raw_fp32"],
        "ingest_vs_naive": ingest[f"ingest_{backend}_vs_naive"],
        "ingest_fp32_vs_raw_fp32": ingest.get("ingest_fp32_vs_raw_fp32"),
        "ingest_fp32_vs_naive": ingest.get("ingest_fp32_vs_naive"),
        "naive_vs_raw_fp32": ingest["naive_vs_raw_fp32"],
        "reingest_speedup": results["reingest"]["speedup"],
        "reingest_cli_speedup": results["reingest"].get("cli", {}).get("speedup"),
        "noop_ingest_vs_floor": results["reingest"].get("cli", {}).get("vs_floor"),
        "cold_ask_vs_floor": results.get("cold_start", {}).get("answer_vs_floor"),
        "retrieval_p50_growth": latency[-1]["retrieval_p50_ms"] / latency[0]["retrieval_p50_ms"] if latency else None,
        "answer_p50_growth": latency[-1]["answer_p50_ms"] / latency[0]["answer_p50_ms"] if latency else None,
        "api_4_vs_1": rate(concurrency, 4), "api_8_vs_1": rate(concurrency, 8),
        "gradio_4_vs_1": rate(gradio, 4), "gradio_8_vs_1": rate(gradio, 8),
    }


def targets(results: dict) -> list[dict]:
    values = dict(results["ratios"])
    latency = results.get("latency", [])
    values["retrieval_p50_ms_at_100k"] = _at(latency, 100000, "retrieval_p50_ms")
    values["answer_p50_ms_at_10k"] = _at(latency, 10000, "answer_p50_ms")
    values["noop_ingest_cli_s"] = results["reingest"].get("cli", {}).get("seconds")
    values["cold_ask_answer_s"] = results.get("cold_start", {}).get("answer_s")
    values["cold_ask_answer_s_at_max"] = results.get("cold_start_at_max", {}).get("answer_s")
    chat = results.get("chat", {})
    values["chat_ready_s"] = chat.get("start_s")
    values["chat_rss_after_mb"] = chat.get("after_all", {}).get("rss_mb")
    values["memory_peak_rss_mb"] = results.get("memory", {}).get("peak_rss_mb")
    default = results["config"]["parity_default"]
    deltas = [d for data in results.get("parity", {}).values()
              for d in data["points_vs_reference"].get(default, {}).get("hybrid", {}).values()]
    values["parity_points_min"] = min(deltas) if deltas else None
    rows = []
    for name, (text, target, test) in TARGETS.items():
        value = values.get(name)
        rows.append({"name": name, "measure": text, "value": value, "target": target, "baseline": BASELINE.get(name),
                     "met": None if value is None else bool(test(value))})
    return rows
