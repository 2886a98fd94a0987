"""The `chroma run` server killed (SIGKILL) while a folder is being ingested, then started again on its data: the
ingest stops with one line naming the store and what to do, the same ingest run again completes with every chunk
stored once, and an open page says the store is unreachable, then answers again, with nothing restarted."""

import os
import subprocess
import time
from collections import Counter

import pytest

from assistant import ui
from assistant.api import Assistant
from ingest import ingest_paths
from ingest.embedding import get_embedder
from ingest.store import open_store
from tests.helpers import BIN, SAMPLE, WITKOFF_Q, chat_reply, one_line, within
from tests.servers import free_port

SMALL_CHUNKS = {"ASSISTANT_CHUNK_TOKENS": "32", "ASSISTANT_CHUNK_OVERLAP_TOKENS": "0"}


def write_folder(folder, files: int = 40, lines: int = 60):
    folder.mkdir()
    for f in range(files):
        (folder / f"log-{f:02d}.txt").write_text("\n".join(
            f"Voyage {f}-{i}: the ship {i} of fleet {f} reached port {i * f % 97} with cargo {i + f}."
            for i in range(lines)))
    return folder


def stored(store) -> tuple[int, Counter, dict[str, int]]:
    """(chunks, how often each (source, index) is stored, chunks each document should have)."""
    chunks = store._get_all(["metadatas"])
    return (len(chunks), Counter((c.meta.source, c.meta.index) for c in chunks),
            {c.meta.source: c.meta.n_chunks for c in chunks})


@pytest.mark.slow
def test_store_killed_mid_ingest_resumes_without_duplicates_and_the_page_recovers(chroma_server, settings,
                                                                                  tmp_path, monkeypatch):
    from gradio_client import Client

    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    remote = settings.with_overrides(chroma_url=chroma_server.url, store_timeout=5)
    assert ingest_paths([SAMPLE], remote).added > 0
    app = ui.launch(remote, port=free_port(), prevent_thread_lock=True, sample=False)
    page = Client(f"http://127.0.0.1:{app.server_port}/", verbose=False)
    bot = Assistant(remote)
    try:
        assert "Witkoff" in page.predict(WITKOFF_Q, api_name="/ask")["text"]
        folder = write_folder(tmp_path / "logs")
        command = [str(BIN / "assistant"), "ingest", str(folder), "--chroma-url", chroma_server.url,
                   "--collection", remote.collection]
        env = {**os.environ, **SMALL_CHUNKS, "ASSISTANT_STORE_TIMEOUT": "5"}
        ingest = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        store = open_store(remote, get_embedder(remote).identity)
        before = store.count()
        deadline = time.monotonic() + 600
        while store.count() == before:  # the first of the folder's writes has landed: kill the server now
            assert ingest.poll() is None, ingest.communicate()
            assert time.monotonic() < deadline, "the ingest wrote nothing within 600 s"
            time.sleep(0.05)
        chroma_server.process.kill()
        chroma_server.process.wait(60)
        assert ingest.poll() is None or ingest.returncode != 0, "the ingest finished before the kill"
        out, err = ingest.communicate(timeout=900)  # it notices at its next write: a window may be encoding
        assert ingest.returncode == 2, (out, err)
        line = one_line(err.strip().splitlines()[-1])
        assert line.startswith(f"error: store unreachable at {chroma_server.url}: ") and \
            line.endswith("run the same ingest again: it goes on where this one stopped"), err

        # The open page and Assistant say so in one line while it is down...
        expected = f"store unreachable at {chroma_server.url}"
        with pytest.raises(Exception, match=expected):
            within(60, page.predict, WITKOFF_Q, api_name="/ask")
        assert expected in chat_reply(within(60, lambda: list(ui.respond(remote, WITKOFF_Q, None))))
        chroma_server.start()  # ...and answer again once it is back, restarted on the same data
        assert "Witkoff" in within(60, page.predict, WITKOFF_Q, api_name="/ask")["text"]
        assert "Witkoff" in within(60, bot.ask, WITKOFF_Q).text

        partial, _, _ = stored(store)
        rerun = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
        assert rerun.returncode == 0, rerun.stderr
        total, copies, expected_chunks = stored(store)
        assert total > partial and max(copies.values()) == 1, "a chunk is stored twice"
        for source, n in expected_chunks.items():  # every document whole: indexes 0..n-1, each once
            assert {i for s, i in copies if s == source} == set(range(n)), source
        assert len(expected_chunks) == 41 and store.pending() == set()
        assert "0 chunks added" in subprocess.run(command, capture_output=True, text=True, env=env,
                                                  timeout=900).stdout  # and a third run has nothing left to do
    finally:
        app.close()
