"""Real servers a test starts on 127.0.0.1 (a `chroma run` store, `assistant chat`) and waits for, never sleeps on."""

from __future__ import annotations

import os
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

from assistant.processes import free_port, stop_server
from tests.helpers import BIN

START_TIMEOUT = 240  # model load + first-start ingestion of the sample on 2 busy cores


def stop(process: subprocess.Popen | None) -> None:
    """Ends a server this test started, if it still runs, and waits until it has gone (its port and files free)."""
    if process is not None and process.poll() is None:
        stop_server(process)


def wait_http(url: str, timeout: float, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before answering {url}")
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except OSError:
            time.sleep(0.25)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


class ChromaServer:
    """A real `chroma run` server on 127.0.0.1 that a test can stop and start again on the same port."""

    def __init__(self, path: Path):
        self.path = path
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = None

    def start(self) -> "ChromaServer":
        self.process = subprocess.Popen(
            [str(BIN / "chroma"), "run", "--path", str(self.path), "--host", "127.0.0.1", "--port", str(self.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "ANONYMIZED_TELEMETRY": "False"})
        wait_http(f"{self.url}/api/v2/heartbeat", 60, self.process)
        return self

    def stop(self) -> None:
        stop(self.process)


class ChatServer:
    """`assistant chat` on 127.0.0.1 and a free port, on its own data dir, with its output kept for messages."""

    def __init__(self, data_dir: Path, collection: str = "ui-docs", *extra: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.args = [str(BIN / "assistant"), "chat", "--host", "127.0.0.1", "--port", str(self.port),
                     "--data-dir", str(data_dir), "--collection", collection, *extra]
        self.output: list[str] = []
        self.process: subprocess.Popen | None = None

    def start(self) -> "ChatServer":
        self.process = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                        env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False",
                                             "ANONYMIZED_TELEMETRY": "False"})
        threading.Thread(target=self._drain, daemon=True).start()
        try:
            wait_http(self.url, START_TIMEOUT, self.process)
            deadline = time.monotonic() + 30  # the URL is printed once launch() returns, just after it answers
            while "Chat running on" not in "".join(self.output):
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise TimeoutError("no 'Chat running on URL' line")
                time.sleep(0.1)
        except Exception:
            self.stop()
            raise RuntimeError("assistant chat did not start:\n" + self.log())
        return self

    def _drain(self) -> None:
        for line in self.process.stdout:
            self.output.append(line)

    def log(self) -> str:
        return "".join(self.output[-60:])

    def stop(self) -> None:
        stop(self.process)
