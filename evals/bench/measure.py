"""The benchmark's measurements, one function per point of issue 7, each returning plain data for bench.json.

Baselines run next to what they are compared with (interleaved per repetition), and ratios are medians over repetitions."""

import cProfile
import io
import pstats
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

import numpy as np

from assistant.settings import MB
from evals.bench.corpus import synthetic_batches, variants

ENCODERS = ("int8", "fp32", "onnx", "onnx-int8")  # every backend's raw encode is measured
NAIVE_CHUNK_CHARS, NAIVE_OVERLAP_CHARS = 800, 100  # the recipe's usual splitter settings (as measured in the notes)
Say = Callable[[str], None]


def median(values) -> float | None:
    values = [v for v in values if v is not None]
    return float(statistics.median(values)) if values else None


def percentile(values, q: float) -> float | None:
    return float(np.percentile(values, q)) if len(values) else None


def rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / MB


class LoadCounter:
    """Counts embedding-model loads (calls of `ingest.embedding._load`) in this process while installed."""

    def __init__(self):
        self.loads: list[str] = []
        self._original = None

    def install(self) -> "LoadCounter":
        import ingest.embedding as embedding

        if self._original is None:
            self._original = original = embedding._load

            def counting(path: str, backend: str, *rest):
                self.loads.append(backend)
                return original(path, backend, *rest)

            embedding._load = counting
        return self

    def uninstall(self) -> None:
        import ingest.embedding as embedding

        if self._original is not None:
            embedding._load, self._original = self._original, None


def clear_caches(embedder) -> None:
    """Forget cached query and sentence vectors, so each measured pass starts as cold as the last."""
    embedder.query_vector.cache_clear()
    embedder._sentences = {}


def profile_text(profiler: cProfile.Profile, limit: int = 30) -> str:
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).strip_dirs()
    stats.sort_stats("cumulative").print_stats(limit)
    stats.sort_stats("tottime").print_stats(limit)
    return out.getvalue()


# -- 1 and 2: ingest throughput and re-ingest --------------------------------------------------------------------
def _raw_encode(model, texts: list[str], batch_size: int) -> float:
    started = time.perf_counter()
    model.encode(texts, batch_size)
    return time.perf_counter() - started


def _naive_ingest(files: list[Path], embeddings, directory: Path, name: str) -> tuple[float, int]:
    """The plain LangChain recipe: split with RecursiveCharacterTextSplitter, embed and store with Chroma.from_documents."""
    from chromadb.config import Settings as ChromaSettings
    from langchain_chroma import Chroma
    from langchain_core.documents import Document
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    from ingest.loaders import load_document

    started = time.perf_counter()
    documents = [Document(page_content=load_document(path).text, metadata={"source": str(path)}) for path in files]
    splits = RecursiveCharacterTextSplitter(chunk_size=NAIVE_CHUNK_CHARS, chunk_overlap=NAIVE_OVERLAP_CHARS
                                            ).split_documents(documents)
    Chroma.from_documents(splits, embeddings, collection_name=name, persist_directory=str(directory),
                          client_settings=ChromaSettings(anonymized_telemetry=False, is_persistent=True,
                                                         persist_directory=str(directory)))
    return time.perf_counter() - started, len(splits)


