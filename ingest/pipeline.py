"""Files in, chunks stored: incremental by content hash, batched across files, one document committed at a time."""

import os
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable

from assistant.errors import LoadError, StoreUnreachable, UnsupportedFile
from assistant.settings import MB, Settings
from ingest.chunking import Chunk, Chunker, document_hash
from ingest.embedding import Embedder, get_embedder
from ingest.loaders import LoadedDocument, iter_files, load_document
from ingest.records import ChunkMeta, pack_vectors
from ingest.store import Store, open_store

# Chunks encoded together: big enough for the model's length-sorted batching, small enough to keep memory flat.
_ENCODE_WINDOW = 256


@dataclass
class IngestReport:
    files: int = 0
    added: int = 0
    unchanged: int = 0
    updated: int = 0  # kept by a changed file (same text, maybe moved): metadata rewritten, not re-embedded
    deleted: int = 0
    skipped: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # ingested, but partly: "report.pdf: pages 3, 7: no text layer"
    seconds: float = 0.0

    def summary(self) -> str:
        """One line of counts, then one line per note."""
        counts = (f"{self.files} files: {self.added} chunks added, {self.unchanged} unchanged, {self.updated} updated, "
                  f"{self.deleted} deleted, {len(self.failed)} failed files, {self.seconds:.1f} s")
        return "\n".join([counts, *self.notes])


@dataclass
class _Pending:
    """One loaded, chunked document waiting for its new chunks' vectors."""

    chunks: list[Chunk]
    new: list[Chunk]
    stale: list[str]
    document: dict  # what every chunk records about its whole document (for `Store.documents`)
    commits: dict[str, str] = field(default_factory=dict)  # stored chunk id -> the commit it was written under

    def metadata(self, chunk: Chunk, sentence_vectors: str | None = None, commit: str | None = None) -> ChunkMeta:
        """A kept chunk passes no sentence vectors (nor commit): the store keeps those it has."""
        return replace(chunk.metadata(len(self.chunks)), sentence_vectors=sentence_vectors, commit=commit,
                       **self.document)


