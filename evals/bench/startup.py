"""Point 4: a cold `assistant ask`, interleaved with the floor (a bare process loading the model)."""

from evals.bench.common import Say
from evals.stats import median


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
    say(f"  cold `assistant ask`{label}: answer after {result['answer_s']:.2f}s ({result['answer_vs_floor']:.2f} of "
        "the "
        f"floor {result['floor_s']:.2f}s), exit {result['exit_s']:.2f}s, peak RSS {result['peak_rss_mb']:.0f} MB "
        "(imports: " + ", ".join(f"{m} {s:.2f}s" for m, s in imports.items()) + ")")
    return result