def measure_ingest(groups: list[list[Path]], settings_for, work: Path, say: Say, profile_dir: Path | None = None,
                   backends: tuple[str, ...] = ("int8",)) -> dict:
    """Per part of the corpus, side by side: raw encode (int8 and fp32), our ingest with each of `backends` (the default
    one first), the naive recipe. Each pair swaps order from one part to the next, so neither side always goes first."""
    from langchain_huggingface import HuggingFaceEmbeddings

    from ingest.embedding import get_embedder, resolve_model_path
    from ingest.loaders import load_document
    from ingest.pipeline import Ingestor

    settings = {backend: settings_for(f"bench-{backend}", backend) for backend in ENCODERS}
    loads = {}
    embedders = {}
    for backend in ENCODERS:
        started = time.perf_counter()
        embedders[backend] = get_embedder(settings[backend]).warm_up()
        loads[backend] = time.perf_counter() - started
    batch = settings["int8"].embed_batch_size
    started = time.perf_counter()
    naive_embeddings = HuggingFaceEmbeddings(model_name=resolve_model_path(settings["int8"].embedding_model),
                                             model_kwargs={"device": "cpu"}, encode_kwargs={"batch_size": batch})
    loads["naive_fp32"] = time.perf_counter() - started
    ingestors = {backend: Ingestor(settings[backend], embedder=embedders[backend]) for backend in backends}
    chunker = ingestors[backends[0]].chunker  # the same word pieces for both backends: one tokenizer

    parts = []
    for files in groups:
        texts = []
        for path in files:
            document = load_document(path)
            texts += [c.text for c in chunker.split(document)]
        parts.append((files, texts))
    # Warm every model on real chunks (one full batch): first calls pay one-off allocation costs.
    warm = parts[0][1][:batch]
    for embedder in embedders.values():
        embedder.model.encode(warm, batch)
    naive_embeddings.embed_documents(warm)

    main, other = backends[0], "fp32" if backends[0] == "int8" else "int8"
    # Our ingest and the raw encode of its backend run on every part; the other backend's raw encode and the naive
    # recipe (the slow fp32 baselines) on every other part, which keeps the default run inside its time budget.
    runs = []
    for number, (files, texts) in enumerate(parts):
        size = sum(path.stat().st_size for path in files)
        run = {"files": len(files), "bytes": size, "chunks": len(texts), "seconds": {}}
        pairs = [(f"raw_{main}", f"ingest_{main}")] + [(f"ingest_{b}",) for b in backends[1:]]
        if number % 2 == 0:
            pairs.append((f"raw_{other}", "naive") if number % 4 == 0 else ("naive", f"raw_{other}"))
            pairs += [(f"raw_{b}",) for b in ENCODERS if b not in (main, other)]
        order = [step for pair in pairs for step in (pair if number % 2 == 0 else pair[::-1])]
        for step in order:
            if step.startswith("raw_"):
                run["seconds"][step] = _raw_encode(embedders[step[4:]].model, texts, batch)
            elif step.startswith("ingest_"):
                started = time.perf_counter()
                report = ingestors[step[7:]].run(files, on_message=lambda line: None)
                run["seconds"][step] = time.perf_counter() - started
                if report.added != len(texts) or report.failed:
                    raise RuntimeError(f"{step}: added {report.added} of {len(texts)} chunks, failed {report.failed}")
            else:
                seconds, chunks = _naive_ingest(files, naive_embeddings, work / f"naive-{number}", f"naive-{number}")
                run["seconds"]["naive"], run["naive_chunks"] = seconds, chunks
        s = run["seconds"]
        quotient = lambda a, b: s[a] / s[b] if a in s and b in s else None  # time of a / time of b = speed of b / a
        run["ratios"] = {f"raw_{b}_vs_raw_fp32": quotient("raw_fp32", f"raw_{b}") for b in ENCODERS if b != "fp32"}
        if "naive" in s and "raw_fp32" in s:
            run["ratios"]["naive_vs_raw_fp32"] = s["raw_fp32"] / s["naive"] * run["naive_chunks"] / len(texts)  # chunks/s
        for backend in backends:
            run["ratios"][f"ingest_{backend}_vs_raw_{backend}"] = quotient(f"raw_{backend}", f"ingest_{backend}")
            if backend != "fp32":
                run["ratios"][f"ingest_{backend}_vs_raw_fp32"] = quotient("raw_fp32", f"ingest_{backend}")
            run["ratios"][f"ingest_{backend}_vs_naive"] = quotient("naive", f"ingest_{backend}")  # same files: MB/min
        say(f"  part {number + 1}/{len(parts)}: {len(files)} files, {size / 1024:.0f} KB, {len(texts)} chunks: "
            + ", ".join(f"{k} {v:.1f}s" for k, v in s.items()))
        runs.append(run)

    if profile_dir is not None:  # after the timed runs, into a collection of its own: profiling slows what it watches
        profiler = cProfile.Profile()
        profiler.enable()
        Ingestor(settings_for("bench-profile", main), embedder=embedders[main]).run(groups[0], on_message=lambda line: None)
        profiler.disable()
        (profile_dir / "profile-ingest.txt").write_text(profile_text(profiler))

    chunks = sum(r["chunks"] for r in runs)
    size = sum(r["bytes"] for r in runs)
    totals = {}
    for step in dict.fromkeys(step for r in runs for step in r["seconds"]):
        ran = [r for r in runs if step in r["seconds"]]  # totals over the parts the step ran on
        seconds = sum(r["seconds"][step] for r in ran)
        n = sum(r["naive_chunks"] if step == "naive" else r["chunks"] for r in ran)
        totals[step] = {"seconds": seconds, "chunks": n, "bytes": sum(r["bytes"] for r in ran), "parts": len(ran),
                        "chunks_per_s": n / seconds, "mb_per_min": sum(r["bytes"] for r in ran) / MB / seconds * 60}
    names = dict.fromkeys(name for r in runs for name in r["ratios"])
    return {
        "files": sum(r["files"] for r in runs), "bytes": size, "chunks": chunks, "batch_size": batch,
        "chunk_tokens": settings["int8"].chunk_tokens, "naive_splitter": [NAIVE_CHUNK_CHARS, NAIVE_OVERLAP_CHARS],
        "model_load_s": loads, "repetitions": len(runs), "totals": totals, "runs": runs,
        "ratios": {name: median(r["ratios"].get(name) for r in runs) for name in names},
        "samples": {name: sum(r["ratios"].get(name) is not None for r in runs) for name in names},
        "first_ingest_s": {backend: totals[f"ingest_{backend}"]["seconds"] for backend in backends},
    }


