"""Cheap, deterministic checks of whether a sentence can answer a question at all (beyond being similar to it)."""

import re

_NUMBER_WORDS = (r"\d|\b(two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|"
                 r"hundreds?|thousands?|millions?|billions?|dozens?|half)\b")
_MONTHS = r"jan(uary)?|feb(ruary)?|mar(ch)?|apr(il)?|may|june?|july?|aug(ust)?|sep(t(ember)?)?|oct(ober)?|nov(ember)?|dec(ember)?"
_DAYS = r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|today|yesterday|tomorrow|tonight"
_DATE = rf"\b\d{{3,4}}s?\b|\b({_MONTHS}|{_DAYS})\b|\b(years?|months?|weeks?|days?) ago\b"
_CLOCK = r"\b\d{1,2}(:\d\d)?\s*(a\.?m\.?|p\.?m\.?)|\b(noon|midnight|morning|afternoon|evening|night|dawn|dusk)\b|o'clock"
_DURATION = (rf"({_NUMBER_WORDS}|\ba\b|\ban\b)[\w\s-]{{0,12}}\b(seconds?|minutes?|hours?|days?|weeks?|months?|years?|decades?)\b"
             r"|\b\w+long\b")

# Question pattern -> what its answer must contain. First match wins, so the more specific patterns come first.
_EXPECTATIONS = [
    (re.compile(r"\bwhat time\b|\bat what time\b|\btime of day\b", re.I), re.compile(_CLOCK, re.I)),
    (re.compile(r"\bhow long\b", re.I), re.compile(_DURATION, re.I)),
    (re.compile(r"\bhow (many|much)\b|\bwhat (number|percentage|amount)\b|\bhow old\b", re.I), re.compile(_NUMBER_WORDS, re.I)),
    (re.compile(r"^\s*when\b|\bwhat (year|date|day|month)\b|\bon what (date|day)\b|\bin what year\b", re.I),
     re.compile(_DATE, re.I)),
]


def can_answer(question: str, sentence: str) -> bool:
    """False when the question asks for a number, date, time or duration and the sentence has none."""
    for asks, needs in _EXPECTATIONS:
        if asks.search(question):
            return bool(needs.search(sentence))
    return True


def is_heading(sentence: str) -> bool:
    """A short line without closing punctuation: a title or section heading rather than a statement."""
    return not re.search(r"[.!?:;][\"'”’)]*$", sentence) and len(sentence.split()) <= 14


def open_quote(sentence: str) -> bool:
    """The sentence opens a quotation it does not close, so the next sentence belongs to it."""
    return sentence.count("“") > sentence.count("”")
