"""The document library on real components: listing, removal, scoped questions and the conversation export,
from Python, the command line, the page's functions and a second process on a Chroma server."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant import Assistant, Settings, ui
from assistant.cli import app
from assistant.errors import UnknownDocument
from assistant.types import Answer, Conversation
from ingest import ingest_paths
from ingest.chunking import document_hash
from ingest.loaders import load_document
from ingest.records import ChunkMeta
from ingest.uploads import add_uploads
from tests.helpers import SAMPLE, make_pdf, run_cli

# Three documents that answer the same question differently: which one is cited shows what retrieval could see.
KEEPERS = {
    "lighthouse-log.txt": "Brannoch harbour records.\nThe keeper of the Brannoch light in 1902 was Ewan Tolley.\n"
                          "He lit the lamp with paraffin every evening.\n",
    "canal-notes.md": "# Canal notes\n\nThe keeper of the Dunmore lock in 1902 was Isobel Reany.\n"
                      "The canal froze over in the winter of 1903.\n",
    "mill-ledger.txt": "Quenby mill ledger.\nThe keeper of the Quenby mill in 1902 was Hamish Oakes.\n"
                       "The mill ground barley for the whole valley.\n",
}
NAMES = {"lighthouse-log.txt": "Ewan Tolley", "canal-notes.md": "Isobel Reany", "mill-ledger.txt": "Hamish Oakes"}
QUESTION = "Who was the keeper in 1902?"
EVIL = '<img src=x onerror="window.__xss=5">'


def write_keepers(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, text in KEEPERS.items():
        paths[name] = folder / name
        paths[name].write_text(text, encoding="utf-8")
    return paths


def named(answer: Answer) -> set[str]:
    """The keepers an answer names."""
    return {name for name in NAMES.values() if name in answer.text}


def cited(answer: Answer) -> set[str]:
    return {Path(c.source).name for c in answer.citations} | {Path(p.source).name for p in answer.passages}


@pytest.fixture
def keepers(tmp_path) -> tuple[Assistant, dict[str, Path]]:
    paths = write_keepers(tmp_path / "docs")
    settings = Settings(data_dir=tmp_path / "data", collection="keepers")
    report = ingest_paths(paths.values(), settings)
    assert report.files == 3 and not report.failed
    return Assistant(settings), paths


# -- listing ------------------------------------------------------------------------------------------------------
def test_documents_list_what_was_ingested(tmp_path, settings):
    pdf = make_pdf(tmp_path / "manual.pdf", ["alpha first page words", "bravo second page", "charlie third page"])
    notes = tmp_path / "notes.md"
    notes.write_text("# Field notes\n\nThe Quillfeather Observatory was founded in 1893.\n", encoding="utf-8")
    before = datetime.now(timezone.utc).replace(microsecond=0)
    assert not ingest_paths([SAMPLE, pdf, notes], settings).failed
    bot = Assistant(settings)
    documents = bot.documents()
    assert [d.source for d in documents] == sorted(str(p.resolve()) for p in (SAMPLE, pdf, notes))
    store = bot.store
    for d in documents:
        loaded = load_document(Path(d.source))
        assert d.chunks == len(store.chunks_of(d.source)) > 0
        assert d.characters == len(loaded.text) and d.content_hash == document_hash(loaded)
        assert d.title == loaded.title and d.embedding_model == settings.embedding_model
        assert before <= d.ingested_at <= datetime.now(timezone.utc) + timedelta(seconds=1)
    by_name = {d.name: d for d in documents}
    assert (by_name["manual.pdf"].format, by_name["manual.pdf"].pages) == ("pdf", 3)
    assert (by_name["notes.md"].format, by_name["notes.md"].pages) == ("md", None)
    assert by_name["peace-talks.txt"].chunks > 1  # one record per document, however many chunks it has
    assert sum(d.chunks for d in documents) == store.count()


def test_documents_ingested_before_the_listing_still_list(settings, tmp_path):
    legacy = tmp_path / "legacy.txt"
    legacy.write_text("An old note about the Brannoch light.\n", encoding="utf-8")
    ingest_paths([legacy], settings)
    store = Assistant(settings).store
    got = store.collection.get(where={"source": str(legacy)}, include=["embeddings", "documents", "metadatas"])
    store.collection.delete(ids=got["ids"])  # written again as the previous version wrote chunks
    store.collection.add(ids=got["ids"], embeddings=got["embeddings"], documents=got["documents"], metadatas=[
        {k: v for k, v in m.items() if k not in ("format", "characters", "ingested_at", "pages")}
        for m in got["metadatas"]])
    (record,) = Assistant(settings).documents()
    assert record.source == str(legacy) and record.chunks == 1 and record.content_hash
    assert (record.format, record.characters, record.ingested_at) == (None, None, None)


@pytest.mark.slow
def test_listing_reads_one_record_per_document_across_store_pages(settings):
    """More documents than one paged store read returns (5000), each with several chunks."""
    bot = Assistant(settings)
    store = bot.store
    n, per = 5003, 2
    vector = [0.0] * (store.identity["embedding_dim"] - 1) + [1.0]
    ids, metadatas = [], []
    for d in range(n):
        for i in range(per):
            ids.append(f"doc{d}-{i}")
            metadatas.append(ChunkMeta(source=f"/docs/{d:05}.txt", title=f"{d}", start=i, end=i + 1, line_start=1,
                                       line_end=1, index=i, doc_hash=f"h{d}", n_chunks=per))
    store.upsert(ids, [vector] * len(ids), ["x"] * len(ids), metadatas)
    documents = bot.documents()
    assert len(documents) == n and {d.chunks for d in documents} == {per}
    assert documents[0].source == "/docs/00000.txt" and documents[-1].source == f"/docs/{n - 1:05}.txt"


# -- removal ------------------------------------------------------------------------------------------------------
def test_removed_document_is_never_cited_and_bm25_forgets_it(keepers):
    bot, paths = keepers
    lighthouse = str(paths["lighthouse-log.txt"].resolve())
    assert "lighthouse-log.txt" in cited(bot.ask(QUESTION)) and "Ewan Tolley" in bot.ask("Who was Ewan Tolley?").text
    lexical = bot.retriever.lexical
    chunk_ids = set(bot.store.chunks_of(lighthouse))
    assert chunk_ids and chunk_ids <= set(lexical.ids) and lexical.search("Brannoch paraffin Tolley", 10)
    assert bot.remove(paths["lighthouse-log.txt"]) == 1
    assert [d.name for d in bot.documents()] == ["canal-notes.md", "mill-ledger.txt"]
    for question in (QUESTION, "Who was Ewan Tolley?", "Who lit the Brannoch lamp with paraffin?"):
        answer = bot.ask(question)
        assert "lighthouse-log.txt" not in cited(answer) and "Tolley" not in answer.text, question
    assert not chunk_ids & set(lexical.ids)  # rebuilt once the version changed
    assert lexical.search("Brannoch paraffin Tolley", 10) == []
    assert paths["lighthouse-log.txt"].exists()  # the file itself stays on disk


def test_removing_an_unknown_document_is_one_line(keepers, tmp_path):
    bot, paths = keepers
    with pytest.raises(UnknownDocument) as info:
        bot.remove(tmp_path / "missing.txt")
    message = str(info.value)
    assert message.startswith(f"{tmp_path / 'missing.txt'}: not a document in collection 'keepers'")
    assert "\n" not in message and len(bot.documents()) == 3


# -- scoped questions ---------------------------------------------------------------------------------------------
def test_scoped_questions_cite_only_the_chosen_documents(keepers):
    bot, paths = keepers
    everything = bot.ask(QUESTION, history=None)
    assert len(cited(everything)) >= 2  # unscoped, the question draws on several documents
    for chosen in (["canal-notes.md"], ["canal-notes.md", "mill-ledger.txt"], ["mill-ledger.txt"]):
        answer = bot.ask(QUESTION, sources=[str(paths[name].resolve()) for name in chosen])
        assert answer.citations and cited(answer) <= set(chosen), (chosen, cited(answer))
        assert named(answer) <= {NAMES[name] for name in chosen} and named(answer), answer.text
    one = bot.ask(QUESTION, sources=str(paths["mill-ledger.txt"].resolve()))  # one path as it is, not a list
    assert cited(one) == {"mill-ledger.txt"} and named(one) == {"Hamish Oakes"}


# -- export -------------------------------------------------------------------------------------------------------
def test_conversation_export_holds_every_citation_with_its_quote(keepers):
    bot, paths = keepers
    conversation = Conversation()
    conversation.add(bot.ask(QUESTION, sources=[str(paths["canal-notes.md"].resolve())]))
    conversation.add(bot.ask("When did the canal freeze?", history=conversation.history()))
    conversation.add(bot.ask("What is the population of Kyiv?"))
    flagged = conversation.turns[0].citations[0].model_copy(update={"supported": False, "number": 2})
    conversation.turns[0] = conversation.turns[0].model_copy(
        update={"citations": [*conversation.turns[0].citations, flagged]})
    markdown, data = conversation.to_markdown(), json.loads(conversation.to_json())
    assert len(data["turns"]) == 3 and conversation.history()[1][0] == "When did the canal freeze?"
    citations = [c for a in conversation.turns for c in a.citations]
    assert len(citations) >= 3 and all(c.quote for c in citations)
    for answer, turn in zip(conversation.turns, data["turns"]):
        assert f"### {answer.question}" in markdown and answer.text in markdown and turn["text"] == answer.text
        assert [c["quote"] for c in turn["citations"]] == [c.quote for c in answer.citations]
        for c in answer.citations:
            line = f"{c.number}. `{c.source}`, line {c.line_start}"
            assert line in markdown and f"   > {c.quote}" in markdown
            assert turn["citations"][c.number - 1]["supported"] is c.supported
    assert "(verified)" in markdown and "(flagged: the passage may not support the sentence)" in markdown
    assert "I could not find this in the documents." in markdown  # the refusal is kept too
    assert conversation.turns[0].to_markdown() in markdown


# -- the command line ---------------------------------------------------------------------------------------------
def test_cli_lists_removes_and_scopes(keepers, monkeypatch):
    bot, paths = keepers
    flags = ["--data-dir", str(bot.settings.data_dir), "--collection", "keepers"]
    runner = CliRunner()
    table = runner.invoke(app, ["docs", *flags])
    assert table.exit_code == 0, table.output
    lines = table.output.splitlines()
    assert lines[0].split()[:4] == ["SOURCE", "FORMAT", "PAGES", "CHUNKS"] and len(lines) == 4
    assert any(str(paths["canal-notes.md"].resolve()) in line and " md " in line for line in lines)
    listed = json.loads(runner.invoke(app, ["docs", "--json", *flags]).output)
    assert [d["source"] for d in listed] == [d.source for d in bot.documents()] and listed[0]["chunks"] == 1

    monkeypatch.chdir(paths["canal-notes.md"].parent)  # a path relative to the working directory names it too
    # `ask` ends its process at once (os._exit, skipping the interpreter's teardown): run it as its own process.
    scoped = run_cli("ask", QUESTION, "--source", "canal-notes.md", "--source", "mill-ledger.txt", "--markdown", *flags)
    assert scoped.returncode == 0, scoped.stderr
    assert scoped.stdout.startswith(f"### {QUESTION}\n") and "Tolley" not in scoped.stdout
    assert "> The keeper of" in scoped.stdout and "lighthouse-log.txt" not in scoped.stdout
    bad_scope = run_cli("ask", QUESTION, "--source", "nowhere.txt", *flags)
    assert bad_scope.returncode == 1
    assert bad_scope.stderr.strip() == "error: nowhere.txt: not a document in collection 'keepers' " \
                                       "(`assistant docs` lists them)"

    removed = runner.invoke(app, ["docs", "remove", "lighthouse-log.txt", "nowhere.txt", *flags])
    assert removed.exit_code == 1
    assert "removed lighthouse-log.txt (1 chunk)" in removed.output
    assert sum("nowhere.txt" in line for line in removed.output.splitlines()) == 1
    assert [d.name for d in bot.documents()] == ["canal-notes.md", "mill-ledger.txt"]
    empty = runner.invoke(app, ["docs", "--data-dir", str(bot.settings.data_dir), "--collection", "nothing-here"])
    assert empty.exit_code == 0 and "has no documents" in empty.output


def test_cli_removal_deletes_the_uploaded_copy_as_the_page_does(settings, tmp_path):
    paths = write_keepers(tmp_path / "docs")
    assert len(add_uploads(settings, [paths["canal-notes.md"]]).added) == 1
    ingest_paths([paths["mill-ledger.txt"]], settings)  # ingested from where it is: no copy of it is made
    copy = settings.upload_dir.resolve() / "canal-notes.md"
    flags = ["--data-dir", str(settings.data_dir), "--collection", settings.collection]
    removed = CliRunner().invoke(app, ["docs", "remove", str(copy), str(paths["mill-ledger.txt"]), *flags])
    assert removed.exit_code == 0, removed.output
    assert not copy.exists() and not list(settings.upload_dir.iterdir())
    assert paths["canal-notes.md"].exists() and paths["mill-ledger.txt"].exists()  # people's own files stay


# -- the page's functions -----------------------------------------------------------------------------------------
def test_page_lists_scopes_removes_and_exports(settings, tmp_path):
    paths = write_keepers(tmp_path / "docs")
    hostile = tmp_path / "docs" / "hostile.md"
    hostile.write_text(f"# Notes {EVIL}\n\nThe keeper of the Ose ferry in 1902 was Morag Finlay.\n")
    status, _ = ui.ingest_uploads(settings, [str(p) for p in [*paths.values(), hostile]], None)
    assert "4 added" in status
    table, listing = ui.list_documents(settings, sort="name")
    assert [d.name for d in listing.documents] == ["canal-notes.md", "hostile.md", "lighthouse-log.txt",
                                                   "mill-ledger.txt"]
    assert "<img" not in table and "&lt;img src=x" in table and "4 documents" in table
    uploaded = {d.name: d.source for d in listing.documents}
    assert all(Path(s).parent == settings.upload_dir.resolve() for s in uploaded.values())

    scope = [uploaded["canal-notes.md"]]
    *_, (_, messages, _, session) = ui.respond(settings, QUESTION, None, sources=scope)
    assert "Isobel Reany" in messages[-1]["content"]
    assert {Path(c.source).name for c in session["answers"][0].citations} == {"canal-notes.md"}
    assert 'class="in-scope"' in ui.list_documents(settings, scope=scope)[0]

    status = ui.remove_documents(settings, [uploaded["lighthouse-log.txt"], "/nowhere/x.txt"])
    assert "Removed lighthouse-log.txt (1 chunk)" in status and "Could not remove x.txt (no longer" in status
    assert "/nowhere" not in status and str(settings.upload_dir) not in table  # names, not server folders
    assert not Path(uploaded["lighthouse-log.txt"]).exists()  # the page's own copy of the upload goes too
    assert [d.name for d in ui.list_documents(settings)[1].documents] == ["canal-notes.md", "hostile.md",
                                                                         "mill-ledger.txt"]
    markdown, as_json = ui.export_conversation(session)
    text = Path(markdown).read_text(encoding="utf-8")
    quote = session["answers"][0].citations[0].quote
    assert QUESTION in text and f"> {quote}" in text and "canal-notes.md" in text
    assert json.loads(Path(as_json).read_text(encoding="utf-8"))["turns"][0]["citations"][0]["quote"] == quote
    assert ui.export_conversation(ui.new_session()) == (None, None)


# -- server mode --------------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_a_document_removed_by_one_process_disappears_for_another(chroma_server, tmp_path):
    paths = write_keepers(tmp_path / "docs")
    settings = Settings(data_dir=tmp_path / "data", chroma_url=chroma_server.url, collection="shared-keepers")
    assert not ingest_paths(paths.values(), settings).failed
    here = Assistant(settings)
    assert "lighthouse-log.txt" in cited(here.ask("Who lit the Brannoch lamp with paraffin?"))
    flags = ["--chroma-url", chroma_server.url, "--collection", "shared-keepers"]
    listed = run_cli("docs", "--json", *flags)
    assert listed.returncode == 0 and len(json.loads(listed.stdout)) == 3  # the other process lists the store
    removed = run_cli("docs", "remove", str(paths["lighthouse-log.txt"]), *flags)
    assert removed.returncode == 0 and "removed" in removed.stdout, removed.stderr
    assert [d.name for d in here.documents()] == ["canal-notes.md", "mill-ledger.txt"]
    for question in ("Who lit the Brannoch lamp with paraffin?", QUESTION):
        answer = here.ask(question)
        assert "lighthouse-log.txt" not in cited(answer) and "Tolley" not in answer.text
    again = run_cli("docs", *flags)
    assert "lighthouse-log.txt" not in again.stdout and "canal-notes.md" in again.stdout
