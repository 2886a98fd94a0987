"""Follow-up questions made standalone: deterministic in extractive mode, an LLM rewrite in LLM mode."""

import re

from assistant.answer import REFUSAL

_FOLLOW_UP = re.compile(
    r"\b(he|she|it|they|him|her|them|his|hers|its|their|this|that|these|those|there|then|the same)\b"
    r"|^\s*(what|how) about\b|^\s*(and|also|so)\b", re.I)
_PERSON = re.compile(r"\b(he|she|him|her|his|hers)\b", re.I)
_WHAT_ABOUT = re.compile(r"^\s*(and\s+)?(what|how) about\b", re.I)
_NAME = re.compile(r"\b[A-Z][\w’'-]*(?:\s+[A-Z][\w’'-]*)*")
_NOT_NAMES = frozenset("I What Who Whom Whose When Where Why How Which Did Does Do Is Are Was Were Can Could Would "
                       "Will Should The A An And But Or In On At To Of For As It He She They This That".split())


def is_follow_up(question: str) -> bool:
    return bool(_FOLLOW_UP.search(question)) or len(question.split()) <= 3


def rewrite(question: str, history: list[tuple[str, str]]) -> str:
    """The question plus what it refers back to: names for "he/she", else the previous answer or question."""
    if not history or not is_follow_up(question):
        return question
    last_question, last_answer = history[-1]
    last_answer = "" if REFUSAL in last_answer else re.sub(r"\s*\[\d+\]", "", last_answer).strip()
    if _WHAT_ABOUT.match(question) or not last_answer:
        return f"{question} ({last_question})"
    if not _PERSON.search(question):
        return f"{question} ({last_answer})"
    names = []
    for text in (last_answer, last_question):
        for match in _NAME.finditer(text):
            name = " ".join(w for w in match.group().split() if w not in _NOT_NAMES and len(w) > 1)
            if name and name.lower() not in question.lower() and name not in names:
                names.append(name)
    return f"{question} ({', '.join(names[:3])})" if names else f"{question} ({last_question})"


def format_history(history: list[tuple[str, str]]) -> str:
    return "\n".join(f"User: {user}\nAssistant: {bot}" for user, bot in history[-4:])
