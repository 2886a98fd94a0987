"""Follow-up questions made standalone: deterministic in extractive mode, an LLM rewrite in LLM mode."""

import re

from assistant.answer import REFUSAL
from assistant.answerability import names
from assistant.types import strip_markers

_FOLLOW_UP = re.compile(
    r"\b(he|she|it|they|him|her|them|his|hers|its|their|this|that|these|those|there|then|the same)\b"
    r"|^\s*(what|how) about\b|^\s*(and|also|so)\b", re.I)
_PERSON = re.compile(r"\b(he|she|him|her|his|hers)\b", re.I)
_WHAT_ABOUT = re.compile(r"^\s*(and\s+)?(what|how) about\b", re.I)
# Last words of names that are places, buildings or organisations rather than people.
_NOT_PEOPLE = frozenset("lighthouse fjord river street road lane bridge canal company ltd inc university crater "
                        "mountain "
                        "mount lake island bay city town council bank hall house building park station tower church "
                        "castle palace museum garden gardens sea ocean valley airport terminal office ministry "
                        "department agency union kingdom republic states one plant centre center school college "
                        "court square harbour harbor port coast".split())


def judged_question(question: str, standalone: str) -> str:
    """What the answer judge reads: for "what about X?" the user's own words (the added context helps retrieval
    find X's neighbourhood, but X is what must be answered), else the standalone question."""
    return question if _WHAT_ABOUT.match(question) else standalone


def is_follow_up(question: str) -> bool:
    return bool(_FOLLOW_UP.search(question)) or len(question.split()) <= 3


def rewrite(question: str, history: list[tuple[str, str]]) -> str:
    """The question plus what it refers back to: the last person named for "he/she", else the previous answer or
    question."""
    if not history or not is_follow_up(question):
        return question
    last_question, last_answer = history[-1]
    last_answer = "" if REFUSAL in last_answer else strip_markers(last_answer).strip()
    if _WHAT_ABOUT.match(question) or not last_answer:
        return f"{question} ({last_question})"
    if not _PERSON.search(question):
        return f"{question} ({last_answer})"
    people = [n for text in (last_answer, last_question) for n in reversed(_people(text))
              if n.lower() not in question.lower()]
    return f"{question} ({people[0]})" if people else f"{question} ({last_question})"


def _people(text: str) -> list[str]:
    """Names that look like people (two to four capitalised words, not ending like a place), in order of mention."""
    found = [n for n in names(text) if 2 <= len(n.split()) <= 4 and n.split()[-1].lower() not in _NOT_PEOPLE]
    return sorted(found, key=text.find)


def format_history(history: list[tuple[str, str]]) -> str:
    return "\n".join(f"User: {user}\nAssistant: {bot}" for user, bot in history[-4:])
