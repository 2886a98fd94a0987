"""The chat panel's handlers: one streamed turn, and the conversation's export as files to download."""

from __future__ import annotations

import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import Iterator

from assistant.admission import admission
from assistant.errors import AssistantError, one_line
from assistant.settings import Settings
from assistant.types import UNPRINTABLE, Answer, Conversation
from assistant.ui.render import error_html, render_answer, render_sources, render_text, sources_panel
from assistant.ui.session import copy_session, page_settings, say


def respond(base: Settings, question: str, session: dict | None, mode: str | None = None, llm: str | None = None,
            k: float | None = None, collection: str | None = None,
            sources: list[str] | None = None) -> Iterator[tuple[str, list, str, dict]]:
    """One chat turn, streamed: yields (textbox, chatbot messages, sources panel, session); `sources` scopes it."""
    from assistant.api import Assistant

    session = copy_session(session)
    question = UNPRINTABLE.sub(" ", str(question or "")).strip()
    if not question:
        yield "", session["messages"], sources_panel(session), session
        return
    shown = question if len(question) <= base.max_question_chars else question[:base.max_question_chars] + "…"
    say(session, "user", render_text(shown))
    say(session, "assistant", '<span class="chat-note">Searching the documents…</span>')
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
        session["messages"][-1] = {"role": "assistant", "content": error_html(one_line(exc))}
        yield "", session["messages"], sources_panel(session), session
        return
    turn = len(session["sources"]) + 1
    session["messages"][-1] = {"role": "assistant", "content": render_answer(answer, turn)}
    session["history"].append((question, answer.text))
    session["answers"].append(answer)
    session["sources"].append(render_sources(answer, turn))
    yield "", session["messages"], sources_panel(session), session


# A download button serves a file by path, and Gradio serves files only from the temp folder: the export is written
# there, and old exports are swept (Gradio keeps its own copy of a file once it is offered for download).
EXPORT_DIR = Path(tempfile.gettempdir()) / "assistant-exports"
EXPORT_MAX_AGE = 3600.0


def export_conversation(session: dict | None) -> tuple[str | None, str | None]:
    """The session's questions, answers and citations written as conversation.md and conversation.json."""
    answers = (session or {}).get("answers") or []
    if not answers:
        return None, None
    for old in EXPORT_DIR.glob("*") if EXPORT_DIR.exists() else ():
        if time.time() - old.stat().st_mtime > EXPORT_MAX_AGE:
            shutil.rmtree(old, ignore_errors=True)
    folder = EXPORT_DIR / uuid.uuid4().hex
    folder.mkdir(parents=True)
    conversation = Conversation(turns=answers)
    (folder / "conversation.md").write_text(conversation.to_markdown(), encoding="utf-8")
    (folder / "conversation.json").write_text(conversation.to_json(), encoding="utf-8")
    return str(folder / "conversation.md"), str(folder / "conversation.json")
