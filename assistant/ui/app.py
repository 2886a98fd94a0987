"""The chat page's layout, its events wired to the handlers, and launching it (queue, CSS, theme, routers)."""

from __future__ import annotations

import sys
from typing import Callable, Sequence

import gradio as gr
from fastapi import APIRouter

from assistant.admission import admission
from assistant.errors import one_line
from assistant.history import parse_history
from assistant.settings import MB, Settings, display_host
from assistant.ui.chat import export_conversation, respond
from assistant.ui.documents import (
    SORTS,
    document_key,
    ingest_uploads,
    list_documents,
    removal_question,
    remove_documents,
)
from assistant.ui.render import esc, note, scope_text, sources_panel
from assistant.ui.session import new_session
from ingest.loaders import SUFFIXES

EXAMPLES = ["Who did Trump send to Moscow?", "What is the Zaporizhzhia plant?", "What is the population of Kyiv?"]
UPLOAD_TYPES = sorted(SUFFIXES)
QUEUE_SIZE = 64  # Gradio's own line, a backstop: answers wait in assistant/admission.py's line, which says "busy"

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
            return gr.Row(visible=False), "", note("Select documents to remove first.")
        return gr.Row(visible=True), f"<b>{esc(removal_question(picked))}</b>", ""

    def remove(picked, scope, collection):
        status = remove_documents(settings, picked, collection)
        return gr.Row(visible=False), status, [], [s for s in scope if s not in picked]

    def ask(question: str, history: list | str | None = None, sources: str | None = None) -> dict:
        """Answer a question from the documents (`sources`: only from this one): the Answer as a dict (text,
        citations with quotes, passages)."""
        from assistant.api import Assistant

        try:
            with admission(settings).slot():  # busy past the line, shown as gr.Error
                answer = Assistant(settings).ask(question, parse_history(history), sources or None)
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
                    concurrency_limit=None)  # admission(settings) bounds answers, and says "busy"
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
        gr.api(ask, api_name="ask", concurrency_limit=None)  # bounded by admission(settings)
    return app


def _stdout(line: str) -> None:
    """The line at once, even on a pipe: whoever started the page waits for it."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def launch(settings: Settings, host: str = "127.0.0.1", port: int = 7860, auth: tuple[str, str] | None = None, *,
           prevent_thread_lock: bool = False, sample: bool = True, quiet: bool = True,
           on_message: Callable[[str], None] = print, on_ready: Callable[[str], None] | None = None,
           routers: Sequence[APIRouter] = ()) -> gr.Blocks:
    """Ingest the sample if the store is empty, warm up, serve the page and print its URL on stdout.

    Blocks until interrupted unless `prevent_thread_lock`; then stop it with `app.close()`. `on_message` gets the
    first-start ingestion's lines (stdout by default), `on_ready` the URL line (stdout, flushed, by default);
    `routers` are served beside the page, on Gradio's own FastAPI
    app (they bring their own authentication: Gradio's password guards only its routes)."""
    from assistant.api import Assistant
    from ingest.sample import ensure_sample

    if sample:
        ensure_sample(settings, on_message)
    Assistant(settings).warm_up()
    app = build_app(settings)
    app.queue(default_concurrency_limit=settings.max_concurrent_answers, max_size=QUEUE_SIZE)
    # A thread per admitted or waiting answer, and spare ones so that a refusal is not kept waiting for one.
    threads = max(40, 2 * (settings.max_concurrent_answers + settings.max_queued_answers))
    app.launch(server_name=host, server_port=port, auth=auth, prevent_thread_lock=True, quiet=quiet,
               css=CSS, theme=theme(), ssr_mode=False, show_error=False, max_threads=threads,
               max_file_size=int(settings.max_file_mb * MB))
    for router in routers:
        app.app.include_router(router)
    (on_ready or _stdout)(f"Chat running on http://{display_host(host)}:{app.server_port}/")
    if not prevent_thread_lock:
        app.block_thread()
    return app
