"""Load test: concurrent clients on the chat page's `/ask` endpoint (through Gradio) and on the Python API.

Bounded in time and in requests, on 127.0.0.1 only. For each target it reports requests, errors (with the first
few messages), answers per second, latency p50/p95/max and the serving process's resident memory after a warm-up
round, at the end and at its peak, so growth under load can be held to a stated bound.

    assistant bench steady                     # 8 clients, 60 s per target, on a fresh `assistant chat`
    assistant bench steady --clients 16 --seconds 20 --url http://127.0.0.1:7860/ --pid 1234
    assistant bench load                       # 16 then 64 clients past the admission line (run_overload_bench)

`run_load_bench()` is what the benchmark calls; `load()` drives any `ask(client, question)` function. Nothing heavy is
imported until a run starts."""

from __future__ import annotations

import json
import tempfile
import threading
import time
from functools import lru_cache
from pathlib import Path
from typing import Callable

from assistant.settings import MB, is_loopback
from evals.bench.common import say
from evals.bench.proc import RssSampler
from evals.stats import percentile

QUESTIONS = [
    "Who did Trump send to Moscow?",
    "What is the Zaporizhzhia plant?",
    "What did Witkoff tell CNN?",
    "When will Trump speak with Putin?",
    "What is the population of Kyiv?",  # not in the sample: a refusal is a normal answer too
    "Who met Putin in Moscow?",
]
DEFAULT_RSS_GROWTH_MB = 150.0  # after the warm-up round; the caches (query vectors, sentence vectors) are bounded


class Refused(Exception):
    """A request turned away as busy; the client waits `retry_after` seconds before its next one, as told."""

    def __init__(self, retry_after: float):
        super().__init__(f"busy, retry after {retry_after:g} s")
        self.retry_after = retry_after


def load(ask: Callable[[int, str], object], clients: int, seconds: float, max_requests: int,
         questions: list[str] = QUESTIONS, check: Callable[[object], str | None] | None = None) -> dict:
    """`clients` threads call `ask(client, question)` in turn until `seconds` pass or `max_requests` are sent.

    `check(result)` returns an error message for a wrong result (None when fine); `Refused` counts as refused (not an
    error, not a latency), any other exception as an error."""
    lock = threading.Lock()
    latencies: list[float] = []
    errors: list[str] = []
    refused = [0]
    sent = [0]
    deadline = time.monotonic() + seconds

    def client(number: int) -> None:
        turn = number
        while time.monotonic() < deadline:
            with lock:
                if sent[0] >= max_requests:
                    return
                sent[0] += 1
            question = questions[turn % len(questions)]
            turn += 1
            started = time.perf_counter()
            try:
                problem = check(ask(number, question)) if check else None
            except Refused as busy:
                with lock:
                    refused[0] += 1
                time.sleep(min(busy.retry_after, max(0.0, deadline - time.monotonic())))  # as a polite client does
                continue
            except Exception as exc:  # counted and reported, not raised: the run goes on
                problem = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
            elapsed = time.perf_counter() - started
            with lock:
                (errors.append(problem) if problem else latencies.append(elapsed))

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 600)  # a request in flight at the deadline may finish; a hung one is reported
    wall = time.perf_counter() - started
    hung = sum(thread.is_alive() for thread in threads)

    def ms(q: float) -> float | None:
        return None if not latencies else round(1000 * percentile(latencies, q), 1)

    return {
        "clients": clients, "seconds": round(wall, 2), "requests": sent[0], "answers": len(latencies),
        "refused": refused[0],
        "errors": len(errors) + hung, "error_samples": sorted(set(errors))[:5] + (["hung clients"] if hung else []),
        "answers_per_s": round(len(latencies) / wall, 2) if wall else 0.0,
        "p50_ms": ms(50), "p95_ms": ms(95), "max_ms": round(1000 * max(latencies), 1) if latencies else None,
    }


def _answer_problem(result) -> str | None:
    """A wrong /ask or API result: not an Answer (dict), or an answer without text."""
    data = result.to_dict() if hasattr(result, "to_dict") else result
    if not isinstance(data, dict) or not str(data.get("text", "")).strip():
        return f"not an answer: {str(result)[:120]}"
    return None


