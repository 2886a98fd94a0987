"""Text as a reader sees it: wrapped lines joined into paragraphs, page chrome dropped, every character mapped back
to where it came from (an offset, line or paragraph number of the original), so cited spans stay exact."""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

# Lines that start a new block whatever the line before: list items, Markdown headings, code fences, block quotes,
# table rows (Markdown pipes, the " | " cells the DOCX/HTML loaders write, or cells aligned by runs of spaces), rule
# lines and e-mail header lines.
LIST_ITEM = re.compile(r"\s*(?:[-*+•▪◦‣–]|\d{1,3}[.)]|[a-z][.)]|\(\w{1,3}\))\s+\S")  # not "J. Smith"
_BLOCK = re.compile(r"\s*(?:#{1,6}\s|```|~~~|>|\||[-=_*]{3,}\s*$|(?i:from|to|cc|bcc|date|sent|subject|reply-to):\s)"
                    r"|.*\s\|\s|(?:.*?\S {2,}){2}\S")
FENCE = re.compile(r"\s*(?:```|~~~)")
_TERMINAL = re.compile(r"[.!?:;][\"'”’)\]]*$")
_HYPHEN_END = re.compile(r"([^\W\d_]+)-$")
_WORD_START = re.compile(r"[^\W\d_]+")
_WORD = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")
_PAGE_NUMBER = re.compile(r"(?:page\s*)?#(?:\s*(?:of|/)\s*#)?|[-–]\s*#\s*[-–]", re.I)
_MAX_WRAP = 100  # plain text wrapped wider than this is not hard-wrapped: its line breaks are meant
_EDGE_LINES = 2  # lines at a page's top and bottom that may be running headers/footers
_ORIGIN = np.int32  # 4 bytes a character (offsets and line numbers stay far below 2**31)


@dataclass(frozen=True, eq=False)
class Mapped:
    """Text plus each character's origin in the original; origins never decrease along the text."""

    text: str
    origins: np.ndarray

    @classmethod
    def verbatim(cls, text: str) -> Mapped:
        """Text that is its own original: origins are offsets."""
        return cls(text, np.arange(len(text), dtype=_ORIGIN))

    def starts(self, boundaries: Sequence[int]) -> tuple[int, ...]:
        """For each original boundary (sorted), the first text offset coming from at or after it."""
        return tuple(np.searchsorted(self.origins, np.asarray(boundaries, dtype=np.int64)).tolist())

    def line_spans(self) -> list[tuple[int, int]]:
        """(start, end) of each line, its line break excluded."""
        spans, start = [], 0
        for match in re.finditer("\n", self.text):
            spans.append((start, match.start()))
            start = match.end()
        spans.append((start, len(self.text)))
        return spans


class Builder:
    """Assembles a Mapped text from slices of others; inserted characters count as coming from just before."""

    def __init__(self):
        self._texts: list[str] = []
        self._origins: list[np.ndarray] = []
        self._last = 0

    def copy(self, source: Mapped, start: int, end: int) -> None:
        if end > start:
            self._texts.append(source.text[start:end])
            self._origins.append(source.origins[start:end])
            self._last = int(source.origins[end - 1])

    def insert(self, text: str) -> None:
        if text:
            self._texts.append(text)
            self._origins.append(np.full(len(text), self._last, dtype=_ORIGIN))

    def build(self) -> Mapped:
        origins = np.concatenate(self._origins) if self._origins else np.zeros(0, dtype=_ORIGIN)
        return Mapped("".join(self._texts), origins)


def join_pages(pages: Sequence[str]) -> tuple[Mapped, tuple[int, ...], tuple[int, ...]]:
    """PDF pages as one text, line per line, minus running headers/footers/page numbers; with the origin offset
    where each page starts (origins are offsets into the pages joined by "\\n") and the 1-based pages left
    without text (no text layer, or nothing but running headers and footers)."""
    chrome = _running_lines(pages)
    builder, offset, page_starts, empty = Builder(), 0, [], []
    for number, page in enumerate(pages):
        page_starts.append(offset)
        source = Mapped(page + "\n", np.arange(offset, offset + len(page) + 1, dtype=_ORIGIN))
        kept = [span for index, span in enumerate(source.line_spans()[:-1]) if (number, index) not in chrome]
        while kept and not page[kept[-1][0]:kept[-1][1]].strip():
            kept.pop()
        if not kept:
            empty.append(number + 1)
        for start, end in itertools.dropwhile(lambda span: not page[span[0]:span[1]].strip(), kept):
            builder.copy(source, start, end + 1)
        offset += len(page) + 1
    joined = builder.build()
    text = joined.text.rstrip("\n")
    return Mapped(text, joined.origins[:len(text)]), tuple(page_starts), tuple(empty)


