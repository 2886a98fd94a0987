"""The benchmark's other processes: cold `assistant ask`, a live `assistant chat`, and the memory-bounded ingest.

`assistant bench proc memory|answer ...` is the child side of the memory and Python-API measurements."""

import os
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

from assistant.processes import free_port, stop_server
from assistant.settings import MB


def assistant_command() -> list[str]:
    """The `assistant` console script next to this interpreter, or `python -m assistant.cli`."""
    script = Path(sys.executable).parent / "assistant"
    return [str(script)] if script.exists() else [sys.executable, "-m", "assistant.cli"]


def child_env(backend: str) -> dict:
    env = {**os.environ, "ASSISTANT_EMBEDDING_BACKEND": backend, "GRADIO_ANALYTICS_ENABLED": "False",
           "ANONYMIZED_TELEMETRY": "False", "TOKENIZERS_PARALLELISM": "false"}
    env.pop("ASSISTANT_CHROMA_URL", None)  # the benchmark's stores are always embedded
    return env


def peak_rss(pid: int) -> int | None:
    """The process's high-water resident set (VmHWM, Linux), in bytes; None where the kernel does not say."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


class RssSampler:
    """Samples a process's RSS (psutil) every `interval` s in a thread: peak, and (time, rss) points for flatness."""

    def __init__(self, pid: int, interval: float = 0.05):
        import psutil

        self.process = psutil.Process(pid)
        self.interval = interval
        self.points: list[tuple[float, int]] = []
        self.hwm = 0
        self.started = time.perf_counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "RssSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def now(self) -> int:
        """The process's resident memory now, in bytes (also a sample)."""
        rss = self.process.memory_info().rss
        self.hwm = max(self.hwm, peak_rss(self.process.pid) or 0)
        self.points.append((time.perf_counter() - self.started, rss))
        return rss

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            try:
                self.now()
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                return
            self._stop.wait(self.interval)

    @property
    def peak(self) -> int:
        return max([self.hwm, *(rss for _, rss in self.points)])


def time_cli_ask(data_dir: Path, collection: str, backend: str, question: str) -> dict:
    """One cold `assistant ask`: seconds from process start to the answer on stdout, to exit, and peak RSS."""
    command = [*assistant_command(), "ask", question, "--data-dir", str(data_dir), "--collection", collection]
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=child_env(backend))
    with RssSampler(process.pid, 0.02) as sampler:
        first = process.stdout.readline()
        answered = time.perf_counter() - started
        out, err = process.communicate(timeout=600)
        exited = time.perf_counter() - started
    if process.returncode != 0:
        raise RuntimeError(f"assistant ask exited {process.returncode}: {err.strip().splitlines()[-1:] or ''}")
    return {"answer_s": answered, "exit_s": exited, "peak_rss_mb": sampler.peak / MB, "answer": first.strip()[:120]}


FLOOR = """
from sentence_transformers import SentenceTransformer
from ingest.embedding import resolve_model_path
SentenceTransformer(resolve_model_path("all-MiniLM-L6-v2"), device="cpu").encode(["How long is a piece of string?"])
"""


def time_floor() -> float:
    """Seconds for a bare process to import sentence-transformers, load the packaged MiniLM and embed one query:
    the floor under any torch start, against which cold starts are measured."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", FLOOR], check=True, env=child_env("int8"), stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, cwd=str(Path(__file__).resolve().parents[2]))
    return time.perf_counter() - started


def time_import(module: str) -> float:
    """Seconds for a fresh interpreter to import `module` and exit (the floor under any cold start)."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", f"import {module}"], check=True, env=child_env("int8"),
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


@contextmanager
def chat_server(data_dir: Path, collection: str, backend: str, timeout: float = 240):
    """A running `assistant chat` on a free loopback port: yields (process, url); stopped on exit."""
    port = free_port()
    log = open(data_dir.parent / f"chat-{port}.log", "w")
    command = [*assistant_command(), "chat", "--port", str(port), "--data-dir", str(data_dir), "--collection",
               collection]
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, text=True, env=child_env(backend))
    try:
        url = _wait_for_url(process, timeout)
        yield process, url, time.perf_counter() - started
    finally:
        stop_server(process)
        log.close()


def _wait_for_url(process: subprocess.Popen, timeout: float) -> str:
    found: list[str] = []

    def read():
        for line in process.stdout:
            if "running on" in line.lower() and "http" in line:
                found.append(line[line.index("http"):].strip())
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout)
    if not found:
        raise RuntimeError(f"assistant chat did not print its URL within {timeout:.0f} s (exit code {process.poll()})")
    return found[0]


def run_child(args: list[str], backend: str, interval: float = 0.05,
              timeout: float = 7200) -> tuple[list[str], RssSampler]:
    """Run `assistant bench proc ARGS`, sampling its RSS; returns its stdout lines and the sampler."""
    process = subprocess.Popen([*assistant_command(), "bench", "proc", *args], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=child_env(backend),
                               cwd=str(Path(__file__).resolve().parents[2]))
    with RssSampler(process.pid, interval) as sampler:
        out, err = process.communicate(timeout=timeout)
    if process.returncode != 0:
        raise RuntimeError(f"bench child {args[0]} exited {process.returncode}: {err.strip()[-500:]}")
    return out.splitlines(), sampler


# -- the child side -----------------------------------------------------------------------------------------------
def child_memory(corpus: str, data_dir: str, stub: bool, out: Callable[[str], None]) -> None:
    """Ingest `corpus` into a fresh store, printing `ready SECONDS` after the model loads and `done ADDED SECONDS`."""
    import numpy as np

    from assistant.settings import Settings
    from ingest.pipeline import Ingestor

    settings = Settings.model_validate({**Settings().model_dump(), "data_dir": Path(data_dir), "chroma_url": None,
                                        "collection": "bench-memory"})
    started = time.perf_counter()
    ingestor = Ingestor(settings)
    ingestor.embedder.warm_up()
    ingestor.embedder.encode(["warm up"])
    if stub:
        dimension = ingestor.embedder.dimension

        tokenizer = ingestor.embedder.tokenizer

        def encode_tokens(texts: list[str], batch_size: int) -> tuple[np.ndarray, list[np.ndarray]]:
            # Pseudo-random unit vectors and token rows: the pipeline's memory, not the model's.
            rng = np.random.default_rng(len(texts))
            vectors = rng.standard_normal((len(texts), dimension)).astype(np.float32)
            tokens = [rng.standard_normal((len(e.ids),
                                           dimension)).astype(np.float32) for e in tokenizer.encode_batch(texts)]
            return vectors / np.linalg.norm(vectors, axis=1, keepdims=True), tokens

        ingestor.embedder.model.encode_tokens = encode_tokens
    out(f"ready {time.perf_counter() - started:.3f}")
    report = ingestor.run([corpus], on_message=lambda line: None)
    out(f"done {report.added} {report.seconds:.3f} {len(report.failed)}")


def child_answer(data_dir: str, collection: str, question: str, out: Callable[[str], None]) -> None:
    """Answer one question through the Python API (the RSS stand-in when the chat page cannot start)."""
    from assistant.api import Assistant
    from assistant.settings import Settings

    settings = Settings.model_validate({**Settings().model_dump(), "data_dir": Path(data_dir), "chroma_url": None,
                                        "collection": collection})
    answer = Assistant(settings).ask(question)
    out(f"answered {answer.refused} {answer.text[:80]!r}")

