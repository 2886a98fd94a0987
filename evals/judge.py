"""Optional LLM-judged correctness: a configured chat model grades each answer against the references."""

from tqdm import tqdm

from assistant.errors import LLMError
from assistant.settings import Settings
from evals.harness import Row, answer_text

PROMPT = """You grade answers to questions about a document.
Question: {question}
Reference answer(s): {references}
Answer to grade: {answer}
Does the answer to grade state what a reference answer states? Reply with one word: CORRECT or INCORRECT."""


def judge_rows(rows: list[Row], settings: Settings, progress: bool = True) -> list[Row]:
    """Rows with a `judge.correct` score: 1/0 for answerable items (a refusal is 0), None for unanswerable ones."""
    from assistant.llm import chat_model

    model = chat_model(settings)
    judged = []
    for row in tqdm(rows, desc="judge", unit="q", disable=not progress, dynamic_ncols=True):
        verdict = None
        if row.item.answerable:
            verdict = 0.0 if row.answer.refused else _grade(model, row, settings.llm)
        judged.append(row.model_copy(update={"scores": {**row.scores, "judge.correct": verdict}}))
    return judged


def _grade(model, row: Row, name: str) -> float:
    prompt = PROMPT.format(question=row.answer.standalone_question or row.item.question,
                           references=" | ".join(row.item.answers), answer=answer_text(row.answer))
    try:
        reply = str(model.invoke(prompt).content)
    except Exception as exc:  # timeouts, refused connections, bad responses
        raise LLMError(f"judge: {name} failed: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from exc
    return float(reply.strip().upper().startswith("CORRECT"))