def measure_reingest(settings, files: list[Path], first_seconds: float, reps: int, say: Say) -> dict:
    """Ingest the unchanged corpus again (same warm process): nothing may be re-embedded."""
    from ingest.embedding import get_embedder
    from ingest.pipeline import Ingestor

    ingestor = Ingestor(settings, embedder=get_embedder(settings))
    seconds = []
    for _ in range(reps):
        report = ingestor.run(files, on_message=lambda line: None)
        if report.added or report.failed:
            raise RuntimeError(f"re-ingest added {report.added} chunks, failed {report.failed}")
        seconds.append(report.seconds)
    say(f"  re-ingest: {', '.join(f'{s:.2f}s' for s in seconds)} (first ingest {first_seconds:.1f}s)")
    return {"first_s": first_seconds, "seconds": seconds, "median_s": median(seconds),
            "speedup": first_seconds / median(seconds), "unchanged_chunks": report.unchanged}


def measure_cli_reingest(data_dir: Path, collection: str, backend: str, corpus: Path, first_seconds: float,
                         reps: int = 3) -> dict:
    """`assistant ingest` of the unchanged corpus in a new process (what a user waits for), interleaved with the
    floor (a bare process that loads the model and embeds one query), which it must stay well under."""
    import subprocess

    from evals.bench.proc import assistant_command, child_env, time_floor

    command = [*assistant_command(), "ingest", str(corpus), "--data-dir", str(data_dir), "--collection", collection]
    seconds, floors = [], []
    for rep in range(reps):
        for step in ("cli", "floor") if rep % 2 == 0 else ("floor", "cli"):
            if step == "floor":
                floors.append(time_floor())
                continue
            started = time.perf_counter()
            done = subprocess.run(command, capture_output=True, text=True, env=child_env(backend), timeout=900)
            seconds.append(time.perf_counter() - started)
            if done.returncode != 0:
                raise RuntimeError(f"assistant ingest exited {done.returncode}: {done.stderr.strip()[-300:]}")
    return {"seconds": median(seconds), "runs": seconds, "floor_s": median(floors), "floor_runs": floors,
            "vs_floor": median(a / b for a, b in zip(seconds, floors)),
            "speedup": first_seconds / median(seconds), "summary": done.stdout.strip()}


