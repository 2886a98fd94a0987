"""The chat page: a thin Gradio front end over `Assistant` and `ingest`, with no rules of its own.

`render` turns answers and listings into escaped HTML (the chat renders no Markdown; Gradio's sanitizer still runs
on top), `chat` and `documents` are the panels' handlers, `session` is what each browser session holds, and `app`
lays the page out, wires its events and launches it."""

from assistant.ui.app import build_app, launch
from assistant.ui.chat import export_conversation, respond
from assistant.ui.documents import ingest_uploads, list_documents, remove_documents
from assistant.ui.render import render_answer, render_sources, sources_panel
from assistant.ui.session import new_session, page_settings

__all__ = ["build_app", "export_conversation", "ingest_uploads", "launch", "list_documents", "new_session",
           "page_settings", "remove_documents", "render_answer", "render_sources", "respond", "sources_panel"]
