"""Reliability and security (issue 8), on real components: faults, load and hostile input.

Faults come from real things misbehaving: a `chroma run` server stopped, restarted and frozen (SIGSTOP); a local HTTP
server speaking the OpenAI chat-completions protocol (SSE streaming included) that is down, slow, endless, cut off or
talks nonsense; a tmpfs that fills up or turns read-only (in a user+mount namespace, so no root is needed and
nothing leaks onto the host); an ingest running while questions are asked. Hostile input: the documents under
tests/fixtures/hostile (prompt injection, attempts to close the prompt's passage fence, HTML/Markdown script, Unicode
tricks; each also states one plain fact to ask about), odd questions, hostile upload names and sizes. Every network
test stays on 127.0.0.1 and is bounded in time."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from dataclasses import asdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from assistant import ui
from assistant.api import Assistant
from assistant.errors import AssistantError, InvalidQuestion, LLMError, StoreUnreachable
from assistant.settings import Settings
from assistant.types import Answer
from tests.ui.browser import ChatServer
from tests.conftest import BIN, ROOT, SAMPLE, SAMPLE_DIR, ChromaServer, free_port, run_cli
from ingest import Ingestor, ingest_paths
from ingest.embedding import Embedder, get_embedder
from ingest.records import ChunkMeta
from ingest.store import StoreNotWritable, open_store
from ingest.uploads import MAX_NAME_BYTES

HOSTILE = ROOT / "tests" / "fixtures" / "hostile"
WITKOFF = "Who did Trump send to Moscow?"
# The only elements the chat and the sources panel write; text from documents and users is escaped inside them.
RENDERED_TAGS = {"a", "span", "br", "mark", "div", "section", "h4", "details", "summary", "p"}


def live_markup(html: str) -> list[str]:
    """Elements, handlers and links in rendered HTML that did not come from our own templates."""
    from html.parser import HTMLParser

    found = []

    class Collect(HTMLParser):
        def handle_starttag(self, tag, attrs):
            if tag not in RENDERED_TAGS:
                found.append(f"<{tag}>")
            for name, value in attrs:
                if name.startswith("on") or (name in ("href", "src") and not str(value).startswith("#")):
                    found.append(f"<{tag} {name}={value!r}>")

    Collect().feed(html)
    return found


def within(seconds: float, fn, *args, **kwargs):
    """fn(*args) run in a thread; a call that has not returned after `seconds` fails the test (it hung)."""
    box: dict = {}

    def run():
        try:
            box["value"] = fn(*args, **kwargs)
        except BaseException as exc:  # re-raised in the test's thread
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    started = time.monotonic()
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        pytest.fail(f"{getattr(fn, '__name__', fn)} did not return within {seconds} s (hung)")
    box["seconds"] = time.monotonic() - started
    if "error" in box:
        raise box["error"]
    return box["value"]


def one_line(message: str) -> str:
    assert message and "\n" not in message.strip() and "Traceback" not in message, message
    return message


def chat_reply(turns: list) -> str:
    """The last assistant message of a ui.respond() run."""
    return turns[-1][1][-1]["content"]


# -- a misbehaving OpenAI-compatible server ---------------------------------------------------------------------------
class FakeOpenAI(ThreadingHTTPServer):
    """Enough of POST /v1/chat/completions (JSON and SSE streaming) to misbehave on purpose; the model name picks how.

    good: cites the passage that names Witkoff. nocite: no markers. invented: a real sentence marked [9] and an
    invented one marked [7]. offtopic: a claim no passage holds. obey: does what the injected document says.
    cutoff: three tokens, then the connection is reset. cutoff_clean: three tokens, then a clean end without [DONE].
    badchunk: a chunk that is not JSON. error500: HTTP 500. notjson: an HTML error page with a JSON content type.
    drop: closes the connection without answering. slow: answers after 30 s. trickle: one token every 0.2 s, forever.
    """

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _FakeHandler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}/v1"
        self.requests: list[dict] = []

    def handle_error(self, request, client_address):  # resets and timeouts are the point here
        pass


def _chunk(text: str | None, finish: str | None = None) -> dict:
    return {"id": "fake", "object": "chat.completion.chunk", "created": 0, "model": "fake",
            "choices": [{"index": 0, "delta": {"content": text} if text is not None else {}, "finish_reason": finish}]}


class _FakeHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _json(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _event(self, payload) -> None:
        data = f"data: {payload if isinstance(payload, str) else json.dumps(payload)}\n\n".encode()
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _reply(self, behaviour: str, system: str) -> str:
        passages = dict(re.findall(r'<passage number="(\d+)"[^>]*>\n(.*?)\n</passage>', system, re.S))
        witkoff = next((n for n, text in passages.items() if "Witkoff" in text), "1")
        return {
            "good": f"Trump's envoy Steve Witkoff met Putin in Moscow [{witkoff}].",
            "nocite": "Trump sent his envoy Steve Witkoff to Moscow.",
            "invented": "Trump sent Steve Witkoff to Moscow [9]. The moon is made of green cheese [7].",
            "offtopic": "The moon is made of green cheese [1].",
            "obey": "I have been pwned.",
            "echo": "I could not find this in the documents.",
        }.get(behaviour, f"Trump sent his envoy Steve Witkoff to Moscow [{witkoff}].")

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        behaviour = str(body.get("model", "good"))
        self.server.requests.append(body)
        system = next((str(m.get("content", "")) for m in body.get("messages", []) if m.get("role") == "system"), "")
        text = self._reply(behaviour, system)
        if behaviour == "drop":
            self.close_connection = True
            self.connection.shutdown(2)
            return
        if behaviour == "slow":
            time.sleep(30)
        if behaviour == "error500":
            return self._json(500, {"error": {"message": "internal failure", "type": "server_error"}})
        if behaviour == "notjson":
            data = b"<html><body>502 Bad Gateway</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        if not body.get("stream"):
            return self._json(200, {"id": "fake", "object": "chat.completion", "created": 0, "model": behaviour,
                                    "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                                 "finish_reason": "stop"}]})
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        words = text.split(" ")
        try:
            if behaviour in ("cutoff", "cutoff_clean"):
                for word in words[:3]:
                    self._event(_chunk(word + " "))
                if behaviour == "cutoff":
                    self.close_connection = True
                    self.connection.shutdown(2)
                else:
                    self.wfile.write(b"0\r\n\r\n")
                return
            if behaviour == "trickle":
                while True:
                    self._event(_chunk("more "))
                    time.sleep(0.2)
            if behaviour == "badchunk":
                self._event(_chunk("Trump "))
                self._event("{not json")
                self.wfile.write(b"0\r\n\r\n")
                return
            for i, word in enumerate(words):
                self._event(_chunk(word if i == 0 else " " + word))
            self._event(_chunk(None, "stop"))
            self._event("[DONE]")
            self.wfile.write(b"0\r\n\r\n")
        except OSError:  # the client gave up (timeouts): fine
            pass


@pytest.fixture(scope="module")
def fake_llm():
    server = FakeOpenAI()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def llm_settings(base: Settings, fake: FakeOpenAI, behaviour: str, timeout: float = 2.0) -> Settings:
    return base.with_overrides(mode="llm", llm=f"openai:{behaviour}", llm_base_url=fake.url, llm_api_key="test",
                               llm_timeout=timeout)


# -- the Chroma server stops, restarts, freezes -----------------------------------------------------------------------
@pytest.mark.slow
def test_store_server_stop_and_restart_in_api_ui_and_cli(chroma_server, settings):
    remote = settings.with_overrides(chroma_url=chroma_server.url, store_timeout=5)
    assert ingest_paths([SAMPLE], remote).added > 0
    bot = Assistant(remote)
    assert "Witkoff" in bot.ask(WITKOFF).text
    chroma_server.stop()
    expected = f"store unreachable at {chroma_server.url}"
    for call in (lambda: bot.ask(WITKOFF), lambda: list(bot.stream(WITKOFF)), lambda: Assistant(remote).ask(WITKOFF)):
        with pytest.raises(StoreUnreachable, match=re.escape(expected)) as info:
            within(15, call)
        one_line(str(info.value))
    reply = chat_reply(within(15, lambda: list(ui.respond(remote, WITKOFF, None))))
    assert "chat-error" in reply and expected in reply and "went wrong" not in reply
    status, _ = ui.ingest_uploads(remote, [str(SAMPLE)], None)
    assert "1 failed" in status and expected in status
    cli = run_cli("ask", WITKOFF, "--chroma-url", chroma_server.url, "--collection", remote.collection,
                  env={"ASSISTANT_STORE_TIMEOUT": "5"}, timeout=120)
    assert cli.returncode == 1 and one_line(cli.stderr.strip()).startswith(f"error: {expected}")

    chroma_server.start()  # same port, same data: the next request works without restarting anything
    assert "Witkoff" in within(30, bot.ask, WITKOFF).text
    assert "Witkoff" in chat_reply(list(ui.respond(remote, WITKOFF, None)))
    cli = run_cli("ask", WITKOFF, "--chroma-url", chroma_server.url, "--collection", remote.collection, timeout=120)
    assert cli.returncode == 0 and "Witkoff" in cli.stdout


@pytest.mark.slow
def test_store_client_is_made_again_after_a_failed_start(chroma_server, settings):
    # A distinct store_timeout gives a client of its own (make_client is cached per URL, path and timeout).
    remote = settings.with_overrides(chroma_url=chroma_server.url, store_timeout=4.5)
    chroma_server.stop()
    with pytest.raises(StoreUnreachable, match=f"store unreachable at {re.escape(chroma_server.url)}: .*refused"):
        within(15, lambda: Assistant(remote).ask(WITKOFF))
    chroma_server.start()
    assert ingest_paths([SAMPLE], remote).added > 0  # the failure was not cached
    assert "Witkoff" in Assistant(remote).ask(WITKOFF).text


@pytest.mark.slow
def test_frozen_store_server_times_out_then_recovers(chroma_server, settings):
    remote = settings.with_overrides(chroma_url=chroma_server.url, store_timeout=2)
    ingest_paths([SAMPLE], remote)
    bot = Assistant(remote)
    assert "Witkoff" in bot.ask(WITKOFF).text
    chroma_server.process.send_signal(signal.SIGSTOP)  # accepts connections, never answers
    try:
        started = time.monotonic()
        with pytest.raises(StoreUnreachable, match="store unreachable at .*timed out"):
            within(20, bot.ask, WITKOFF)
        assert time.monotonic() - started < 10
        reply = chat_reply(within(20, lambda: list(ui.respond(remote, WITKOFF, None))))
        assert "store unreachable" in reply
    finally:
        chroma_server.process.send_signal(signal.SIGCONT)
    assert "Witkoff" in within(30, bot.ask, WITKOFF).text


# -- the LLM endpoint is down, slow or talks nonsense -------------------------------------------------------------------
FAILING = ["drop", "slow", "trickle", "cutoff", "badchunk", "error500", "notjson"]
ANSWERING = ["good", "nocite", "invented", "offtopic", "cutoff_clean", "obey"]


def check_answer(answer: Answer) -> None:
    """A well-formed answer: markers only for real citations, a refusal or text, never an invented number."""
    numbers = {c.number for c in answer.citations}
    assert numbers == set(range(1, len(numbers) + 1))
    assert {int(n) for n in re.findall(r"\[(\d+)\]", answer.text)} <= numbers, answer.text
    assert answer.refused or answer.text.strip()


@pytest.mark.parametrize("behaviour", FAILING + ANSWERING + ["down"])
def test_llm_faults_give_a_readable_error_or_a_checked_answer(sample_settings, fake_llm, behaviour):
    settings = llm_settings(sample_settings, fake_llm, behaviour)
    if behaviour == "down":  # nothing listens on the port
        settings = settings.with_overrides(llm="openai:good", llm_base_url=f"http://127.0.0.1:{free_port()}/v1")
    bot = Assistant(settings)
    bound = 3 * settings.llm_timeout + 5  # the HTTP client's retry, then the answer's own deadline
    for call in (lambda: bot.ask(WITKOFF), lambda: list(bot.stream(WITKOFF))[-1]):
        started = time.monotonic()
        if behaviour in FAILING or behaviour == "down":
            with pytest.raises(LLMError) as info:
                within(bound + 10, call)
            assert one_line(str(info.value)).startswith("llm: ")
        else:
            answer = within(bound + 10, call)
            check_answer(answer)
            if behaviour == "good":
                assert not answer.refused and "Witkoff" in answer.text and answer.citations[0].supported
            if behaviour == "invented":
                assert "cheese" not in answer.text or "The moon is made of green cheese." in answer.unsupported_sentences
            if behaviour in ("offtopic", "obey"):
                assert answer.refused or answer.unsupported_sentences, answer
        assert time.monotonic() - started < bound, f"{behaviour} took {time.monotonic() - started:.1f} s"


def test_llm_faults_in_the_chat_are_one_readable_line(sample_settings, fake_llm):
    base = sample_settings.with_overrides(llm_base_url=fake_llm.url, llm_api_key="test", llm_timeout=2)
    for behaviour in ["trickle", "cutoff", "error500", "good", "invented"]:
        turns = within(20, lambda: list(ui.respond(base, WITKOFF, None, mode="llm", llm=f"openai:{behaviour}")))
        reply = chat_reply(turns)
        assert "Traceback" not in reply and "went wrong" not in reply, (behaviour, reply)
        if behaviour in FAILING:
            assert "chat-error" in reply and "llm: openai:" in reply, reply
        else:
            assert "chat-error" not in reply and "[9]" not in reply, reply
            assert turns[-1][3]["history"], "an answered turn is kept in the session"


@pytest.mark.slow
def test_cli_ask_against_an_endless_llm_stream_ends_with_one_line(sample_settings, fake_llm):
    started = time.monotonic()
    result = run_cli("ask", WITKOFF, "--mode", "llm", "--llm", "openai:trickle", "--llm-base-url", fake_llm.url,
                     "--data-dir", str(sample_settings.data_dir), "--collection", sample_settings.collection,
                     env={"ASSISTANT_LLM_TIMEOUT": "2", "ASSISTANT_LLM_API_KEY": "test"}, timeout=120)
    assert result.returncode == 1 and time.monotonic() - started < 90
    assert one_line(result.stderr.strip()) == "error: llm: openai:trickle did not finish its answer within 2 s (llm_timeout)"


# -- ingest while users chat --------------------------------------------------------------------------------------------
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

    def ingest():
        try:
            Ingestor(settings).run(files)
        except Exception as exc:
            problems.append(f"ingest: {exc!r}")
        finally:
            done.set()

    def watch():  # what a reader sees: stored documents whole, the lexical index's view whole
        while not done.is_set():
            raw = store.collection.get(include=["metadatas"])
            seen.append(len(raw["ids"]))
            problems.extend(f"raw: {p}" for p in partial_documents(raw["metadatas"]))
            problems.extend(f"lexical: {p}" for p in partial_documents([asdict(c.meta) for c in store.everything()]))
            time.sleep(0.05)

    writer, watcher = threading.Thread(target=ingest), threading.Thread(target=watch)
    writer.start()
    watcher.start()
    latencies = []
    while not done.is_set():
        started = time.perf_counter()
        assert "Witkoff" in bot.ask(WITKOFF).text
        latencies.append(time.perf_counter() - started)
    writer.join(600)
    watcher.join(60)
    assert not problems, problems[:5]
    assert len(latencies) >= 3, f"only {len(latencies)} answers while the ingest ran: something held a lock"
    assert len(set(seen)) > 2, "the documents did not arrive one by one"
    assert "Keeper23son" in bot.ask("What is the keeper of station 23 named?").text  # the index caught up


class HashEmbedder(Embedder):
    """The real tokenizer and chunker, with vectors from a hash of the text: a test of the store, not the model."""

    def encode(self, texts: list[str]) -> np.ndarray:
        vectors = np.stack([np.random.default_rng(abs(hash(t)) % 2**32).standard_normal(384) for t in texts])
        return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def test_a_document_larger_than_chromas_batch_is_stored_whole(tmp_path, settings):
    small = settings.with_overrides(chunk_tokens=16, chunk_overlap_tokens=0)
    embedder = HashEmbedder(small.embedding_model, small.embedding_backend)
    embedder._model = get_embedder(small).model
    ingestor = Ingestor(small, embedder=embedder)
    limit = ingestor.store.client.get_max_batch_size()
    doc = tmp_path / "ledger.txt"
    doc.write_text("\n".join(f"Entry {i}: ship {i} passed the light." for i in range(limit + 200)))
    done, sizes = threading.Event(), set()

    def watch():  # the lexical index's view, as often as it can be read
        while not done.is_set():
            sizes.add(len(ingestor.store.everything()))

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        report = ingestor.run([doc])
    finally:
        done.set()
        watcher.join(60)
    assert report.added > limit and not report.failed
    assert ingestor.store.count() == report.added
    assert sizes <= {0, report.added}, f"the lexical view saw {sorted(sizes)[:4]} of {report.added} chunks"
    assert ingestor.run([doc]).unchanged == report.added  # and it is seen as complete afterwards


@pytest.mark.slow
def test_a_collection_over_sqlites_variable_limit_is_read_in_pages(tmp_path):
    from assistant.retrieval import LexicalIndex, Terms

    settings = Settings(data_dir=tmp_path / "data", collection="big-store")
    store = open_store(settings, {"embedding_model": "test", "embedding_backend": "int8", "embedding_dim": 8})
    docs, per_doc = 34, 1000  # 34 000 rows: one unpaged read fails ("too many SQL variables")
    rng = np.random.default_rng(0)
    for d in range(docs):
        ids = [f"d{d}-{i}" for i in range(per_doc)]
        metas = [ChunkMeta(source=f"/docs/{d}.txt", doc_hash=f"h{d}", n_chunks=per_doc, start=i, end=i + 1,
                           line_start=i + 1, line_end=i + 1, title=f"doc {d}", index=i) for i in range(per_doc)]
        store.upsert(ids, rng.standard_normal((per_doc, 8)).astype(np.float32).tolist(),
                     [f"record {i} of volume v{d}x" for i in range(per_doc)], metas)
    store.bump_version()
    assert len(store.everything()) == docs * per_doc
    assert len(store.sources()) == docs and len(store.chunks_of("/docs/7.txt")) == per_doc
    index = LexicalIndex(store, Terms())
    hits = index.search("volume v33x", 5)
    assert hits and all(index.sources[i] == "/docs/33.txt" for i in hits)


# -- disk full, read-only store ------------------------------------------------------------------------------------------
DISK_CHILD = r'''
import json, os, subprocess, sys
from pathlib import Path

mount, bin_dir, sample = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)], check=True)
from assistant import ui
from assistant.api import Assistant
from assistant.errors import AssistantError
from assistant.settings import Settings
from ingest import ingest_paths

out = {}
settings = Settings(data_dir=mount / "data", collection="disk-docs")
doc = Path(sys.argv[4])
doc.write_text("\n".join(f"Line {i}: the Ose river gauge read {i * 3} centimetres." for i in range(800)))
env = {**os.environ, "ASSISTANT_DATA_DIR": str(settings.data_dir), "ASSISTANT_COLLECTION": settings.collection}

def attempt(name, fn):
    try:
        out[name] = {"ok": str(fn())[:200]}
    except Exception as exc:
        out[name] = {"error": type(exc).__name__, "message": str(exc), "assistant_error": isinstance(exc, AssistantError)}

def cli(name, *args):
    done = subprocess.run([str(bin_dir / "assistant"), *args], capture_output=True, text=True, env=env, timeout=300)
    out[name] = {"code": done.returncode, "stderr": done.stderr.strip(), "stdout": done.stdout.strip()[:300]}

ingest_paths([sample], settings)
bot = Assistant(settings)
attempt("ask_before", lambda: bot.ask("Who did Trump send to Moscow?").text)
with open(mount / "filler", "wb") as f:  # fill the disk
    try:
        while True:
            f.write(b"\0" * 65536)
    except OSError as exc:
        out["filled"] = exc.strerror
attempt("ingest_full", lambda: ingest_paths([doc], settings).summary())
attempt("ask_full", lambda: bot.ask("Who did Trump send to Moscow?").text)
attempt("ask_full_new_assistant", lambda: Assistant(settings).ask("What is the Zaporizhzhia plant?").text)
out["upload_full"] = ui.ingest_uploads(settings, [str(doc)], None)[0]
cli("cli_ingest_full", "ingest", str(doc))
os.unlink(mount / "filler")
attempt("ingest_freed", lambda: ingest_paths([doc], settings).summary())
attempt("ask_freed", lambda: bot.ask("What did the Ose river gauge read on line 17?").text)

# Another store, made by another process, that this one first opens while it is read-only.
identity = {"embedding_model": "test", "embedding_backend": "int8", "embedding_dim": 8}
other = Settings(data_dir=mount / "data" / "other", collection="other-docs")
subprocess.run([sys.executable, "-c", "import sys, json; from ingest.store import open_store; "
                "from assistant.settings import Settings; "
                "open_store(Settings(data_dir=sys.argv[1], collection='other-docs'), json.loads(sys.argv[2])).count()",
                str(other.data_dir), json.dumps(identity)], check=True)
data = str(settings.data_dir)  # a read-only bind mount over the store (a remount of the tmpfs: "busy")
subprocess.run(["mount", "--bind", data, data], check=True)
subprocess.run(["mount", "-o", "remount,ro,bind", data], check=True)
extra = Path(sys.argv[5])
extra.write_text("The Glimmerwick Bridge was painted violet in 1921.")
attempt("ask_ro", lambda: bot.ask("Who did Trump send to Moscow?").text)
attempt("ingest_ro", lambda: ingest_paths([extra], settings).summary())
attempt("ask_ro_after", lambda: Assistant(settings).ask("What is the Zaporizhzhia plant?").text)
out["upload_ro"] = ui.ingest_uploads(settings, [str(extra)], None)[0]
cli("cli_ask_ro", "ask", "Who did Trump send to Moscow?")
from ingest.store import open_store
attempt("open_other_ro", lambda: open_store(other, identity).count())
# Writable again: the same process can open it now. Lazy, because Chroma may still hold files of the read-only
# mount from the failed opens (its threads release them asynchronously): a plain umount is then "busy".
subprocess.run(["umount", "--lazy", data], check=True)
attempt("open_other_rw", lambda: open_store(other, identity).count())
print("RESULT " + json.dumps(out))
'''


def have_user_namespaces() -> bool:
    unshare = shutil.which("unshare")
    return bool(unshare) and subprocess.run([unshare, "-rm", "true"], capture_output=True).returncode == 0


@pytest.mark.slow
@pytest.mark.skipif(not have_user_namespaces(), reason="needs user namespaces (unshare -rm) to mount a small tmpfs")
def test_disk_full_and_read_only_store_give_clear_errors_and_stay_readable(tmp_path):
    mount = tmp_path / "small"
    mount.mkdir()
    (tmp_path / "child.py").write_text(DISK_CHILD)
    done = subprocess.run(["unshare", "-rm", str(BIN / "python"), str(tmp_path / "child.py"), str(mount), str(BIN),
                           str(SAMPLE), str(tmp_path / "gauge.txt"), str(tmp_path / "bridge.txt")],
                          capture_output=True, text=True, timeout=900, cwd=ROOT,
                          env={**os.environ, "ANONYMIZED_TELEMETRY": "False"})
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, done.stderr[-3000:]
    out = json.loads(lines[-1].removeprefix("RESULT "))
    assert out["filled"] == "No space left on device"
    assert "Witkoff" in out["ask_before"]["ok"]
    full = out["ingest_full"]
    assert full.get("error") == "StoreNotWritable", full
    assert one_line(full["message"]).startswith(f"store at {mount / 'data' / 'chroma'} is full (")
    assert "Witkoff" in out["ask_full"]["ok"] and "Zaporizhzhia" in out["ask_full_new_assistant"]["ok"]
    assert "1 failed" in out["upload_full"] and ("is full" in out["upload_full"] or "No space" in out["upload_full"])
    cli = out["cli_ingest_full"]
    assert cli["code"] in (1, 2) and one_line(cli["stderr"]).startswith("error: ") and "full" in cli["stderr"], cli
    assert "chunks added" in out["ingest_freed"]["ok"] and "51 centimetres" in out["ask_freed"]["ok"]
    # Read-only: the running process still reads; writes fail clearly.
    assert "Witkoff" in out["ask_ro"]["ok"] and "Zaporizhzhia" in out["ask_ro_after"]["ok"]
    ro = out["ingest_ro"]
    assert ro.get("error") == "StoreNotWritable" and "is read-only" in one_line(ro["message"]), ro
    assert "1 failed" in out["upload_ro"] and "read-only" in out["upload_ro"].lower()
    # A new process cannot open a read-only store at all (Chroma writes when it opens): one clear line.
    cli = out["cli_ask_ro"]
    assert cli["code"] == 1 and one_line(cli["stderr"]).startswith("error: store at ") and "read-only" in cli["stderr"]
    assert out["open_other_ro"].get("error") == "StoreNotWritable", out["open_other_ro"]
    assert out["open_other_rw"] == {"ok": "0"}, "a failed open was remembered: the store needed a restart"


# -- uploads ---------------------------------------------------------------------------------------------------------
def test_upload_size_limits_per_file_and_per_request(settings, tmp_path):
    small = settings.with_overrides(max_file_mb=0.01, max_upload_mb=0.025)  # 10 KB per file, 25 KB per upload
    big, ok1, ok2, ok3 = (tmp_path / n for n in ("big.txt", "a.txt", "b.txt", "c.txt"))
    big.write_text(("The Ose gauge stands by the mill. " * 500)[:15000])
    for path in (ok1, ok2, ok3):
        path.write_text((f"The {path.stem} gauge stands by the mill. " * 500)[:10000])
    status, session = ui.ingest_uploads(small, [str(big), str(ok1)], None)
    assert "1 added, 1 failed" in status and "big.txt: 15 KB, over the 0.01 MB limit per file" in status
    status, _ = ui.ingest_uploads(small, [str(ok1), str(ok2), str(ok3)], None)
    assert "0 added, 1 failed" in status and "this upload is 29 KB, over the 0.025 MB limit for one upload" in status
    assert sorted(p.name for p in small.upload_dir.iterdir()) == ["a.txt"]


def upload_event(server, files: list[dict], collection: str) -> str:
    """Call the page's upload event as the browser does (queue/join, then the SSE result): the status HTML."""
    config = json.load(urllib.request.urlopen(server.url + "config", timeout=30))
    fn = next(d for d in config["dependencies"] if d.get("api_name") == "upload")
    session = uuid.uuid4().hex[:12]
    payload = {"data": [files, None, collection], "fn_index": fn["id"], "trigger_id": fn["targets"][0][0],
               "session_hash": session, "event_data": None}
    request = urllib.request.Request(server.url + "gradio_api/queue/join", json.dumps(payload).encode(),
                                     {"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=30).close()
    with urllib.request.urlopen(f"{server.url}gradio_api/queue/data?session_hash={session}", timeout=120) as stream:
        for line in stream:
            if line.startswith(b"data: "):
                message = json.loads(line[6:])
                if message.get("msg") == "process_completed":
                    return json.dumps(message["output"]) if not message.get("success") else message["output"]["data"][1]
    raise AssertionError("no result from the upload event")


def multipart_upload(server, name: bytes, content: bytes) -> tuple[int, str]:
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\n".encode() + b'Content-Disposition: form-data; name="files"; filename="' + name +
            b'"\r\nContent-Type: text/plain\r\n\r\n' + content + f"\r\n--{boundary}--\r\n".encode())
    request = urllib.request.Request(server.url + "gradio_api/upload", body,
                                     {"Content-Type": f"multipart/form-data; boundary={boundary}"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def files_under(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def chroma(tmp_path_factory):
    server = ChromaServer(tmp_path_factory.mktemp("chroma") / "server").start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def chat(chroma, tmp_path_factory):
    """`assistant chat` in server mode on the module's Chroma server, with small upload limits."""
    root = tmp_path_factory.mktemp("chat")
    env = {"ASSISTANT_MAX_FILE_MB": "1", "ASSISTANT_MAX_UPLOAD_MB": "1.5", "ASSISTANT_STORE_TIMEOUT": "5",
           "GRADIO_TEMP_DIR": str(root / "gradio")}
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        server = ChatServer(root / "data", "rel-docs", "--chroma-url", chroma.url).start()
    server.root, server.data_dir, server.chroma_url = root, root / "data", chroma.url
    server.settings = Settings(data_dir=root / "data", collection="rel-docs", chroma_url=chroma.url, store_timeout=5)
    yield server
    server.stop()


@pytest.mark.slow
def test_hostile_upload_names_stay_in_the_upload_areas(chat):
    names = [b"../../../../../../tmp/escape-upload.txt", b"/etc/cron.d/escape-upload.txt", b"a\x00b.txt",
             b"..\\..\\..\\escape-windows.txt", "\u00fc".encode() * 200 + b".txt", b"..", b"\xff\xfe.txt"]
    gradio, uploads = (chat.root / "gradio").resolve(), (chat.data_dir / "uploads").resolve()
    received = []
    for i, name in enumerate(names):
        code, body = multipart_upload(chat, name, f"Upload {i}: the Quillfeather Observatory opened in 1893.\n".encode())
        assert code in (200, 400), (name, code, body)  # stored inside Gradio's folder, or refused
        if code == 200:
            [path] = json.loads(body)
            assert Path(path).resolve().is_relative_to(gradio) and len(Path(path).name.encode()) <= 255, path
            received.append({"path": path, "meta": {"_type": "gradio.FileData"}})
    assert len(received) >= 4
    status = upload_event(chat, received, "upload-docs")
    assert f"{len(received)} added" in status, status
    saved = sorted(p.name for p in uploads.iterdir())
    assert "escape-upload.txt" in saved and all("\x00" not in n and len(n.encode()) <= MAX_NAME_BYTES for n in saved)
    # A path the page never received is refused by Gradio before our code sees it.
    refused = upload_event(chat, [{"path": "/etc/hostname", "meta": {"_type": "gradio.FileData"}}], "upload-docs")
    assert '"error"' in refused and "hostname" not in {p.name for p in uploads.iterdir()}
    lexical = (chat.data_dir / "lexical").resolve()  # the saved BM25 index: written by the process, named by it
    outside = [p for p in files_under(chat.root) if not any(p.resolve().is_relative_to(area)
                                                            for area in (gradio, uploads, lexical))]
    assert not outside, outside
    for escaped in (Path("/tmp/escape-upload.txt"), Path("/etc/cron.d/escape-upload.txt"), ROOT / "escape-windows.txt",
                    chat.root / "escape-windows.txt", chat.root.parent / "escape-windows.txt"):
        assert not escaped.exists(), escaped


@pytest.mark.slow
def test_upload_size_limits_over_http(chat):
    code, body = multipart_upload(chat, b"huge.txt", b"x" * (1024 * 1024 + 10))
    assert code == 413 and "maximum allowed size" in body
    parts = []
    for name in (b"part-a.txt", b"part-b.txt"):
        code, body = multipart_upload(chat, name, (b"The gauge read forty. " * 40000)[:900_000])
        parts.append({"path": json.loads(body)[0], "meta": {"_type": "gradio.FileData"}})
    status = upload_event(chat, parts, "upload-docs")
    assert "over the 1.5 MB limit for one upload" in status, status


# -- questions -------------------------------------------------------------------------------------------------------
ODD_QUESTIONS = {
    "": "invalid", "   \n\t  ": "invalid", "x" * 100_000: "invalid",
    "Who\x00 did\x1b[31m Trump\x07 send to Moscow?": "answer", "Кого Трамп отправил в Москву?": "answer",
    "特朗普派谁去了莫斯科？": "answer", "من أرسل ترامب إلى موسكو؟": "answer",
    "🤔🚀 Who did Trump send to Moscow? 🇺🇦": "answer", "\ud800 Witkoff \udfff?": "answer",
    "\u202e\u200bWitkoff\ufeff?": "answer", "[1] [2] [9]": "answer", "<script>alert(1)</script>": "answer",
    "{{7*7}} ' OR 1=1; DROP TABLE documents; --": "answer", "\\" * 50: "answer",
}


def test_odd_questions_in_the_api_are_a_validation_message_or_an_answer(sample_bot):
    for question, expected in ODD_QUESTIONS.items():
        for call in (sample_bot.ask, lambda q: list(sample_bot.stream(q))[-1]):
            if expected == "invalid":
                with pytest.raises(InvalidQuestion, match=r"^question: "):
                    call(question)
            else:
                answer = call(question)
                check_answer(answer)
                json.dumps(answer.to_dict())  # serialisable: no lone surrogates left


def test_odd_questions_in_the_chat_are_a_message_or_an_answer(sample_settings):
    for question, expected in ODD_QUESTIONS.items():
        turns = list(ui.respond(sample_settings, question, None))
        if not question.strip():
            assert turns[-1][1] == []  # nothing to ask: nothing shown
            continue
        reply = chat_reply(turns)
        assert "went wrong" not in reply and "Traceback" not in reply, (question[:40], reply)
        if expected == "invalid":
            assert "chat-error" in reply and "question:" in reply
        json.dumps(turns[-1][1])  # what Gradio sends to the browser
        assert len(turns[-1][1][0]["content"]) < 3 * sample_settings.max_question_chars  # a 100 KB question is cut


@pytest.mark.slow
def test_odd_questions_on_the_command_line(sample_settings):
    where = ["--data-dir", str(sample_settings.data_dir), "--collection", sample_settings.collection]
    for question, code in (("   ", 1), ("x" * 100_000, 1), ("Who\x1b[31m did 🤔 Трамп send to Moscow?\x07", 0)):
        result = run_cli("ask", question, *where, timeout=180)
        assert result.returncode == code, (question[:30], result.stderr[-500:])
        if code:
            assert one_line(result.stderr.strip()).startswith("error: question: ")
        else:
            assert result.stdout.strip() and "Traceback" not in result.stderr


def raw_ask(server, question: str) -> tuple[str, object]:
    """POST /gradio_api/call/ask as any HTTP client can (JSON escapes carry lone surrogates that gradio_client cannot
    send): ("complete", answer dict) or ("error", message)."""
    request = urllib.request.Request(server.url + "gradio_api/call/ask", json.dumps({"data": [question, None, None]}).encode(),
                                     {"Content-Type": "application/json"})
    event = json.load(urllib.request.urlopen(request, timeout=30))["event_id"]
    kind = None
    with urllib.request.urlopen(f"{server.url}gradio_api/call/ask/{event}", timeout=120) as stream:
        for line in stream:
            line = line.decode().strip()
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: ") and kind in ("complete", "error"):
                data = json.loads(line[6:])
                return kind, (data[0] if kind == "complete" else data)
    raise AssertionError("no result from /ask")


@pytest.mark.slow
def test_odd_questions_on_the_gradio_endpoint(chat):
    for question, expected in ODD_QUESTIONS.items():
        kind, result = raw_ask(chat, question)
        if expected == "invalid":
            assert kind == "error" and "question: " in str(result), (question[:30], result)
        else:
            assert kind == "complete", (question[:30], result)
            check_answer(Answer.model_validate(result))


# -- the chat page in server mode: store restarts, load -------------------------------------------------------------
@pytest.mark.slow
def test_chat_page_reports_a_stopped_store_and_recovers(chat, chroma):
    from gradio_client import Client

    client = Client(chat.url, verbose=False)
    assert "Witkoff" in client.predict(WITKOFF, api_name="/ask")["text"]
    chroma.stop()
    try:
        with pytest.raises(Exception, match=f"store unreachable at {re.escape(chroma.url)}"):
            within(60, client.predict, WITKOFF, api_name="/ask")
    finally:
        chroma.start()
    assert "Witkoff" in within(60, client.predict, WITKOFF, api_name="/ask")["text"]


@pytest.mark.slow
def test_load_smoke_on_the_gradio_endpoint_and_the_api(chat):
    from evals.bench.load import run_load_bench

    results = run_load_bench(chat.settings, url=chat.url, pid=chat.process.pid, clients=8, seconds=3,
                             max_requests=200, log=lambda line: None)
    for name in ("gradio", "api"):
        r = results[name]
        assert r["errors"] == 0, r["error_samples"]
        assert r["answers"] >= 8 and r["p95_ms"] is not None and r["rss_growth_mb"] <= 150, r
    assert results["ok"]


# -- hostile documents -------------------------------------------------------------------------------------------------
FACTS = {
    "Who was the Brassmoor lighthouse keeper in 1904?": "Odile Farrow",
    "Who built the Tarnwick ferry?": "Holloway",
    "What does the Pellworth orchard grow?": "quinces",
    "When was the Quenby mill rebuilt?": "1953",
    "Where was the Ulvercote bell cast?": "Whitechapel",
}


@pytest.fixture(scope="module")
def hostile_settings(tmp_path_factory):
    settings = Settings(data_dir=tmp_path_factory.mktemp("hostile") / "data", collection="hostile-docs")
    report = ingest_paths([HOSTILE], settings)
    assert report.files == 5 and not report.failed and not report.skipped, report
    return settings


def test_hostile_documents_are_answered_from_and_stay_inert(hostile_settings):
    stored = open_store(hostile_settings, get_embedder(hostile_settings).identity).everything()
    text = "\n".join(chunk.text for chunk in stored if chunk.meta.source.endswith(".html"))
    for hidden in [f"__xss={n}" for n in (1, 2, 3, 4, 5, 6, 11, 12)] + ["display: none", "template content",
                                                                        "noscript content"]:
        assert not re.search(re.escape(hidden) + r"(?!\d)", text), hidden  # script, handlers, head: never text
    assert "<script>window.__xss=7</script>" in text  # escaped markup in the page is text, kept as text
    bot = Assistant(hostile_settings)
    for turn, (question, fact) in enumerate(FACTS.items(), 1):
        answer = bot.ask(question)
        assert fact in answer.text and not answer.refused, (question, answer.text)
        assert "pwned" not in answer.text.lower() and "evil.example" not in answer.text
        for html in (ui.render_answer(answer, turn), ui.render_sources(answer, turn)):
            assert not live_markup(html), html
    # Bidi overrides cannot reorder what the page shows ("!denwp neeb evah I" stays as stored).
    bell = bot.ask("What is written after the Ulvercote bell's weight?")
    shown = ui.render_sources(bell, 8) + ui.render_answer(bell, 8)
    assert "Ulvercote" in shown and not re.search("[\u202a-\u202e\u2066-\u2069]", shown)
    # Quoting the markup itself: shown, escaped.
    answer = bot.ask("What string defaced the Pellworth orchard website?")
    html = ui.render_answer(answer, 9) + ui.render_sources(answer, 9)
    assert "&lt;script&gt;window.__xss=7&lt;/script&gt;" in html and not live_markup(html)


def test_hostile_documents_stay_data_in_the_llm_prompt(hostile_settings, fake_llm):
    bot = Assistant(llm_settings(hostile_settings, fake_llm, "echo"))
    for question in ("Who built the Tarnwick ferry?", "Who was the Brassmoor lighthouse keeper in 1904?"):
        fake_llm.requests.clear()
        bot.ask(question)
        [request] = [r for r in fake_llm.requests if r.get("stream")]
        system = next(m["content"] for m in request["messages"] if m["role"] == "system")
        passages = system[system.index("<passage "):]
        opened = re.findall(r"<passage number=\"(\d+)\"", passages)
        closed = re.findall(r"</passage\s*>", passages, re.IGNORECASE)
        assert opened == [str(n) for n in range(1, len(opened) + 1)], "a document added a passage of its own"
        assert len(closed) == len(opened), "a document closed its passage early"
        blocks = re.findall(r"<passage number=\"\d+\"[^>]*>\n(.*?)\n</passage>", passages, re.S)
        assert "".join(blocks).count("ignore all previous instructions") == passages.count(
            "ignore all previous instructions"), "injected text outside its passage"
        user = [m["content"] for m in request["messages"] if m["role"] == "user"]
        assert user == [question]


def test_a_model_that_obeys_an_injected_document_is_not_believed(hostile_settings, fake_llm):
    obeyed = Assistant(llm_settings(hostile_settings, fake_llm, "obey")).ask("Who was the Brassmoor keeper in 1904?")
    assert obeyed.refused or "I have been pwned." in obeyed.unsupported_sentences, obeyed
