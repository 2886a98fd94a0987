"""assistant.retrieval: HybridRetriever against LangChain's standard retriever tests, on a real ingested collection
(embedded Chroma), and the BM25 index built once, shared by other processes and rebuilt when damaged."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import RunnableLambda
from langchain_tests.integration_tests import RetrieversIntegrationTests

from assistant.api import Assistant
from assistant.retrieval import HybridRetriever, LexicalIndex, Terms
from ingest import ingest_paths
from ingest.embedding import get_embedder
from ingest.loaders import load_document
from ingest.store import open_store
from tests.helpers import ROOT, SAMPLE, SAMPLE_DIR, sample_with

QUERY = "Who did Trump send to Moscow?"
OTHER_TEXT = (
    "Kyiv Notes\n"
    "The Kyiv city council met on Monday to discuss repairs to the metro.\n"
    "Engineers said the Dnipro bridges need new bearings before winter.\n"
    "The council approved a budget for school shelters and generators.\n"
)


@pytest.fixture(scope="module")
def collection(tmp_path_factory) -> dict:
    """The bundled sample plus a second document, ingested once for this module: the constructor params."""
    settings, other = sample_with(tmp_path_factory.mktemp("retriever"), "kyiv-notes.txt", OTHER_TEXT,
                                  "retriever-standard")
    embedder = get_embedder(settings)
    store = open_store(settings, embedder.identity)
    return {"settings": settings, "other": other,
            "params": {"store": store, "embedder": embedder, "lexical": LexicalIndex(store, Terms())}}


class TestHybridRetrieverStandard(RetrieversIntegrationTests):
    _params: dict = {}

    @pytest.fixture(autouse=True)
    def _ingested(self, collection):
        type(self)._params = collection["params"]

    @property
    def retriever_constructor(self) -> type[BaseRetriever]:
        return HybridRetriever

    @property
    def retriever_constructor_params(self) -> dict:
        assert self._params, "the module fixture ingests the collection first"
        return dict(self._params)

    @property
    def retriever_query_example(self) -> str:
        return QUERY


# -- beyond the standard tests ----------------------------------------------------------------------------------

@pytest.fixture
def hybrid(collection) -> HybridRetriever:
    return HybridRetriever(**collection["params"], k=3)


def test_documents_carry_exact_spans_and_passage_metadata(hybrid):
    docs = hybrid.invoke(QUERY)
    assert len(docs) == 3
    for doc in docs:
        meta = doc.metadata
        assert set(meta) >= {"source", "title", "start", "end", "line_start", "line_end", "score", "chunk_ids"}
        text = load_document(meta["source"]).text
        assert text[meta["start"]:meta["end"]] == doc.page_content
        assert meta["line_start"] == text.count("\n", 0, meta["start"]) + 1
    assert any("Steve Witkoff" in doc.page_content for doc in docs)
    scores = [doc.metadata["score"] for doc in docs]
    assert scores == sorted(scores, reverse=True)


def test_k_kwarg_overrides_the_constructor_k(hybrid):
    assert len(hybrid.invoke(QUERY)) == 3
    assert len(hybrid.invoke(QUERY, k=1)) == 1
    assert len(hybrid.invoke(QUERY, k=4)) == 4
    assert hybrid.k == 3, "a call's k does not change the retriever"


def test_sources_filter_as_invoke_kwarg_and_as_constructor_param(collection, hybrid):
    other = str(collection["other"])
    docs = hybrid.invoke("bridges and repairs", sources=other)
    assert docs and {d.metadata["source"] for d in docs} == {other}
    sample_only = HybridRetriever(**collection["params"], k=3, sources=str(SAMPLE))
    assert {d.metadata["source"] for d in sample_only.invoke("bridges and repairs")} == {str(SAMPLE)}
    unfiltered = {d.metadata["source"] for d in hybrid.invoke("Kyiv council bridges Trump Putin", k=6)}
    assert unfiltered == {other, str(SAMPLE)}


async def test_ainvoke_and_batch_agree_with_invoke(hybrid):
    expected = hybrid.invoke(QUERY)
    assert await hybrid.ainvoke(QUERY) == expected
    assert hybrid.batch([QUERY, QUERY]) == [expected, expected]


def test_retriever_composes_in_lcel(hybrid):
    chain = hybrid | RunnableLambda(lambda docs: [d.metadata["line_start"] for d in docs])
    assert len(chain.invoke(QUERY)) == 3


def test_assistant_builds_the_same_retriever(collection):
    bot = Assistant(collection["settings"], k=2)
    assert isinstance(bot.retriever, HybridRetriever) and isinstance(bot.retriever, BaseRetriever)
    assert bot.retriever.k == 2
    docs = bot.retriever.invoke(QUERY)
    assert len(docs) == 2 and all(isinstance(d, Document) for d in docs)
    direct = HybridRetriever(**collection["params"], k=2).invoke(QUERY)
    assert [d.page_content for d in docs] == [d.page_content for d in direct]


# -- the lexical index: built once, shared by processes, rebuilt when damaged -----------------------------------

LOAD_CHILD = """
import sys
from assistant.api import Assistant
from assistant.settings import Settings
bot = Assistant(Settings(data_dir=sys.argv[1], collection=sys.argv[2]))
lexical = bot.retriever.lexical
lexical.refresh()
print(lexical.builds, len(lexical.ids), [lexical.ids[i] for i in lexical.search(sys.argv[3], 3)])
"""


def child_index(settings, query: str) -> tuple[int, int, list[str]]:
    """(BM25 builds, chunks indexed, top ids for `query`) in a new process on the same store."""
    done = subprocess.run([sys.executable, "-c", LOAD_CHILD, str(settings.data_dir), settings.collection, query],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    builds, chunks, ids = done.stdout.strip().splitlines()[-1].split(" ", 2)
    return int(builds), int(chunks), ast.literal_eval(ids)


def index_folder(settings) -> Path:
    folders = list((settings.data_dir / "lexical").iterdir())
    assert len(folders) == 1
    return folders[0]


def test_the_lexical_index_is_built_once_and_loaded_by_other_processes(settings, tmp_path):
    ingest_paths([SAMPLE_DIR], settings)
    bot = Assistant(settings)
    bot.retriever.lexical.refresh()
    assert bot.retriever.lexical.builds == 1
    builds, chunks, ids = child_index(settings, "Truth Social post")
    assert builds == 0 and chunks == len(bot.retriever.lexical.ids) > 0  # loaded, not rebuilt
    assert ids == [bot.retriever.lexical.ids[i] for i in bot.retriever.lexical.search("Truth Social post", 3)]

    extra = tmp_path / "extra.txt"
    extra.write_text("The Quillfeather Observatory opened in 1893 on Brankmoor Hill.\n")
    ingest_paths([extra], settings)  # a write bumps the version: every saved index is stale
    builds, chunks_after, ids = child_index(settings, "Quillfeather Observatory")
    assert builds == 1 and chunks_after == chunks + 1 and len(ids) == 1
    assert child_index(settings, "Quillfeather Observatory")[0] == 0  # and the rebuilt one is shared in turn
    assert [p.name for p in index_folder(settings).iterdir()] == [settings_version(settings)]  # old one gone

    extra.unlink()
    ingest_paths([SAMPLE_DIR], settings, prune=True)  # removal bumps it too
    builds, chunks_pruned, ids = child_index(settings, "Quillfeather Observatory")
    assert (builds, chunks_pruned, ids) == (1, chunks, [])


def settings_version(settings) -> str:
    return open_store(settings, get_embedder(settings).identity).version()


@pytest.mark.parametrize("damage", ["truncate", "garble", "half"])
def test_a_damaged_lexical_index_is_rebuilt_not_fatal(settings, damage):
    from tests.fakes import fake_embedder, ingest_fake

    ingest_fake([SAMPLE_DIR], settings)  # the lexical index reads the text only
    store = open_store(settings, fake_embedder(settings).identity)
    folder = settings.data_dir / "lexical-test"
    LexicalIndex(store, Terms(), folder).refresh()
    saved = folder / store.version()
    if damage == "truncate":
        matrix = saved / "data.csc.index.npy"
        matrix.write_bytes(matrix.read_bytes()[:40])
    elif damage == "garble":
        (saved / "chunks.json").write_text('{"version": "x", "ids": [')
    else:
        (saved / "indptr.csc.index.npy").unlink()
    again = LexicalIndex(store, Terms(), folder)
    assert again.search("Truth Social", 3) and again.builds == 1
    reloaded = LexicalIndex(store, Terms(), folder)  # the rebuilt index replaced the damaged one on disk
    reloaded.refresh()
    assert reloaded.builds == 0 and reloaded.ids == again.ids