# -- 3: query latency against collection size -----------------------------------------------------------------
def measure_scales(settings, scales: list[int], questions: list[str], say: Say, profile_dir: Path | None = None,
                   answered: int = 50) -> list[dict]:
    """Grow the collection with synthetic chunks to each size; time retrieval alone (every question) and the full
    extractive answer (the first `answered` questions: answers cost ten times more, and the time budget is fixed)."""
    from assistant.api import Assistant

    bot = Assistant(settings)
    store, embedder = bot.retriever.store, bot.embedder
    real = store.collection.get(include=["embeddings", "documents", "metadatas"])
    n_real = len(real["ids"])
    batch = min(5000, store.client.get_max_batch_size())
    folder = str(settings.data_dir / "synthetic")
    fetch = max(4 * settings.k, 20)
    results = []
    for scale in sorted(set(scales)):
        have = store.count()
        started = time.perf_counter()
        if scale > have:
            say(f"  adding {scale - have} synthetic chunks (to {scale})")
            for ids, vectors, documents, metadatas in synthetic_batches(real, have - n_real, scale - have, folder, batch):
                store.upsert(ids, vectors, documents, metadatas)
            store.bump_version()
        add_s = time.perf_counter() - started
        size = store.count()
        clear_caches(embedder)
        started = time.perf_counter()
        bot.retriever.lexical.refresh()
        index_s = time.perf_counter() - started
        # What a new process pays instead: loading the index saved by the build above.
        from assistant.retrieval import LexicalIndex

        fresh = LexicalIndex(store, bot.retriever.lexical.terms, bot.retriever.lexical.folder)
        started = time.perf_counter()
        fresh.refresh()
        index_load_s = time.perf_counter() - started
        if fresh.builds:
            raise RuntimeError("the saved lexical index was rebuilt instead of loaded")
        del fresh
        started = time.perf_counter()
        bot.retriever.passages("warm up the vector index")
        first_query_s = time.perf_counter() - started

        retrieval = []
        for question in questions:
            started = time.perf_counter()
            bot.retriever.passages(question)
            retrieval.append(time.perf_counter() - started)
        # Where retrieval's time goes, on questions not seen yet (no cached vectors).
        parts = {"embed": [], "dense": [], "lexical": [], "version": [], "count": []}
        for question in variants(questions, 1)[:12]:
            for name, call in (("embed", lambda: embedder.encode([question])),
                               ("dense", lambda: store.query(vector, fetch)),
                               ("lexical", lambda: bot.retriever.lexical.search(question, fetch)),
                               ("version", store.version), ("count", store.count)):
                started = time.perf_counter()
                value = call()
                parts[name].append(time.perf_counter() - started)
                if name == "embed":
                    vector = value[0]

        clear_caches(embedder)
        answers, stages, refused = [], {"retrieve": [], "answer": [], "verify": []}, 0
        for question in questions[:answered]:
            started = time.perf_counter()
            answer = bot.ask(question)
            answers.append(time.perf_counter() - started)
            refused += answer.refused
            for stage in stages:
                stages[stage].append(answer.timings.get(stage, 0.0))

        if profile_dir is not None and scale == max(scales):
            clear_caches(embedder)
            profiler = cProfile.Profile()
            profiler.enable()
            for question in variants(questions, 2):
                bot.retriever.passages(question)
            profiler.disable()
            (profile_dir / "profile-retrieval.txt").write_text(profile_text(profiler))
            clear_caches(embedder)
            profiler = cProfile.Profile()
            profiler.enable()
            for question in variants(questions, 3):
                bot.ask(question)
            profiler.disable()
            (profile_dir / "profile-answer.txt").write_text(profile_text(profiler))

        ms = lambda values, q: round(1000 * percentile(values, q), 2)
        row = {
            "scale": scale, "chunks": size, "real_chunks": n_real, "questions": len(questions),
            "answered": len(answers),
            "add_s": round(add_s, 2), "index_build_s": round(index_s, 3), "index_load_s": round(index_load_s, 3), "first_query_s": round(first_query_s, 3),
            "retrieval_p50_ms": ms(retrieval, 50), "retrieval_p95_ms": ms(retrieval, 95),
            "answer_p50_ms": ms(answers, 50), "answer_p95_ms": ms(answers, 95), "refused": refused,
            "retrieval_parts_p50_ms": {name: ms(values, 50) for name, values in parts.items()},
            "answer_stages_p50_ms": {name: ms(values, 50) for name, values in stages.items()},
        }
        say(f"  {size} chunks: retrieval p50 {row['retrieval_p50_ms']} ms p95 {row['retrieval_p95_ms']} ms, "
            f"answer p50 {row['answer_p50_ms']} ms p95 {row['answer_p95_ms']} ms (BM25 build {index_s:.1f}s, load "
            f"{index_load_s:.2f}s)")
        results.append(row)
    return results


