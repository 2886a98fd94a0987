"""The learned reader (assistant/models/reader.onnx): the shipped int8 ONNX model scores as the trained torch model
did, it reads paraphrases and near misses that the surface signals get wrong, and it runs without torch."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from assistant.judge import load_models
from assistant.reader import CHECK_FILE, MODEL_FILE, get_reader
from assistant.types import Passage

ROOT = Path(__file__).resolve().parents[2]


def test_the_shipped_model_is_small_enough():
    assert MODEL_FILE.stat().st_size <= 25 * 1024 * 1024


def test_onnx_scores_equal_the_torch_scores_on_fixed_pairs():
    check = json.loads(CHECK_FILE.read_text(encoding="utf-8"))
    pairs = [(p["a"], p["b"]) for p in check["fixed"]]
    torch_logits = np.array([p["torch_logit"] for p in check["fixed"]])
    onnx_logits = get_reader().logits(pairs)
    assert len(pairs) >= 20 and torch_logits.std() > 1.0  # pairs the model tells apart: a real comparison
    # int8 weights drift a little: within a tenth of the scores' spread, and the same decision on every clear pair.
    assert np.abs(onnx_logits - torch_logits).max() < 0.1 * (torch_logits.max() - torch_logits.min())
    clear = np.abs(torch_logits) > 1.0
    assert (np.sign(onnx_logits[clear]) == np.sign(torch_logits[clear])).all()


def test_a_shuffled_pair_scores_differently():
    """The comparison above can fail: the model's scores depend on which sentence goes with which question."""
    reader = get_reader()
    right = reader.answers("When did the Quillfeather Observatory open?",
                           ["The Quillfeather Observatory opened to the public in 1893.", "Parking costs £4 a day."])
    assert right[0] > right[1] + 2.0


NEAR_MISS_CASES = [
    # (question, the sentence that answers it in other words, a near miss sharing the question's words)
    ("How do I switch off the notifications?",
     "To disable alerts, open Settings and untick the box marked Alerts.",
     "Notifications are switched on by default when the app is installed."),
    ("What happens if an employee is let go?",
     "On dismissal, staff receive one month's pay for every year of service.",
     "An employee who goes on leave must tell their manager a week before."),
]


@pytest.mark.parametrize("question,answer,near_miss", NEAR_MISS_CASES)
def test_the_reader_ranks_the_answer_above_a_near_miss(question, answer, near_miss):
    scores = get_reader().answers(question, [answer, near_miss])
    assert scores[0] > scores[1]


def _verifier():
    from assistant.api import _terms
    from assistant.settings import Settings
    from assistant.verify import Verifier
    from ingest.embedding import get_embedder

    embedder = get_embedder(Settings(), "onnx")
    return Verifier(embedder, _terms(), lambda term: 3.0, None, drop_unsupported=False, model=load_models().support,
                    reader=get_reader())


def test_a_paraphrased_true_claim_is_accepted_and_its_number_swapped_twin_rejected():
    text = "The library lends up to 12 books at a time to each member. Loans last three weeks and can be renewed online."
    passage = Passage(source="leaflet.txt", title="Leaflet", text=text, start=0, end=len(text), line_start=1, line_end=1)
    verifier = _verifier()
    true = verifier.check("Each member may borrow as many as 12 books at once.", [passage])
    twin = verifier.check("Each member may borrow as many as 20 books at once.", [passage])
    assert true.supported, true
    assert not twin.supported, twin


READER_CHILD = """
import sys
from assistant.api import Assistant
from assistant.reader import get_reader
print(float(get_reader().answers("Who posted?", ["Trump posted on Truth Social."])[0]))
print("heavy:", sorted(m for m in ("torch", "transformers", "sentence_transformers") if m in sys.modules))
"""


def test_the_reader_runs_without_importing_torch():
    done = subprocess.run([sys.executable, "-c", READER_CHILD], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "heavy: []"
