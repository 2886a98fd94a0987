"""What the lines of a document are beyond their words: Markdown headings, table rows with their column headers, the
messages of an e-mail thread. Found once at ingest (stored as marks); read back at answer time to form the text a
unit is judged and embedded as, while its citation still quotes the line as written."""

from __future__ import annotations

import re
from collections.abc import Sequence

from assistant.types import Context, Marks, Passage
from ingest.reflow import FENCE, LIST_ITEM, Mapped

_MD_HEADING = re.compile(r"(#{1,6})\s+(.+?)(?:\s+#+)?\s*")
PIPE_ROW = re.compile(r"\s*\|.*\||.*\S \| \S.*")  # Markdown pipes, or the " | " cells the DOCX/HTML loaders write
_RULE = re.compile(r"[\s|:+]*[-=_~*]{3,}[\s|:+\-=_~*]*")  # table rules, e-mail separators, horizontal rules
_GAP = re.compile(r"\s{2,}")
_MAX_CELL = 50  # a space-aligned cell longer than this is prose with double spaces, not a table
_CAPTION = re.compile(r"(?:table\b|figure\b).*|.*:")  # a line before a table that names it
_MAIL_HEADER = re.compile(r"(from|to|cc|bcc|date|sent|subject|reply-to):\s", re.IGNORECASE)
_QUOTE_HEADER = re.compile(r"on\s+(.{5,80}?),\s*([^,]{2,60}?)\s+(?:<[^>]*>\s+)?wrote:", re.IGNORECASE)
_QUOTE_MARKS = re.compile(r"(?:>\s?)*")
_MARKUP_ONLY = re.compile(r"[\W_]*")
_MONTHS = {m: i for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split(), 1)}
_DATE = re.compile(r"(\d{1,2})\s+([A-Za-z]{3})[a-z]*\.?,?\s+(\d{4})(?:\D{1,5}(\d{1,2}):(\d{2}))?")


def annotate(text: str, kind: str, headings: Sequence[tuple[int, str]], items: Sequence[int] = ()
             ) -> tuple[tuple[tuple[int, str], ...], tuple[tuple[int, Context], ...]]:
    """(heading paths, contexts) of a document's indexed text: plain text's Markdown headings (HTML and DOCX loaders
    find their own, and the list items whose bullets are not in the text); contexts are listed where they change."""
    lines = Mapped.verbatim(text).line_spans()
    if kind == "text":
        headings = _markdown_headings(text, lines)
    starts = set(items)
    per_line = [Context(role="item") if start in starts else Context() for start, _ in lines]
    _tables(text, lines, per_line, headings, aligned=kind == "text")
    if kind == "text":
        _mail(text, lines, per_line)
    contexts, last = [], Context()
    for (start, end), context in zip(lines, per_line):
        if context != last and start < end:  # a blank line changes nothing
            contexts.append((start, context))
            last = context
    return tuple(headings), tuple(contexts)


def _markdown_headings(text: str, lines: list[tuple[int, int]]) -> list[tuple[int, str]]:
    path: list[str] = []
    found, fenced = [], False
    for start, end in lines:
        line = text[start:end]
        if FENCE.match(line):
            fenced = not fenced
        match = None if fenced else _MD_HEADING.fullmatch(line)
        if match:
            level = len(match.group(1))
            del path[level - 1:]
            path += [""] * (level - 1 - len(path)) + [match.group(2).strip()]
            found.append((start, " > ".join(h for h in path if h)))
    return found


def cells(row: str) -> list[str]:
    """The cells of a table row: between pipes, or between runs of two or more spaces."""
    row = row.strip()
    if "|" in row:
        return [c.strip() for c in row.strip("|").split("|")]
    return _GAP.split(row)


def _aligned(line: str) -> bool:
    parts = cells(line) if line.strip() else []
    return len(parts) >= 2 and "|" not in line and max(map(len, parts)) <= _MAX_CELL


def _tables(text: str, lines: list[tuple[int, int]], out: list[Context], headings, aligned: bool) -> None:
    """Marks each table's header, rules and caption as markup and its data rows as rows carrying the headers."""
    body = [text[s:e] for s, e in lines]
    i = 0
    while i < len(body):
        kind = _row_kind(body[i], aligned)
        if kind is None or _RULE.fullmatch(body[i]):
            i += 1
            continue
        j = i + 1
        while j < len(body) and (_RULE.fullmatch(body[j]) or _row_kind(body[j], aligned) == kind):
            j += 1
        while j > i and _RULE.fullmatch(body[j - 1]):
            j -= 1
        rows = [k for k in range(i + 1, j) if not _RULE.fullmatch(body[k])]
        if len(rows) < (1 if kind == "pipe" else 2):
            i += 1
            continue
        caption_line = _caption(body, i)
        caption = body[caption_line].strip().rstrip(":") if caption_line is not None else ""
        if caption_line is not None:
            out[caption_line] = Context(role="markup")
        caption = caption or _heading_at(headings, lines[i][0]).rpartition(" > ")[2]
        header = cells(body[i])
        out[i] = Context(role="markup")
        for k in range(i + 1, j):
            out[k] = Context(role="markup") if _RULE.fullmatch(body[k]) else Context(
                role="row", caption=caption, columns=tuple(header))
        i = j