# -- 4 and 5: cold start, the chat process, throughput under concurrency -------------------------------------------
def measure_cold_start(settings, question: str, reps: int, say: Say, label: str = "") -> dict:
    """Cold `assistant ask` runs interleaved with the floor (see `time_floor`); ratios are per pair, then the median."""
    from evals.bench.proc import time_cli_ask, time_floor, time_import

    runs, floors = [], []
    for rep in range(reps):
        for step in ("ask", "floor") if rep % 2 == 0 else ("floor", "ask"):
            if step == "ask":
                runs.append(time_cli_ask(settings.data_dir, settings.collection, settings.embedding_backend, question))
            else:
                floors.append(time_floor())
    imports = {module: time_import(module) for module in ("assistant.cli", "assistant.api")}
    result = {
        "question": question, "runs": runs, "answer_s": median(r["answer_s"] for r in runs),
        "exit_s": median(r["exit_s"] for r in runs), "peak_rss_mb": median(r["peak_rss_mb"] for r in runs),
        "import_s": imports, "floor_s": median(floors), "floor_runs": floors,
        "answer_vs_floor": median(r["answer_s"] / f for r, f in zip(runs, floors)),
        "teardown_s": median(r["exit_s"] - r["answer_s"] for r in runs),
    }
    say(f"  cold `assistant ask`{label}: answer after {result['answer_s']:.2f}s ({result['answer_vs_floor']:.2f} of the "
        f"floor {result['floor_s']:.2f}s), exit {result['exit_s']:.2f}s, peak RSS {result['peak_rss_mb']:.0f} MB "
        "(imports: " + ", ".join(f"{m} {s:.2f}s" for m, s in imports.items()) + ")")
    return result


def _rate(ask: Callable[[int, str], object], questions: list[str], callers: int) -> tuple[float, float]:
    """(answers per second, slowest answer in seconds) with `callers` threads working through `questions`."""
    errors, durations = [], []

    def work(t: int):
        for question in questions[t::callers]:
            started = time.perf_counter()
            try:
                ask(t, question)
            except Exception as exc:  # counted, reported: a benchmark should not die on one bad answer
                errors.append(repr(exc))
            durations.append(time.perf_counter() - started)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=callers) as pool:
        list(pool.map(work, range(callers)))
    seconds = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"{len(errors)} of {len(questions)} answers failed, e.g. {errors[0]}")
    return len(questions) / seconds, max(durations)


def _levels(ask, questions: list[str], levels: list[int], reps: int, per_run: int, first_round: int) -> dict:
    """Answers/s at each number of callers (median of `reps` runs, each on questions phrased anew), and the slowest
    answer seen: a model loaded again under concurrency would show as one answer taking seconds."""
    results, round_ = {}, first_round
    for callers in levels:
        rates, slowest = [], 0.0
        for _ in range(reps):
            asked = variants(questions, round_)[:per_run]
            round_ += 1
            rate, slow = _rate(ask, asked, callers)
            rates.append(rate)
            slowest = max(slowest, slow)
        results[str(callers)] = {"answers_per_s": median(rates), "runs": rates, "slowest_s": slowest}
    return results


def measure_api_concurrency(settings, questions: list[str], levels: list[int], reps: int, per_run: int,
                            counter: LoadCounter, say: Say) -> dict:
    """Threads sharing one Assistant, and threads each making their own: the model must load once either way."""
    from assistant.api import Assistant

    loads_before, rss_before = len(counter.loads), rss_mb()
    shared = Assistant(settings)
    for question in questions:  # warm pass: the passages' sentence vectors are cached as in a running server
        shared.ask(question)
    result = {"shared": _levels(lambda t, q: shared.ask(q), questions, levels, reps, per_run, 40)}
    own = threading.local()

    def ask_own(t: int, question: str):
        if not hasattr(own, "bot"):
            own.bot = Assistant(settings)
        return own.bot.ask(question)

    result["per_thread"] = _levels(ask_own, questions, [max(levels)], 1, per_run, 80)
    result["model_loads_during"] = len(counter.loads) - loads_before
    result["model_loads_in_process"] = list(counter.loads)
    result["rss_before_mb"], result["rss_after_mb"] = rss_before, rss_mb()
    say("  API: " + ", ".join(f"{c} callers {v['answers_per_s']:.1f}/s" for c, v in result["shared"].items())
        + f"; model loads during: {result['model_loads_during']}")
    return result