def _measured(run: Callable[[], dict], watch: RssSampler, warm_up: Callable[[], None]) -> dict:
    warm_up()
    before = watch.now()
    result = run()
    after = watch.now()
    result.update(rss_after_warm_up_mb=round(before / MB, 1), rss_end_mb=round(after / MB, 1),
                  rss_peak_mb=round(max(rss for _, rss in watch.points) / MB, 1),
                  rss_growth_mb=round((after - before) / MB, 1))
    return result


def gradio_client(url: str, auth: tuple[str, str] | None = None):
    """A gradio_client Client for `url` whose calls share one SSL context. Without one, gradio_client builds a new
    httpx client for every call, and each loads the CA bundle (even for http://): tens of ms per call, which the
    caller pays and would be charged to the page (README, Operating it: Load)."""
    from gradio_client import Client

    return Client(url, auth=auth, verbose=False, ssl_verify=_ssl_context())  # a context still verifies https


@lru_cache(maxsize=1)
def _ssl_context():
    import httpx

    return httpx.create_ssl_context()


def load_gradio(url: str, pid: int | None, clients: int, seconds: float, max_requests: int,
                questions: list[str] = QUESTIONS, auth: tuple[str, str] | None = None) -> dict:
    """`clients` gradio_client Clients on the `/ask` endpoint of the chat page at `url` (served by process `pid`)."""
    import os

    connections = [gradio_client(url, auth) for _ in range(clients)]

    def ask(n: int, q: str):
        return connections[n].predict(q, api_name="/ask")

    with RssSampler(pid or os.getpid(), 0.25) as watch:
        result = _measured(lambda: load(ask, clients, seconds, max_requests, questions, _answer_problem), watch,
                           lambda: [ask(0, q) for q in questions])
    result["rss_of"] = "chat process" if pid else "this process (pass the chat process's pid)"
    return result


def load_api(settings, clients: int, seconds: float, max_requests: int, questions: list[str] = QUESTIONS) -> dict:
    """`clients` threads, each with its own `Assistant` (sharing the model and index, as the chat page does)."""
    import os

    from assistant.api import Assistant

    bots = [Assistant(settings) for _ in range(clients)]

    def ask(n: int, q: str):
        return bots[n].ask(q)

    with RssSampler(os.getpid(), 0.25) as watch:
        result = _measured(lambda: load(ask, clients, seconds, max_requests, questions, _answer_problem), watch,
                           lambda: [ask(0, q) for q in questions])
    result["rss_of"] = "this process"
    return result


def run_load_bench(settings=None, url: str | None = None, pid: int | None = None, clients: int = 8,
                   seconds: float = 60.0, max_requests: int = 20000,
                   max_rss_growth_mb: float = DEFAULT_RSS_GROWTH_MB, targets: tuple[str, ...] = ("gradio", "api"),
                   log: Callable[[str], None] = say) -> dict:
    """Load the chat page's `/ask` and the Python API in turn; `ok` is no errors and RSS growth within the bound.

    Without `url` it starts `assistant chat` on `settings`' store (the bundled sample if that is empty) on a free
    127.0.0.1 port, and stops it afterwards. Without `settings` the store is a fresh temporary one."""
    from urllib.parse import urlparse

    from assistant.settings import Settings

    if not 1 <= clients <= 64 or seconds <= 0 or max_requests < 1:
        raise ValueError("clients: 1-64, seconds > 0, max_requests >= 1")
    if url and not is_loopback(urlparse(url).hostname or ""):
        raise ValueError(f"url: the load test runs against 127.0.0.1 only, got {url}")
    results: dict = {"config": {"clients": clients, "seconds": seconds, "max_requests": max_requests,
                                "max_rss_growth_mb": max_rss_growth_mb}}
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        settings = settings or Settings(data_dir=Path(tmp) / "data", collection="load-docs")
        if "gradio" in targets:
            if url:
                log(f"load: {clients} gradio clients on {url.rstrip('/')}/ask for {seconds:g} s")
                results["gradio"] = load_gradio(url, pid, clients, seconds, max_requests)
            else:
                from evals.bench.proc import chat_server

                with chat_server(settings.data_dir, settings.collection,
                                 settings.embedding_backend) as (process, page, _):
                    log(f"load: {clients} gradio clients on {page.rstrip('/')}/ask for {seconds:g} s")
                    results["gradio"] = load_gradio(page, process.pid, clients, seconds, max_requests)
        if "api" in targets:
            from ingest.sample import ensure_sample

            ensure_sample(settings, on_message=lambda line: None)
            log(f"load: {clients} Python API callers for {seconds:g} s")
            results["api"] = load_api(settings, clients, seconds, max_requests)
    for name in ("gradio", "api"):
        if name in results:
            r = results[name]
            r["ok"] = r["errors"] == 0 and r["answers"] > 0 and r["rss_growth_mb"] <= max_rss_growth_mb
            log(f"  {name}: {r['answers']} answers, {r['errors']} errors, {r['answers_per_s']}/s, p50 {r['p50_ms']} "
                "ms, "
                f"p95 {r['p95_ms']} ms, RSS {r['rss_after_warm_up_mb']} -> {r['rss_end_mb']} MB "
                f"(growth {r['rss_growth_mb']} MB, bound {max_rss_growth_mb:g}){'' if r['ok'] else '  FAILED'}")
    results["ok"] = all(results[name]["ok"] for name in ("gradio", "api") if name in results)
    return results


