"""The typed objects at the seams: what retrieval returns and what every front end receives."""

import json
import re
from bisect import bisect_right
from datetime import datetime
from typing import Literal, NamedTuple

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

# The one citation-marker syntax: "[1]" or "[1, 2]" (numbers of `Citation.number`), with the space before it.
CITATION_MARKER = re.compile(r"\s*\[(\d+(?:\s*,\s*\d+)*)\]")


# Control characters and lone surrogates: valid in a Python str or JSON, not in UTF-8 (the tokenizer raises) or a page.
UNPRINTABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


# Where a reply's sources start (Answer.reply_markdown); what a client sends back as history is read up to it.
SOURCES_HEADING = "Sources:"


def answer_of_reply(content: str) -> str:
    """The answer part of a reply_markdown() text (the whole text if it has no sources)."""
    return content.split(f"\n\n{SOURCES_HEADING}\n", 1)[0]


def marker_numbers(text: str) -> list[int]:
    """Every number cited in text, in order: "a [1] b [2, 3]" -> [1, 2, 3]."""
    return [int(n) for group in CITATION_MARKER.findall(text) for n in group.split(",")]


def strip_markers(text: str) -> str:
    return CITATION_MARKER.sub("", text)


def file_name(source: str) -> str:
    """The last part of a document's path (either slash), as a person names the file."""
    return source.replace("\\", "/").rsplit("/", 1)[-1]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)

    def to_dict(self) -> dict:
        return self.model_dump(mode="json")


Kind = Literal["text", "html", "pdf", "docx"]  # the format a document was read as (text: .txt/.md)


class Context(_Frozen):
    """What a line of indexed text is beyond its words: a table row and its headers, a heading, markup, a line of an
    e-mail message. Read by ingest/structure.py (which writes it) and by citations."""

    # item: a list item whose bullet is not in the text (HTML, DOCX); markup: a table's header row, a rule, a caption,
    # an e-mail header or quote header line; signature: a line of an e-mail's signature block
    role: Literal["text", "row", "item", "markup", "signature"] = "text"
    caption: str = ""  # a table's caption (or the heading over it); a signature's author
    columns: tuple[str, ...] = ()  # a table row's column headers, in order
    message: str = ""  # the e-mail message the line belongs to: "Sam Whitfield, Tue, 4 Mar 2025 09:12"
    sent: str = ""  # that message's date as ISO text ("2025-03-04T09:12"), to find the newest; "" if unknown
    quoted: bool = False  # the line quotes that (older) message


class Marks(_Frozen):
    """Where a span of indexed text sits in the file a person opens: sorted (text offset, value) pairs, each value
    holding from its offset on (offsets into the document's indexed text, as Passage.start)."""

    kind: Kind = "text"
    lines: tuple[tuple[int, int], ...] = ()  # txt/md/html: line of the file on disk; docx: paragraph number
    pages: tuple[tuple[int, int], ...] = ()  # pdf
    headings: tuple[tuple[int, str], ...] = ()  # the heading path a span sits under ("" before any)
    contexts: tuple[tuple[int, Context], ...] = ()  # tables and e-mail: the Context in force from each offset

    def merged(self, other: "Marks") -> "Marks":
        """The marks of two spans of one document, for the span covering both."""
        return self.model_copy(update={
            "lines": tuple(sorted(set(self.lines) | set(other.lines))),
            "pages": tuple(sorted(set(self.pages) | set(other.pages))),
            "headings": tuple(sorted(set(self.headings) | set(other.headings))),
            "contexts": tuple(sorted(set(self.contexts) | set(other.contexts), key=lambda pair: pair[0])),
        })


def _value_at(pairs: tuple[tuple[int, object], ...], offset: int):
    """The value of the last pair starting at or before `offset` (the first pair's value before any)."""
    return pairs[max(0, bisect_right(pairs, offset, key=lambda pair: pair[0]) - 1)][1]


class Place(_Frozen):
    """Where a quote can be found by a person: lines or paragraphs, pages, and the same said in words."""

    line_start: int
    line_end: int
    page: int | None = None
    page_end: int | None = None
    location: str = ""  # "p. 2", "pp. 2-3", "lines 4-6", "¶ 12 (Heading)", "line 9 (Section > Subsection)"


def _span(prefix: str, plural: str, first: int, last: int) -> str:
    return f"{prefix} {first}" if first == last else f"{plural} {first}-{last}"


class SentenceVectors:
    """Unit vectors of sentences computed at ingest, keyed by their (start, end) offsets into the document's text
    (as Passage.start)."""

    def __init__(self, rows: dict[tuple[int, int], np.ndarray]):
        self._rows = rows

    def get(self, start: int, end: int) -> np.ndarray | None:
        return self._rows.get((start, end))

    def merged(self, other: "SentenceVectors | None") -> "SentenceVectors":
        return self if other is None else SentenceVectors({**self._rows, **other._rows})

    def __len__(self) -> int:
        return len(self._rows)

    # A derived aid to answering, not part of a passage's value: passages equal in text and place are equal whether
    # or not they carry it (an Answer read back from JSON, which never holds it, equals the one written).
    def __eq__(self, other) -> bool:
        return other is None or isinstance(other, SentenceVectors)

    def __hash__(self) -> int:
        return 0


