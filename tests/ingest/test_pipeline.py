"""ingest.pipeline on real components: embedded Chroma in a temp dir, real files, the model's real tokenizer. Tests of
bookkeeping (what is added, kept, replaced, pruned; where chunks point) use the sha256 fake embedder
(tests/fakes.py); tests of the model's identity, the CLI and processes use the real model."""

import json
import os
import signal
import subprocess
import time

import pytest

from assistant.errors import ModelMismatch
from assistant.settings import Settings
from ingest import ingest_paths
from ingest.chunking import sentence_spans
from ingest.embedding import get_embedder
from ingest.loaders import load_document
from ingest.store import open_store
from tests.fakes import fake_embedder, ingest_fake
from tests.helpers import BIN, SAMPLE, SAMPLE_DIR, run_cli


def stored(settings: Settings, identity: dict | None = None) -> dict:
    """What the store holds (written by the real model unless another identity is given)."""
    store = open_store(settings, identity or get_embedder(settings).identity)
    return store.collection.get(include=["documents", "metadatas"])


def stored_fake(settings: Settings) -> dict:
    return stored(settings, fake_embedder(settings).identity)


def test_sample_ingest_then_reingest_embeds_nothing(settings):
    first = ingest_fake([SAMPLE_DIR], settings)
    assert first.files == 1 and first.added >= 5 and first.failed == []
    second = ingest_fake([SAMPLE_DIR], settings)
    assert (second.added, second.unchanged, second.deleted) == (0, first.added, 0)
    assert "0 chunks added" in second.summary()
    assert len(stored_fake(settings)["ids"]) == first.added


def test_chunks_point_at_exact_spans_and_fit_the_model(settings):
    ingest_fake([SAMPLE], settings)
    text = load_document(SAMPLE).text
    got = stored_fake(settings)
    embedder = get_embedder(settings)
    sentence_ends = {end for _, end in sentence_spans(text)}
    for chunk, meta in zip(got["documents"], got["metadatas"]):
        assert text[meta["start"]:meta["end"]] == chunk
        assert meta["line_start"] == text.count("\n", 0, meta["start"]) + 1
        assert meta["line_end"] == text.count("\n", 0, meta["end"]) + 1
        assert meta["source"] == str(SAMPLE) and meta["title"] and len(meta["doc_hash"]) == 32
        assert meta["end"] in sentence_ends, "a chunk must end where a sentence ends"
        # The model would silently truncate anything longer: every chunk must fit.
        assert embedder.count_tokens([chunk])[0] <= settings.chunk_tokens
    indexes = sorted(m["index"] for m in got["metadatas"])
    assert indexes == list(range(len(indexes)))


def test_overlong_sentence_is_cut_within_the_token_limit(tmp_path, settings):
    doc = tmp_path / "long.txt"
    doc.write_text("Intro sentence here. " + " ".join(f"word{i}" for i in range(600)) + ". Last one.")
    small = settings.with_overrides(chunk_tokens=64, chunk_overlap_tokens=8)
    report = ingest_fake([doc], small)
    got = stored_fake(small)
    assert report.added == len(got["ids"]) > 5
    assert max(get_embedder(small).count_tokens(got["documents"])) <= 64


def test_changed_file_replaces_its_chunks(tmp_path, settings):
    doc, same = tmp_path / "doc.txt", tmp_path / "same.txt"
    doc.write_text(SAMPLE.read_text())
    same.write_text("An unchanged note about the bridges of the Dnipro.\n")
    first = ingest_fake([doc, same], settings)
    doc.write_text("A brand new opening line about Kyiv's mayor.\n"
                   + SAMPLE.read_text().replace("Steve Witkoff", "Steven Witkoff"))
    second = ingest_fake([doc, same], settings)
    got = stored_fake(settings)
    assert second.added >= 1 and second.deleted >= 1
    assert len(got["ids"]) == len(set(got["ids"])) == first.added + second.added - second.deleted
    # The changed file's chunks are new or kept (metadata rewritten: updated); the other file's are unchanged.
    assert second.unchanged == 1 and second.updated >= 1
    assert second.added + second.updated == sum(m["source"] == str(doc) for m in got["metadatas"])
    assert f"{second.added} chunks added, 1 unchanged, {second.updated} updated" in second.summary()
    text = load_document(doc).text
    assert all(text[m["start"]:m["end"]] == d
               for d, m in zip(got["documents"], got["metadatas"]) if m["source"] == str(doc))
    assert not any("Steve Witkoff" in d for d in got["documents"])


def test_prune_removes_chunks_of_deleted_files(tmp_path, settings):
    keep, gone = tmp_path / "keep.txt", tmp_path / "gone.txt"
    keep.write_text("Keep this sentence about Crimea.")
    gone.write_text("This file will be deleted before the next run.")
    ingest_fake([tmp_path], settings)
    gone.unlink()
    without_prune = ingest_fake([tmp_path], settings)
    assert without_prune.deleted == 0 and len(stored_fake(settings)["ids"]) == 2
    report = ingest_fake([tmp_path], settings, prune=True)
    assert report.deleted == 1
    assert {m["source"] for m in stored_fake(settings)["metadatas"]} == {str(keep)}


