"""Tokens/s of the llama.cpp build this interpreter imports, on the sample question with its passages.

`assistant bench tokens` prints the build's CPU features and the speed; run it once per build (e.g. with
PYTHONPATH pointing at another build) to compare a portable build with a native one on the same machine."""

import tempfile
import time
from pathlib import Path
from typing import Callable

from assistant import Assistant
from assistant.llm import gguf_path
from assistant.settings import Settings
from evals.bench.common import say
from ingest.sample import ensure_sample

QUESTION = "Who did Trump send to Moscow?"


def measure_tokens(runs: int = 3, max_tokens: int = 128, threads: int = 2, out: Callable[[str], None] = say) -> None:
    """Answer the sample question `runs` times with SmolLM2-135M; the build's features and tokens/s to `out`."""
    import llama_cpp

    with tempfile.TemporaryDirectory() as work:
        settings = Settings(data_dir=Path(work), collection="tokens")
        ensure_sample(settings, on_message=lambda line: None)
        passages = Assistant(settings).ask(QUESTION).passages
    context = "\n\n".join(p.text for p in passages)
    model = llama_cpp.Llama(gguf_path("SmolLM2-135M-Instruct"), n_ctx=4096, n_threads=threads, verbose=False, seed=0)
    features = [f.strip() for f in llama_cpp.llama_print_system_info().decode().split("|") if f.strip().endswith("1")]
    messages = [{"role": "system", "content": f"Answer from these passages only.\n\n{context}"},
                {"role": "user", "content": QUESTION}]
    rates = []
    for _ in range(runs):
        started = time.perf_counter()
        reply = model.create_chat_completion(messages, max_tokens=max_tokens, temperature=0.0)
        rates.append(reply["usage"]["completion_tokens"] / (time.perf_counter() - started))
    out(f"llama-cpp-python {llama_cpp.__version__} | {' '.join(features)}")
    out(f"tokens/s (prompt {reply['usage']['prompt_tokens']} tokens, answer <= {max_tokens}): "
               + " ".join(f"{r:.1f}" for r in rates) + f" | best {max(rates):.1f}")

