"""The chat page: a thin Gradio front end over `Assistant` and `ingest` (no logic of its own).

Everything shown comes from documents or users, so it is shown as text: every string put into HTML is escaped
here, the chat renders no Markdown, and Gradio's sanitizer still runs on top. Chat history lives in each browser
session's `gr.State`; the process holds no chat state, so several replicas can serve one Chroma server.
"""

from __future__ import annotations

import hashlib
import html
import re
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import Callable, Iterator, Sequence

import gradio as gr
from fastapi import APIRouter

from assistant.admission import admission  # issue 25: admission control
from assistant.errors import AssistantError, UnknownDocument, one_line
from assistant.history import parse_history
from assistant.settings import MB, Settings, display_host, load_settings
from assistant.types import (CITATION_MARKER, UNPRINTABLE, Answer, Citation, Conversation, DocumentPage, Passage,
                             file_name, where)
from ingest.uploads import UploadReport, add_uploads, delete_upload

EXAMPLES = ["Who did Trump send to Moscow?", "What is the Zaporizhzhia plant?", "What is the population of Kyiv?"]
UPLOAD_TYPES = [".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx"]
QUEUE_SIZE = 64  # Gradio's own line, a backstop: answers wait in assistant/admission.py's line, which says "busy"
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")

CSS = """
#sources { max-height: 640px; overflow-y: auto; }
.src-empty { color: var(--body-text-color-subdued); font-size: 0.9em; }
.src-turn h4 { margin: 0.4em 0; font-size: 0.95em; }
.src-card { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 8px 10px; margin-bottom: 8px;
            background: var(--background-fill-secondary); scroll-margin-top: 12px; }
.src-card:target { outline: 2px solid var(--color-accent); }
.src-head { display: flex; flex-wrap: wrap; gap: 6px; align-items: baseline; font-size: 0.9em; }
.src-num { font-weight: 700; }
.src-file { font-weight: 600; word-break: break-all; }
.src-where { color: var(--body-text-color-subdued); }
.badge { border-radius: 999px; padding: 0 8px; font-size: 0.8em; font-weight: 600; }
.badge.verified { background: #dcfce7; color: #166534; }
.badge.flagged { background: #fee2e2; color: #991b1b; }
.passage { white-space: pre-wrap; font-size: 0.88em; margin: 6px 0 0; line-height: 1.45; }
.passage mark { background: #fde68a; color: inherit; padding: 0 1px; }
.src-card details summary { cursor: pointer; font-size: 0.8em; color: var(--body-text-color-subdued); }
#chat a.cite { text-decoration: none; font-weight: 700; font-size: 0.85em; padding: 0 2px; border-radius: 4px;
               background: #dbeafe; color: #1e40af; }
#chat a.cite.flagged { background: #fee2e2; color: #991b1b; }
.chat-note { font-size: 0.85em; opacity: 0.85; }
#upload-status ul { margin: 0.2em 0 0 1.2em; }
#scope-text { font-size: 0.9em; }
.doc-table { width: 100%; border-collapse: collapse; font-size: 0.88em; }
.doc-table th, .doc-table td { text-align: left; padding: 3px 8px;
                                border-bottom: 1px solid var(--border-color-primary); }
.doc-table td.num, .doc-table th.num { text-align: right; }
.doc-table .doc-name { font-weight: 600; word-break: break-all; }
.doc-table tr.in-scope td { background: var(--background-fill-secondary); }
"""


