"""How long the document listing takes on a large collection: `assistant bench listing --documents N --chunks N`.

Writes DOCS documents of CHUNKS chunks each (random vectors: the listing reads metadata only) into a fresh embedded
store and into a fresh `chroma run` server, then times `Assistant.documents()` and the page's sorted, paged listing of
it."""

import random
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Callable

from assistant import Assistant, Settings
from assistant.processes import free_port
from assistant.types import DocumentPage
from evals.bench.common import say
from evals.stats import median
from ingest.records import ChunkMeta


def fill(settings: Settings, documents: int, chunks: int) -> Assistant:
    bot = Assistant(settings)
    dim = bot.store.identity["embedding_dim"]
    ids, vectors, metadatas = [], [], []
    for d in range(documents):
        for i in range(chunks):
            ids.append(f"d{d}-{i}")
            vectors.append([random.random() for _ in range(dim)])
            metadatas.append(ChunkMeta(source=f"/docs/{d:05}.txt", title=f"doc {d}", start=i, end=i + 1, line_start=1,
                                       line_end=1, index=i, doc_hash=f"h{d}", n_chunks=chunks, format="txt",
                                       characters=400, ingested_at=f"2026-01-01T00:{d % 60:02}:00+00:00"))
    bot.store.upsert(ids, vectors, ["text"] * len(ids), metadatas)
    bot.store.bump_version()
    return bot


def timed(fn, runs: int = 5) -> tuple[float, float]:
    """(median, slowest) seconds of `runs` calls after one warm-up call."""
    fn()
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        seconds.append(time.perf_counter() - started)
    return median(seconds), max(seconds)


def time_listing(documents: int = 5000, chunks: int = 4, out: Callable[[str], None] = say) -> None:
    """Fill an embedded store and a `chroma run` server with DOCUMENTS x CHUNKS chunks; one line each to `out`."""
    folder = Path(tempfile.mkdtemp(prefix="listing-"))
    port = free_port()
    server = subprocess.Popen([str(Path(sys.executable).parent / "chroma"), "run", "--path", str(folder / "server"),
                               "--host", "127.0.0.1", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1).close()
                break
            except OSError:
                time.sleep(0.25)
        for where, url in (("embedded", None), ("server", f"http://127.0.0.1:{port}")):
            settings = Settings(data_dir=folder / "data", chroma_url=url, collection="listing")
            bot = fill(settings, documents, chunks)
            listed = len(bot.documents())
            api, api_max = timed(bot.documents)
            page, page_max = timed(lambda: DocumentPage.of(bot.documents(), "newest", "", 3))
            out(f"{where}: {listed} documents, {documents * chunks} chunks: Assistant.documents() median "
                  f"{api * 1000:.0f} ms (slowest {api_max * 1000:.0f}); the page's listing (sorted and paged) "
                  f"median {page * 1000:.0f} ms (slowest {page_max * 1000:.0f})")
    finally:
        server.terminate()
        server.wait(10)
        shutil.rmtree(folder, ignore_errors=True)

