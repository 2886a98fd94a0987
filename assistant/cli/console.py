"""What every `assistant` command shares: the settings options, settings from flags, one error line."""

import functools
import inspect
from pathlib import Path
from typing import Annotated, Any, Callable, NoReturn, Optional, TypeVar

import typer

from assistant.errors import InvalidSetting
from assistant.settings import Settings, load_settings

Command = TypeVar("Command", bound=Callable[..., Any])

# The settings flags, by what a command does with them; `with_settings` adds a group's options to a command.
STORE = {
    "collection": Annotated[Optional[str], typer.Option("--collection", "-c", help="Chroma collection name.")],
    "chroma_url": Annotated[Optional[str], typer.Option("--chroma-url", help="http://HOST:PORT of a Chroma server.")],
    "data_dir": Annotated[Optional[Path], typer.Option("--data-dir", help="Where the embedded store lives.")],
}
ANSWERING = {
    "k": Annotated[Optional[int], typer.Option("--k", help="Passages to retrieve.")],
    "mode": Annotated[Optional[str], typer.Option("--mode", help="extractive or llm.")],
    "llm": Annotated[Optional[str], typer.Option(
        "--llm", help="provider:model, e.g. openai:gpt-4o-mini or llamacpp:PATH.gguf.")],
    "llm_base_url": Annotated[Optional[str], typer.Option(
        "--llm-base-url", help="Base URL of an OpenAI-compatible server.")],
}
SERVING = {
    "api_key": Annotated[Optional[str], typer.Option(
        "--api-key", help="Bearer key the /v1 endpoint asks for (or ASSISTANT_API_KEY); none: no key needed.")],
}


def fail(message: str, code: int = 2) -> NoReturn:
    """Print `error: MESSAGE` on stderr and exit with `code` (2: bad input, 1: the run failed)."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def settings_from(**flags: Any) -> Settings:
    """Defaults < ASSISTANT_* env vars < these flags; a bad value fails with one line naming the field."""
    try:
        return load_settings(**flags)
    except InvalidSetting as exc:
        fail(str(exc))


def with_settings(*groups: dict[str, Any]) -> Callable[[Command], Command]:
    """Give a command the groups' options (after its own) and call it with `settings=` built from them, so each flag
    is declared once for every command that takes it."""
    options = {name: hint for group in groups for name, hint in group.items()}

    def decorate(command: Command) -> Command:
        signature = inspect.signature(command)
        own = [p for p in signature.parameters.values() if p.name != "settings"]
        added = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=hint)
                 for name, hint in options.items()]

        @functools.wraps(command)
        def run(*args: Any, **kwargs: Any) -> Any:
            flags = {name: kwargs.pop(name, None) for name in options}
            return command(*args, settings=settings_from(**flags), **kwargs)

        # Typer reads the parameters from the signature and their types from __annotations__.
        run.__signature__ = signature.replace(parameters=own + added)  # type: ignore[attr-defined]
        run.__annotations__ = {**{k: v for k, v in command.__annotations__.items() if k != "settings"}, **options}
        return run  # type: ignore[return-value]

    return decorate
