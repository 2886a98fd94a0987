"""A chat assistant grounded in your documents: `Assistant().ask(question)` returns a cited, verified `Answer`."""

from assistant.settings import Settings
from assistant.types import Answer, Citation, Conversation, DocumentInfo, Passage

__all__ = ["Answer", "Assistant", "Citation", "Conversation", "DocumentInfo", "Passage", "Settings"]


def __getattr__(name: str):
    # The chain pulls in torch and LangChain; importing settings or types alone stays cheap.
    if name == "Assistant":
        from assistant.api import Assistant

        return Assistant
    raise AttributeError(name)
