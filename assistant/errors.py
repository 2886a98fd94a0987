"""Errors a user can act on; each message is one line naming the file, field or URL at fault."""

import logging

log = logging.getLogger(__name__)


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


class StoreNotWritable(AssistantError):
    """The store's disk is full or read-only: writes fail, what is stored can still be read."""


class LLMError(AssistantError):
    """The chat model could not be reached or answered badly."""


class InvalidSetting(AssistantError):
    """A setting (flag, ASSISTANT_* variable or page field) has a bad value; the message names the field."""


class InvalidQuestion(AssistantError):
    """The question is empty or unusable."""


class UnknownDocument(AssistantError):
    """A path names no document in the collection."""


def one_line(exc: BaseException) -> str:
    """What a user is shown for an error: an AssistantError's own first line; anything else is logged in full and
    named only by its type (a stack trace or server path is no use to a reader)."""
    if isinstance(exc, AssistantError):
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    log.error("unexpected error", exc_info=exc)
    return f"something went wrong ({type(exc).__name__}); the server log has the details"