def _running_lines(pages: Sequence[str]) -> set[tuple[int, int]]:
    """(page, line) of the lines near a page's top or bottom whose shape (digits as #) recurs on most pages."""
    if len(pages) < 2:
        return set()
    edges: list[list[tuple[int, str]]] = []
    for page in pages:
        lines = [(i, _shape(line)) for i, line in enumerate(page.split("\n")) if line.strip()]
        edges.append(lines[:_EDGE_LINES] + lines[_EDGE_LINES:][-_EDGE_LINES:])
    counts = Counter(shape for lines in edges for shape in {s for _, s in lines})
    most = max(2, (len(pages) * 6 + 9) // 10)  # on at least 60% of the pages
    return {(page, i) for page, lines in enumerate(edges) for i, shape in lines
            if counts[shape] >= most or _PAGE_NUMBER.fullmatch(shape)}


def _shape(line: str) -> str:
    return re.sub(r"\d+", "#", " ".join(line.split()).lower())


def reflow(doc: Mapped, kind: Literal["pdf", "text"]) -> Mapped:
    """Lines that wrap inside a paragraph joined (with end-of-line hyphens undone where the word is split).

    PDF lines always wrap unless a line is short (a heading, a paragraph's end) or the next one starts a block.
    Plain text and Markdown are joined only when hard-wrapped (most lines run near one width of at most 100 chars),
    and then a line breaks only where the next line's first word would have fitted on it."""
    spans = doc.line_spans()
    lines = [doc.text[s:e] for s, e in spans]
    widths = _widths(lines, kind)
    if widths is None:
        return doc
    words = Counter(w.lower() for w in _WORD.findall(doc.text))
    builder, fenced, skip = Builder(), False, 0
    for i, ((start, end), line) in enumerate(zip(spans, lines)):
        start = max(start, skip)
        if FENCE.match(line):
            fenced = not fenced
        following = lines[i + 1] if i + 1 < len(lines) else ""
        if fenced or not _wraps(line, following, widths[i], kind):
            builder.copy(doc, start, min(end + 1, len(doc.text)))
            continue
        body = len(line.rstrip())
        hyphen = _HYPHEN_END.search(line[:body])
        tail = _WORD_START.match(following.lstrip())
        if hyphen and tail and following.lstrip()[0].islower():
            keep = _keeps_hyphen(hyphen.group(1), tail.group(), words)
            builder.copy(doc, start, spans[i][0] + body - (0 if keep else 1))
        else:
            builder.copy(doc, start, spans[i][0] + body)
            builder.insert(" ")
        skip = spans[i + 1][0] + len(following) - len(following.lstrip())
    return builder.build()


def _keeps_hyphen(head: str, tail: str, words: Counter) -> bool:
    """Whether "head-" at a line end followed by "tail" is a real hyphen (kept) or a word split by the line end.

    The document itself decides: the joined word written elsewhere -> split word ("exam-ple" -> "example"); the
    hyphenated form written elsewhere -> real hyphen; neither -> real hyphen only if both halves are words the
    document uses on their own ("set-up"), since a syllable such as "ple" or "tion" never stands alone."""
    joined, hyphenated = (head + tail).lower(), f"{head}-{tail}".lower()
    if words[joined] or words[hyphenated]:
        return words[hyphenated] > words[joined]
    return words[head.lower()] > 1 and words[tail.lower()] > 1  # elsewhere too, not only at this line end


def _widths(lines: list[str], kind: str) -> list[int] | None:
    """Each line's wrap width; None when plain text is not hard-wrapped.

    The document's width is the 90th percentile of its line lengths. Plain text may mix widths (a quoted e-mail),
    so there a paragraph's own longest line caps it; a hard-wrapped paragraph's inner lines run near that."""
    lengths = sorted(len(line.rstrip()) for line in lines if _plain(line))
    if not lengths:
        return None
    width = lengths[min(len(lengths) - 1, len(lengths) * 9 // 10)]
    if kind == "pdf":
        return [max(width, 40)] * len(lines)  # a page of a few short lines says nothing about the line width
    if width > _MAX_WRAP:
        return None
    widths, inner, near, i = [width] * len(lines), 0, 0, 0
    while i < len(lines):
        j = i
        while j < len(lines) and _plain(lines[j]):
            j += 1
        if j > i:
            longest = max(len(line.rstrip()) for line in lines[i:j])
            widths[i:j] = [min(longest, width)] * (j - i)
            inner += j - i - 1
            near += sum(len(line.rstrip()) >= 0.8 * longest for line in lines[i:j - 1])
        i = max(j, i + 1)
    return widths if inner >= 3 and near >= 0.6 * inner else None


def _plain(line: str) -> bool:
    return bool(line.strip()) and not _BLOCK.match(line) and not LIST_ITEM.match(line)


def _wraps(line: str, following: str, width: int, kind: str) -> bool:
    """Whether the break after `line` wraps inside a paragraph (the two lines are one block)."""
    if not line.strip() or not following.strip() or _BLOCK.match(line) or _BLOCK.match(following):
        return False
    if LIST_ITEM.match(following) or line.endswith(("  ", "\\")):  # Markdown's hard line breaks
        return False
    length = len(line.rstrip())
    if kind == "pdf":
        return length >= 0.5 * width and not (_TERMINAL.search(line.rstrip()) and length < 0.8 * width)
    indent = len(following) - len(following.lstrip())
    if indent > len(line) - len(line.lstrip()) and not LIST_ITEM.match(line):
        return False  # indented under a plain line: code, a quotation, an address
    return length + 1 + len(following.split()[0]) > width


def tidy(doc: Mapped, drop: Callable[[str], bool]) -> Mapped:
    """Each line stripped, lines `drop` names blanked, runs of blank lines made one, blank ends removed."""
    builder, blank, started = Builder(), False, False
    for start, end in doc.line_spans():
        line = doc.text[start:end]
        body = line.strip()
        if not body or drop(body):
            blank = started
            continue
        if started:
            builder.insert("\n\n" if blank else "\n")
        lead = len(line) - len(line.lstrip())
        builder.copy(doc, start + lead, start + lead + len(body))
        blank, started = False, True
    return builder.build()
