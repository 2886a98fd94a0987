"""A thin adapter over one Chroma collection: embedded (PersistentClient) or a server (HttpClient)."""

import os
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Collection
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlparse

from assistant.errors import AssistantError, ModelMismatch, StoreNotWritable, StoreUnreachable
from assistant.settings import Settings
from assistant.types import DocumentInfo
from ingest.records import SENTENCE_VECTORS_FORMAT, ChunkMeta, StoredChunk

_IDENTITY_KEYS = ("embedding_model", "embedding_backend", "embedding_dim")
# Rows per read: one unpaged get of ~33 000 rows fails in embedded Chroma ("too many SQL variables").
_PAGE = 5000
# Collection metadata: the commits (space-separated) of documents being written in several writes; their chunks
# stay hidden from every reader until the last write is done and the commit leaves this list in one update.
_PENDING = "pending"


@lru_cache(maxsize=8)
def make_client(chroma_url: str | None, chroma_path: str, timeout: float = 30.0):
    """The shared Chroma client for a server URL or a directory; failures become one-line errors (and are not cached).

    Server requests give up after `timeout` seconds (Chroma's own client waits forever on a hung server)."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if chroma_url:
        url = urlparse(chroma_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise AssistantError(f"chroma_url: expected http://HOST:PORT, got {chroma_url!r}")
        try:
            # A bounded heartbeat first: the client's constructor would wait forever on a server that accepts
            # connections but never answers.
            urllib.request.urlopen(f"{url.scheme}://{url.netloc}/api/v2/heartbeat", timeout=timeout).close()
            client = chromadb.HttpClient(host=url.hostname, port=url.port or 8000, ssl=url.scheme == "https",
                                         settings=chroma_settings)
        except Exception as exc:  # chromadb raises several types for a refused connection
            raise StoreUnreachable(f"store unreachable at {chroma_url}: {_reason(exc)}") from exc
        _bound_requests(client, timeout)
        return client
    try:
        Path(chroma_path).mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=chroma_path, settings=chroma_settings)
    except Exception as exc:
        _forget_system(chroma_path)
        if _is_read_only(exc, chroma_path):
            raise StoreNotWritable(f"store at {chroma_path} is read-only ({_reason(exc)}): Chroma needs write access "
                                   "to its directory even to read it") from exc
        if _is_full(exc):
            raise StoreNotWritable(f"store at {chroma_path} is full ({_reason(exc)}): free disk space") from exc
        raise StoreUnreachable(f"store unreachable at {chroma_path}: {_reason(exc)}") from exc


def _bound_requests(client, timeout: float) -> None:
    """Give the HTTP client's session a timeout (chromadb creates it with none)."""
    import httpx

    session = getattr(getattr(client, "_server", None), "_session", None)
    if isinstance(session, httpx.Client):
        session.timeout = httpx.Timeout(timeout, connect=min(timeout, 10.0))


def _forget_system(chroma_path: str) -> None:
    """Drop the half-started Chroma system a failed PersistentClient leaves cached, so a later try starts afresh
    (otherwise every later client for the path fails with "'RustBindingsAPI' object has no attribute 'bindings'")."""
    try:
        from chromadb.api.shared_system_client import SharedSystemClient

        SharedSystemClient._identifier_to_system.pop(chroma_path, None)
    except Exception:  # a chromadb without that cache: nothing to forget
        pass


def _reason(exc: Exception) -> str:
    reason = getattr(exc, "reason", None)  # urllib's URLError wraps the OSError
    exc = reason if isinstance(reason, Exception) else exc
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__


