"""The reader's runtime (assistant/reader.py): a model exported by evals/train_reader.py scores in onnxruntime as it
did in torch, and scoring never imports torch. The export is of the packaged MiniLM with a seeded, untrained head:
what is tested is the export, tokenisation and int8 path, not what a trained model knows."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
PAIRS = [("question: When did the Quillfeather Observatory open?", "The Quillfeather Observatory opened in 1893."),
         ("question: When did the Quillfeather Observatory open?", "Parking costs £4 a day at the north gate."),
         ("claim: Each member may borrow 12 books.", "The library lends up to 12 books at a time to each member."),
         ("claim: Each member may borrow 20 books.", "The library lends up to 12 books at a time to each member."),
         ("question: " + "word " * 200, "sentence " * 200)]  # truncated to the training length on both sides


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from assistant.settings import DEFAULT_EMBEDDING_MODEL
    from evals.train_reader import ATTENTION, export, scores
    from ingest.embedding import resolve_model_path

    torch.manual_seed(0)
    base = resolve_model_path(DEFAULT_EMBEDDING_MODEL)
    model = AutoModelForSequenceClassification.from_pretrained(base, num_labels=1, attn_implementation=ATTENTION).eval()
    with torch.no_grad():  # a head with a spread of outputs, so that the comparison can tell pairs apart
        model.classifier.weight.mul_(20.0)
    tokenizer = AutoTokenizer.from_pretrained(base)
    out = tmp_path_factory.mktemp("reader") / "reader.onnx"
    logits = scores(model, tokenizer, [(a, b, 0.0) for a, b in PAIRS])  # before: tracing leaves the model changed
    export(model, tokenizer, out)
    return out, logits


@pytest.mark.slow
def test_onnx_scores_equal_the_torch_scores_on_fixed_pairs(exported):
    from assistant.reader import Reader

    path, torch_logits = exported
    onnx_logits = Reader(path).logits(PAIRS)
    # int8 weights drift (measured: up to 0.14 logits on these pairs, 0.12 on the trained model's fixed pairs);
    # a trained model's logits span several units, so 0.2 keeps every clear decision.
    assert np.abs(onnx_logits - torch_logits).max() < 0.2, (onnx_logits, torch_logits)
    shuffled = Reader(path).logits([(a, PAIRS[(i + 1) % len(PAIRS)][1]) for i, (a, _) in enumerate(PAIRS)])
    assert np.abs(shuffled - torch_logits).max() > 0.2  # the check above can fail


READER_CHILD = """
import sys
from pathlib import Path
from assistant.api import Assistant
from assistant.reader import Reader
print(float(Reader(Path(sys.argv[1])).answers("Who posted?", ["Trump posted on Truth Social."])[0]))
print("heavy:", sorted(m for m in ("torch", "transformers", "sentence_transformers") if m in sys.modules))
"""


@pytest.mark.slow
def test_the_reader_scores_without_importing_torch(exported):
    done = subprocess.run([sys.executable, "-c", READER_CHILD, str(exported[0])], capture_output=True, text=True,
                          timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "heavy: []"


def test_without_a_model_file_the_reader_says_how_to_make_one(tmp_path):
    from assistant.errors import AssistantError
    from assistant.reader import Reader

    with pytest.raises(AssistantError, match="train.reader"):
        Reader(tmp_path / "missing.onnx").logits([("question: a", "b")])


# -- the shipped model: what it reads that similarity does not ---------------------------------------------------

@pytest.fixture(scope="module")
def shipped():
    from assistant.reader import get_reader

    return get_reader()


def test_the_shipped_model_scores_as_its_training_did(shipped):
    from assistant.reader import CHECK_FILE

    fixed = json.loads(CHECK_FILE.read_text(encoding="utf-8"))["fixed"]
    trained = np.array([f["torch_logit"] for f in fixed])
    assert np.ptp(trained) > 2.0  # the fixed pairs spread out, so the comparison can tell them apart
    onnx = shipped.logits([(f["a"], f["b"]) for f in fixed])
    # int8 weights drift (measured on these pairs: at most 0.52, mean 0.11); every clear verdict keeps its side.
    assert np.abs(onnx - trained).max() < 0.6
    clear = np.abs(trained) > 0.6
    assert clear.sum() >= 12 and (np.sign(onnx[clear]) == np.sign(trained[clear])).all()


@pytest.mark.parametrize("question, answer, near_miss", [
    # Same words and a value of the asked-for kind in both: only reading tells which day and which event.
    ("What time does the library open on Sundays?", "On Sundays the library opens at 11:00 and closes at 16:00.",
     "The library opens at 09:00 on weekdays."),
    ("When did the Ingenuity helicopter crash?",
     "Ingenuity's last flight ended on 18 January 2024, when a rotor blade broke on landing.",
     "Ingenuity made the first powered flight on another planet on 19 April 2021."),
    ("When was the museum founded?", "The museum was established in 1921 by the town council.",
     "The museum moved to its present building in 1968."),
])
def test_the_reader_ranks_the_answer_above_a_near_miss(shipped, question, answer, near_miss):
    answer_logit, near_logit = shipped.answers(question, [answer, near_miss])
    assert answer_logit > near_logit


@pytest.mark.parametrize("claim, twin, evidence", [
    ("Members may take out as many as 12 books at the same time.",
     "Members may take out as many as 20 books at the same time.",
     "The library lends up to 12 books at a time to each member."),
    ("The rover gets its power from the heat of decaying plutonium.", "The rover gets its power from solar panels.",
     "The rover is powered by a radioisotope thermoelectric generator that turns heat from decaying plutonium into "
     "electricity."),
])
def test_a_paraphrased_claim_is_supported_and_its_twin_is_not(shipped, claim, twin, evidence):
    assert shipped.supports(claim, [evidence])[0] > 0 > shipped.supports(twin, [evidence])[0]
