"""evals.gates: METRIC=VALUE parsing and which gates a run fails (latency and refusal of answerable items: lower is
better)."""

import pytest

from evals.gates import failed_gates, parse_gate


def test_gate_parsing():
    assert parse_gate("answer.contains=0.85", ["answer.contains"]) == ("answer.contains", 0.85)
    with pytest.raises(ValueError, match="METRIC=VALUE"):
        parse_gate("answer.contains=high", ["answer.contains"])
    assert failed_gates({"a": 0.8, "refusal.answerable_refused": 0.04},
                        [("a", 0.8), ("refusal.answerable_refused", 0.05)]) == []
    assert len(failed_gates({"a": 0.79, "refusal.answerable_refused": 0.06},
                            [("a", 0.8), ("refusal.answerable_refused", 0.05)])) == 2