def test_collection_refuses_another_embedding_backend(settings):
    ingest_paths([SAMPLE], settings)
    with pytest.raises(ModelMismatch, match="int8.*fp32"):
        ingest_paths([SAMPLE], settings.with_overrides(embedding_backend="fp32"))
    result = run_cli("ingest", str(SAMPLE), "--data-dir", str(settings.data_dir), "--collection", settings.collection,
                     env={"ASSISTANT_EMBEDDING_BACKEND": "fp32"})
    assert result.returncode == 2 and "was embedded with all-MiniLM-L6-v2 (int8" in result.stderr


def test_bad_files_are_named_and_the_rest_ingested(tmp_path, settings):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "good.md").write_text("# Good\n\nWitkoff met Putin in Moscow.")
    (folder / "empty.txt").write_text("")
    (folder / "binary.txt").write_bytes(bytes(range(256)) * 10)
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    (folder / "notes.xyz").write_text("unknown kind of file")
    from typer.testing import CliRunner

    from assistant.cli import app

    # In process: the command's report is the subject here, not its start-up (tests/assistant/test_cli.py has that).
    result = CliRunner().invoke(app, ["ingest", str(folder), "--data-dir", str(settings.data_dir),
                                      "--collection", settings.collection])
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    for name in ("empty.txt", "binary.txt", "broken.pdf", "notes.xyz"):
        assert sum(name in line for line in lines) == 1, (name, result.stderr)
    assert "Traceback" not in result.stderr
    assert "1 chunks added" in result.stdout and "3 failed files" in result.stdout
    assert [m["source"] for m in stored(settings)["metadatas"]] == [str(folder / "good.md")]


def test_pdf_chunks_keep_page_numbers(tmp_path, settings):
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    for text in ("The first page talks about the weather.", "The second page says Witkoff met Putin."):
        pdf.add_page()
        pdf.multi_cell(0, 10, text)
    path = tmp_path / "report.pdf"
    pdf.output(str(path))
    ingest_fake([path], settings.with_overrides(chunk_tokens=16, chunk_overlap_tokens=0))
    pages = {d: m.get("page") for d, m in zip(*[stored_fake(settings.with_overrides(chunk_tokens=16))[k]
                                                for k in ("documents", "metadatas")])}
    assert pages[next(d for d in pages if "Witkoff" in d)] == 2
    assert pages[next(d for d in pages if "weather" in d)] == 1


@pytest.mark.slow
def test_server_mode_against_a_real_chroma_server(chroma_server, settings):
    remote = settings.with_overrides(chroma_url=chroma_server.url)
    first = ingest_paths([SAMPLE], remote)
    assert first.added > 0
    assert ingest_paths([SAMPLE], remote).added == 0
    assert not remote.chroma_path.exists(), "server mode must not create an embedded store"
    result = run_cli("ingest", str(SAMPLE), "--chroma-url", chroma_server.url, "--collection", settings.collection)
    assert result.returncode == 0 and "0 chunks added" in result.stdout


def ids_in_another_process(settings: Settings) -> list[str]:
    """The stored ids, read by a fresh process (this one must not hold a client on a store another writes)."""
    code = ("import json, sys, chromadb; c = chromadb.PersistentClient(sys.argv[1]);"
            "print(json.dumps(c.get_collection(sys.argv[2]).get(include=[])['ids']))")
    out = subprocess.run([str(BIN / "python"), "-c", code, str(settings.chroma_path), settings.collection],
                         capture_output=True, text=True, timeout=120)
    return json.loads(out.stdout) if out.returncode == 0 else []


@pytest.mark.slow
def test_killed_ingest_is_completed_by_the_next_run(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    sentences = SAMPLE.read_text().splitlines()
    for i in range(400):
        (corpus / f"doc{i:03}.txt").write_text("\n".join(f"Document {i}: {s}" for s in sentences[i % 7::3]))
    reference = Settings(data_dir=tmp_path / "reference", collection="kill")
    expected = ingest_paths([corpus], reference)
    want = set(stored(reference)["ids"])

    victim = Settings(data_dir=tmp_path / "victim", collection="kill")
    env = {**os.environ, "ASSISTANT_DATA_DIR": str(victim.data_dir), "ASSISTANT_COLLECTION": "kill"}
    process = subprocess.Popen([str(BIN / "assistant"), "ingest", str(corpus)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline, partial = time.monotonic() + 600, [0]
    while process.poll() is None and time.monotonic() < deadline and partial[-1] == 0:
        time.sleep(1)
        partial.append(len(ids_in_another_process(victim)) if victim.chroma_path.exists() else 0)
    process.send_signal(signal.SIGKILL)  # right after its first write: mid-ingest
    process.wait()
    partial.append(len(ids_in_another_process(victim)))
    assert any(0 < n < expected.added for n in partial), f"no kill landed mid-ingest: {partial}"
    result = run_cli("ingest", str(corpus), env=env)
    assert result.returncode == 0, result.stderr
    got = ids_in_another_process(victim)
    assert len(got) == len(set(got)) == expected.added
    assert set(got) == want
    assert f"{expected.added - partial[-1]} chunks added, {partial[-1]} unchanged" in result.stdout