class Ingestor:
    """Loads, chunks, embeds and stores; `run()` may be called many times on the same warm model and store."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None, store: Store | None = None):
        self.settings = settings
        self.embedder = embedder or get_embedder(settings)
        self.store = store or open_store(settings, self.embedder.identity)
        max_tokens = min(settings.chunk_tokens, self.embedder.max_tokens)
        self.chunker = Chunker(self.embedder.count_tokens, self.embedder.token_spans, max_tokens,
                               settings.chunk_overlap_tokens)

    def run(self, paths: Iterable[str | Path], glob: str | None = None, prune: bool = False,
            progress: bool = False, on_message: Callable[[str], None] = print) -> IngestReport:
        started = time.perf_counter()
        report = IngestReport()
        files = list(iter_files(paths, glob))
        report.files = len(files)
        bar = _progress(len(files), progress)
        # Chroma writes one window while the model encodes the next (one writer: documents land in order).
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-writer")
        self._written: Future | None = None
        try:
            self._run(files, report, bar, on_message)
        except StoreUnreachable as exc:  # what is stored stays whole (each document appears complete or not at all)
            raise StoreUnreachable(f"{exc}; once it is back, run the same ingest again: it goes on where this one "
                                   "stopped") from exc
        finally:
            self._writer.shutdown(wait=True)
        bar.close()
        if prune:
            self._prune(report)
        report.seconds = time.perf_counter() - started
        return report

    def _run(self, files: list[Path], report: IngestReport, bar, on_message: Callable[[str], None]) -> None:
        pending: list[_Pending] = []
        for path in files:
            try:
                item = self._prepare(path, report)
            except UnsupportedFile as exc:
                report.skipped.append(str(exc))
                on_message(f"skipped {exc}")
            except LoadError as exc:
                report.failed.append(str(exc))
                on_message(f"failed {exc}")
            else:
                if item is not None:
                    pending.append(item)
                if sum(len(p.new) for p in pending) >= _ENCODE_WINDOW:
                    self._commit(pending, report)
                    pending = []
            bar.update(1)
            bar.set_postfix(added=report.added, unchanged=report.unchanged, refresh=False)
        self._commit(pending, report)
        self._wait_written()

    def _prepare(self, path: Path, report: IngestReport) -> _Pending | None:
        document = load_document(path, max_bytes=int(self.settings.max_file_mb * MB))
        stored = self.store.chunks_of(document.source)
        hashed = document_hash(document)
        if document.empty_pages:  # said at every ingest, changed or not
            report.notes.append(f"{document.source}: {_pages(document.empty_pages)}: no text layer")
        commits = {i: m.commit for i, m in stored.items() if m.commit}
        interrupted = bool(commits) and bool(set(commits.values()) & self.store.pending())  # all written, still hidden
        if stored and not interrupted and all(m.doc_hash == hashed and m.n_chunks == len(stored)
                                              for m in stored.values()):
            report.unchanged += len(stored)
            return None
        chunks = self.chunker.split(document)
        ids = {c.id for c in chunks}
        new = [c for c in chunks if c.id not in stored]
        about = {"format": _format(path, document), "characters": len(document.text),
                 "ingested_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        if document.pages:
            about["pages"] = len(document.pages)
        return _Pending(chunks, new, [i for i in stored if i not in ids], about, commits)

    def _commit(self, pending: list[_Pending], report: IngestReport) -> None:
        """Embed all new chunks at once (and their sentences, pooled from the same pass), then hand the writes to the
        writer once it has finished the last window."""
        new = [c for p in pending for c in p.new]
        vectors, sentences = (self.embedder.encode_with_sentences([c.indexed for c in new],
                                                                  [c.pooled_spans() for c in new])
                              if new else ([], []))  # nothing new: the model is never loaded
        vectors = iter(zip(vectors, [None if s is None else pack_vectors(s) for s in sentences]))
        self._wait_written()
        self._written = self._writer.submit(self._write, pending, vectors, report)

    def _wait_written(self) -> None:
        """Re-raises what the writer hit (a full disk, a lost server), so the run stops as before."""
        if self._written is not None:
            written, self._written = self._written, None
            written.result()

    def _write(self, pending: list[_Pending], vectors, report: IngestReport) -> None:
        """Document by document: new chunks first, stale ones last; then the version changes for readers.

        A document that takes more than one write is written under a pending commit, with the chunks an interrupted
        run left hidden, and appears whole when the commit ends (Store.bump_version)."""
        for item in pending:
            new_ids = {c.id for c in item.new}
            kept = [c for c in item.chunks if c.id not in new_ids]
            left = set(item.commits.values()) & self.store.pending() if item.commits else set()
            hidden = {c.id for c in kept if item.commits.get(c.id) in left}  # left by an interrupted run
            commit = self.store.begin_commit() if len(item.new) > self.store.max_batch or hidden else None
            if item.new:
                encoded = [next(vectors) for _ in item.new]
                self.store.upsert([c.id for c in item.new], [vector for vector, _ in encoded],
                                  [c.text for c in item.new],
                                  [item.metadata(c, packed, commit) for c, (_, packed) in zip(item.new, encoded)])
            if kept:
                self.store.update_metadata([c.id for c in kept],
                                           [item.metadata(c, None, commit if c.id in hidden else None) for c in kept])
            if item.stale:
                self.store.delete(ids=item.stale)
            if commit:
                self.store.bump_version(end={commit, *left})
            report.added += len(item.new)
            report.updated += len(kept)
            report.deleted += len(item.stale)
        if pending:
            self.store.bump_version()

    def _prune(self, report: IngestReport) -> None:
        for source in sorted(self.store.sources()):
            if not os.path.exists(source):
                report.deleted += self.store.remove(source)


def _pages(numbers: tuple[int, ...]) -> str:
    return ("page " if len(numbers) == 1 else "pages ") + ", ".join(map(str, numbers))


def _format(path: Path, document: LoadedDocument) -> str:
    """The format a document was read as (chosen by content): html, pdf, docx, or for plain text md or txt."""
    if document.kind != "text":
        return document.kind
    return "md" if path.suffix.lower() in (".md", ".markdown") else "txt"


def _progress(total: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, unit="file", disable=not enabled, leave=False, dynamic_ncols=True)


def ingest_paths(paths: Iterable[str | Path], settings: Settings | None = None, **options) -> IngestReport:
    """Ingest files and folders into the configured collection (see `Ingestor.run` for options)."""
    return Ingestor(settings or Settings()).run(paths, **options)
