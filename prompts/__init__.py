"""Prompt templates live here as Markdown files, not as strings inside the code."""

from functools import cache
from pathlib import Path

_HERE = Path(__file__).parent


@cache
def load(name: str) -> str:
    """The text of prompts/<name>.md."""
    return (_HERE / f"{name}.md").read_text(encoding="utf-8")
