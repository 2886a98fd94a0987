"""Ingest while users chat: answers keep coming and readers only ever see whole documents.

The writer waits after each window it commits until a reader has answered a question and looked at the store (a
bounded wait, so a reader stuck behind a lock fails the test instead of hanging it): how many answers and store sizes
the test sees no longer depends on how busy the machine is. A second reader polls the store all the while, so reads
still overlap the writes."""

import queue
import threading
from dataclasses import asdict
from pathlib import Path

import pytest

from assistant.api import Assistant
from ingest import Ingestor, ingest_paths
from ingest.embedding import get_embedder
from ingest.store import open_store
from tests.helpers import SAMPLE_DIR, WITKOFF_Q

READER_WAIT = 300  # seconds a committed window waits for a reader: far above one answer on a busy machine


def write_corpus(folder: Path, files: int, sentences: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(files):
        lines = [f"Station {i} log, entry {j}: the keeper of station {i} counted {i * 100 + j} gulls at dawn."
                 for j in range(sentences)]
        paths.append(folder / f"station-{i:03}.txt")
        paths[-1].write_text("\n".join(lines) + f"\nThe keeper of station {i} is named Keeper{i}son.\n")
    return paths


def partial_documents(metadatas: list[dict]) -> list[str]:
    """Sources with fewer chunks of a version (doc_hash) stored than that version has."""
    counts: dict = {}
    for m in metadatas:
        key = (m["source"], m["doc_hash"], m["n_chunks"])
        counts[key] = counts.get(key, 0) + 1
    return [f"{source}: {n} of {total}" for (source, _, total), n in counts.items() if n != total]


@pytest.mark.slow
def test_answers_keep_coming_while_ingest_runs(tmp_path, settings, monkeypatch):
    from ingest import pipeline

    monkeypatch.setattr(pipeline, "_ENCODE_WINDOW", 8)  # commit every document or two, as a long ingest does
    ingest_paths([SAMPLE_DIR], settings)
    files = write_corpus(tmp_path / "corpus", 24, 30)
    bot = Assistant(settings)
    store = open_store(settings, get_embedder(settings).identity)
    done, problems, seen = threading.Event(), [], []
    windows: queue.Queue = queue.Queue()  # one event per committed window, set once a reader has been in
    write = pipeline.Ingestor._write

    def write_then_let_a_reader_in(self, *args):
        write(self, *args)
        read = threading.Event()
        windows.put(read)
        if not read.wait(READER_WAIT):
            problems.append("no reader got in after a committed window: something held a lock")

    monkeypatch.setattr(pipeline.Ingestor, "_write", write_then_let_a_reader_in)

    def ingest():
        try:
            Ingestor(settings).run(files)
        except Exception as exc:
            problems.append(f"ingest: {exc!r}")
        finally:
            done.set()

    def look(raw: dict) -> None:  # what a reader sees: stored documents whole, the lexical index's view whole
        problems.extend(f"raw: {p}" for p in partial_documents(raw["metadatas"]))
        problems.extend(f"lexical: {p}" for p in partial_documents([asdict(c.meta) for c in store.everything()]))

    def poll():
        while not done.is_set():
            look(store.collection.get(include=["metadatas"]))

    writer, poller = threading.Thread(target=ingest), threading.Thread(target=poll)
    writer.start()
    poller.start()
    answers = 0
    while not (done.is_set() and windows.empty()):
        try:
            read = windows.get(timeout=1)
        except queue.Empty:
            continue
        assert "Witkoff" in bot.ask(WITKOFF_Q).text
        answers += 1
        raw = store.collection.get(include=["metadatas"])
        seen.append(len(raw["ids"]))
        look(raw)
        read.set()
    writer.join(READER_WAIT)
    poller.join(READER_WAIT)
    assert not writer.is_alive() and not poller.is_alive()
    assert not problems, problems[:5]
    assert answers >= 3 and len(set(seen)) > 2, f"{answers} answers, store sizes {seen}: not window by window"
    assert seen == sorted(seen), "a reader saw the store shrink"
    assert "Keeper23son" in bot.ask("What is the keeper of station 23 named?").text  # the index caught up