def columns_kept(plain: str, layout: str) -> str:
    """A PDF page's text with the lines that are rows of a table writing cells " | "-joined (as the DOCX and HTML
    loaders write them): a table is two or more consecutive lines of the page's layout text (which keeps the
    columns that plain extraction collapses) with the same number of space-aligned cells."""
    found: dict[str, list[str]] = {}
    block: list[list[str]] = []
    for line in [*layout.splitlines(), "end"]:
        if not line.strip():
            continue  # layout text spaces the rows of a table apart
        parts = cells(line) if _aligned(line) else []
        if parts and (not block or len(parts) == len(block[0])):
            block.append(parts)
            continue
        if len(block) >= 2:
            found.update((" ".join(" ".join(row).split()), row) for row in block)
        block = [parts] if parts else []
    if not found:
        return plain
    return "\n".join(" | ".join(found[key]) if (key := " ".join(line.split())) in found else line
                     for line in plain.split("\n"))


def _row_kind(line: str, aligned: bool) -> str | None:
    if PIPE_ROW.fullmatch(line):
        return "pipe"
    return "aligned" if aligned and _aligned(line) else None


def _caption(body: list[str], first: int) -> int | None:
    """The line naming the table just above it (one blank line between at most), if there is one."""
    for k in (first - 1, first - 2):
        if k < 0:
            return None
        line = body[k].strip()
        if line:
            short = len(line) <= 100 and not line.startswith("#") and not line.endswith((".", "!", "?"))
            return k if short and (_CAPTION.fullmatch(line) or len(line.split()) <= 8) else None
    return None


def _heading_at(headings, offset: int) -> str:
    found = ""
    for start, heading in headings:
        if start > offset:
            break
        found = heading
    return found


def _mail(text: str, lines: list[tuple[int, int]], out: list[Context]) -> None:
    """In an e-mail thread, every line knows its message (author, date); header, separator and quote header lines
    are markup, and quoted lines carry the message they quote."""
    body = [text[s:e] for s, e in lines]
    if not any(line.lower().startswith("from:") for line in body) or not any(
            _MAIL_HEADER.match(line) and line.lower().startswith(("date:", "sent:")) for line in body):
        return
    current = Context()
    quotes: dict[int, Context] = {}  # depth of '>' marks -> the message quoted at that depth
    quoted_by: dict[tuple[str, str], Context] = {}  # a message -> the one it quotes (its "On ... wrote:" line)
    author = date = ""
    signing = False  # inside the message's signature block: from "--" or the author's name alone, to a blank line
    for k, line in enumerate(body):
        stripped = line.strip()
        header = _MAIL_HEADER.match(stripped)
        if header:
            name, value = header.group(1).lower(), stripped[header.end():].strip()
            if name == "from":
                author, date = re.sub(r"\s*<[^>]*>", "", value).strip().strip('"'), ""
            elif name in ("date", "sent"):
                date = value
            current, quotes, signing = _message(author, date, quoted=False), {}, False
            out[k] = current.model_copy(update={"role": "markup"})
            continue
        signing = bool(stripped) and not stripped.startswith(">") and (
            signing or stripped == "--" or (bool(author) and stripped == author))
        if signing:  # "Operations Manager" alone says nothing; it is judged as the author's (unit_text)
            out[k] = current.model_copy(update={"role": "markup" if stripped in ("--", author) else "signature",
                                                "caption": author})
            continue
        marks = _QUOTE_MARKS.match(stripped)
        depth, said = marks.group().count(">"), stripped[marks.end():]
        match = _QUOTE_HEADER.fullmatch(said)
        if match:  # "On <date>, <name> wrote:", itself quoted once per level of the message that quotes it
            quotes = {d: q for d, q in quotes.items() if d <= depth}
            quotes[depth + 1] = _message(match.group(2).strip(), match.group(1).strip(), quoted=True)
            if depth == 0:
                quoted_by.setdefault(_who(current), quotes[1])
            out[k] = quotes[depth + 1].model_copy(update={"role": "markup"})
        elif depth:
            known = [d for d in quotes if d <= depth]
            quoted = quotes[max(known)] if known else Context(quoted=True)
            for _ in range(depth - max(known, default=depth)):  # ">>" without its own "wrote:" line: the message
                quoted = quoted_by.get(_who(quoted), quoted)  # the quoted one quoted, when the thread holds it
            out[k] = quoted.model_copy(update={"role": out[k].role})
        elif _RULE.fullmatch(stripped) or "original message" in stripped.lower():
            out[k] = Context(role="markup")
        elif stripped:
            out[k] = current.model_copy(update={"role": out[k].role, "caption": out[k].caption,
                                                "columns": out[k].columns})


def _who(message: Context) -> tuple[str, str]:
    """A message as another quotes it: its date and author (the "On ... wrote:" line words the date its own way)."""
    return message.sent, message.message.rpartition(" by ")[2]


