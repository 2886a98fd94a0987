"""What one browser session holds, and the settings the page's own choices make on top of the launch settings.

Chat history lives in each browser session's `gr.State`; the process holds no chat state, so several replicas can
serve one Chroma server."""

from __future__ import annotations

from assistant.settings import Settings, load_settings


def new_session() -> dict:
    """What one browser session holds: shown messages (HTML), the (question, answer) history, sources per turn,
    and the answers themselves (for the conversation's export)."""
    return {"messages": [], "history": [], "sources": [], "answers": []}


def copy_session(session: dict | None) -> dict:
    """A copy to change: the input stays as Gradio handed it."""
    session = session or new_session()
    return {key: list(session.get(key, [])) for key in new_session()}


def say(session: dict, role: str, content: str) -> None:
    session["messages"].append({"role": role, "content": content})


def page_settings(base: Settings, mode: str | None = None, llm: str | None = None, k: float | None = None,
                  collection: str | None = None) -> Settings:
    """The launch settings with the page's choices on top; a bad value raises InvalidSetting (one line)."""
    return load_settings(base, mode=mode or None, llm=(llm or "").strip() or None,
                         k=int(k) if k is not None else None, collection=(collection or "").strip() or None)


def page_collection(base: Settings, collection: str | None) -> str:
    return (collection or "").strip() or base.collection
