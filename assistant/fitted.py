"""The fitted decisions of the judge and the verifier: logistic models over named signals, read from judge.json
(written by `assistant calibrate` on dev data)."""

import json
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path

import numpy as np

from assistant.errors import AssistantError

MODEL_FILE = Path(__file__).parent / "models" / "judge.json"
ANSWER_FEATURES = ("cosine", "cosine_gap", "coverage", "context_coverage", "slot_found", "slot_missing",
                   "new_content", "names_found", "key_term_missing", "unknown_terms", "focus_missing",
                   "numbers_found", "reader")
# The refusal decision reads the best sentence's answer probability beside that sentence's own signals, and whether
# any candidate at all holds what the question asks for (a price, a date, a person...).
REFUSAL_FEATURES = ("answer", *ANSWER_FEATURES, "slot_nowhere")


def sigmoid(logits: np.ndarray) -> np.ndarray:
    """Logits as probabilities: the fitted models' outputs, and the reader's as a signal they weigh."""
    return 1.0 / (1.0 + np.exp(-logits))


@dataclass(frozen=True)
class Logistic:
    """A fitted logistic regression over named features; applying it is a dot product."""

    features: tuple[str, ...]
    weights: tuple[float, ...]
    bias: float
    threshold: float  # probability at or above which the decision is "yes"

    def over(self, names: tuple[str, ...]) -> "Logistic":
        """The same model over `names`, a signal it was not fitted on weighing 0 (a model file from before it)."""
        if names == self.features:
            return self
        given = dict(zip(self.features, self.weights))
        if set(given) - set(names):
            raise ValueError(f"signals {sorted(set(given) - set(names))} are not computed any more")
        return Logistic(names, tuple(given.get(n, 0.0) for n in names), self.bias, self.threshold)

    def weighs(self, name: str) -> bool:
        """Whether the signal `name` counts at all (a weight of 0 need not be computed)."""
        return name in self.features and self.weights[self.features.index(name)] != 0

    def probability(self, rows: np.ndarray) -> np.ndarray:
        if len(rows) == 0:
            return np.zeros(0)
        return sigmoid(np.asarray(rows, float) @ np.array(self.weights) + self.bias)


@dataclass(frozen=True)
class Models:
    """The calibrated decisions: does a sentence answer a question (ranks the sentences), does the best one answer
    it at all (else refuse), does a passage support a claim."""

    answer: Logistic
    refuse: Logistic
    support: Logistic

    def save(self, path: Path = MODEL_FILE) -> None:
        path.write_text(json.dumps({k: asdict(getattr(self, k)) for k in _KINDS}, indent=1) + "\n", encoding="utf-8")


_KINDS = ("answer", "refuse", "support")
# The verifier's signals, named here so a model file can be checked against them without importing the verifier.
SUPPORT_FEATURES = ("cosine", "coverage", "key_term_missing", "numbers_missing", "names_missing", "polarity_differs",
                    "antonym", "swapped", "reader")
_FEATURES = {"answer": ANSWER_FEATURES, "refuse": REFUSAL_FEATURES, "support": SUPPORT_FEATURES}


@cache
def load_models(path: Path = MODEL_FILE) -> Models:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        models = Models(*(Logistic(**{**data[k], "features": tuple(data[k]["features"]),
                                          "weights": tuple(data[k]["weights"])}).over(_FEATURES[k]) for k in _KINDS))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise AssistantError(f"{path}: not a judge model file ({exc}); run `assistant calibrate`") from None
    return models
