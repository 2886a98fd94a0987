"""Sentence-aware chunks sized in the embedding model's own word pieces, with exact offsets and lines."""

import hashlib
import re
from bisect import bisect_right
from dataclasses import dataclass
from typing import Callable

from assistant.types import Context, Marks
from ingest.loaders import LoadedDocument
from ingest.records import SENTENCE_VECTORS_FORMAT, ChunkMeta
from ingest.structure import PIPE_ROW, chunk_heading, indexed_text, listed

# Words whose trailing dot does not end a sentence (lower-cased, without the dot).
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof st jr sr gen sen rep gov lt col capt sgt inc ltd co corp vs etc e.g i.e no fig approx dept est "
    "jan feb mar apr jun jul aug sep sept oct nov dec".split()
)
# A candidate end: terminal punctuation plus closing quotes/brackets, then whitespace; or a line break.
_END = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s)|\n")


@dataclass(frozen=True)
class Chunk:
    id: str
    text: str
    source: str
    title: str
    start: int  # char offsets into the document's indexed (reflowed) text
    end: int
    line_start: int  # 1-based, inclusive: lines of the file on disk (txt/md/html), paragraphs (docx)
    line_end: int
    index: int
    doc_hash: str
    page: int | None = None
    marks: Marks = Marks()  # where each line, page and section inside the chunk begins

    def metadata(self, n_chunks: int) -> ChunkMeta:
        """What the store keeps beside the text (Chroma stores that as the document)."""
        return ChunkMeta(source=self.source, title=self.title, start=self.start, end=self.end,
                         line_start=self.line_start, line_end=self.line_end, index=self.index, doc_hash=self.doc_hash,
                         n_chunks=n_chunks, marks=self.marks.model_dump_json(exclude_defaults=True), page=self.page)

    @property
    def indexed(self) -> str:
        """The text the chunk is embedded as (BM25 reads the same from the store): under its heading path."""
        return indexed_text(self.text, chunk_heading(self.marks, self.start))

    def pooled_spans(self) -> list[tuple[tuple[int, int], ...]]:
        """Per unit (sentence_spans of the text), the spans of `indexed` whose token rows make its stored vector: the
        unit, and for a list item its heading path too (the indexed prefix and the heading lines in the chunk), so
        that the vector stands for the unit as it is judged (ingest.structure.unit_text)."""
        heading = chunk_heading(self.marks, self.start)
        shift = len(heading) + 1 if heading else 0
        inside = [(o - self.start, path) for o, path in self.marks.headings if o > self.start]
        out = []
        for s, e in sentence_spans(self.text):
            path = next((p for o, p in reversed(inside) if o <= s), heading)
            if not path or not listed(self.text[s:e], self._context_at(self.start + s)):
                out.append(((s + shift, e + shift),))
                continue
            # The lines of the path's headings met in the chunk, and the prefix for those met before it.
            group = [(0, len(heading))] if heading and _under(path, heading) else []
            for o, p in inside:
                if o <= s and _under(path, p):
                    end = self.text.find("\n", o)
                    group.append((o + shift, (end if end >= 0 else len(self.text)) + shift))
            out.append((*group, (s + shift, e + shift)))
        return out


    def _context_at(self, offset: int) -> Context:
        contexts = self.marks.contexts
        if not contexts:
            return Context()
        return contexts[max(0, bisect_right(contexts, offset, key=lambda pair: pair[0]) - 1)][1]