def measure_chat(settings, questions: list[str], levels: list[int], reps: int, per_run: int, say: Say) -> dict:
    """`assistant chat`: start-up, one answer via gradio_client, peak RSS after it, then answers/s at each level."""
    from evals.bench.proc import chat_server, peak_rss

    import psutil

    try:
        from gradio_client import Client
    except ImportError as exc:
        return {"available": False, "reason": f"gradio_client: {exc}"}
    try:
        with chat_server(settings.data_dir, settings.collection, settings.embedding_backend) as (process, url, start_s):
            handle = psutil.Process(process.pid)
            client = Client(url, verbose=False)
            started = time.perf_counter()
            first = client.predict(questions[0], api_name="/ask")
            first_s = time.perf_counter() - started
            after_first = {"rss_mb": handle.memory_info().rss / MB, "peak_rss_mb": (peak_rss(process.pid) or 0) / MB}
            clients = [Client(url, verbose=False) for _ in range(max(levels))]
            rates = _levels(lambda t, q: clients[t].predict(q, api_name="/ask"), questions, levels, reps, per_run, 120)
            after_all = {"rss_mb": handle.memory_info().rss / MB, "peak_rss_mb": (peak_rss(process.pid) or 0) / MB}
    except Exception as exc:
        say(f"  chat page unavailable ({str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__})")
        return {"available": False, "reason": str(exc)[:500]}
    result = {"available": True, "start_s": start_s, "first_answer_s": first_s,
              "first_answer": str(first.get("text", ""))[:120] if isinstance(first, dict) else str(first)[:120],
              "after_first": after_first, "after_all": after_all, "gradio": rates}
    say(f"  chat: up in {start_s:.1f}s, RSS after one answer {after_first['rss_mb']:.0f} MB (peak "
        f"{after_first['peak_rss_mb']:.0f}); gradio " + ", ".join(f"{c} callers {v['answers_per_s']:.1f}/s"
                                                             for c, v in rates.items())
        + f"; RSS after all {after_all['rss_mb']:.0f} MB")
    return result


def measure_api_process_rss(settings, question: str) -> dict:
    """Peak RSS of a fresh process answering one question through the Python API (stand-in for the chat page)."""
    from evals.bench.proc import run_child

    lines, sampler = run_child(["answer", str(settings.data_dir), settings.collection, question],
                               settings.embedding_backend, 0.02)
    return {"peak_rss_mb": sampler.peak / MB, "output": lines[-1:]}


# -- 6: int8 against fp32 -----------------------------------------------------------------------------------------
def _dense(bot, question: str, k: int) -> list:
    from assistant.types import Passage

    got = bot.retriever.store.query(bot.embedder.query_vector(question), k)
    return [Passage(source=m["source"], title=m.get("title", ""), text=t, start=m["start"], end=m["end"],
                    line_start=m["line_start"], line_end=m["line_end"], page=m.get("page"), chunk_ids=(i,))
            for i, t, m in zip(got["ids"][0], got["documents"][0], got["metadatas"][0])]


# Documents' backend, questions' backend ("documents": the same): torch fp32 is the reference every other is held to.
# ONNX fp32 documents are left out: their vectors equal torch fp32's (tests/test_perf.py).
PARITY_PAIRS = (("fp32", "documents"), ("int8", "documents"), ("int8", "onnx"), ("onnx-int8", "documents"))


def pair_name(documents: str, query: str) -> str:
    return documents if query == "documents" else f"{documents}+{query}"


def measure_parity(datasets: list, settings_for, say: Say, k: int = 5, limit: int | None = None,
                   pairs: tuple[tuple[str, str], ...] = PARITY_PAIRS) -> dict:
    """hit@5 and MRR@5 of each (documents backend, questions backend) pair on the same documents, hybrid retrieval
    and dense alone, as points against torch fp32 for both."""
    from assistant import condense
    from assistant.api import Assistant
    from evals import metrics
    from evals.harness import pick
    from ingest.pipeline import Ingestor

    results = {}
    for name, dataset in datasets:
        items = pick([item for item in dataset.items if item.evidence], limit)
        questions = [condense.rewrite(i.question, list(i.history)) if i.history else i.question for i in items]
        per_pair, ingested = {}, {}
        for documents, query in pairs:
            settings = settings_for(f"parity-{name}-{documents}"[:60], documents).with_overrides(query_backend=query)
            if documents not in ingested:
                ingested[documents] = Ingestor(settings).run(dataset.corpus, on_message=lambda line: None)
            bot = Assistant(settings)
            scores = {}
            for mode, retrieve in (("hybrid", lambda q: bot.retriever.passages(q, k)), ("dense", lambda q: _dense(bot, q, k))):
                ranked = [retrieve(q) for q in questions]
                scores[mode] = {
                    "hit@5": 100 * float(np.mean([metrics.hit_at(p, i.evidence, k) for p, i in zip(ranked, items)])),
                    "mrr@5": 100 * float(np.mean([metrics.reciprocal_rank(p[:k], i.evidence) for p, i in zip(ranked, items)])),
                }
            per_pair[pair_name(documents, query)] = {"ingest_s": ingested[documents].seconds,
                                                      "chunks": ingested[documents].added, **scores}
        reference = per_pair[pair_name(*pairs[0])]
        deltas = {pair: {mode: {metric: scores[mode][metric] - reference[mode][metric] for metric in ("hit@5", "mrr@5")}
                         for mode in ("hybrid", "dense")} for pair, scores in per_pair.items()}
        results[name] = {"questions": len(items), "reference": pair_name(*pairs[0]), "scores": per_pair,
                         "points_vs_reference": deltas,
                         "parity": {pair: {mode: all(d >= -1.0 for d in delta[mode].values()) for mode in delta}
                                    for pair, delta in deltas.items()}}
        say(f"  {name} ({len(items)} questions), hybrid hit@5 / MRR@5: " + "; ".join(
            f"{pair} {scores['hybrid']['hit@5']:.1f}/{scores['hybrid']['mrr@5']:.1f}" for pair, scores in per_pair.items()))
    return results


