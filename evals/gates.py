"""--fail-under gates: `METRIC=VALUE` pairs checked against a run's metrics, for CI."""


def lower_is_better(name: str) -> bool:
    return name.startswith("latency.") or name == "refusal.answerable_refused"


def parse_gate(text: str, known: list[str]) -> tuple[str, float]:
    """(metric, threshold) from `METRIC=VALUE`; ValueError with a one-line message otherwise."""
    name, _, value = text.partition("=")
    name = name.strip()
    try:
        threshold = float(value)
    except ValueError:
        raise ValueError(f"--fail-under {text!r}: expected METRIC=VALUE, e.g. answer.contains=0.85") from None
    if name not in known:
        raise ValueError(f"--fail-under {text!r}: unknown metric {name!r}; known: {', '.join(known)}")
    return name, threshold


def failed_gates(metrics: dict[str, float | None], gates: list[tuple[str, float]]) -> list[str]:
    """One line per gate the metrics miss: below VALUE, or above it for lower-is-better metrics; a missing value
    fails."""
    failures = []
    for name, threshold in gates:
        value = metrics.get(name)
        if value is None:
            failures.append(f"FAIL {name}: no value (no items it applies to), gate {threshold:g}")
        elif lower_is_better(name) and value > threshold:
            failures.append(f"FAIL {name} = {value:.4g} > {threshold:g} (lower is better)")
        elif not lower_is_better(name) and value < threshold:
            failures.append(f"FAIL {name} = {value:.4g} < {threshold:g}")
    return failures