# -- overload: past the admission line, on the page and /v1 of one `assistant chat` -----------------------------
OVERLOAD_LEVELS = (16, 64)  # 16 fit in the line (4 answering, 16 waiting); 64 overflow it
MAX_P95_RATIO = 2.0  # admitted p95 at the top level / at the bottom level
MAX_OVERLOAD_RSS_GROWTH_MB = 50.0


def page_asker(url: str, clients: int) -> Callable[[int, str], object]:
    """`clients` persistent plain-HTTP callers of the page's /ask, as any client calls it (POST, then its event
    stream): 64 gradio_client callers in one process cannot send fast enough to fill the line (docs/performance.md)."""
    import httpx

    from assistant.admission import BUSY, RETRY_AFTER_S

    sessions = [httpx.Client(base_url=url.rstrip("/"), timeout=600) for _ in range(clients)]

    def ask(number: int, question: str) -> object:
        session = sessions[number]
        event = session.post("/gradio_api/call/ask", json={"data": [question, None, None]}).json()["event_id"]
        kind = None
        with session.stream("GET", f"/gradio_api/call/ask/{event}") as stream:
            for line in stream.iter_lines():
                if line.startswith("event: "):
                    kind = line[7:].strip()
                elif line.startswith("data: ") and kind in ("complete", "error"):
                    data = json.loads(line[6:])
                    if kind == "complete":
                        return data[0]
                    if BUSY in str(data):
                        raise Refused(RETRY_AFTER_S)
                    raise RuntimeError(f"/ask: {str(data)[:200]}")
        raise RuntimeError("/ask: the event stream ended without a result")

    return ask


def api_asker(url: str, clients: int, model: str, stream: bool = False) -> Callable[[int, str], object]:
    """`clients` persistent HTTP callers of /v1/chat/completions (streamed or not); 429 becomes Refused."""
    import httpx

    sessions = [httpx.Client(base_url=url.rstrip("/"), timeout=600) for _ in range(clients)]

    def ask(number: int, question: str) -> object:
        body = {"model": model, "messages": [{"role": "user", "content": question}], "stream": stream}
        response = sessions[number].post("/v1/chat/completions", json=body)
        if response.status_code == 429:
            raise Refused(float(response.headers.get("retry-after", 5)))
        if response.status_code != 200:
            raise RuntimeError(f"HTTP {response.status_code}: {response.text[:200]}")
        if stream:
            events = [json.loads(line[6:]) for line in response.text.splitlines()
                      if line.startswith("data: {")]
            return {"text": "".join(e["choices"][0]["delta"].get("content") or "" for e in events)}
        return {"text": response.json()["choices"][0]["message"]["content"]}

    return ask


