"""`python -m assistant.cli`: the `assistant` command where its console script is not installed."""

from assistant.cli import app

app()
