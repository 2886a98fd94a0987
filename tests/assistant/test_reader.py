"""The reader's runtime (assistant/reader.py): a model exported by evals/train_reader.py scores in onnxruntime as it
did in torch, and scoring never imports torch. The export is of the packaged MiniLM with a seeded, untrained head:
what is tested is the export, tokenisation and int8 path, not what a trained model knows."""

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
