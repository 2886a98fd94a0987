"""Point 3: retrieval and extractive-answer latency as the collection grows (synthetic chunks), and the BM25 index."""

import cProfile
import time
from pathlib import Path

from evals.bench.common import Say, profile_text
from evals.bench.corpus import synthetic_batches, variants
from evals.stats import percentile


def clear_caches(embedder) -> None:
    """Forget cached query and sentence vectors, so each measured pass starts as cold as the last."""
    embedder.query_vector.cache_clear()
    embedder._sentences = {}


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
            batches = synthetic_batches(real, have - n_real, scale - have, folder, batch)
            for ids, vectors, documents, metadatas in batches:
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

        def ms(values: list[float], q: float) -> float:
            return round(1000 * percentile(values, q), 2)

        row = {
            "scale": scale, "chunks": size, "real_chunks": n_real, "questions": len(questions),
            "answered": len(answers),
            "add_s": round(add_s, 2), "index_build_s": round(index_s, 3), "index_load_s": round(index_load_s, 3),
               "first_query_s": round(first_query_s, 3),
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
