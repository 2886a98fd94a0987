"""Optional LLM-judged correctness: a configured chat model grades an answer against the reference answers."""

from assistant.errors import LLMError
from assistant.settings import Settings

PROMPT = """You grade answers to questions about a document.
Question: {question}
Reference answer(s): {references}
Answer to grade: {answer}
Does the answer to grade state what a reference answer states? Reply with one word: CORRECT or INCORRECT."""


class Judge:
    """The chat model of `settings.llm` as a grader: 1.0 when an answer states what a reference states, else 0.0."""

    def __init__(self, settings: Settings):
        from assistant.llm import chat_model

        self.model = chat_model(settings)
        self.name = settings.llm

    def grade(self, question: str, references: list[str], answer: str) -> float:
        prompt = PROMPT.format(question=question, references=" | ".join(references), answer=answer)
        try:
            reply = str(self.model.invoke(prompt).content)
        except Exception as exc:  # timeouts, refused connections, bad responses
            raise LLMError(f"judge: {self.name} failed: "
                           f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from exc
        return float(reply.strip().upper().startswith("CORRECT"))
