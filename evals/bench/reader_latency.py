"""Extractive answer latency with the reader and without, side by side in one process, on the bundled sample.

assistant bench reader-latency [--rounds 3]
"""

import tempfile
import time
from pathlib import Path
from typing import Callable

from evals.bench.common import say
from evals.bench.latency import clear_caches
from evals.stats import percentile


def compare_reader_latency(rounds: int = 3, out: Callable[[str], None] = say) -> None:
    """Ask the sample's questions `rounds` times with the reader and without, interleaved; p50/p95 lines to `out`."""
    from assistant.api import Assistant
    from assistant.settings import Settings
    from evals.dataset import load_dataset
    from ingest import ingest_paths

    data = load_dataset("peace-talks")
    questions = [i.question for i in data.items]
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), collection="latency")
        ingest_paths(list(data.corpus), settings, progress=False)
        bots = {"without reader": Assistant(settings, reader=False), "with reader": Assistant(settings, reader=True)}
        for bot in bots.values():
            bot.warm_up().ask(questions[0])
        times: dict[str, list[float]] = {name: [] for name in bots}
        for _ in range(rounds):
            for question in questions:
                for name, bot in bots.items():  # interleaved: both see the same load on a shared machine
                    clear_caches(bot.embedder)
                    started = time.perf_counter()
                    bot.ask(question)
                    times[name].append(time.perf_counter() - started)
    p50 = {name: percentile(t, 50) for name, t in times.items()}
    for name, t in times.items():
        out(f"{name:<15} p50 {1000 * p50[name]:.1f} ms, p95 {1000 * percentile(t, 95):.1f} ms ({len(t)} asks)")
    out(f"ratio with/without: p50 {p50['with reader'] / p50['without reader']:.2f}")

