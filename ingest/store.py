"""A thin adapter over one Chroma collection: embedded (PersistentClient) or a server (HttpClient)."""

import uuid
from pathlib import Path
from functools import lru_cache
from urllib.parse import urlparse

from assistant.errors import AssistantError, ModelMismatch, StoreUnreachable
from assistant.settings import Settings

_IDENTITY_KEYS = ("embedding_model", "embedding_backend", "embedding_dim")


@lru_cache(maxsize=8)
def make_client(chroma_url: str | None, chroma_path: str):
    """The shared Chroma client for a server URL or a directory; connection failures become StoreUnreachable."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if chroma_url:
        url = urlparse(chroma_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise AssistantError(f"chroma_url: expected http://HOST:PORT, got {chroma_url!r}")
        try:
            return chromadb.HttpClient(host=url.hostname, port=url.port or 8000, ssl=url.scheme == "https",
                                       settings=chroma_settings)
        except Exception as exc:  # chromadb raises several types for a refused connection
            raise StoreUnreachable(f"store unreachable at {chroma_url}: {_reason(exc)}") from exc
    try:
        Path(chroma_path).mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=chroma_path, settings=chroma_settings)
    except Exception as exc:
        raise StoreUnreachable(f"store unreachable at {chroma_path}: {_reason(exc)}") from exc


def _reason(exc: Exception) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__


class Store:
    """One collection, bound to one embedding model: refuses to mix models, records a version on every write."""

    def __init__(self, client, name: str, identity: dict, where: str):
        self.client = client
        self.name = name
        self.identity = identity
        self.where = where  # the URL or directory, for messages
        self._collection = None

    @property
    def collection(self):
        if self._collection is None:
            self._collection = self._call(self._open)
        return self._collection

    def _open(self):
        collection = self.client.get_or_create_collection(
            self.name, metadata={**self.identity, "version": "empty"},
            configuration={"hnsw": {"space": "cosine"}}, embedding_function=None,
        )
        found = {key: (collection.metadata or {}).get(key) for key in _IDENTITY_KEYS}
        if found != self.identity:
            raise ModelMismatch(
                f"collection '{self.name}' was embedded with {found['embedding_model']} "
                f"({found['embedding_backend']}, {found['embedding_dim']}-d); this run uses "
                f"{self.identity['embedding_model']} ({self.identity['embedding_backend']}, "
                f"{self.identity['embedding_dim']}-d). Use another --collection or the same model."
            )
        return collection

    def _call(self, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except AssistantError:
            raise
        except Exception as exc:
            if _is_connection_error(exc):
                self._collection = None  # reopen on the next call, so a restarted server just works
                raise StoreUnreachable(f"store unreachable at {self.where}: {_reason(exc)}") from exc
            raise

    def version(self) -> str:
        """Changes on every write; readers use it to know their lexical index is stale."""
        metadata = self._call(lambda: self.client.get_collection(self.name).metadata) or {}
        return str(metadata.get("version"))

    def bump_version(self) -> None:
        metadata = {**(self.collection.metadata or {}), "version": uuid.uuid4().hex}
        self._call(self.collection.modify, metadata=metadata)

    def count(self) -> int:
        return self._call(self.collection.count)

    def chunks_of(self, source: str) -> dict[str, dict]:
        """id -> metadata of every stored chunk of one source file."""
        got = self._call(self.collection.get, where={"source": source}, include=["metadatas"])
        return dict(zip(got["ids"], got["metadatas"]))

    def sources(self) -> set[str]:
        got = self._call(self.collection.get, include=["metadatas"])
        return {meta["source"] for meta in got["metadatas"]}

    def everything(self) -> dict:
        """ids, documents and metadatas of the whole collection (for the lexical index)."""
        return self._call(self.collection.get, include=["documents", "metadatas"])

    def upsert(self, ids, embeddings, documents, metadatas) -> None:
        self._call(self.collection.upsert, ids=ids, embeddings=embeddings, documents=documents, metadatas=metadatas)

    def update_metadata(self, ids, metadatas) -> None:
        self._call(self.collection.update, ids=ids, metadatas=metadatas)

    def delete(self, ids=None, where=None) -> None:
        self._call(self.collection.delete, ids=ids, where=where)

    def query(self, vector, k: int, where: dict | None = None) -> dict:
        return self._call(self.collection.query, query_embeddings=[vector], n_results=k, where=where,
                          include=["documents", "metadatas", "distances"])


def _is_connection_error(exc: Exception) -> bool:
    text = f"{type(exc).__name__} {exc}".lower()
    return any(word in text for word in ("connect", "unreachable", "timed out", "timeout", "refused"))


def open_store(settings: Settings, identity: dict) -> Store:
    """The collection named in settings, on a client shared by every caller with the same store location."""
    where = settings.chroma_url or str(settings.chroma_path)
    return Store(make_client(settings.chroma_url, str(settings.chroma_path)), settings.collection, identity, where)
