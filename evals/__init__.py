"""Evaluation harness: `run_eval(load_dataset("peace-talks"), settings)` scores the assistant on a question set."""

from evals.dataset import load_dataset

__all__ = ["load_dataset", "run_eval"]


def __getattr__(name: str):
    # The harness pulls in the assistant (torch, LangChain); loading datasets stays cheap.
    if name == "run_eval":
        from evals.harness import run_eval

        return run_eval
    raise AttributeError(name)