def _message(author: str, date: str, quoted: bool) -> Context:
    described = " by ".join(part for part in (date, author) if part)
    return Context(message=described, sent=_iso(date), quoted=quoted)


def _iso(date: str) -> str:
    """"Tue, 4 Mar 2025 09:12" -> "2025-03-04T09:12" (comparable as text); "" when no date is found."""
    match = _DATE.search(date)
    if not match or match.group(2).lower() not in _MONTHS:
        return ""
    day, month, year, hour, minute = match.groups()
    clock = f"T{int(hour):02d}:{minute}" if hour else ""
    return f"{year}-{_MONTHS[month.lower()]:02d}-{int(day):02d}{clock}"


def unit_text(passage: Passage, start: int, end: int) -> str:
    """The text a unit of a passage is judged and embedded as: a table row with its caption and column headers, a
    list item under its heading path, a quoted line without its quote marks; anything else as written."""
    raw = passage.text[start:end]
    context = passage.context_at(start)
    heading = passage.heading_at(start)
    if context.role == "row":
        values, columns = cells(raw), list(context.columns)
        if len(columns) == len(values) - 1:  # the header row leaves the row names' column blank
            columns = [""] + columns
        pairs = "; ".join(f"{h} {v}".strip() for h, v in zip(columns[1:], values[1:]) if v)
        row = f"{values[0]}: {pairs}" if pairs else values[0]
        return f"{context.caption}, {row}" if context.caption else row
    if context.role == "signature":
        return raw if raw.startswith(context.caption) else f"{context.caption}: {raw}"
    if context.quoted:
        raw = raw.lstrip("> ")
    bullet = LIST_ITEM.match(raw)
    if not listed(raw, context):
        return raw  # prose as written: the judge was fitted on raw sentences (under their path it read worse on dev)
    parent = _parent_item(passage.text, start)
    path = " > ".join(part for part in (heading, parent) if part)
    return f"{path}: {raw[bullet.end() - 1:] if bullet else raw}" if path else raw


def _indent(text: str, start: int) -> int | None:
    """How far the line holding `start` is indented, if `start` is its first word; None otherwise."""
    line = text.rfind("\n", 0, start) + 1
    return start - line if not text[line:start].strip() else None


def _parent_item(text: str, start: int) -> str:
    """For a nested list item, the item it sits under ("Toiletries" for "  - One bar of soap"), without its bullet."""
    indent = _indent(text, start)
    if not indent:
        return ""
    at = text.rfind("\n", 0, start)  # the end of the line before
    while at > 0:
        begin = text.rfind("\n", 0, at) + 1
        line = text[begin:at]
        bullet = LIST_ITEM.match(line)
        if not bullet:
            return ""
        if len(line) - len(line.lstrip()) < indent:
            return line[bullet.end() - 1:].strip()
        at = begin - 1
    return ""


def heads_a_list(passage: Passage, start: int, end: int) -> bool:
    """A short list item with items nested under it ("- Toiletries"): a heading of theirs, not an answer."""
    following = passage.text[end:end + 200].split("\n", 2)
    below = following[1] if len(following) > 1 and not following[0].strip() else ""
    mine, theirs = _indent(passage.text, start), len(below) - len(below.lstrip())
    return (mine is not None and bool(LIST_ITEM.match(below)) and theirs > mine
            and len(passage.text[start:end].split()) <= 5)


def listed(raw: str, context: Context) -> bool:
    """A list item: a bullet in the text, or an HTML/DOCX item whose bullet is not."""
    return context.role == "item" or bool(LIST_ITEM.match(raw))


def pooled_as_judged(passage: Passage, start: int, end: int) -> bool:
    """Whether the vector ingest pooled for a unit (a list item's with its heading's tokens, Chunk.pooled_spans)
    stands for its judged text: all but table rows, signature lines and quoted lines, which are judged in words they
    do not have."""
    context = passage.context_at(start)
    return (context.role not in ("row", "signature") and not context.quoted
            and not _parent_item(passage.text, start))


def chunk_heading(marks: Marks, start: int) -> str:
    """The heading path in force where a chunk starting at document offset `start` begins."""
    return marks.headings[0][1] if marks.headings and marks.headings[0][0] <= start else ""


def indexed_text(text: str, heading: str) -> str:
    """What a chunk is embedded and indexed (BM25) as: its text under the heading path in force where it starts, so
    "What changed in 2.4?" finds the list under "Changelog > 2.4.0" even when that heading is in an earlier chunk."""
    return f"{heading}\n{text}" if heading else text


def is_markup(passage: Passage, start: int, end: int) -> bool:
    """A header row, rule, caption, e-mail header or quote header line, or a unit of punctuation only."""
    return passage.context_at(start).role == "markup" or bool(_MARKUP_ONLY.fullmatch(passage.text[start:end]))


def is_row_or_item(passage: Passage, start: int, end: int) -> bool:
    """A table row, a list item or a signature line: a unit of its own whether or not it ends like a sentence."""
    return passage.context_at(start).role in ("row", "item", "signature") or bool(
        LIST_ITEM.match(passage.text[start:end]))