def _under(path: str, heading: str) -> bool:
    return path == heading or path.startswith(heading + " > ")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence in text, whitespace excluded.

    Sentences end at terminal punctuation (not after abbreviations, initials, inside decimals or table rows) and at
    line breaks:
    in indexed text every line break is a real boundary (paragraph, heading, list item, table row), since the
    loaders join the lines that only wrap (ingest/reflow.py)."""
    spans, start = [], 0
    for match in _END.finditer(text):
        end = match.end()
        if match.group() != "\n" and (_is_abbreviation(text, match.start()) or _in_table_row(text, match.start())):
            continue
        _add_span(text, start, end, spans)
        start = end
    _add_span(text, start, len(text), spans)
    return spans


def _in_table_row(text: str, at: int) -> bool:
    """A table row is one unit, whatever punctuation its cells hold."""
    start, end = text.rfind("\n", 0, at) + 1, text.find("\n", at)
    return bool(PIPE_ROW.fullmatch(text[start:end if end >= 0 else len(text)]))


def _is_abbreviation(text: str, dot: int) -> bool:
    word = re.search(r"[\w.]*$", text[max(0, dot - 12):dot]).group().lower()
    # "U.S." and single initials ("J. Smith") are abbreviations too.
    return word in _ABBREVIATIONS or len(word) == 1 or ("." in word and len(word) <= 5)


def _add_span(text: str, start: int, end: int, spans: list) -> None:
    piece = text[start:end]
    stripped = piece.strip()
    if stripped:
        lead = len(piece) - len(piece.lstrip())
        spans.append((start + lead, start + lead + len(stripped)))


def doc_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def document_hash(document: LoadedDocument) -> str:
    """Changes when the text or where its parts sit in the file changes (both are stored with the chunks), or how
    they are embedded."""
    # The vectors' format too: a document embedded another way is embedded again.
    where = repr((document.kind, document.lines, document.pages, document.headings, document.contexts,
                  SENTENCE_VECTORS_FORMAT))
    return doc_hash(f"{document.text}\0{where}")


class Chunker:
    """Packs whole sentences into chunks of at most `max_tokens` word pieces, overlapping by whole sentences."""

    def __init__(self, count_tokens: Callable[[list[str]], list[int]],
                 token_spans: Callable[[str], list[tuple[int, int]]],
                 max_tokens: int, overlap_tokens: int):
        self.count_tokens = count_tokens  # word pieces per text, no special tokens
        self.token_spans = token_spans  # char spans of each word piece in a text, for cutting overlong sentences
        self.max_tokens = max_tokens
        self.overlap_tokens = min(overlap_tokens, max_tokens // 2)

    def split(self, document: LoadedDocument) -> list[Chunk]:
        text, source, hashed = document.text, document.source, document_hash(document)
        units = self._units(text)
        chunks, seen = [], {}
        for start, end in self._pack(units):
            body = text[start:end]
            nth = seen[body] = seen.get(body, -1) + 1  # identical texts in one document stay distinct
            chunk_id = hashlib.sha256(f"{source}\0{nth}\0{body}".encode("utf-8")).hexdigest()[:32]
            chunks.append(Chunk(
                id=chunk_id, text=body, source=source, title=document.title, start=start, end=end,
                line_start=document.line_at(start), line_end=document.line_at(end - 1), index=len(chunks),
                doc_hash=hashed, page=document.page_at(start), marks=document.marks(start, end),
            ))
        return chunks

    def _units(self, text: str) -> list[tuple[int, int, int]]:
        """Sentences as (start, end, tokens); a sentence over the limit is cut at word-piece boundaries."""
        spans = sentence_spans(text)
        counts = self.count_tokens([text[s:e] for s, e in spans]) if spans else []
        units = []
        for (start, end), count in zip(spans, counts):
            if count <= self.max_tokens:
                units.append((start, end, count))
                continue
            pieces = self.token_spans(text[start:end])
            for i in range(0, len(pieces), self.max_tokens):
                part = pieces[i:i + self.max_tokens]
                units.append((start + part[0][0], start + part[-1][1], len(part)))
        return units

    def _pack(self, units: list[tuple[int, int, int]]) -> list[tuple[int, int]]:
        packed, i = [], 0
        while i < len(units):
            j, total = i, 0
            while j < len(units) and total + units[j][2] <= self.max_tokens:
                total += units[j][2]
                j += 1
            packed.append((units[i][0], units[j - 1][1]))
            if j == len(units):
                break
            # Step back over trailing sentences that fit in the overlap, but always move forward.
            back, overlap = j, 0
            while back - 1 > i and overlap + units[back - 1][2] <= self.overlap_tokens:
                back -= 1
                overlap += units[back][2]
            i = back
        return packed
