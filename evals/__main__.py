"""`python -m evals`: the same command as `assistant eval`."""

import typer

from evals.cli import eval_command

typer.run(eval_command)