class Passage(_Frozen):
    """A retrieved span of one document (one chunk, or overlapping chunks merged)."""

    source: str
    title: str
    text: str
    start: int  # char offsets into the document's extracted text
    end: int
    line_start: int  # 1-based, inclusive
    line_end: int
    page: int | None = None
    score: float = 0.0
    chunk_ids: tuple[str, ...] = ()
    marks: Marks = Marks()  # empty for chunks stored before marks existed: lines are then lines of the text
    # Internal to answering (never serialized); None for chunks stored before sentence vectors existed.
    sentence_vectors: SentenceVectors | None = Field(default=None, exclude=True, repr=False)

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    def sentence_vector(self, start: int, end: int) -> np.ndarray | None:
        """The stored vector of the sentence at [start, end) of this passage's text, if ingest stored one."""
        vectors = self.sentence_vectors
        return None if vectors is None else vectors.get(self.start + start, self.start + end)

    def locate(self, offset: int) -> int:
        """The 1-based line on disk (DOCX: paragraph) of a char offset inside this passage's text."""
        if self.marks.lines:
            return _value_at(self.marks.lines, self.start + offset)
        return self.line_start + self.text.count("\n", 0, offset)

    def context_at(self, offset: int) -> Context:
        """The Context in force at a char offset inside this passage's text (plain text before any)."""
        return _value_at(self.marks.contexts, self.start + offset) if self.marks.contexts else Context()

    def heading_at(self, offset: int) -> str:
        return _value_at(self.marks.headings, self.start + offset) if self.marks.headings else ""

    def section_at(self, offset: int) -> str:
        """The heading path in force at a char offset and this passage's text under that heading (up to the next
        one): what a unit of a changelog's "3.1.0 > Fixed" list is about, not the 3.0.1 list in the same chunk."""
        if not self.marks.headings:
            return self.text
        at = self.start + offset
        begins = [o - self.start for o, _ in self.marks.headings if o <= at] or [0]
        ends = [o - self.start for o, _ in self.marks.headings if o > at] or [len(self.text)]
        return f"{self.heading_at(offset)}\n{self.text[max(0, begins[-1]):ends[0]]}"

    def place(self, start: int, end: int) -> Place:
        """Where the span [start, end) of this passage's text is, in the file a person opens."""
        last = max(start, end - 1)
        first_line, last_line = self.locate(start), self.locate(last)
        page = page_end = self.page
        if self.marks.pages:
            page, page_end = (_value_at(self.marks.pages, self.start + at) for at in (start, last))
        heading = self.heading_at(start)
        context = self.context_at(start)
        kind = self.marks.kind
        if kind == "pdf" or (page is not None and not self.marks.lines):
            where = _span("p.", "pp.", page, page if page_end is None else page_end) if page is not None else ""
        elif kind == "docx":
            where = _span("¶", "¶", first_line, last_line)
        elif kind == "html" and not self.marks.lines:
            where = ""  # lines on disk unknown: the heading path and the quote say where
        else:
            where = _span("line", "lines", first_line, last_line)
        about = [heading] if heading else []
        if context.role == "row" and context.columns:
            about += [context.caption] if context.caption and context.caption != heading else []
            about.append("columns: " + " | ".join(c for c in context.columns if c))
        if context.message:
            about.append(f"{'quoted from the message' if context.quoted else 'message'} of {context.message}")
        if about:
            where = f"{where} ({'; '.join(about)})" if where else "; ".join(about)
        return Place(line_start=first_line, line_end=last_line, page=page, page_end=page_end, location=where)


class Citation(_Frozen):
    """One numbered reference: the exact quoted span and whether it supports the sentence citing it."""

    number: int
    source: str
    title: str
    page: int | None
    start: int
    end: int
    line_start: int
    line_end: int
    quote: str
    score: float
    supported: bool
    page_end: int | None = None  # the quote's last page, when it crosses a page break
    location: str = ""  # the place in words, as the sources panel and CLI show it (see Place.location)

    def span_in(self, passages: list[Passage]) -> "QuoteSpan | None":
        """The passage this citation quotes and the quote's span inside that passage's text; None if none holds it."""
        for p in passages:
            if p.source == self.source and p.start <= self.start and self.end <= p.end:
                a, b = self.start - p.start, self.end - p.start
                if not self.quote or p.text[a:b].strip() == self.quote.strip():
                    return QuoteSpan(p, a, b)
        for p in passages:  # offsets that disagree with the text: fall back to finding the quote itself
            at = p.text.find(self.quote) if self.quote and p.source == self.source else -1
            if at >= 0:
                return QuoteSpan(p, at, at + len(self.quote))
        return None


