"""Points 4 and 5: the chat process (start-up, memory) and answers per second with 1, 4 and 8 callers, on the Python
API and on the chat page; no model may load during the runs."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from assistant.settings import MB
from evals.bench.common import Say
from evals.bench.corpus import variants
from evals.stats import median


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
    import psutil

    from evals.bench.load import gradio_client
    from evals.bench.proc import chat_server, peak_rss

    try:
        with chat_server(settings.data_dir, settings.collection, settings.embedding_backend) as (process, url, start_s):
            handle = psutil.Process(process.pid)
            client = gradio_client(url)
            started = time.perf_counter()
            first = client.predict(questions[0], api_name="/ask")
            first_s = time.perf_counter() - started
            after_first = {"rss_mb": handle.memory_info().rss / MB, "peak_rss_mb": (peak_rss(process.pid) or 0) / MB}
            clients = [gradio_client(url) for _ in range(max(levels))]
            rates = _levels(lambda t, q: clients[t].predict(q, api_name="/ask"), questions, levels, reps, per_run, 120)
            v1 = _levels(openai_asker(url, settings.collection, max(levels)), questions, levels, reps, per_run, 160)
            after_all = {"rss_mb": handle.memory_info().rss / MB, "peak_rss_mb": (peak_rss(process.pid) or 0) / MB}
    except Exception as exc:
        say(f"  chat page unavailable ({str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__})")
        return {"available": False, "reason": str(exc)[:500]}
    result = {"available": True, "start_s": start_s, "first_answer_s": first_s,
              "first_answer": str(first.get("text", ""))[:120] if isinstance(first, dict) else str(first)[:120],
              "after_first": after_first, "after_all": after_all, "gradio": rates, "openai": v1}
    say(f"  chat: up in {start_s:.1f}s, RSS after one answer {after_first['rss_mb']:.0f} MB (peak "
        f"{after_first['peak_rss_mb']:.0f}); gradio " + ", ".join(f"{c} callers {v['answers_per_s']:.1f}/s"
                                                             for c, v in rates.items())
        + "; /v1/chat/completions " + ", ".join(f"{c} callers {v['answers_per_s']:.1f}/s" for c, v in v1.items())
        + f"; RSS after all {after_all['rss_mb']:.0f} MB")
    return result


def openai_asker(url: str, collection: str, callers: int) -> Callable[[int, str], object]:
    """ask(caller, question) through the chat process's OpenAI-compatible endpoint, one `openai` client a caller."""
    import openai

    clients = [openai.OpenAI(base_url=url.rstrip("/") + "/v1", api_key="bench", max_retries=0, timeout=300)
               for _ in range(callers)]

    def ask(t: int, question: str):
        return clients[t].chat.completions.create(model=f"grounded-assistant/{collection}",
                                                  messages=[{"role": "user", "content": question}])

    return ask


def measure_api_process_rss(settings, question: str) -> dict:
    """Peak RSS of a fresh process answering one question through the Python API (stand-in for the chat page)."""
    from evals.bench.proc import run_child

    lines, sampler = run_child(["answer", str(settings.data_dir), settings.collection, question],
                               settings.embedding_backend, 0.02)
    return {"peak_rss_mb": sampler.peak / MB, "output": lines[-1:]}
