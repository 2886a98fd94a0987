"""Servers the reliability suite shares, one of each for the whole package: a misbehaving LLM endpoint, a `chroma run`
store, and `assistant chat` in server mode on it with small upload limits."""

import threading

import pytest

from assistant.settings import Settings
from tests.reliability.fake_openai import FakeOpenAI
from tests.servers import ChatServer, ChromaServer


@pytest.fixture(scope="package")
def fake_llm():
    server = FakeOpenAI()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="package")
def chroma(tmp_path_factory):
    server = ChromaServer(tmp_path_factory.mktemp("chroma") / "server").start()
    yield server
    server.stop()


@pytest.fixture(scope="package")
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
