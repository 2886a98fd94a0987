"""Errors a user can act on; each message is one line naming the file, field or URL at fault."""


class AssistantError(Exception):
    """Base class: the message is meant for the user, as is."""


class LoadError(AssistantError):
    """A file could not be read into text."""


class UnsupportedFile(LoadError):
    """A file type we do not ingest; skipped, not failed."""


class ModelMismatch(AssistantError):
    """A collection embedded with one model is used with another."""


class StoreUnreachable(AssistantError):
    """The Chroma store (server or directory) cannot be reached."""


class LLMError(AssistantError):
    """The chat model could not be reached or answered badly."""


class InvalidQuestion(AssistantError):
    """The question is empty or unusable."""


class UnknownDocument(AssistantError):
    """A path names no document in the collection."""
