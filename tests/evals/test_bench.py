"""The benchmark: its pieces on made-up figures (fast), its quickest real run end to end (slow). No timed assertions."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from evals.bench import report
from evals.bench import run as bench
from evals.bench.corpus import PYDOC_QUESTIONS, split_groups, synthetic_batches, variants, write_pydoc_corpus

RATIO_FIELDS = ["ingest_vs_raw_same_backend", "ingest_vs_raw_fp32", "ingest_vs_naive", "raw_int8_vs_raw_fp32",
                "naive_vs_raw_fp32", "reingest_speedup", "retrieval_p50_growth", "answer_p50_growth", "api_4_vs_1",
                "api_8_vs_1"]
METADATA_KEYS = {"source", "title", "start", "end", "line_start", "line_end", "index", "doc_hash", "n_chunks"}


def fake_results() -> dict:
    """The shape run_bench produces, with made-up numbers."""
    totals = {step: {"seconds": 10.0, "chunks": 100, "chunks_per_s": 10.0, "mb_per_min": 1.0}
              for step in ("raw_int8", "ingest_int8", "raw_fp32", "ingest_fp32", "naive")}
    ingest_ratios = {"ingest_int8_vs_raw_int8": 0.9, "ingest_fp32_vs_raw_fp32": 0.95, "ingest_int8_vs_raw_fp32": 1.8,
                     "raw_int8_vs_raw_fp32": 2.0, "ingest_int8_vs_naive": 1.9, "ingest_fp32_vs_naive": 1.0,
                     "naive_vs_raw_fp32": 1.02}
    latency = [{"scale": s, "chunks": s, "retrieval_p50_ms": p, "retrieval_p95_ms": 2 * p, "answer_p50_ms": 5 * p,
                "answer_p95_ms": 9 * p, "index_build_s": 0.1, "retrieval_parts_p50_ms":
                    {"embed": 1.0, "dense": 2.0, "lexical": 3.0, "version": 0.5, "count": 0.5}}
               for s, p in ((1000, 10.0), (10000, 20.0), (100000, 40.0))]
    parity_scores = {"hybrid": {"hit@5": 90.0, "mrr@5": 80.0}, "dense": {"hit@5": 85.0, "mrr@5": 70.0}}
    results = {
        "machine": {"cpus": 2}, "load_before": [0.5, 0.5, 0.5], "load_after": [1.0, 0.8, 0.6], "seconds": 300.0,
        "config": {"corpus": "pydoc_data.topics", "backend_default": "int8", "questions": 60, "scales": [1000, 100000],
                   "parity_default": "int8+onnx"},
        "ingest": {"bytes": 465000, "chunks": 100, "totals": totals, "ratios": ingest_ratios, "repetitions": 6,
                   "samples": {name: 6 for name in ingest_ratios}},
        "other_processes_cpu": 0.02,
        "reingest": {"median_s": 0.1, "speedup": 150.0,
                     "cli": {"seconds": 2.0, "speedup": 5.0, "floor_s": 10.0, "vs_floor": 0.2}},
        "cold_start": {"answer_s": 1.2, "exit_s": 1.4, "peak_rss_mb": 300.0, "floor_s": 10.0, "answer_vs_floor": 0.12,
                       "import_s": {"assistant.cli": 0.3, "assistant.api": 0.9}},
        "cold_start_at_max": {"answer_s": 9.0, "exit_s": 9.5, "answer_vs_floor": 0.9},
        "chat": {"available": True, "start_s": 4.0, "first_answer_s": 0.3,
                 "gradio": {str(n): {"answers_per_s": 5.0, "slowest_s": 1.0} for n in (1, 4, 8)},
                 "openai": {str(n): {"answers_per_s": 6.5, "slowest_s": 1.5} for n in (1, 4, 8)},
                 "after_first": {"rss_mb": 500.0, "peak_rss_mb": 520.0}, "after_all": {"rss_mb": 900.0}},
        "latency": latency,
        "concurrency": {"shared": {str(n): {"answers_per_s": 10.0 + n} for n in (1, 4, 8)},
                        "per_thread": {"8": {"answers_per_s": 17.0}}, "model_loads_during": 0,
                        "rss_before_mb": 900.0, "rss_after_mb": 910.0},
        "model_loads": ["int8", "fp32"],
        "memory": {"corpus_mb": 50.0, "chunks": 115137, "encoder": "stub", "ingest_s": 404.0, "peak_rss_mb": 1069.0,
                   "rss_after_model_load_mb": 693.0, "rss_at_mb": {"10%": 797.0, "100%": 1069.0},
                   "growth_per_chunk_kb": 2.7, "vector_kb_per_chunk": 1.5, "flat": True},
        "parity": {"peace-talks": {
            "questions": 45, "reference": "fp32", "scores": {"fp32": parity_scores, "int8+onnx": parity_scores},
            "points_vs_reference": {"fp32": {mode: {"hit@5": 0.0, "mrr@5": 0.0} for mode in ("hybrid", "dense")},
                                    "int8+onnx": {"hybrid": {"hit@5": 0.0, "mrr@5": -0.5},
                                                  "dense": {"hit@5": 1.0, "mrr@5": -2.0}}},
            "parity": {"fp32": {"hybrid": True, "dense": True}, "int8+onnx": {"hybrid": True, "dense": False}}}},
    }
    results["ratios"] = bench.ratios(results)
    results["targets"] = bench.targets(results)
    return results


def test_ratios_and_targets_from_figures():
    results = fake_results()
    assert set(RATIO_FIELDS) <= set(results["ratios"])
    assert results["ratios"]["ingest_vs_raw_fp32"] == 1.8
    assert results["ratios"]["retrieval_p50_growth"] == 4.0
    assert results["ratios"]["api_8_vs_1"] == pytest.approx(18 / 11)
    met = {row["name"]: row["met"] for row in results["targets"]}
    assert met["ingest_vs_raw_fp32"] is True and met["retrieval_p50_ms_at_100k"] is False  # 40 ms
    assert met["answer_p50_ms_at_10k"] is True  # 100 ms
    assert met["parity_points_min"] is True  # worst hybrid delta -0.5 points
    assert met["reingest_speedup"] is True
    assert met["noop_ingest_cli_s"] is True and met["cold_ask_vs_floor"] is True
    assert met["cold_ask_answer_s_at_max"] is False and met["chat_rss_after_mb"] is False  # 9 s and 900 MB: over
    baseline = {row["name"]: row["baseline"] for row in results["targets"]}
    assert baseline["cold_ask_answer_s"] == 15.2 and baseline["parity_points_min"] is None


def test_table_and_plot(tmp_path):
    results = fake_results()
    text = report.table(results)
    for expected in ("1. Ingest throughput", "3. Query latency", "6. Backends", "int8+onnx", "parity FAILS",
                     "of the floor", "7. Memory (50 MB", "-> flat", "target"):
        assert expected in text
    assert "1 callers: API 11.0, Gradio 5.0, /v1 6.5" in text and "8 callers: API 18.0, Gradio 5.0, /v1 6.5" in text
    report.write_outputs(results, tmp_path)
    assert (tmp_path / "bench.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((tmp_path / "bench.json").read_text())["ratios"]["reingest_speedup"] == 150.0


def test_parse_scales():
    from assistant.cli.bench import parse_scales

    assert parse_scales("1000,10k, 100000") == [1000, 10000, 100000]
    with pytest.raises(Exception):
        parse_scales("many")


def test_corpus_groups_and_question_variants(tmp_path):
    files = write_pydoc_corpus(tmp_path, 30_000)
    assert files and sum(p.stat().st_size for p in files) <= 30_000
    groups = split_groups(files, 3)
    assert sorted(p for g in groups for p in g) == sorted(files) and len(groups) == 3
    sizes = [sum(p.stat().st_size for p in g) for g in groups]
    assert max(sizes) - min(sizes) <= max(p.stat().st_size for p in files)
    rounds = [variants(PYDOC_QUESTIONS[:3], r) for r in range(30)]
    assert len({q for r in rounds for q in r}) == 90  # every round phrases every question anew
    assert len(PYDOC_QUESTIONS) >= 50


def test_synthetic_chunks_look_real():
    rng = np.random.default_rng(1)
    vectors = rng.standard_normal((4, 384)).astype(np.float32)
    texts = ["one two three four five six seven", "b\nc", "alpha beta gamma delta epsilon zeta eta theta", "e"]
    real = {"embeddings": vectors / np.linalg.norm(vectors, axis=1, keepdims=True), "documents": texts}
    batches = list(synthetic_batches(real, 8, 25, "/syn", 10))
    assert [len(ids) for ids, *_ in batches] == [10, 10, 5]
    ids, vecs, docs, metas = batches[0]
    assert ids[0] == "bench-synthetic-0000008" and len(set(ids)) == 10
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert all(set(m.to_chroma()) == METADATA_KEYS for m in metas)
    assert docs[1] == "b\nc" and metas[1].line_end == metas[1].line_start + 1  # line breaks are kept
    assert docs[0] != texts[0] and len(docs[0].split()) == 7  # a word swapped, so copies never share sentences
    assert docs[0] != docs[4]  # two copies of the same real chunk differ too
    assert all(m.end - m.start == len(d) for m, d in zip(metas, docs))


def test_cli_registers_bench():
    from assistant.cli import app

    result = CliRunner().invoke(app, ["bench", "--help"])
    assert result.exit_code == 0
    for option in ("--corpus", "--scale", "--out", "--quick", "--memory"):
        assert option in result.output


@pytest.mark.slow
def test_quick_bench_writes_ratios_and_plot(tmp_path):
    """The quickest real run (tiny corpus, small scales): every ratio field is there, the plot is written."""
    results = bench.run_bench(out=tmp_path, quick=True, log=lambda line: None)
    saved = json.loads((tmp_path / "bench.json").read_text())
    for field in RATIO_FIELDS:
        assert isinstance(saved["ratios"][field], float), field
    assert {row["name"] for row in saved["targets"]} == set(bench.TARGETS)
    assert [row["scale"] for row in saved["latency"]] == [150, 400]
    assert saved["concurrency"]["model_loads_during"] == 0
    assert saved["parity"]["peace-talks"]["questions"] > 0
    assert (tmp_path / "bench.png").stat().st_size > 1000
    assert "1. Ingest throughput" in report.table(results)


def test_the_load_run_counts_busy_refusals_apart_from_errors_and_latencies():
    from evals.bench.load import Refused, load

    calls = []

    def ask(client: int, question: str) -> dict:
        calls.append(question)
        if len(calls) % 2:
            raise Refused(0)
        if len(calls) == 10:
            raise RuntimeError("broken")
        return {"text": "an answer"}

    result = load(ask, 1, 600, 10, check=lambda answer: None)
    assert (result["requests"], result["refused"], result["answers"], result["errors"]) == (10, 5, 4, 1), result
PAGE = "# Performance\n\nProse before.\n\n{begin}\nan old table\n{end}\n\nProse after.\n"


def test_markdown_table_replaces_only_what_stands_between_the_markers(tmp_path):
    doc = tmp_path / "performance.md"
    doc.write_text(PAGE.format(begin=report.MARKDOWN_BEGIN, end=report.MARKDOWN_END))
    results = fake_results() | {"command": "assistant bench --markdown", "date": "2026-12-03 15:40 UTC"}
    report.write_markdown(results, doc)
    text = doc.read_text()
    assert text.startswith("# Performance\n\nProse before.\n\n") and text.endswith("\n\nProse after.\n")
    assert "an old table" not in text
    table = text.split(report.MARKDOWN_BEGIN)[1].split(report.MARKDOWN_END)[0]
    assert "`assistant bench --markdown`, 2026-12-03 15:40 UTC, 300 s on 2 CPUs; load average (1 min) 0.5 -> 1.0" \
        in table
    assert "other processes used 2% of the CPU" in table
    rows = [line for line in table.splitlines() if line.startswith("| ") and line.count("|") == 6]
    assert len(rows) == 1 + len(bench.TARGETS)  # the header and one row a target
    assert "| 2 first ingest / re-ingest (same process) | 150 | - | >= 20 | yes |" in table
    assert "| 100000 | 40.0 / 80.0 | 200 / 360 |" in table
    report.write_markdown(results, doc)
    assert doc.read_text() == text  # a second run rewrites the same table in the same place
    assert [p.name for p in tmp_path.iterdir()] == ["performance.md"]  # no temporary file left behind


@pytest.mark.parametrize("page", ["no markers\n", PAGE.format(begin=report.MARKDOWN_END, end=report.MARKDOWN_BEGIN)])
def test_markdown_table_needs_both_markers_in_order(tmp_path, page):
    doc = tmp_path / "performance.md"
    doc.write_text(page)
    with pytest.raises(ValueError, match="performance.md: needs the lines"):
        report.write_markdown(fake_results(), doc)
    assert doc.read_text() == page


def test_bench_markdown_command(tmp_path, monkeypatch):
    """--markdown --results writes an earlier run's table without running; a page without markers fails first."""
    from assistant.cli import app

    monkeypatch.setattr("evals.bench.run.run_bench", lambda *a, **k: pytest.fail("the benchmark ran"))
    saved = tmp_path / "bench.json"
    saved.write_text(json.dumps(fake_results()))
    doc = tmp_path / "performance.md"
    doc.write_text(PAGE.format(begin=report.MARKDOWN_BEGIN, end=report.MARKDOWN_END))
    result = CliRunner().invoke(app, ["bench", "--markdown", "--doc", str(doc), "--results", str(saved)])
    assert result.exit_code == 0, result.output
    assert "| 2 first ingest / re-ingest (same process) | 150 |" in doc.read_text()
    doc.write_text("no markers\n")
    result = CliRunner().invoke(app, ["bench", "--markdown", "--doc", str(doc)])
    assert result.exit_code == 2 and "needs the lines" in result.output


def test_the_performance_page_has_the_markers():
    from pathlib import Path

    report.markdown_parts(Path(__file__).resolve().parents[2] / "docs" / "performance.md")