def theme() -> gr.themes.Base:
    # System fonts: the default theme would fetch web fonts from the internet on every page load.
    return gr.themes.Soft(font=["ui-sans-serif", "system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])


# -- rendering (pure functions: text in, escaped HTML out) ------------------------------------------------------
def esc(text: object) -> str:
    """Text as HTML text; bidi overrides and isolates are dropped, so a document cannot make the page show its
    words in another order than they are stored, quoted and cited in ("Trojan Source")."""
    return html.escape(_BIDI.sub("", str(text)), quote=True)


def source_id(turn: int, number: int) -> str:
    return f"source-{turn}-{number}"


def render_text(text: str) -> str:
    """Plain text as HTML: escaped, line breaks kept."""
    return esc(text).replace("\n", "<br>")


def render_answer(answer: Answer, turn: int) -> str:
    """The answer as escaped text whose [n] markers link to their entries in the sources panel."""
    cited = {c.number: c for c in answer.citations}

    def link(match: re.Match) -> str:
        marker, links = match.group(0), []
        for number in match.group(1).split(","):
            c = cited.get(int(number))
            if c is None:
                return marker
            state = "verified" if c.supported else "flagged"
            links.append(f'<a class="cite {state}" href="#{source_id(turn, c.number)}" '
                         f'title="{esc(file_name(c.source))}, {esc(where(c))} ({state})">[{c.number}]</a>')
        return marker[:marker.index("[")] + " ".join(links)  # the space before the marker stays

    body = CITATION_MARKER.sub(link, render_text(answer.text))
    flagged = [c.number for c in answer.citations if not c.supported]
    if flagged:
        body += (f'<br><span class="chat-note">⚠ Not verified: the passage{"s" if len(flagged) > 1 else ""} cited as '
                 f'{", ".join(f"[{n}]" for n in flagged)} may not support the sentence.</span>')
    return body


def locate(citation: Citation, passages: list[Passage]) -> tuple[Passage | None, int, int]:
    """The passage a citation quotes and the quote's span inside that passage's text."""
    for p in passages:
        if p.source == citation.source and p.start <= citation.start and citation.end <= p.end:
            a, b = citation.start - p.start, citation.end - p.start
            if not citation.quote or p.text[a:b].strip() == citation.quote.strip():
                return p, a, b
    for p in passages:  # offsets that disagree with the text: fall back to finding the quote itself
        at = p.text.find(citation.quote) if citation.quote and p.source == citation.source else -1
        if at >= 0:
            return p, at, at + len(citation.quote)
    return None, 0, 0


def highlight(text: str, a: int, b: int, lines_around: int | None = 1, max_chars: int = 400) -> str:
    """Escaped text around [a, b) with the span marked; `lines_around=None` keeps the whole text."""
    s, e = 0, len(text)
    if lines_around is not None:
        s = text.rfind("\n", 0, a) + 1
        for _ in range(lines_around):
            if s == 0:
                break
            s = text.rfind("\n", 0, s - 1) + 1
        e = text.find("\n", b)
        e = len(text) if e < 0 else e
        for _ in range(lines_around):
            if e >= len(text):
                break
            following = text.find("\n", e + 1)
            e = len(text) if following < 0 else following
        s, e = max(s, a - max_chars), min(e, b + max_chars)
    return ("…" if s > 0 else "") + esc(text[s:a]) + "<mark>" + esc(text[a:b]) + "</mark>" + esc(text[b:e]) + \
        ("…" if e < len(text) else "")


def render_citation(c: Citation, passages: list[Passage], turn: int) -> str:
    passage, a, b = locate(c, passages)
    badge = ('<span class="badge verified" title="The quoted passage supports the sentence citing it">'
             '✓ verified</span>' if c.supported else
             '<span class="badge flagged" title="The quoted passage may not support the sentence citing it">'
             '⚠ flagged</span>')
    head = (f'<div class="src-head"><span class="src-num">[{c.number}]</span>'
            f'<span class="src-file">{esc(file_name(c.source))}</span>'
            f'<span class="src-where">{esc(where(c))}</span>{badge}</div>')
    if passage is None:
        body = f'<div class="passage"><mark>{esc(c.quote)}</mark></div>'
    else:
        lines = (f"line {passage.line_start}" if passage.line_start == passage.line_end
                 else f"lines {passage.line_start}–{passage.line_end}")
        body = (f'<div class="passage">{highlight(passage.text, a, b)}</div>'
                f'<details><summary>Whole passage ({esc(lines)})</summary>'
                f'<div class="passage">{highlight(passage.text, a, b, None)}</div></details>')
    return f'<div class="src-card" id="{source_id(turn, c.number)}">{head}{body}</div>'


def render_sources(answer: Answer, turn: int) -> str:
    if not answer.citations:
        cards = '<p class="src-empty">No sources: the documents do not answer this.</p>'
    else:
        cards = "".join(render_citation(c, answer.passages, turn) for c in answer.citations)
    return f'<section class="src-turn" data-turn="{turn}"><h4>{esc(answer.question)}</h4>{cards}</section>'


def sources_panel(session: dict) -> str:
    turns = session["sources"]
    if not turns:
        return '<p class="src-empty">The passages each answer cites appear here, newest first.</p>'
    return "".join(reversed(turns))


# -- per-session state ------------------------------------------------------------------------------------------
def new_session() -> dict:
    """What one browser session holds: shown messages (HTML), the (question, answer) history, sources per turn,
    and the answers themselves (for the conversation's export)."""
    return {"messages": [], "history": [], "sources": [], "answers": []}


def _copy(session: dict | None) -> dict:
    session = session or new_session()
    return {key: list(session.get(key, [])) for key in new_session()}


def _say(session: dict, role: str, content: str) -> None:
    session["messages"].append({"role": role, "content": content})


def _error_html(message: str) -> str:
    return f'<span class="chat-error">⚠ {esc(message)}</span>'


def page_settings(base: Settings, mode: str | None = None, llm: str | None = None, k: float | None = None,
                  collection: str | None = None) -> Settings:
    """The launch settings with the page's choices on top; a bad value raises InvalidSetting (one line)."""
    return load_settings(base, mode=mode or None, llm=(llm or "").strip() or None,
                         k=int(k) if k is not None else None, collection=(collection or "").strip() or None)


def respond(base: Settings, question: str, session: dict | None, mode: str | None = None, llm: str | None = None,
            k: float | None = None, collection: str | None = None,
            sources: list[str] | None = None) -> Iterator[tuple[str, list, str, dict]]:
    """One chat turn, streamed: yields (textbox, chatbot messages, sources panel, session); `sources` scopes it."""
    from assistant.api import Assistant

    session = _copy(session)
    question = UNPRINTABLE.sub(" ", str(question or "")).strip()
    if not question:
        yield "", session["messages"], sources_panel(session), session
        return
    shown = question if len(question) <= base.max_question_chars else question[:base.max_question_chars] + "…"
    _say(session, "user", render_text(shown))
    _say(session, "assistant", '<span class="chat-note">Searching the documents…</span>')
    yield "", session["messages"], sources_panel(session), session
    try:
        assistant = Assistant(page_settings(base, mode, llm, k, collection))
        written, answer = "", None
        for item in admission(base).admitted(assistant.stream(question, session["history"], sources=sources)):
            if isinstance(item, Answer):
                answer = item
            elif isinstance(item, str):
                written += item
                session["messages"][-1] = {"role": "assistant", "content": render_text(written) + " ▍"}
                yield "", session["messages"], sources_panel(session), session
        if answer is None:
            raise AssistantError("no answer came back")
    except Exception as exc:  # shown in the chat as one line; the page keeps working
        session["messages"][-1] = {"role": "assistant", "content": _error_html(one_line(exc))}
        yield "", session["messages"], sources_panel(session), session
        return
    turn = len(session["sources"]) + 1
    session["messages"][-1] = {"role": "assistant", "content": render_answer(answer, turn)}
    session["history"].append((question, answer.text))
    session["answers"].append(answer)
    session["sources"].append(render_sources(answer, turn))
    yield "", session["messages"], sources_panel(session), session


# -- the documents panel ----------------------------------------------------------------------------------------
DOCS_PER_PAGE = 25
SORTS = [("Name", "name"), ("Newest first", "newest")]


def render_documents(listing: DocumentPage, collection: str, scope: list[str]) -> str:
    """The listing as an escaped HTML table; documents the questions are scoped to are marked."""
    if not listing.total:
        return f'<p class="src-empty">No documents to show in collection <b>{esc(collection)}</b>.</p>'
    rows = []
    for d in listing.documents:
        ingested = d.ingested_at.strftime("%Y-%m-%d %H:%M") if d.ingested_at else "–"
        cells = [f'<td class="doc-name">{esc(d.name)}</td>', f"<td>{esc(d.title)}</td>",
                 f"<td>{esc(d.format or '–')}</td>"]
        cells += [f'<td class="num">{"–" if n is None else n}</td>' for n in (d.pages, d.chunks, d.characters)]
        cells.append(f"<td>{ingested}</td>")
        rows.append(f'<tr class="{"in-scope" if d.source in scope else ""}">{"".join(cells)}</tr>')
    head = ('<tr><th>Name</th><th>Title</th><th>Format</th><th class="num">Pages</th><th class="num">Chunks</th>'
            '<th class="num">Characters</th><th>Ingested (UTC)</th></tr>')
    return (f'<div class="doc-count">{listing.total} document{"s" if listing.total != 1 else ""} in '
            f'<b>{esc(collection)}</b>, page {listing.page} of {listing.pages}</div>'
            f'<table class="doc-table"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>')


def list_documents(base: Settings, collection: str | None = None, sort: str = "name", query: str = "",
                   page: int = 1, scope: list[str] | None = None) -> tuple[str, DocumentPage]:
    """(table HTML, the page shown) for the page's collection; a store error is one line in place of the table."""
    from assistant.api import Assistant

    try:
        documents = Assistant(page_settings(base, collection=collection)).documents()
    except Exception as exc:  # shown, not raised
        return _error_html(one_line(exc)), DocumentPage.of([])
    listing = DocumentPage.of(documents, sort, query or "", int(page or 1), DOCS_PER_PAGE)
    return render_documents(listing, page_collection(base, collection), scope or []), listing


def remove_documents(base: Settings, sources: list[str], collection: str | None = None) -> str:
    """Remove documents from the collection (and the page's own copies of uploaded ones); returns a status line."""
    from assistant.api import Assistant

    done, failed = [], []
    try:
        settings = page_settings(base, collection=collection)
        assistant = Assistant(settings)
        for source in sources:
            try:
                chunks = assistant.remove(source)
            except UnknownDocument:  # removed meanwhile, by another session or process
                failed.append(f"{file_name(source)} (no longer in the collection)")
                continue
            done.append(f"{file_name(source)} ({chunks} chunk{'s' if chunks != 1 else ''})")
            delete_upload(settings, source)
    except Exception as exc:
        failed.append(one_line(exc))
    parts = (["Removed " + ", ".join(done) + "."] if done else []) + \
        (["Could not remove " + "; ".join(failed) + "."] if failed else [])
    return f'<span class="chat-note">{esc(" ".join(parts))}</span>'


def document_key(source: str) -> str:
    """What the browser gets in place of a document's path: the page shows names, never server folders."""
    return hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def scope_text(scope: list[str]) -> str:
    names = ", ".join(file_name(s) for s in scope)
    return f"Answering only from {len(scope)} document{'s' if len(scope) != 1 else ''}: {esc(names)}"


# -- exporting the conversation -----------------------------------------------------------------------------------
EXPORT_DIR = Path(tempfile.gettempdir()) / "assistant-exports"  # Gradio serves files from the temp folder
EXPORT_MAX_AGE = 3600.0


def export_conversation(session: dict | None) -> tuple[str | None, str | None]:
    """The session's questions, answers and citations written as conversation.md and conversation.json."""
    answers = (session or {}).get("answers") or []
    if not answers:
        return None, None
    for old in EXPORT_DIR.glob("*") if EXPORT_DIR.exists() else ():
        if time.time() - old.stat().st_mtime > EXPORT_MAX_AGE:  # Gradio keeps its own copy for the download
            shutil.rmtree(old, ignore_errors=True)
    folder = EXPORT_DIR / uuid.uuid4().hex
    folder.mkdir(parents=True)
    conversation = Conversation(turns=answers)
    (folder / "conversation.md").write_text(conversation.to_markdown(), encoding="utf-8")
    (folder / "conversation.json").write_text(conversation.to_json(), encoding="utf-8")
    return str(folder / "conversation.md"), str(folder / "conversation.json")



# -- uploads ----------------------------------------------------------------------------------------------------
def ingest_uploads(base: Settings, files: list | None, session: dict | None, collection: str | None = None,
                   progress: Callable | None = None) -> tuple[str, dict]:
    """Save and ingest uploaded files (ingest.uploads); returns (status HTML, session with a notice in the chat)."""
    session = _copy(session)
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
    items = [f"<li>✓ {esc(n)}: {c} chunk{'s' if c != 1 else ''}</li>" for n, c in report.added]
    items += [f"<li>✗ {esc(n)}: {esc(r)}</li>" for n, r in report.failed]
    status = (f"<div>Collection <b>{esc(page_collection(base, collection))}</b>: {len(report.added)} added, "
              f"{len(report.failed)} failed</div><ul>{''.join(items)}</ul>")
    notice = []
    if report.added:
        notice.append("Added " + ", ".join(esc(n) for n, _ in report.added) + ": ask about them now.")
    if report.failed:
        notice.append("Could not add " + "; ".join(f"{esc(n)} ({esc(r)})" for n, r in report.failed) + ".")
    _say(session, "assistant", '<span class="chat-note">' + " ".join(notice) + "</span>")
    return status, session


def page_collection(base: Settings, collection: str | None) -> str:
    return (collection or "").strip() or base.collection


# -- the app ----------------------------------------------------------------------------------------------------
def build_app(settings: Settings) -> gr.Blocks:
    """The chat page for these settings (launch it with `launch`, which adds the queue, CSS and theme)."""

    def chat(question, session, mode, llm, k, collection, scope):
        yield from respond(settings, question, session, mode, llm, k, collection, scope)

    def upload(files, session, collection, progress=gr.Progress()):
        status, session = ingest_uploads(settings, files, session, collection, progress)
        return None, status, session["messages"], session

    def clear():
        session = new_session()
        return "", session["messages"], sources_panel(session), session

    def export(session):
        markdown, as_json = export_conversation(session)
        return (gr.DownloadButton(value=markdown, interactive=markdown is not None),
                gr.DownloadButton(value=as_json, interactive=as_json is not None))

    def show_documents(collection, sort, query, page, picked, scope):
        table, listing = list_documents(settings, collection, sort, query, page, scope)
        shown = [d.source for d in listing.documents]
        choices = [(d.name, document_key(d.source)) for d in listing.documents]
        return (table, listing.page, shown,
                gr.CheckboxGroup(choices=choices, value=[document_key(s) for s in picked if s in shown]),
                gr.Button(interactive=listing.page > 1), gr.Button(interactive=listing.page < listing.pages))

    def pick(checked, shown, picked):
        # The selection spans pages: this page's boxes replace only this page's part of it.
        keys = set(checked or [])
        return [s for s in picked if s not in shown] + [s for s in shown if document_key(s) in keys]

    def show_scope(scope):
        return gr.Row(visible=bool(scope)), scope_text(scope) if scope else ""

    def ask_remove(picked):
        if not picked:
            return gr.Row(visible=False), "", '<span class="chat-note">Select documents to remove first.</span>'
        names = ", ".join(file_name(s) for s in picked)
        question = (f"Remove {len(picked)} document{'s' if len(picked) != 1 else ''} from the collection: "
                    f"{names}? Their passages can no longer be cited; uploaded copies are deleted.")
        return gr.Row(visible=True), f"<b>{esc(question)}</b>", ""

    def remove(picked, scope, collection):
        status = remove_documents(settings, picked, collection)
        return gr.Row(visible=False), status, [], [s for s in scope if s not in picked]

    def ask(question: str, history: list | str | None = None, source: str | None = None) -> dict:
        """Answer a question from the documents: the Answer as a dict (text, citations with quotes, passages)."""
        from assistant.api import Assistant

        try:
            with admission(settings).slot():  # issue 25: Busy past the line, shown as gr.Error
                answer = Assistant(settings).ask(question, parse_history(history), source or None)
        except Exception as exc:
            raise gr.Error(one_line(exc), print_exception=False) from None
        return answer.to_dict()

    # Gradio keeps every uploaded temp file; ingested ones are copied to the upload folder, so its copies can go.
    with gr.Blocks(title="Grounded assistant", analytics_enabled=False, delete_cache=(3600, 3600)) as app:
        session = gr.State(new_session())
        scope = gr.State([])  # sources the questions are limited to; empty: the whole collection
        picked = gr.State([])  # sources selected in the documents panel, across its pages
        shown = gr.State([])  # sources on the panel's current page
        doc_page = gr.State(1)
        gr.Markdown("## Ask your documents\nEvery answer cites the passages it comes from; each citation is checked "
                    "against its passage.")
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(
                    elem_id="chat", label="Chat", height=520, layout="bubble",
                    render_markdown=False, sanitize_html=True, allow_tags=False, latex_delimiters=[],
                    buttons=[], feedback_options=None, group_consecutive_messages=False,
                    placeholder="Ask a question about your documents, or try an example below.")
                with gr.Row(visible=False, elem_id="scope") as scope_row:
                    scope_label = gr.HTML("", elem_id="scope-text", js_on_load=None)
                    unscope_button = gr.Button("Answer from all documents", size="sm", scale=0, elem_id="unscope")
                with gr.Row():
                    question = gr.Textbox(elem_id="question", show_label=False, scale=5, lines=1, max_lines=4,
                                          placeholder="Ask a question about your documents", autofocus=True)
                    ask_button = gr.Button("Ask", variant="primary", scale=1, elem_id="ask")
                    clear_button = gr.Button("Clear chat", scale=1, elem_id="clear")
                with gr.Row():
                    export_md = gr.DownloadButton("Download conversation (Markdown)", interactive=False, size="sm",
                                                  elem_id="export-md")
                    export_json = gr.DownloadButton("Download conversation (JSON)", interactive=False, size="sm",
                                                    elem_id="export-json")
                gr.Examples(EXAMPLES, inputs=[question], label="Example questions (bundled sample)")
            with gr.Column(scale=2):
                gr.Markdown("### Sources")
                sources = gr.HTML(sources_panel(new_session()), elem_id="sources", js_on_load=None)
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                files = gr.File(label=f"Upload documents ({', '.join(UPLOAD_TYPES)})", file_count="multiple",
                                file_types=UPLOAD_TYPES, elem_id="upload", height=120)
                upload_status = gr.HTML("", elem_id="upload-status", js_on_load=None)
            with gr.Column(scale=2):
                with gr.Accordion("Settings", open=False, elem_id="settings"):
                    mode = gr.Radio(["extractive", "llm"], value=settings.mode, label="Answer mode", elem_id="mode",
                                    info="extractive quotes the documents; llm writes with a chat model")
                    llm = gr.Textbox(value=settings.llm, label="Model (llm mode)", elem_id="llm",
                                     info="provider:model, e.g. llamacpp:SmolLM2-135M-Instruct")
                    k = gr.Slider(1, 20, value=settings.k, step=1, label="Passages to retrieve (k)", elem_id="k")
                    collection = gr.Textbox(value=settings.collection, label="Collection", elem_id="collection")
        with gr.Accordion("Documents", open=True, elem_id="documents"):
            with gr.Row():
                doc_query = gr.Textbox(show_label=False, placeholder="Find documents by name", scale=3,
                                       elem_id="doc-query")
                doc_sort = gr.Radio(SORTS, value="name", show_label=False, scale=2, elem_id="doc-sort")
                doc_refresh = gr.Button("Refresh", size="sm", scale=0, elem_id="doc-refresh")
            doc_table = gr.HTML("", elem_id="doc-table", js_on_load=None)
            with gr.Row():
                doc_prev = gr.Button("‹ Previous page", size="sm", interactive=False, elem_id="doc-prev")
                doc_next = gr.Button("Next page ›", size="sm", interactive=False, elem_id="doc-next")
            doc_pick = gr.CheckboxGroup([], label="Select documents", elem_id="doc-pick")
            with gr.Row():
                scope_button = gr.Button("Answer only from selected", size="sm", elem_id="doc-scope")
                remove_button = gr.Button("Remove selected…", size="sm", variant="stop", elem_id="doc-remove")
            with gr.Row(visible=False, elem_id="doc-confirm") as confirm_row:
                confirm_text = gr.HTML("", js_on_load=None)
                confirm_yes = gr.Button("Remove", variant="stop", size="sm", scale=0, elem_id="doc-remove-yes")
                confirm_no = gr.Button("Cancel", size="sm", scale=0, elem_id="doc-remove-no")
            doc_status = gr.HTML("", elem_id="doc-status", js_on_load=None)

        private = dict(api_visibility="private", queue=False)
        listing = dict(fn=show_documents, inputs=[collection, doc_sort, doc_query, doc_page, picked, scope],
                       outputs=[doc_table, doc_page, shown, doc_pick, doc_prev, doc_next], **private)
        exporting = dict(fn=export, inputs=[session], outputs=[export_md, export_json], **private)
        turn = dict(fn=chat, inputs=[question, session, mode, llm, k, collection, scope],
                    outputs=[question, chatbot, sources, session], api_visibility="private", show_progress="minimal",
                    concurrency_limit=None)  # issue 25: admission(settings) bounds answers, and says "busy"
        submitted, clicked = question.submit(**turn), ask_button.click(**turn)
        for answered in (submitted, clicked):
            answered.then(**exporting)
        for clearing in (clear_button.click, chatbot.clear):  # the button, and the chat's own trash icon
            clearing(clear, None, [question, chatbot, sources, session], cancels=[submitted, clicked],
                     **private).then(**exporting)
        files.upload(upload, [files, session, collection], [files, upload_status, chatbot, session],
                     api_visibility="private", concurrency_limit=1, concurrency_id="ingest",
                     show_progress_on=[upload_status]).then(**listing)
        app.load(**listing)
        for refreshing in (doc_refresh.click, doc_sort.change, doc_query.submit, collection.blur):
            refreshing(lambda: 1, None, doc_page, **private).then(**listing)
        doc_prev.click(lambda p: p - 1, doc_page, doc_page, **private).then(**listing)
        doc_next.click(lambda p: p + 1, doc_page, doc_page, **private).then(**listing)
        doc_pick.input(pick, [doc_pick, shown, picked], picked, **private)
        scope_button.click(lambda p: list(p), picked, scope, **private).then(
            show_scope, scope, [scope_row, scope_label], **private).then(**listing)
        unscope_button.click(lambda: [], None, scope, **private).then(
            show_scope, scope, [scope_row, scope_label], **private).then(**listing)
        remove_button.click(ask_remove, picked, [confirm_row, confirm_text, doc_status], **private)
        confirm_no.click(lambda: gr.Row(visible=False), None, confirm_row, **private)
        confirm_yes.click(remove, [picked, scope, collection], [confirm_row, doc_status, picked, scope],
                          api_visibility="private", concurrency_limit=1, concurrency_id="ingest").then(
            show_scope, scope, [scope_row, scope_label], **private).then(**listing)
        gr.api(ask, api_name="ask", concurrency_limit=None)  # issue 25: bounded by admission(settings)
    return app


# -- starting ---------------------------------------------------------------------------------------------------
def launch(settings: Settings, host: str = "127.0.0.1", port: int = 7860, auth: tuple[str, str] | None = None, *,
           prevent_thread_lock: bool = False, sample: bool = True, quiet: bool = True,
           on_message: Callable[[str], None] = print, routers: Sequence[APIRouter] = ()) -> gr.Blocks:
    """Ingest the sample if the store is empty, warm up, serve the page and print its URL on stdout.

    Blocks until interrupted unless `prevent_thread_lock`; then stop it with `app.close()`. `on_message` gets the
    first-start ingestion's lines (stdout by default); `routers` are served beside the page, on Gradio's own FastAPI
    app (they bring their own authentication: Gradio's password guards only its routes)."""
    from assistant.api import Assistant
    from ingest.sample import ensure_sample

    if sample:
        ensure_sample(settings, on_message)
    Assistant(settings).warm_up()
    app = build_app(settings)
    app.queue(default_concurrency_limit=settings.max_concurrent_answers, max_size=QUEUE_SIZE)
    # issue 25: a thread per admitted or waiting answer, and spare ones so a refusal is not kept waiting for one
    threads = max(40, 2 * (settings.max_concurrent_answers + settings.max_queued_answers))
    app.launch(server_name=host, server_port=port, auth=auth, prevent_thread_lock=True, quiet=quiet,
               css=CSS, theme=theme(), ssr_mode=False, show_error=False, max_threads=threads,
               max_file_size=int(settings.max_file_mb * MB))
    for router in routers:
        app.app.include_router(router)
    print(f"Chat running on http://{display_host(host)}:{app.server_port}/", flush=True)
    if not prevent_thread_lock:
        app.block_thread()
    return app
