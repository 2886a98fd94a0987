"""What every measurement family shares: the progress line callback and the --profile report."""

import cProfile
import io
import pstats
import sys
from typing import Callable

Say = Callable[[str], None]


def say(line: str) -> None:
    """A progress line on stderr (stdout carries the results)."""
    print(line, file=sys.stderr, flush=True)


def profile_text(profiler: cProfile.Profile, limit: int = 30) -> str:
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).strip_dirs()
    stats.sort_stats("cumulative").print_stats(limit)
    stats.sort_stats("tottime").print_stats(limit)
    return out.getvalue()
