"""The documents panel's handlers: the listing a page at a time, removal, and uploads (saved and ingested)."""

from __future__ import annotations

import hashlib
from typing import Callable

from assistant.errors import AssistantError, UnknownDocument, one_line
from assistant.settings import Settings
from assistant.types import DocumentPage, file_name
from assistant.ui.render import error_html, esc, note, plural, render_documents
from assistant.ui.session import copy_session, page_collection, page_settings, say
from ingest.uploads import UploadReport, add_uploads

DOCS_PER_PAGE = 25
SORTS = [("Name", "name"), ("Newest first", "newest")]


def list_documents(base: Settings, collection: str | None = None, sort: str = "name", query: str = "",
                   page: int = 1, scope: list[str] | None = None) -> tuple[str, DocumentPage]:
    """(table HTML, the page shown) for the page's collection; a store error is one line in place of the table."""
    from assistant.api import Assistant

    try:
        documents = Assistant(page_settings(base, collection=collection)).documents()
    except Exception as exc:  # shown, not raised
        return error_html(one_line(exc)), DocumentPage.of([])
    listing = DocumentPage.of(documents, sort, query or "", int(page or 1), DOCS_PER_PAGE)
    return render_documents(listing, page_collection(base, collection), scope or []), listing


def remove_documents(base: Settings, sources: list[str], collection: str | None = None) -> str:
    """Remove documents from the collection (Assistant.remove: uploaded copies go too); returns a status line."""
    from assistant.api import Assistant

    done, failed = [], []
    try:
        assistant = Assistant(page_settings(base, collection=collection))
        for source in sources:
            try:
                chunks = assistant.remove(source)
            except UnknownDocument:  # removed meanwhile, by another session or process
                failed.append(f"{file_name(source)} (no longer in the collection)")
                continue
            done.append(f"{file_name(source)} ({plural(chunks, 'chunk')})")
    except Exception as exc:
        failed.append(one_line(exc))
    parts = (["Removed " + ", ".join(done) + "."] if done else []) + \
        (["Could not remove " + "; ".join(failed) + "."] if failed else [])
    return note(" ".join(parts))


def removal_question(picked: list[str]) -> str:
    names = ", ".join(file_name(s) for s in picked)
    return (f"Remove {plural(len(picked), 'document')} from the collection: {names}? Their passages can no longer "
            "be cited; uploaded copies are deleted.")


def document_key(source: str) -> str:
    """What the browser gets in place of a document's path: the page shows names, never server folders."""
    return hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def ingest_uploads(base: Settings, files: list | None, session: dict | None, collection: str | None = None,
                   progress: Callable | None = None) -> tuple[str, dict]:
    """Save and ingest uploaded files (ingest.uploads); returns (status HTML, session with a notice in the chat)."""
    session = copy_session(session)
    paths = [getattr(f, "name", f) for f in (files or []) if f]
    if not paths:
        return "", session

    def step(done: int, total: int, name: str) -> None:
        if progress is not None:
            progress((done, total), desc=f"Ingesting {name}" if name else "Done")

    try:
        report = add_uploads(page_settings(base, collection=collection), paths, step)
    except AssistantError as exc:  # a bad collection name
        report = UploadReport(failed=[("upload", one_line(exc))])
    items = [f"<li>✓ {esc(n)}: {plural(c, 'chunk')}</li>" for n, c in report.added]
    items += [f"<li>✗ {esc(n)}: {esc(r)}</li>" for n, r in report.failed]
    status = (f"<div>Collection <b>{esc(page_collection(base, collection))}</b>: {len(report.added)} added, "
              f"{len(report.failed)} failed</div><ul>{''.join(items)}</ul>")
    notice = []
    if report.added:
        notice.append("Added " + ", ".join(esc(n) for n, _ in report.added) + ": ask about them now.")
    if report.failed:
        notice.append("Could not add " + "; ".join(f"{esc(n)} ({esc(r)})" for n, r in report.failed) + ".")
    say(session, "assistant", '<span class="chat-note">' + " ".join(notice) + "</span>")
    return status, session
