"""Point 7: peak and growing RSS of a fresh process ingesting a large generated corpus."""

from pathlib import Path

from assistant.settings import MB
from evals.bench.common import Say


def measure_memory(work: Path, megabytes: float, stub: bool, backend: str, say: Say) -> dict:
    """Peak RSS of a fresh process ingesting a generated corpus, and how RSS moves over the ingest (flat or growing)."""
    from evals.bench.corpus import write_large_corpus
    from evals.bench.proc import run_child

    corpus = work / "large-corpus"
    files = write_large_corpus(corpus, megabytes)
    size = sum(path.stat().st_size for path in files)
    say(f"  ingesting {size / MB:.0f} MB in {len(files)} files in a child process ({'stub' if stub else 'real'} "
        "encoder)")
    lines, sampler = run_child(["memory", str(corpus), str(work / "memory-data"), "stub" if stub else "real"], backend,
                               0.1)
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
    say(f"  {int(added)} chunks in {float(seconds):.0f}s: RSS {at_ready:.0f} MB after load, peak "
        f"{result['peak_rss_mb']:.0f} MB "
        f"(second half: +{result['growth_per_chunk_kb']:.1f} KB per chunk stored; the vectors alone are "
        f"{result['vector_kb_per_chunk']:.1f} KB)")
    return result