class QuoteSpan(NamedTuple):
    """Where a citation's quote sits: the passage and the [start, end) offsets into its text."""

    passage: Passage
    start: int
    end: int


class Answer(_Frozen):
    question: str
    standalone_question: str
    text: str
    citations: list[Citation]
    refused: bool
    passages: list[Passage]
    mode: str
    unsupported_sentences: list[str] = []
    timings: dict[str, float] = {}

    def to_markdown(self) -> str:
        """The question, the answer and every citation (file, where, verified or flagged, quote) as Markdown."""
        return f"### {_one_line(self.question)}\n\n{self.reply_markdown()}\n"

    def reply_markdown(self) -> str:
        """The answer with its [n] markers, then its sources (file, where, verified or flagged, quote), as Markdown:
        what a chat front end shows as the assistant's message."""
        parts = [self.text.strip()]
        if self.unsupported_sentences:
            parts += ["", "Not verified: " + " ".join(self.unsupported_sentences)]
        if self.citations:
            parts += ["", SOURCES_HEADING, ""]
            for c in self.citations:
                state = "verified" if c.supported else "flagged: the passage may not support the sentence"
                parts.append(f"{c.number}. `{c.source}`, {where(c)} ({state})")
                parts += [f"   > {line}" if line.strip() else "   >" for line in c.quote.splitlines()]
        return "\n".join(parts)

    def sources_text(self) -> str:
        """The numbered sources as `path, location` lines with their quotes, for terminals and logs."""
        lines = []
        for c in self.citations:
            where = f"{c.source}, {c.location}" if c.location else f"{c.source}:{c.line_start}-{c.line_end}"
            mark = "" if c.supported else "  [unverified]"
            lines.append(f"[{c.number}] {where}{mark}\n    \"{c.quote}\"")
        return "\n".join(lines)


def where(c: Citation) -> str:
    """Where a citation's quote sits, in words ("p. 2", "lines 4-6", ...); lines and page for older citations."""
    if c.location:
        return c.location
    lines = f"line {c.line_start}" if c.line_start == c.line_end else f"lines {c.line_start}-{c.line_end}"
    return f"page {c.page}, {lines}" if c.page else lines


def _one_line(text: str) -> str:
    return " ".join(text.split())


class Conversation(BaseModel):
    """The answers of one chat, in order: its history for the next question, and its export."""

    turns: list[Answer] = []

    def add(self, answer: Answer) -> "Conversation":
        self.turns.append(answer)
        return self

    def history(self) -> list[tuple[str, str]]:
        """(question, answer) pairs, as `Assistant.ask(history=...)` takes them."""
        return [(a.question, a.text) for a in self.turns]

    def to_markdown(self) -> str:
        return "# Conversation\n\n" + "\n".join(a.to_markdown() for a in self.turns)

    def to_json(self) -> str:
        """Every turn's question, answer and citations (no retrieved passages: the quotes are the record)."""
        turns = [a.model_dump(mode="json", include={"question", "standalone_question", "text", "citations", "refused",
                                                    "mode", "unsupported_sentences"}) for a in self.turns]
        return json.dumps({"turns": turns}, indent=2, ensure_ascii=False)


class DocumentInfo(_Frozen):
    """One document in the collection, as its stored chunks describe it (None: ingested before it was recorded)."""

    source: str
    title: str
    format: str | None = None
    pages: int | None = None
    chunks: int | None = None
    characters: int | None = None
    content_hash: str | None = None
    ingested_at: datetime | None = None
    embedding_model: str

    @property
    def name(self) -> str:
        return file_name(self.source)


class DocumentPage(_Frozen):
    """One page of a sorted, filtered document listing (large collections are shown a page at a time)."""

    documents: list[DocumentInfo]
    page: int  # 1-based, clamped to the pages there are
    pages: int
    total: int  # documents matching the filter, on all pages

    @classmethod
    def of(cls, documents: list[DocumentInfo], sort: str = "name", query: str = "", page: int = 1,
           size: int = 25) -> "DocumentPage":
        """`sort` is "name" (file name, A-Z) or "newest" (most recently ingested first); `query` matches paths."""
        needle = query.strip().lower()
        matching = [d for d in documents if needle in d.source.lower()] if needle else list(documents)
        if sort == "newest":
            matching.sort(key=lambda d: (d.ingested_at is None, -(d.ingested_at.timestamp() if d.ingested_at else 0),
                                         d.name.lower()))
        else:
            matching.sort(key=lambda d: (d.name.lower(), d.source))
        pages = max(1, -(-len(matching) // size))
        page = min(max(1, page), pages)
        return cls(documents=matching[(page - 1) * size:page * size], page=page, pages=pages, total=len(matching))
