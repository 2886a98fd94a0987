"""The statistics every evaluation and benchmark figure is reported with: one definition of each, used everywhere."""

import math
import statistics
from collections.abc import Iterable


def percentile(values: Iterable[float], p: float) -> float | None:
    """Nearest-rank percentile: the smallest value with at least p% of the values at or below it (always a value
    that was measured); None for no values."""
    ordered = sorted(values)
    if not ordered:
        return None
    return ordered[max(math.ceil(p / 100 * len(ordered)), 1) - 1]


def median(values: Iterable[float | None]) -> float | None:
    """The median of the values that apply (not None): the mean of the middle two for an even count."""
    present = [v for v in values if v is not None]
    return float(statistics.median(present)) if present else None


def mean(values: Iterable[float | None]) -> float | None:
    """The mean of the values that apply (not None)."""
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def auc(labels, values) -> float:
    """Area under the ROC curve: the chance a positive scores above a negative (ties half); nan without both."""
    import numpy as np

    labels, values = np.asarray(labels), np.asarray(values, float)
    pos, neg = values[labels == 1], values[labels == 0]
    if not len(pos) or not len(neg):
        return float("nan")
    return float((pos[:, None] > neg[None]).mean() + 0.5 * (pos[:, None] == neg[None]).mean())
