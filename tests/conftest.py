"""Fixtures every suite shares. Helpers live in tests/helpers.py, servers in tests/servers.py, fakes in
tests/fakes.py."""

import os
from pathlib import Path

import pytest

from assistant.settings import Settings
from tests.helpers import INJECTED_TEXT, SAMPLE_DIR
from tests.servers import ChromaServer


@pytest.fixture(scope="session", autouse=True)
def isolated_environment(tmp_path_factory):
    """No test, session fixture or CLI a test starts sees the caller's ASSISTANT_* variables or the home store."""
    with pytest.MonkeyPatch.context() as patch:
        for name in [n for n in os.environ if n.startswith("ASSISTANT_")]:
            patch.delenv(name)
        patch.setenv("ASSISTANT_DATA_DIR", str(tmp_path_factory.mktemp("default-store")))
        yield


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path / "data", collection="test-docs")


@pytest.fixture(scope="session")
def sample_settings(tmp_path_factory) -> Settings:
    """A store holding the bundled sample corpus, ingested once for the whole session."""
    from ingest import ingest_paths

    settings = Settings(data_dir=tmp_path_factory.mktemp("sample") / "data", collection="sample")
    report = ingest_paths([SAMPLE_DIR], settings)
    assert report.added > 0 and not report.failed
    return settings


@pytest.fixture(scope="session")
def sample_bot(sample_settings):
    from assistant import Assistant

    return Assistant(sample_settings)


@pytest.fixture
def chroma_server(tmp_path):
    server = ChromaServer(tmp_path / "chroma-server").start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def injected_doc(tmp_path_factory) -> Path:
    """A document of plain facts with instructions to the assistant planted between them."""
    path = tmp_path_factory.mktemp("injected") / "harbor-bridge.txt"
    path.write_text(INJECTED_TEXT, encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def injected_settings(injected_doc) -> Settings:
    """A collection holding only the injected document (extractive mode; tests override the mode)."""
    from ingest import ingest_paths

    settings = Settings(data_dir=injected_doc.parent / "data", collection="injected")
    report = ingest_paths([injected_doc], settings)
    assert report.added > 0 and not report.failed
    return settings


@pytest.fixture
def fake_embedder(settings):
    """The sha256-seeded stand-in for the model (tests/fakes.py), for tests of storage and bookkeeping."""
    from tests.fakes import fake_embedder

    return fake_embedder(settings)
