"""Points 1 and 2: ingest throughput beside the raw encode and the naive LangChain recipe, and re-ingest.

Baselines run next to what they are compared with (interleaved per part), and ratios are medians over parts."""

import cProfile
import time
from pathlib import Path

from assistant.settings import MB
from evals.bench.common import Say, profile_text
from evals.stats import median

ENCODERS = ("int8", "fp32", "onnx", "onnx-int8")  # every backend's raw encode is measured
NAIVE_CHUNK_CHARS, NAIVE_OVERLAP_CHARS = 800, 100  # the recipe's usual splitter settings (as measured in the notes)


def _raw_encode(model, texts: list[str], batch_size: int) -> float:
    started = time.perf_counter()
    model.encode(texts, batch_size)
    return time.perf_counter() - started


def _naive_ingest(files: list[Path], embeddings, directory: Path, name: str) -> tuple[float, int]:
    """The plain LangChain recipe: split with RecursiveCharacterTextSplitter, embed and store with
    Chroma.from_documents."""
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

        def quotient(a: str, b: str) -> float | None:  # time of a / time of b = speed of b / a
            return s[a] / s[b] if a in s and b in s else None

        run["ratios"] = {f"raw_{b}_vs_raw_fp32": quotient("raw_fp32", f"raw_{b}") for b in ENCODERS if b != "fp32"}
        if "naive" in s and "raw_fp32" in s:
            # chunks/s
            run["ratios"]["naive_vs_raw_fp32"] = s["raw_fp32"] / s["naive"] * run["naive_chunks"] / len(texts)
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
        Ingestor(settings_for("bench-profile", main),
                 embedder=embedders[main]).run(groups[0], on_message=lambda line: None)
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
