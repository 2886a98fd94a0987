"""The benchmark's output: the table `assistant bench` prints, bench.json, the latency plot bench.png, and the Markdown
table `assistant bench --markdown` writes into docs/performance.md."""

import json
import os
import tempfile
from pathlib import Path

# The generated table sits between these two lines of docs/performance.md; everything else there is prose.
MARKDOWN_BEGIN = "<!-- begin: written by `assistant bench --markdown`; edits between these lines are overwritten -->"
MARKDOWN_END = "<!-- end: written by `assistant bench --markdown` -->"


def table(results: dict) -> str:
    """The figures, grouped by the issue's points, then the targets."""
    lines = []
    add = lines.append

    def measured(label: str, part: dict | None) -> bool:
        """True when the part has figures to show; a failed part gets its one line instead."""
        if part and "error" in part:
            add(f"{label}: failed ({part['error'][:200]})")
        return bool(part) and "error" not in part
    ingest = results["ingest"]
    t = ingest["totals"]
    add(f"Benchmark ({results['config']['corpus']}, {ingest['bytes'] / 1024:.0f} KB, {ingest['chunks']} chunks; "
        f"load {results['load_before']} -> {results['load_after']}; {results['seconds']:.0f} s)")
    others = results.get("other_processes_cpu")
    if others is not None:
        add(f"Other processes used {100 * others:.0f}% of the machine's CPU during the run"
            + (": the machine was busy, so these figures are not reliable (torch's threads stall when cores are "
               "taken); run again on a quiet machine" if others > 0.10 else "."))
    add("")
    add(f"1. Ingest throughput: {ingest['repetitions']} parts, each method side by side with its baseline on the same "
        "part (the fp32 baselines on every other part)")
    add(f"   {'':24}{'chunks/s':>10}{'MB/min':>9}{'seconds':>9}")
    for step, label in (("raw_int8", "raw encode int8"), ("ingest_int8", "ingest int8"),
                        ("raw_fp32", "raw encode fp32"), ("ingest_fp32", "ingest fp32"),
                        ("raw_onnx", "raw encode onnx"), ("raw_onnx-int8", "raw encode onnx-int8"),
                        ("naive", "naive LangChain (fp32)")):
        if step in t:
            add(f"   {label:24}{t[step]['chunks_per_s']:>10.1f}{t[step]['mb_per_min']:>9.2f}{t[step]['seconds']:>9.1f}")
    for name, value in ingest["ratios"].items():
        parts = ingest["samples"][name]
        add(f"   {name:32} {'-' if value is None else f'{value:6.2f}':>6}   "
            f"(median of {parts} part{'s' if parts != 1 else ''})")
    r = results["reingest"]
    add(f"2. Re-ingest: {r['median_s']:.2f} s in process ({r['speedup']:.0f}x faster than the first ingest)"
        + (f"; `assistant ingest` CLI {r['cli']['seconds']:.1f} s ({r['cli']['speedup']:.1f}x), "
           f"{r['cli']['vs_floor']:.2f} of the floor ({r['cli']['floor_s']:.1f} s, measured interleaved)"
           if "seconds" in r.get("cli", {}) else ""))
    add("3. Query latency (ms)")
    add(f"   {'chunks':>8}{'retr p50':>10}{'retr p95':>10}{'ans p50':>10}{'ans p95':>10}{'BM25 build s':>14}"
        f"{'load s':>8}   retrieval parts p50 (embed/dense/lexical/version)")
    for row in results.get("latency", []):
        p = row["retrieval_parts_p50_ms"]
        add(f"   {row['chunks']:>8}{row['retrieval_p50_ms']:>10.1f}{row['retrieval_p95_ms']:>10.1f}"
            f"{row['answer_p50_ms']:>10.1f}{row['answer_p95_ms']:>10.1f}{row['index_build_s']:>14.2f}"
            f"{row.get('index_load_s', 0):>8.2f}   "
            f"{p['embed']:.1f}/{p['dense']:.1f}/{p['lexical']:.1f}/{p['version']:.1f}")
    cold = results.get("cold_start")
    if measured("4. Cold start", cold):
        add(f"4. Cold `assistant ask`: answer {cold['answer_s']:.2f} s ({cold['answer_vs_floor']:.2f} of the floor "
            f"{cold['floor_s']:.1f} s, interleaved), exit {cold['exit_s']:.2f} s, "
            f"peak RSS {cold['peak_rss_mb']:.0f} MB; "
            f"import assistant.cli {cold['import_s']['assistant.cli']:.2f} s, assistant.api "
            f"{cold['import_s']['assistant.api']:.2f} s")
    at_max = results.get("cold_start_at_max")
    if at_max and "error" not in at_max:
        add(f"   at {max(results['config']['scales'])} chunks: answer {at_max['answer_s']:.2f} s "
            f"({at_max['answer_vs_floor']:.2f} of the floor), exit {at_max['exit_s']:.2f} s")
    chat = results.get("chat")
    if chat and chat.get("available"):
        add(f"   `assistant chat`: ready {chat['start_s']:.1f} s, first answer {chat['first_answer_s']:.2f} s, RSS "
            f"{chat['after_first']['rss_mb']:.0f} MB (peak {chat['after_first']['peak_rss_mb']:.0f}) after one answer, "
            f"{chat['after_all']['rss_mb']:.0f} MB after the concurrency runs")
    elif chat:
        add("   chat page unavailable; Python-API process peak RSS "
            f"{chat.get('api_process', {}).get('peak_rss_mb', 0):.0f} MB")
    c = results.get("concurrency")
    if c:
        add("5. Answers/s   " + "   ".join(f"{n} callers: API {c['shared'][n]['answers_per_s']:.1f}"
                                           + (f", Gradio {chat['gradio'][n]['answers_per_s']:.1f}"
                                              if chat and chat.get("available") else "")
                                           + (f", /v1 {chat['openai'][n]['answers_per_s']:.1f}"
                                              if chat and n in chat.get("openai", {}) else "") for n in c["shared"]))
        callers, per_thread = next(iter(c["per_thread"].items()))
        add(f"   model loads in this process: {results['model_loads']} (during the concurrency runs: "
            f"{c['model_loads_during']}); per-thread Assistants, {callers} callers: "
            f"{per_thread['answers_per_s']:.1f}/s; RSS {c['rss_before_mb']:.0f} -> {c['rss_after_mb']:.0f} MB")
        slowest = [v.get("slowest_s", 0) for v in c["shared"].values()]
        if chat and chat.get("available"):
            slowest += [v.get("slowest_s", 0) for part in ("gradio", "openai") for v in chat.get(part, {}).values()]
        add(f"   slowest single answer in any concurrency run: {max(slowest):.2f} s (a model load would take seconds)")
    add("6. Backends: raw encode vs torch fp32: " + ", ".join(
        f"{name[4:-12]} {value:.2f}x" for name, value in ingest["ratios"].items()
        if name.startswith("raw_") and value is not None))
    for name, data in results.get("parity", {}).items():
        add(f"   {name} ({data['questions']} questions), documents[+questions] backend: hit@5 / MRR@5, points vs "
            f"{data['reference']}")
        for pair, scores in data["scores"].items():
            add(f"     {pair:16}" + "   ".join(
                f"{mode} {scores[mode]['hit@5']:5.1f} / {scores[mode]['mrr@5']:5.1f} "
                f"({data['points_vs_reference'][pair][mode]['hit@5']:+.1f} / "
                f"{data['points_vs_reference'][pair][mode]['mrr@5']:+.1f})" for mode in ("hybrid", "dense"))
                + ("" if all(data["parity"][pair].values()) else "   parity FAILS"))
    m = results.get("memory")
    if measured("7. Memory", m):
        add(f"7. Memory ({m['corpus_mb']:.0f} MB, {m['chunks']} chunks, {m['encoder']} encoder, "
            f"{m['ingest_s']:.0f} s): "
            f"peak RSS {m['peak_rss_mb']:.0f} MB, {m['rss_after_model_load_mb']:.0f} after model load; RSS at "
            + ", ".join(f"{k} {v:.0f}" for k, v in m["rss_at_mb"].items())
            + f" MB; second half +{m['growth_per_chunk_kb']:.1f} KB per chunk stored (Chroma's in-memory index: "
              f"{m['vector_kb_per_chunk']:.1f} KB of vector each, plus links) -> {'flat' if m['flat'] else 'GROWS'}")
    elif not m:
        add("7. Memory: not measured (--memory or --memory-mb N)")
    add("   seconds per part: " + ", ".join(f"{k} {v:.0f}" for k, v in results.get("section_seconds", {}).items()))
    add("")
    add(f"   {'target':58}{'value':>9}{'before':>9}  {'want':8} met")
    for row in results["targets"]:
        value = "-" if row["value"] is None else f"{row['value']:.2f}"
        before = "-" if row.get("baseline") is None else f"{row['baseline']:g}"
        met = "-" if row["met"] is None else ("yes" if row["met"] else "NO")
        add(f"   {row['measure']:58}{value:>9}{before:>9}  {row['target']:8} {met}")
    return "\n".join(lines)


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = results.get("latency", [])
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    sizes = [row["chunks"] for row in rows]
    for key, label, style in (("retrieval_p50_ms", "retrieval p50", "o-"),
                              ("retrieval_p95_ms", "retrieval p95", "o--"),
                              ("answer_p50_ms", "extractive answer p50", "s-"),
                              ("answer_p95_ms", "extractive answer p95", "s--")):
        ax.plot(sizes, [row[key] for row in rows], style, label=label)
    ax.axhline(50, color="tab:blue", alpha=0.3, lw=1)
    ax.axhline(250, color="tab:green", alpha=0.3, lw=1)
    ax.text(sizes[0] if sizes else 1, 52, "retrieval target at 100k: 50 ms", fontsize=7, color="tab:blue")
    ax.text(sizes[0] if sizes else 1, 255, "answer target at 10k: 250 ms", fontsize=7, color="tab:green")
    ax.set_xscale("log")
    ax.set_xlabel("chunks in the collection")
    ax.set_ylabel("latency (ms)")
    answered = rows[0].get("answered", results["config"]["questions"]) if rows else 0
    ax.set_title(f"Query latency vs collection size ({results['config']['questions']} questions retrieved, {answered} "
                 f"answered; {results['machine']['cpus']} CPUs)", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_outputs(results: dict, out: Path) -> None:
    (out / "bench.json").write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
    plot(results, out / "bench.png")


def _figure(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f}" if abs(value) >= 100 else f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"


def markdown_table(results: dict) -> str:
    """The targets and the query latency as Markdown, under a line naming the command, the date and the load."""
    others = results.get("other_processes_cpu")
    load = " -> ".join(str(x[0]) if x else "?" for x in (results.get("load_before"), results.get("load_after")))
    ingest = results["ingest"]
    lines = [f"`{results.get('command', 'assistant bench')}`, {results.get('date', 'date not recorded')}, "
             f"{results['seconds']:.0f} s on {results['machine'].get('cpus', '?')} CPUs; load average (1 min) {load}"
             + ("" if others is None else f"; other processes used {100 * others:.0f}% of the CPU"
                + (" (busy: absolute times are inflated, the side-by-side ratios hold)" if others > 0.10 else ""))
             + f". Corpus {results['config']['corpus']}, {ingest['bytes'] / 1024:.0f} KB, {ingest['chunks']} chunks.",
             "", "| what | measured | before | target | met |", "|---|---|---|---|---|"]
    for row in results["targets"]:
        met = "-" if row["met"] is None else ("yes" if row["met"] else "**no**")
        lines.append(f"| {row['measure'].replace('|', '/')} | {_figure(row['value'])} | {_figure(row.get('baseline'))} "
                     f"| {row['target']} | {met} |")
    if results.get("latency"):
        lines += ["", "| chunks | retrieval p50 / p95, ms | extractive answer p50 / p95, ms |", "|---|---|---|"]
        lines += [f"| {row['chunks']} | {_figure(row['retrieval_p50_ms'])} / {_figure(row['retrieval_p95_ms'])} "
                  f"| {_figure(row['answer_p50_ms'])} / {_figure(row['answer_p95_ms'])} |"
                  for row in results["latency"]]
    return "\n".join(lines)


def markdown_parts(doc: Path) -> tuple[str, str]:
    """The text of `doc` before its begin marker line and after its end marker line; ValueError naming the file when
    the markers are not there once each, in order (checked before a run, so a long run never ends in it)."""
    try:
        text = doc.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"{doc}: cannot read it ({exc.strerror or exc})") from None
    if text.count(MARKDOWN_BEGIN) != 1 or text.count(MARKDOWN_END) != 1 or \
            text.index(MARKDOWN_BEGIN) > text.index(MARKDOWN_END):
        raise ValueError(f"{doc}: needs the lines {MARKDOWN_BEGIN} and {MARKDOWN_END} once each, in that order, "
                         "where the table goes")
    head, rest = text.split(MARKDOWN_BEGIN)
    return head, rest.split(MARKDOWN_END)[1]


def write_markdown(results: dict, doc: Path) -> None:
    """Replace what stands between the two marker lines of `doc` with `markdown_table(results)`, in one rename."""
    head, tail = markdown_parts(doc)
    written = f"{head}{MARKDOWN_BEGIN}\n{markdown_table(results)}\n{MARKDOWN_END}{tail}"
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=doc.parent, prefix=f".{doc.name}.",
                                     delete=False) as new:
        new.write(written)
    os.replace(new.name, doc)
