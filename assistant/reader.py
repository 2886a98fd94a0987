"""The learned reader: a cross-encoder scoring whether a sentence answers a question, or evidence supports a claim.
int8 ONNX in assistant/models/ (trained by `assistant train-reader`), run by onnxruntime + tokenizers."""

import threading
from functools import cache
from pathlib import Path

import numpy as np

from assistant.errors import AssistantError

MODEL_FILE = Path(__file__).parent / "models" / "reader.onnx"
CHECK_FILE = Path(__file__).parent / "models" / "reader-check.json"
MAX_TOKENS = 64  # the training length: 96 halves training speed on 2 busy cores


def question_input(question: str) -> str:
    return f"question: {question}"


def claim_input(claim: str) -> str:
    return f"claim: {claim}"


class Reader:
    """Logits of (first, second) text pairs; the session and tokenizer load on first use."""

    def __init__(self, model_file: Path = MODEL_FILE):
        self.model_file = model_file
        self._lock = threading.Lock()
        self._session = None
        self._tokenizer = None

    def _load(self):
        with self._lock:
            if self._session is None:
                import onnxruntime
                from tokenizers import Tokenizer

                from assistant.settings import DEFAULT_EMBEDDING_MODEL
                from ingest.embedding import resolve_model_path

                if not self.model_file.is_file():
                    raise AssistantError(f"{self.model_file}: no reader model; run `assistant train-reader`")
                model_dir = Path(resolve_model_path(DEFAULT_EMBEDDING_MODEL))
                tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
                tokenizer.enable_truncation(max_length=MAX_TOKENS, strategy="longest_first")
                tokenizer.enable_padding()
                options = onnxruntime.SessionOptions()
                options.intra_op_num_threads = 2
                self._tokenizer = tokenizer
                self._session = onnxruntime.InferenceSession(str(self.model_file), options,
                                                             providers=["CPUExecutionProvider"])
        return self._session, self._tokenizer

    def logits(self, pairs: list[tuple[str, str]]) -> np.ndarray:
        if not pairs:
            return np.zeros(0, np.float32)
        session, tokenizer = self._load()
        encoded = tokenizer.encode_batch(pairs)
        feed = {"input_ids": np.array([e.ids for e in encoded], np.int64),
                "attention_mask": np.array([e.attention_mask for e in encoded], np.int64),
                "token_type_ids": np.array([e.type_ids for e in encoded], np.int64)}
        return session.run(None, feed)[0].astype(np.float32)

    def answers(self, question: str, sentences: list[str]) -> np.ndarray:
        """Logit that each sentence answers the question."""
        return self.logits([(question_input(question), s) for s in sentences])

    def supports(self, claim: str, evidence: list[str]) -> np.ndarray:
        """Logit that each evidence text supports the claim."""
        return self.logits([(claim_input(claim), e) for e in evidence])


@cache
def get_reader(model_file: Path = MODEL_FILE) -> Reader:
    return Reader(model_file)
