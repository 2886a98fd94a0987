"""What every measurement family shares: the progress line callback and the --profile report."""

from __future__ import annotations

import io
import sys
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    import cProfile

Say = Callable[[str], None]


def say(line: str) -> None:
    """A progress line on stderr (stdout carries the results)."""
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def profile_text(profiler: cProfile.Profile, limit: int = 30) -> str:
    """The `limit` costliest functions, by cumulative and by own time."""
    import pstats  # only a --profile run needs it: `assistant` imports this module at start-up

    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).strip_dirs()
    stats.sort_stats("cumulative").print_stats(limit)
    stats.sort_stats("tottime").print_stats(limit)
    return out.getvalue()
