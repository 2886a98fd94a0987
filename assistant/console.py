"""What every command line (the `assistant` command, `python -m evals`) shares: settings from flags, one error line."""

from typing import NoReturn

import typer

from assistant.errors import InvalidSetting
from assistant.settings import Settings, load_settings


def fail(message: str, code: int = 2) -> NoReturn:
    """Print `error: MESSAGE` on stderr and exit with `code` (2: bad input, 1: the run failed)."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def settings_from(**flags) -> Settings:
    """Defaults < ASSISTANT_* env vars < these flags; a bad value fails with one line naming the field."""
    try:
        return load_settings(**flags)
    except InvalidSetting as exc:
        fail(str(exc))