class Store:
    """One collection, bound to one embedding model: refuses to mix models, records a version on every write."""

    def __init__(self, client, name: str, identity: dict, where: str):
        self.client = client
        self.name = name
        self.identity = identity
        self.where = where  # the URL or directory, for messages
        self._collection = None
        self._max_batch: int | None = None
        self._hidden: set[str] = set()  # pending commits as last read: the next query leaves them out at once

    @property
    def collection(self):
        if self._collection is None:
            self._collection = self._call(self._open)
        return self._collection

    def _open(self):
        collection = self.client.get_or_create_collection(
            self.name, metadata={**self.identity, "sentence_vectors": SENTENCE_VECTORS_FORMAT, "version": "empty"},
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
        waited = 0.0
        while True:
            try:
                return fn(*args, **kwargs)
            except AssistantError:
                raise
            except Exception as exc:
                if _is_connection_error(exc):
                    self._collection = None  # reopen on the next call, so a restarted server just works
                    raise StoreUnreachable(f"store unreachable at {self.where}: {_reason(exc)}") from exc
                if _is_full(exc):
                    raise StoreNotWritable(f"store at {self.where} is full ({_reason(exc)}): free disk space, then "
                                           "ingest again; the documents already stored still answer") from exc
                if _is_read_only(exc, self.where):
                    raise StoreNotWritable(f"store at {self.where} is read-only ({_reason(exc)}): make it writable, "
                                           "then ingest again; the documents already stored still answer") from exc
                if not _is_first_write(exc):
                    raise
                # A Chroma server answers "Nothing found on disk" while a new collection's first write is under
                # way; it lasts as long as that write.
                if waited >= 5.0:
                    raise AssistantError(f"store at {self.where}: collection '{self.name}' is receiving its first "
                                         "documents; try again in a moment") from exc
                time.sleep(0.25)
                waited += 0.25

    @property
    def max_batch(self) -> int:
        """Records per write: Chroma refuses larger batches."""
        if self._max_batch is None:
            self._max_batch = max(1, int(self._call(self.client.get_max_batch_size)))
        return self._max_batch

    def _get_all(self, include: list[str], where: dict | None = None) -> list[StoredChunk]:
        """Every matching record (`include` names "metadatas"), read in pages (one unpaged read of a large collection
        fails)."""
        got: list[StoredChunk] = []
        offset = 0
        while True:
            page = self._call(self.collection.get, where=where, include=include, limit=_PAGE, offset=offset)
            got += _records(page)
            if len(page["ids"]) < _PAGE:
                return got
            offset += _PAGE

    def _metadata(self) -> dict:
        """The collection's metadata as stored now (another process may have changed it)."""
        return dict(self._call(lambda: self.client.get_collection(self.name).metadata) or {})

    def version(self) -> str:
        """Changes on every write; readers use it to know their lexical index is stale."""
        return str(self._metadata().get("version"))

    def pending(self) -> set[str]:
        """The commits of documents whose writes are not all done."""
        return set(str(self._metadata().get(_PENDING, "")).split())

    def bump_version(self, begin: str | None = None, end: Collection[str] = ()) -> None:
        """A new version, with commit `begin` added to the pending ones and those in `end` taken out, in one update
        (readers see a document's chunks all at once when its commit leaves the list)."""
        metadata = self._metadata()
        pending = (set(str(metadata.get(_PENDING, "")).split()) | ({begin} if begin else set())) - set(end)
        # Every write of this version stores sentence vectors with its new chunks: an older collection says so from
        # its first write on (its earlier chunks have none, and answering embeds theirs when asked).
        metadata.update({"sentence_vectors": SENTENCE_VECTORS_FORMAT, "version": uuid.uuid4().hex,
                         _PENDING: " ".join(sorted(pending))})
        self._call(self.collection.modify, metadata=metadata)

    def begin_commit(self) -> str:
        """A new pending commit: chunks written under it are hidden until `bump_version(end=[commit])`."""
        commit = uuid.uuid4().hex
        self.bump_version(begin=commit)
        return commit

    def _visible(self, chunks: list[StoredChunk]) -> list[StoredChunk]:
        """Chunks without the ones of pending commits. Read after the chunks: a commit is listed before its first
        write and leaves the list after its last, so a chunk of one not listed now belongs to a complete document."""
        if not any(c.meta.commit for c in chunks):
            return chunks
        self._hidden = self.pending()
        return [c for c in chunks if c.meta.commit not in self._hidden]

    def collections(self) -> list[str]:
        """The names of the collections in this store embedded as this one is (so answerable here), sorted."""
        listed = self._call(self.client.list_collections)
        return sorted(c.name for c in listed
                      if {key: (c.metadata or {}).get(key) for key in _IDENTITY_KEYS} == self.identity)

    def count(self) -> int:
        return self._call(self.collection.count)

    def chunks_of(self, source: str) -> dict[str, ChunkMeta]:
        """id -> metadata of every stored chunk of one source file."""
        return {chunk.id: chunk.meta for chunk in self._get_all(["metadatas"], where={"source": source})}

    def sources(self) -> set[str]:
        return {chunk.meta.source for chunk in self._get_all(["metadatas"])}

    def has(self, source: str) -> bool:
        return bool(self._call(self.collection.get, where={"source": source}, include=[], limit=1)["ids"])

    def documents(self) -> list[DocumentInfo]:
        """One record per document, sorted by source, from the metadata of each document's first chunk only."""
        found: dict[str, ChunkMeta] = {}
        for chunk in self._visible(self._get_all(["metadatas"], where={"index": 0})):
            # While a changed document is being written, its old and new first chunks both exist: the newer wins.
            meta, kept = chunk.meta, found.get(chunk.meta.source)
            if kept is None or (meta.ingested_at or "") > (kept.ingested_at or ""):
                found[meta.source] = meta
        model = self.identity["embedding_model"]
        return [DocumentInfo(source=source, title=meta.title, format=meta.format, pages=meta.pages,
                             chunks=meta.n_chunks, characters=meta.characters, content_hash=meta.doc_hash or None,
                             ingested_at=meta.ingested_at, embedding_model=model)
                for source, meta in sorted(found.items())]

    def remove(self, source: str) -> int:
        """Delete every chunk of one document in one write (readers see all of it or none), then bump the version
        so every process's lexical index forgets it; returns the number of chunks removed."""
        removed = len(self._get_all(["metadatas"], where={"source": source}))
        if removed:
            self._call(self.collection.delete, where={"source": source})
            self.bump_version()
        return removed

    def everything(self) -> list[StoredChunk]:
        """Every chunk of every complete document (for the lexical index).

        A document is complete when all `n_chunks` of one version (`doc_hash`) are stored: while ingest writes a
        document (in several batches if it is large, or as a new version beside the old one) readers of this
        see the old version whole or the new one whole, never half of either."""
        got = self._visible(self._get_all(["documents", "metadatas"]))
        versions = Counter((c.meta.source, c.meta.doc_hash) for c in got)
        return [c for c in got if c.meta.n_chunks is None or versions[(c.meta.source, c.meta.doc_hash)]
                == c.meta.n_chunks]

    def get(self, ids: list[str]) -> list[StoredChunk]:
        """These chunks (those still stored)."""
        if not ids:
            return []
        return self._visible(_records(self._call(self.collection.get, ids=ids, include=["documents", "metadatas"])))

    def upsert(self, ids: list[str], embeddings, documents: list[str], metadatas: list[ChunkMeta]) -> None:
        """One write when it fits in a batch, which Chroma applies at once; larger documents take several."""
        for at in range(0, len(ids), self.max_batch):
            end = at + self.max_batch
            self._call(self.collection.upsert, ids=ids[at:end], embeddings=embeddings[at:end],
                       documents=documents[at:end], metadatas=[m.to_chroma() for m in metadatas[at:end]])

    def update_metadata(self, ids: list[str], metadatas: list[ChunkMeta]) -> None:
        """Chroma merges the given keys into the stored ones: fields left None (sentence vectors) are kept."""
        for at in range(0, len(ids), self.max_batch):
            self._call(self.collection.update, ids=ids[at:at + self.max_batch],
                       metadatas=[m.to_chroma() for m in metadatas[at:at + self.max_batch]])

    def delete(self, ids=None, where=None) -> None:
        if ids is None:
            self._call(self.collection.delete, where=where)
            return
        for at in range(0, len(ids), self.max_batch):
            self._call(self.collection.delete, ids=ids[at:at + self.max_batch], where=where)

    def query(self, vector, k: int, where: dict | None = None) -> list[StoredChunk]:
        """The k nearest chunks of complete documents, nearest first."""
        for _ in range(2):  # again, without them, when chunks of a pending commit took places
            hidden = sorted(self._hidden)
            visible = where if not hidden else {"$and": [where, {"commit": {"$nin": hidden}}]} if where else \
                {"commit": {"$nin": hidden}}
            got = self._call(self.collection.query, query_embeddings=[vector], n_results=k, where=visible,
                             include=["documents", "metadatas", "distances"])
            chunks = _records({key: (value[0] if value else value) for key, value in got.items()})
            shown = self._visible(chunks)
            if len(shown) == len(chunks):
                break
        return shown


def _records(got) -> list[StoredChunk]:
    """Chroma's parallel lists (ids, documents, metadatas, distances: those included) as typed records."""
    ids = got["ids"]
    documents = got.get("documents") or [""] * len(ids)
    distances = got.get("distances") or [None] * len(ids)
    return [StoredChunk(i, text or "", ChunkMeta.from_chroma(meta), distance)
            for i, text, meta, distance in zip(ids, documents, got["metadatas"], distances)]


def _is_connection_error(exc: Exception) -> bool:
    text = f"{type(exc).__name__} {exc}".lower()
    return any(word in text for word in ("connect", "unreachable", "timed out", "timeout", "refused"))


def _is_full(exc: Exception) -> bool:
    text = str(exc).lower()
    return any(words in text for words in ("disk is full", "no space left", "os error 28", "quota exceeded"))


def _is_read_only(exc: Exception, where: str) -> bool:
    text = str(exc).lower()
    if any(words in text for words in ("readonly", "read-only", "os error 30")):
        return True
    # SQLite says only "unable to open database file" when it cannot create its journal in a read-only directory.
    if "unable to open database file" in text and not where.startswith(("http://", "https://")):
        try:
            return bool(os.statvfs(where).f_flag & os.ST_RDONLY)
        except OSError:
            return False
    return False


def _is_first_write(exc: Exception) -> bool:
    return "nothing found on disk" in str(exc).lower()


def open_store(settings: Settings, identity: dict) -> Store:
    """The collection named in settings, on a client shared by every caller with the same store location."""
    where = settings.chroma_url or str(settings.chroma_path)
    client = make_client(settings.chroma_url, str(settings.chroma_path), settings.store_timeout)
    return Store(client, settings.collection, identity, where)