# -- 7: memory while ingesting a large corpus ------------------------------------------------------------------------
def measure_memory(work: Path, megabytes: float, stub: bool, backend: str, say: Say) -> dict:
    """Peak RSS of a fresh process ingesting a generated corpus, and how RSS moves over the ingest (flat or growing)."""
    from evals.bench.corpus import write_large_corpus
    from evals.bench.proc import run_child

    corpus = work / "large-corpus"
    files = write_large_corpus(corpus, megabytes)
    size = sum(path.stat().st_size for path in files)
    say(f"  ingesting {size / MB:.0f} MB in {len(files)} files in a child process ({'stub' if stub else 'real'} encoder)")
    lines, sampler = run_child(["memory", str(corpus), str(work / "memory-data"), "stub" if stub else "real"], backend, 0.1)
    ready = float(next(line.split()[1] for line in lines if line.startswith("ready")))
    _, added, seconds, failed = next(line for line in lines if line.startswith("done")).split()
    points = [(t, rss) for t, rss in sampler.points if t >= ready]
    if not points:
        points = sampler.points
    span = points[-1][0] - points[0][0] or 1.0

    def at(fraction: float) -> float:
        moment = points[0][0] + fraction * span
        return max(rss for t, rss in points if t <= moment + 1e-9) / MB

    at_ready = points[0][1] / MB
    dimension = 384
    vector_index_mb = int(added) * dimension * 4 / MB  # the HNSW index Chroma keeps in memory grows by this regardless
    result = {
        "corpus_mb": size / MB, "files": len(files), "encoder": "stub" if stub else "real", "chunks": int(added),
        "ingest_s": float(seconds), "failed_files": int(failed), "rss_after_model_load_mb": at_ready,
        "rss_at_mb": {f"{int(f * 100)}%": at(f) for f in (0.1, 0.25, 0.5, 0.75, 1.0)},
        "peak_rss_mb": sampler.peak / MB, "vector_index_mb": vector_index_mb,
    }
    # Chroma keeps every vector in memory (its HNSW index: dimension x 4 bytes plus graph links per chunk), so RSS must
    # grow by about that much per stored chunk; the encoder's working memory and the allocator settle in the first half.
    # A pipeline that held its chunks (text, objects, vectors) would add as much again per chunk: "flat" means the
    # second half grows by at most twice the vectors' own bytes per chunk.
    result["growth_mb"] = result["peak_rss_mb"] - at_ready
    result["second_half_growth_mb"] = result["rss_at_mb"]["100%"] - result["rss_at_mb"]["50%"]
    result["growth_per_chunk_kb"] = result["second_half_growth_mb"] * 1024 / max(1, int(added) / 2)
    result["vector_kb_per_chunk"] = dimension * 4 / 1024
    result["flat"] = result["growth_per_chunk_kb"] <= 2 * result["vector_kb_per_chunk"]
    say(f"  {int(added)} chunks in {float(seconds):.0f}s: RSS {at_ready:.0f} MB after load, peak {result['peak_rss_mb']:.0f} MB "
        f"(second half: +{result['growth_per_chunk_kb']:.1f} KB per chunk stored; the vectors alone are "
        f"{result['vector_kb_per_chunk']:.1f} KB)")
    return result