def run_overload_bench(settings=None, levels: tuple[int, ...] = OVERLOAD_LEVELS, seconds: float = 60.0,
                       soak_seconds: float = 0.0, log: Callable[[str], None] = say) -> dict:
    """Each level of clients for `seconds` on the page's /ask, then on /v1, of one `assistant chat`: admitted
    answers/s and p50/p95, refused as busy, other errors, the server's RSS; then an optional mixed soak."""
    import os

    from assistant.settings import Settings
    from evals.bench.proc import chat_server

    results: dict = {"config": {"levels": list(levels), "seconds": seconds, "soak_seconds": soak_seconds},
                     "load_before": list(os.getloadavg())}
    with tempfile.TemporaryDirectory(prefix="bench-overload-") as tmp:
        settings = settings or Settings(data_dir=Path(tmp) / "data", collection="load-docs")
        with chat_server(settings.data_dir, settings.collection, settings.embedding_backend) as (process, url, _):
            model = f"grounded-assistant/{settings.collection}"
            faces = {"page": lambda n: page_asker(url, n), "api": lambda n: api_asker(url, n, model)}
            with RssSampler(process.pid, 0.5) as watch:
                for face in faces.values():
                    ask = face(1)
                    for question in QUESTIONS:
                        ask(0, question)
                before = watch.now()
                for clients in levels:
                    for name, face in faces.items():
                        log(f"overload: {clients} clients on the {name} for {seconds:g} s")
                        r = load(face(clients), clients, seconds, 10**7, QUESTIONS, _answer_problem)
                        r["rss_end_mb"] = round(watch.now() / MB, 1)
                        results.setdefault(name, {})[str(clients)] = r
                        log(f"  {r['answers']} admitted ({r['answers_per_s']}/s), p50 {r['p50_ms']} ms, p95 "
                            f"{r['p95_ms']} ms, {r['refused']} busy, {r['errors']} errors {r['error_samples'][:2]}")
                after = watch.now()
                if soak_seconds:
                    results["soak"] = soak(url, model, soak_seconds, watch, log)
            results["rss_before_mb"], results["rss_after_mb"] = round(before / MB, 1), round(after / MB, 1)
            results["rss_growth_mb"] = round((after - before) / MB, 1)
    low, high = str(min(levels)), str(max(levels))
    results["p95_ratio"] = {name: round(results[name][high]["p95_ms"] / results[name][low]["p95_ms"], 2)
                            for name in ("page", "api")
                            if results[name][low]["p95_ms"] and results[name][high]["p95_ms"]}
    results["load_after"] = list(os.getloadavg())
    errors = sum(r["errors"] for name in ("page", "api") for r in results[name].values())
    results["ok"] = (errors == 0 and results["rss_growth_mb"] < MAX_OVERLOAD_RSS_GROWTH_MB
                     and all(v <= MAX_P95_RATIO for v in results["p95_ratio"].values())
                     and results.get("soak", {}).get("ok", True))
    log(f"overload: p95 {high}/{low} clients {results['p95_ratio']} (target <= {MAX_P95_RATIO:g}), other errors "
        f"{errors}, RSS {results['rss_before_mb']} -> {results['rss_after_mb']} MB "
        f"(target growth < {MAX_OVERLOAD_RSS_GROWTH_MB:g}){'' if results['ok'] else '  FAILED'}")
    return results


def soak(url: str, model: str, seconds: float, watch: RssSampler, log: Callable[[str], None]) -> dict:
    """Mixed use for `seconds`: 8 clients ask on the page while 4 stream over /v1; the same figures, and the RSS
    growth over the soak. (Uploads and removals are not in it yet: the page's events for them are not an API.)"""
    log(f"soak: ask and stream for {seconds:g} s")
    before = watch.now()
    asks, streams = page_asker(url, 8), api_asker(url, 4, model, stream=True)
    mixed: dict = {}
    runs = [threading.Thread(target=lambda: mixed.update(ask=load(asks, 8, seconds, 10**7, QUESTIONS,
                                                                  _answer_problem))),
            threading.Thread(target=lambda: mixed.update(stream=load(streams, 4, seconds, 10**7, QUESTIONS,
                                                                     _answer_problem)))]
    for thread in runs:
        thread.start()
    for thread in runs:
        thread.join(seconds + 900)
    after = watch.now()
    mixed.update(rss_before_mb=round(before / MB, 1), rss_after_mb=round(after / MB, 1),
                 rss_growth_mb=round((after - before) / MB, 1))
    errors = mixed["ask"]["errors"] + mixed["stream"]["errors"]
    mixed["ok"] = errors == 0 and mixed["rss_growth_mb"] < MAX_OVERLOAD_RSS_GROWTH_MB
    log(f"  soak: {mixed['ask']['answers']} asked, {mixed['stream']['answers']} streamed, {errors} errors, RSS "
        f"{mixed['rss_before_mb']} -> {mixed['rss_after_mb']} MB{'' if mixed['ok'] else '  FAILED'}")
    return mixed
