"""Cheap, deterministic reading signals: what a question asks for, numbers as values, names, negation, headings."""

import re

_UNITS = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
          "seventeen eighteen nineteen").split()
_TENS = "twenty thirty forty fifty sixty seventy eighty ninety".split()
NUMBER_WORDS = {w: i for i, w in enumerate(_UNITS)} | {w: 20 + 10 * i for i, w in enumerate(_TENS)} | {"dozen": 12}
_SCALES = {"hundred": 100, "thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000}
_TOKEN = re.compile(r"\d+(?:\.\d+){2,}|\d+(?:,\d{3})*(?:\.\d+)?|[A-Za-z]+")

_MONTHS = (r"jan(uary)?|feb(ruary)?|mar(ch)?|apr(il)?|may|june?|july?|aug(ust)?|sep(t(ember)?)?|oct(ober)?|nov(ember)?"
           r"|dec(ember)?")
_DAYS = r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|today|yesterday|tomorrow|tonight"
_SEASONS = r"weekends?|weekdays?|spring|summer|autumn|winter|easter|christmas"
_DATE = re.compile(rf"\b\d{{3,4}}s?\b|\b({_MONTHS}|{_DAYS}|{_SEASONS})\b|\b(years?|months?|weeks?|days?) ago\b"
                   r"|\bcentur(y|ies)\b", re.I)
_CLOCK = re.compile(r"\b\d{1,2}(:\d\d)?\s*(a\.?m\.?|p\.?m\.?)"
                    r"|\b(noon|midnight|morning|afternoon|evening|night|dawn|dusk)\b"
                    r"|o'clock|\b\d{1,2}:\d\d\b", re.I)
_NUMBER_WORD = "|".join([*NUMBER_WORDS, *_SCALES, "a", "an", "half", "several", "few"])
_DURATION = re.compile(rf"\b(\d[\d.,]*|{_NUMBER_WORD})\b[\w\s-]{{0,12}}?"
                       r"\b(seconds?|minutes?|hours?|days?|nights?|weeks?|"
                       r"months?|years?|decades?|centur(y|ies))\b|\b(life|year|month|week|day|night|hour|decade)-?long\b"
                       r"|\b(overnight|all (day|night))\b", re.I)
_REASON = re.compile(r"\b(because|since|due to|owing to|thanks to|as a result|so that|in order to|so as to|reasons?|"
                     r"caus(e|es|ed|ing)|led to|leads to|lets|allows|enables|therefore|thus|hence|so|to "
                     r"(avoid|prevent|keep|allow|"
                     r"ensure|make|protect|reduce|stop|help|let|give|save))\b", re.I)
_PROCEDURE = re.compile(r"\b(by|using|use|with|first|then|before|after|until|must|should|need to|needs to|step|press|"
                        r"turn|add|remove|place|put|keep|wait|call|leave|follow|go|check|make sure|wear|bring|fill|"
                        r"contact|send|report)\b|^\s*[A-Z][a-z]+\s", re.I)
# What a number measures when the question asks for one kind of amount: a price needs a currency, a weight a unit.
_MONEY_ASKED = re.compile(r"\b(costs?|price[sd]?|fees?|charged?|charges|pay|pays|paid|spend|spent|worth|expensive|"
                          r"cheap|salary|budget|money|payable)\b", re.I)
_MONEY = re.compile(r"[£$€¥]\s?\d|\b\d[\d,.]*\s?(pounds?|dollars?|euros?|pence|cents?|yen|usd|gbp|eur)\b", re.I)
_WEIGHT_ASKED = re.compile(r"\b(weigh|weighs|weighed|weight|heavy|heavier)\b", re.I)
_WEIGHT = re.compile(r"\b\d[\d,.]*\s?(kg|kilo(gram)?s?|g|grams?|lbs?|pounds?|tons?|tonnes?|ounces?|oz)\b", re.I)
_TIME_UNIT = r"(seconds?|minutes?|hours?|days?|nights?|weeks?|months?|years?|decades?|centur(y|ies))"
# A count of things is not a stretch of time ("six months") or a share ("35%") unless the question asks for one.
_DURATION_NUMBER = re.compile(rf"\b(\d[\d.,]*|{_NUMBER_WORD})[\s-]+{_TIME_UNIT}\b", re.I)
_SHARE_NUMBER = re.compile(r"\d[\d,.]*\s?(%|per ?cent\b)", re.I)
_VAGUE_AMOUNT = re.compile(r"\b(dozens|scores|hundreds|thousands|millions|billions)\b", re.I)
_ENUMERATION = re.compile(r"^\s*(\d+(\.\d+)*\.?|[-*•]|\(?[a-z]\))\s+", re.I)  # "4.1 The Tenant..." "2. Pull..."
# Names that are times or places, never the person or organisation a "who" question asks for.
_NOT_PERSON = re.compile(rf"^(({_MONTHS}|{_DAYS}|{_SEASONS})s?)$|\d|\b(semester|term|room|floor|building|street|road|"
                         r"lane|avenue|square|hall|station|bridge|river|park|airport)$", re.I)
_PLACE = re.compile(r"\b(in|at|near|inside|outside|on|from|into|beside|behind|above|below|under|north|south|east|west|"
                    r"located|lies|situated)\b", re.I)

# Question pattern -> the slot its answer must fill. First match wins, so the more specific patterns come first.
_SLOTS = [
    (re.compile(r"\bwhat time\b|\bat what time\b|\btime of day\b", re.I), "time"),
    (re.compile(r"\bhow long\b|\bfor how many (days|weeks|months|years|hours|minutes)\b", re.I), "duration"),
    (re.compile(r"\bhow (many|much|old|far|tall|high|big|large|deep|wide|heavy|fast)\b"
                r"|\bwhat (number|percentage|proportion|share|amount|size|temperature)\b", re.I), "number"),
    (re.compile(r"^\s*when\b|\bwhat (year|date|day|month|decade|century)\b|\bon what (date|day)\b|\bin (what|which) "
                r"(year|month|decade|century)\b|\bsince when\b", re.I), "date"),
    (re.compile(r"^\s*(who|whom|whose)\b|\bby whom\b|\b(which|what) "
                r"(person|people|company|organi[sz]ation|team|group)\b",
                re.I), "person"),
    (re.compile(r"^\s*where\b|\bin (what|which) (city|country|town|place|region|state)\b|\bwhat "
                r"(city|country|town|place)\b",
                re.I), "place"),
    (re.compile(r"^\s*why\b|\bwhat (is|was|were|are) the reasons?\b|\bfor what reason\b", re.I), "reason"),
    (re.compile(r"^\s*how (do|does|did|can|could|should|would|is|are|to)\b|\bwhat (should|must|do|does|can) (i|you|we|"
                r"one|people|staff|visitors|users|tenants)\b|\bwhat (steps|is the procedure)\b", re.I), "procedure"),
]
# Words that start a sentence or question without being names.
_NOT_NAMES = frozenset("I A An The This That These Those It Its He She His Her They Their There Then When Where Why "
                       "How "
                       "What Who Whom Whose Which Did Does Do Is Are Was Were Can Could Would Will Should Shall May "
                       "Might "
                       "Must And But Or In On At To Of For As By With From After Before During If Also Yes No Not "
                       "According Although However While Since Because Some Many Most All Each Every One".split())
_NAME = re.compile(r"\b[A-Z][\w’'-]*(?:\s+(?:of|de|von|van|the|la|le|du|da)?\s*[A-Z][\w’'-]*)*")
NEGATION = re.compile(r"\b(not|no|never|none|nobody|nothing|neither|nor|without|cannot)\b|n[’']t\b", re.I)
# Addressed to the assistant itself, not to a reader of the document: never evidence, never an answer.
_TO_ASSISTANT = re.compile(
    r"\b(ignore|disregard|forget|override)\b.{0,40}\b(instructions?|rules|prompts?|above|previous|earlier)\b"
    r"|\b(you are now|system prompt|new instructions?|new rules?|developer mode|jailbreak)\b"
    r"|\b(reply|respond|answer)\s+(only|with (only|the single|just))\b|\banswer every question\b"
    r"|^\s*(assistant|system|user)\s*:|\b(assistant|ai|chatbot|language model)\b.{0,20}\b(must|should|will)\b"
    r"|<\|im_start\|>|\bdo not cite\b", re.I)


def numbers(text: str) -> set[float | str]:
    """The values of the numbers a text states, digits or words: "three" = 3, "2 million" = 2e6, "1,932" = 1932;
    a version number ("4.2.1") stays one string."""
    values: list[float | str] = []
    tokens = [t.lower() for t in _TOKEN.findall(text.replace("-", " "))]
    for i, token in enumerate(tokens):
        if token.count(".") >= 2:
            values.append(token)
        elif token[0].isdigit():
            values.append(float(token.replace(",", "")))
        elif token in NUMBER_WORDS:
            last = values[-1] if values else None
            if isinstance(last, float) and i and tokens[i - 1] in _TENS and NUMBER_WORDS[token] < 10:
                values[-1] = last + NUMBER_WORDS[token]  # twenty-five
            else:
                values.append(float(NUMBER_WORDS[token]))
        elif token in _SCALES and values and isinstance(values[-1], float) and (tokens[i - 1][0].isdigit()
                                                                                 or tokens[i - 1] in NUMBER_WORDS):
            values[-1] *= _SCALES[token]
    return set(values)


def is_year(value: float | str) -> bool:
    return isinstance(value, float) and value.is_integer() and 1000 <= value <= 2100


def names(text: str) -> set[str]:
    """Capitalised word runs (people, places, organisations), minus words that merely start a sentence."""
    found = set()
    for match in _NAME.finditer(text):
        words = re.sub(r"[’']s$", "", match.group()).split()  # possessive: "Nair's" names Nair
        while words and words[0] in _NOT_NAMES:
            words = words[1:]
        if words and not (len(words) == 1 and len(words[0]) < 2):
            found.add(" ".join(words))
    return found


def addresses_assistant(sentence: str) -> bool:
    """Text that speaks to the assistant ("ignore previous instructions", "system:", "you are now", "reply only")."""
    return bool(_TO_ASSISTANT.search(sentence))


# The word naming what is asked ("How many *students*", "the *population* of", "What *colour*", "does it *weigh*"): an
# answer's sentence or its neighbours name it too, or the question is a near-miss about something the text lacks.
_FOCUS = [
    re.compile(r"\bhow (?:many|much) (?!does\b|do\b|did\b|is\b|are\b|was\b|were\b|has\b|have\b|had\b|can\b|will\b)"
               r"(?:\w+ )??(\w+)", re.I),
    re.compile(r"\bwhat (?:is|was|are|were) (?:the|its|their|his|her) (?:\w+ ){0,2}?(\w+) (?:of|for|between)\b", re.I),
    re.compile(r"^\s*what (colou?r|size|shape|brand|height|length|width|weight|population|price|capital|language|"
               r"currency|salary|age|temperature|speed|capacity)\b", re.I),
    re.compile(r"\bhow much (?:does|do|did|will|would) .+ (cost|weigh|earn|pay|charge|measure)\b", re.I),
]


# Words that name a kind of answer, not a thing the text must mention ("the name of", "the number of").
_GENERIC_FOCUS = frozenset("name names kind type number amount title part role purpose reason result effect meaning "
                           "cause date time year day way".split())


def focus_words(question: str) -> list[str]:
    """The words naming what the question asks about (its focus), when a pattern finds them."""
    found = [m.group(1) for pattern in _FOCUS for m in [pattern.search(question)] if m]
    return [w for w in found if w.lower() not in _GENERIC_FOCUS]


def asked_slot(question: str) -> str | None:
    """What kind of answer the question asks for (a date, a number, a person...), or None for open questions."""
    return next((slot for asks, slot in _SLOTS if asks.search(question)), None)


def holds_slot(slot: str, sentence: str, question: str) -> bool:
    """The sentence holds something of the asked-for kind that the question does not already say."""
    sentence = _ENUMERATION.sub("", sentence)  # a clause or step number answers nothing
    if slot == "number":
        return _holds_amount(sentence, question)
    if slot == "person":
        return any(not _NOT_PERSON.search(n) for n in _new_names(sentence, question))
    if slot == "place":
        return bool(_new_names(sentence, question)) and bool(_PLACE.search(sentence))
    patterns = {"date": _DATE, "time": _CLOCK, "duration": _DURATION, "reason": _REASON, "procedure": _PROCEDURE}
    said = {m.group().lower() for m in patterns[slot].finditer(question)}
    return any(m.group().lower() not in said for m in patterns[slot].finditer(sentence))


def _holds_amount(sentence: str, question: str) -> bool:
    """A number the question does not state, of the asked-for kind: a price for "cost", a weight for "weigh", else a
    count that is neither a bare year, a stretch of time nor a share (unless the question names one)."""
    if _MONEY_ASKED.search(question) and not re.search(r"\bhow many\b", question, re.I):
        return any(numbers(m.group()) - numbers(question) for m in _MONEY.finditer(sentence))
    if _WEIGHT_ASKED.search(question):
        return any(numbers(m.group()) - numbers(question) for m in _WEIGHT.finditer(sentence))
    # Codes ("G8", "DH-25", "NB-409") and "one of" name or pick things out; they count nothing.
    sentence = re.sub(r"\b[A-Za-z]+-?\d[\w.-]*|\bone of\b", " ", sentence, flags=re.I)
    if not re.search(rf"\b{_TIME_UNIT}\b", question, re.I):
        sentence = _DURATION_NUMBER.sub(" ", sentence)
    if not re.search(r"%|\bper ?cent|\bpercentage\b|\brate\b|\bshare\b|\bproportion\b", question, re.I):
        sentence = _SHARE_NUMBER.sub(" ", sentence)
    # A bare year is a date, not a count ("How many keepers?" is not answered by "automated in 1979").
    if any(not is_year(v) for v in numbers(sentence) - numbers(question)):
        return True
    return bool(_VAGUE_AMOUNT.search(sentence)) and not _VAGUE_AMOUNT.search(question)  # "thousands of soldiers"


def _new_names(sentence: str, question: str) -> set[str]:
    asked = question.lower()
    return {n for n in names(sentence) if n.lower() not in asked}


def is_heading(sentence: str) -> bool:
    """A title, section heading or FAQ question: a short line without closing punctuation, or any question."""
    text = sentence.strip().lstrip("#").strip()
    if re.search(r"\?[\"'”’)]*$", text):
        return True
    return not re.search(r"[.!:;][\"'”’)]*$", text) and len(text.split()) <= 14


def open_quote(sentence: str) -> bool:
    """The sentence opens a quotation it does not close, so the next sentence belongs to it."""
    return sentence.count("“") > sentence.count("”")
