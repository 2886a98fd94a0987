"""Turn files (text, Markdown, HTML, PDF, DOCX) into plain text whose offsets and lines citations point into."""

from __future__ import annotations

import bisect
import codecs
import fnmatch
import io
import itertools
import os
import re
import time
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from assistant.errors import LoadError, UnsupportedFile
from assistant.settings import MB
from assistant.types import Context, Kind, Marks
from ingest.reflow import Mapped, join_pages, reflow, tidy
from ingest.structure import annotate, columns_kept

SUFFIXES = frozenset({".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx"})
TEXT_SUFFIXES = frozenset({".txt", ".md", ".markdown"})
HTML_SUFFIXES = frozenset({".html", ".htm"})
MAX_PDF_PAGES = 2000
MAX_DOCX_UNZIPPED = 200 * MB
MAX_HTML_TAGS = 1_000_000  # each parsed tag costs ~1 KB of memory
MAX_PDF_SECONDS = 300.0  # text extraction of one PDF, checked between pages (pypdf bounds each page's work)

_SNIFF = 8192
# cp1252 decodes almost any byte, so "cleanly" also means no control characters a text file would not have.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_HTML_START = re.compile(r"<!doctype\s+html|<html[\s>]", re.IGNORECASE)
_HTML_TAG = re.compile(r"<(head|body)[\s>]", re.IGNORECASE)
_MD_TITLE = re.compile(r"^# +(.+?)(?: +#+)? *$", re.MULTILINE)
_HTML_DROP = ["title", "meta", "link", "base", "script", "style", "noscript", "template"]
# Paragraph-like blocks are set apart by a blank line; list items and table rows by a line break.
_HTML_BLOCKS = [
    "address", "article", "aside", "blockquote", "details", "div", "dl", "figure", "footer", "form",
    "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "main", "nav", "ol", "p", "pre", "section", "table", "ul",
]
_HTML_LINES = ["caption", "dd", "dt", "figcaption", "li", "summary", "tr"]
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_SECTIONING = frozenset({"article", "main", "section"})  # a header/footer inside one is content, not page chrome
_CHROME_ROLES = frozenset({"navigation", "banner", "contentinfo", "complementary", "search", "menu", "menubar"})
_CHROME_WORDS = frozenset({"cookie", "cookies", "consent", "gdpr", "navbar", "breadcrumb", "breadcrumbs", "sidebar",
                           "skip", "skiplink"})
_CHROME_LINE = re.compile(r"^(?:©|\(c\)|copyright)\s*(?:©\s*)?\d{4}|all rights reserved|\bwe use cookies\b"
                          r"|\baccept (?:all )?cookies\b|\bcookie (?:policy|settings|preferences)\b", re.IGNORECASE)
_SPACE_CHARS = " \t\r\n\f"
_TOKENS = re.compile(r"[ \t\r\n\f]+|[^ \t\r\n\f]+")


@dataclass(frozen=True)
class LoadedDocument:
    """One file's indexed text (reflowed: real paragraphs and sentences) and where its parts sit in the file."""

    source: str
    title: str
    text: str
    pages: tuple[int, ...] = ()  # text offset where each PDF page starts
    kind: Kind = "text"
    lines: tuple[int, ...] = ()  # text offset where each line on disk (txt/md/html) or paragraph (docx) starts
    headings: tuple[tuple[int, str], ...] = ()  # (text offset, heading path) where each section starts
    contexts: tuple[tuple[int, Context], ...] = ()  # (text offset, Context) where tables and e-mail messages change
    items: tuple[int, ...] = ()  # text offsets where HTML/DOCX list items start (their bullets are not in the text)
    empty_pages: tuple[int, ...] = ()  # 1-based PDF pages without a text layer

    def page_at(self, offset: int) -> int | None:
        """The 1-based page containing a char offset of `text`, or None for documents without pages."""
        return bisect.bisect_right(self.pages, offset) if self.pages else None

    def line_at(self, offset: int) -> int:
        """The 1-based line on disk (DOCX: paragraph) of a char offset; lines of `text` when there is no map."""
        return bisect.bisect_right(self.lines, offset) if self.lines else self.text.count("\n", 0, offset) + 1

    def marks(self, start: int, end: int) -> Marks:
        """Where the lines, pages and sections met inside text[start:end] begin."""
        numbers = range(1, max(len(self.lines), len(self.pages)) + 1)
        return Marks(
            kind=self.kind, lines=_within(self.lines, numbers, start, end, 0),
            pages=_within(self.pages, numbers, start, end, 0),
            headings=_within([o for o, _ in self.headings], [h for _, h in self.headings], start, end, ""),
            contexts=_within([o for o, _ in self.contexts], [c for _, c in self.contexts], start, end, Context()),
        )


def _within(offsets: Sequence[int], values: Sequence, start: int, end: int, before) -> tuple:
    """(offset, value) pairs for the value in force at `start` and each one starting before `end` (last one wins
    where several start at one offset, as markup lines with no text do)."""
    if not offsets:
        return ()
    first, last = bisect.bisect_right(offsets, start), bisect.bisect_left(offsets, end)
    pairs = [(start, values[first - 1] if first else before)] + [(offsets[i], values[i]) for i in range(first, last)]
    return tuple(dict(pairs).items())


def iter_files(paths: Iterable[str | Path], glob: str | None = None) -> Iterator[Path]:
    """Files as given plus the files under given folders (sorted, hidden ones skipped, `glob` on the name)."""
    paths = [Path(p) for p in paths]
    # Check every path before yielding any, so a typo fails before half the files are ingested.
    for p in paths:
        if not p.exists():
            raise LoadError(f"{p}: no such file or directory")
    for p in paths:
        if not p.is_dir():
            yield p
            continue
        for root, dirs, files in os.walk(p):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(files):
                if not name.startswith(".") and (glob is None or fnmatch.fnmatch(name, glob)):
                    yield Path(root, name)


def load_document(path: Path, max_bytes: int | None = None) -> LoadedDocument:
    """Read one file into text, choosing the format by content first and suffix second."""
    path = Path(path)
    data = _read(path, max_bytes)
    if not data.strip():
        raise LoadError(f"{path}: empty file (no text)")
    suffix = path.suffix.lower()
    if data.startswith(b"%PDF-"):
        document = _pdf(data, path)
    elif _is_docx(data):
        document = _docx(data, path)
    else:
        raw = _decode(data)
        if raw is not None and _looks_like_html(raw):
            document = _html(raw, path)
        elif suffix == ".pdf" and (raw is None or b"%PDF-" in data[:1024]):  # pypdf finds a late header too
            document = _pdf(data, path)
        elif suffix == ".docx" and (raw is None or data.startswith(b"PK")):  # a zip, if a broken one
            document = _docx(data, path)
        elif raw is None:
            raise LoadError(f"{path}: binary or undecodable content (not UTF-8 or cp1252 text)")
        elif suffix in HTML_SUFFIXES:
            document = _html(raw, path)
        elif suffix in TEXT_SUFFIXES or suffix in (".pdf", ".docx"):  # plain text, whatever its name says
            match = _MD_TITLE.search(raw) if suffix in (".md", ".markdown") else None
            document = _plain(raw, match.group(1) if match else "")
        else:
            raise UnsupportedFile(f"{path}: unsupported file type '{suffix}' (skipped)")
    if not document.text.strip():
        reason = "no text layer (scanned or image-only PDF?)" if document.kind == "pdf" else "empty file (no text)"
        raise LoadError(f"{path}: {reason}")
    headings, contexts = annotate(document.text, document.kind, document.headings, document.items)
    return replace(document, source=str(path.resolve()), title=document.title.strip() or path.stem,
                   headings=headings, contexts=contexts)


def _plain(raw: str, title: str) -> LoadedDocument:
    """Plain text or Markdown, hard-wrapped paragraphs joined; lines point at the file's own lines."""
    text = reflow(Mapped.verbatim(raw), "text")
    line_starts = [0] + [m.end() for m in re.finditer("\n", raw)]
    return LoadedDocument("", title, text.text, lines=text.starts(line_starts))


def _read(path: Path, max_bytes: int | None) -> bytes:
    try:
        with path.open("rb") as f:
            size = os.fstat(f.fileno()).st_size
            if max_bytes is not None and size > max_bytes:
                raise LoadError(f"{path}: file is {size / MB:.1f} MB, over the {max_bytes / MB:.1f} MB limit")
            return f.read()
    except OSError as e:  # vanished, unreadable, a directory...
        raise LoadError(f"{path}: cannot read ({e.strerror or e})") from e


def _decode(data: bytes) -> str | None:
    """UTF-8 (BOM stripped) or else cp1252 text with newlines normalised; None if the bytes are not text."""
    if b"\x00" in data[:_SNIFF]:
        return None
    data = data.removeprefix(codecs.BOM_UTF8)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError:
            return None
        if _CONTROL.search(text):
            return None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _looks_like_html(text: str) -> bool:
    head = text[:_SNIFF].lstrip()
    # A <body>/<head> counts only in markup-first files, so Markdown that quotes HTML stays Markdown.
    return head.startswith("<") and bool(_HTML_START.match(head) or _HTML_TAG.search(head))


def _is_docx(data: bytes) -> bool:
    if not data.startswith(b"PK"):
        return False
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return "word/document.xml" in zf.namelist()
    except zipfile.BadZipFile:
        return False


def _html(raw: str, path: Path) -> LoadedDocument:
    """Visible main text: blocks on their own lines, runs of blank lines collapsed, page chrome left out; each
    character mapped to its line in the file and each section to its heading path.

    One pass over the parsed tree that never edits it: linear in the markup, so a page of 100 000 paragraphs or
    tags nested 100 000 deep costs seconds, not hours (inserting into the tree was quadratic)."""
    from bs4 import NavigableString, Tag

    if raw.count("<") > MAX_HTML_TAGS:
        raise LoadError(f"{path}: HTML has over {MAX_HTML_TAGS} tags, over the limit (markup bomb?)")
    soup = _positioned_soup(raw)
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    pieces: list[str] = []
    origins: list[int] = []  # the file line each piece comes from
    length, line = 0, 1
    path_so_far: list[str] = []  # the open heading of each level, h1 first
    sections: list[tuple[int, str]] = []
    items: list[int] = []  # where each <li> starts
    drop, blocks, lines = frozenset(_HTML_DROP), frozenset(_HTML_BLOCKS), frozenset(_HTML_LINES)
    # (node, entering?) pairs; a tag is pushed twice: to open it, then (below its children) to close it.
    # `cells[-1]` says whether the open element already had a <td>/<th> child (cells are joined by " | ").
    stack: list[tuple[object, bool]] = [(child, True) for child in reversed(soup.contents)]
    cells, preformatted, sectioned, heading_at, heading_offset = [False], 0, 0, 0, 0

    def add(piece: str) -> None:
        nonlocal length
        pieces.append(piece)
        origins.append(line)
        length += len(piece)

    while stack:
        node, entering = stack.pop()
        if not isinstance(node, Tag):
            if type(node) is NavigableString:  # not comments, doctype, CDATA
                line = getattr(node, "line", line)
                for token in (node.splitlines(keepends=True) if preformatted else _TOKENS.findall(node)):
                    add(token if preformatted or token[0] not in _SPACE_CHARS else " ")
                    line += token.count("\n")
            continue
        name = node.name
        if not entering:
            cells.pop()
            if name in ("pre", "textarea"):
                preformatted -= 1
            if name in _SECTIONING:
                sectioned -= 1
            if name in _HEADINGS:
                level = int(name[1])
                heading = " ".join("".join(pieces[heading_at:]).split())
                del path_so_far[level - 1:]
                path_so_far += [""] * (level - 1 - len(path_so_far)) + [heading]
                sections.append((heading_offset, " > ".join(h for h in path_so_far if h)))
            if name in blocks or name in lines:
                add("\n")
            continue
        if name in drop or _is_chrome(node, sectioned):
            continue
        if name == "br":  # as a browser renders it; anything inside a <br> is dropped with it
            add("\n")
            continue
        if name in ("td", "th"):
            if cells[-1]:
                add(" | ")  # as DOCX rows read
            cells[-1] = True
        if name in blocks:
            add("\n")
        if name in ("pre", "textarea"):
            preformatted += 1
        if name in _SECTIONING:
            sectioned += 1
        if name in _HEADINGS:
            heading_at, heading_offset = len(pieces), length
        if name == "li":
            items.append(length)
        cells.append(False)
        stack.append((node, False))
        stack.extend((child, True) for child in reversed(node.contents))
    extracted = "".join(pieces)
    line_of = np.repeat(np.asarray(origins, dtype=np.int32), [len(p) for p in pieces])
    # Tidying keeps offsets into `extracted` as origins; composing them with `line_of` maps text to file lines.
    text = tidy(Mapped.verbatim(extracted), _is_chrome_line)
    mapped = Mapped(text.text, line_of[text.origins])
    headings = tuple(zip(text.starts([offset for offset, _ in sections]), (h for _, h in sections)))
    return LoadedDocument("", title, text.text, kind="html", lines=mapped.starts(range(1, raw.count("\n") + 2)),
                          headings=tuple((o, h) for o, h in headings if h), items=text.starts(items))


def _is_chrome(tag, sectioned: int) -> bool:
    """Navigation, banners, sidebars, cookie notices and page headers/footers (not an article's own)."""
    if tag.name in ("nav", "aside") or (tag.name in ("header", "footer") and not sectioned):
        return True
    if tag.get("hidden") is not None or tag.get("aria-hidden") == "true":
        return True
    if str(tag.get("role", "")).lower() in _CHROME_ROLES:
        return True
    names = " ".join([*(tag.get("class") or []), str(tag.get("id") or "")]).lower()
    return bool(_CHROME_WORDS.intersection(re.split(r"[\s_-]+", names)))


def _is_chrome_line(line: str) -> bool:
    return len(line) < 200 and bool(_CHROME_LINE.search(line))


def _positioned_soup(raw: str):
    """The parsed page; each text node knows the file line where it starts (`node.line`)."""
    from bs4 import BeautifulSoup, NavigableString

    class Soup(BeautifulSoup):
        data_line = 1

        def object_was_parsed(self, o, parent=None, most_recent_element=None):
            if type(o) is NavigableString:
                o.line = self.data_line
            super().object_was_parsed(o, parent, most_recent_element)

    return Soup(raw, builder=_linear_builder())


def _linear_builder():
    """bs4's html.parser builder, minus its one quadratic step (for pages with many <br>, <img>, <hr>...).

    bs4 4.x keeps the void elements it has closed in a list and searches it at every end tag: 20 000 <br> took
    minutes. The same bookkeeping in a multiset gives the same tree in linear time."""
    from collections import Counter

    from bs4.builder import HTMLParserTreeBuilder
    from bs4.builder._htmlparser import BeautifulSoupHTMLParser

    class Closed:
        """The list methods bs4 calls (append, remove, in), counted."""

        def __init__(self, items=()):
            self.counts = Counter(items)

        def append(self, tag):
            self.counts[tag] += 1

        def remove(self, tag):
            self.counts[tag] -= 1

        def __contains__(self, tag):
            return self.counts[tag] > 0

    class Parser(BeautifulSoupHTMLParser):
        def handle_data(self, data):
            if not self.soup.current_data:  # a text node starts here (html.parser has not moved past it yet)
                self.soup.data_line = self.getpos()[0]
            super().handle_data(data)

        @property
        def already_closed_empty_element(self):
            return self._closed

        @already_closed_empty_element.setter
        def already_closed_empty_element(self, value):
            self._closed = Closed(value)

    class Builder(HTMLParserTreeBuilder):
        def feed(self, markup, _parser_class=Parser):
            super().feed(markup, _parser_class=_parser_class)

    return Builder()


def _pdf(data: bytes, path: Path) -> LoadedDocument:
    """The pages as prose: running headers/footers dropped, wrapped lines joined, also across a page break."""
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise LoadError(f"{path}: encrypted PDF (needs a password)")
        if len(reader.pages) > MAX_PDF_PAGES:
            raise LoadError(f"{path}: PDF has {len(reader.pages)} pages, over the {MAX_PDF_PAGES}-page limit")
        # pypdf bounds each page's work (stream sizes, tokens, form XObject calls); this bounds their sum, so a
        # small file whose 2000 pages all draw one huge stream cannot take hours.
        deadline, texts = time.monotonic() + MAX_PDF_SECONDS, []
        for number, page in enumerate(reader.pages, 1):
            if time.monotonic() > deadline:
                raise LoadError(f"{path}: PDF text extraction passed the {MAX_PDF_SECONDS:.0f} s limit at page "
                                f"{number} of {len(reader.pages)} (PDF bomb?)")
            plain = _newlines(page.extract_text() or "")
            # Plain extraction collapses a table's columns; the layout text keeps them, to find the rows by.
            texts.append(columns_kept(plain, _newlines(page.extract_text(extraction_mode="layout") or ""))
                         if plain.count("\n") >= 2 else plain)
        title = str((reader.metadata.title if reader.metadata else None) or "")
    except LoadError:
        raise
    except Exception as e:  # pypdf raises many types (PdfReadError, ValueError, KeyError...) on malformed files
        raise LoadError(f"{path}: corrupt or unreadable PDF ({_reason(e)})") from e
    joined, page_starts, empty = join_pages(texts)
    text = reflow(joined, "pdf")
    return LoadedDocument("", title, text.text, pages=text.starts(page_starts), kind="pdf", empty_pages=empty)


def _newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _docx(data: bytes, path: Path) -> LoadedDocument:
    """Paragraphs and table rows (cells joined by ' | ') in document order, one per line; the non-empty ones are
    numbered (a citation's "¶ 12") and each heading-styled paragraph starts a section."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            unzipped = sum(info.file_size for info in zf.infolist())
    except zipfile.BadZipFile as e:
        raise LoadError(f"{path}: corrupt or unreadable DOCX ({_reason(e)})") from e
    # zipfile stops at each member's declared size (a larger stream fails its CRC), so this bounds the real work.
    if unzipped > MAX_DOCX_UNZIPPED:
        limit = MAX_DOCX_UNZIPPED / MB
        raise LoadError(f"{path}: DOCX unpacks to {unzipped / MB:.0f} MB, over the {limit:.0f} MB limit (zip bomb?)")
    import docx
    from docx.table import Table

    try:
        document = docx.Document(io.BytesIO(data))
        lines, headings, items = [], [], []
        for block in document.iter_inner_content():
            if isinstance(block, Table):
                lines += [" | ".join(cell.text for cell in row.cells) for row in block.rows]
            else:
                style = block.style.name if block.style is not None else ""
                if style.startswith("Heading") or style == "Title":
                    headings.append((len(lines), block.text.strip()))
                elif style.startswith("List") or block._p.pPr is not None and block._p.pPr.numPr is not None:
                    items.append(len(lines))
                lines.append(block.text)
        title = document.core_properties.title or ""
    except Exception as e:  # python-docx raises KeyError, ValueError, lxml errors... on broken packages
        raise LoadError(f"{path}: corrupt or unreadable DOCX ({_reason(e)})") from e
    starts = list(itertools.accumulate((len(line) + 1 for line in lines), initial=0))
    numbered = tuple(starts[i] for i, line in enumerate(lines) if line.strip())  # empty paragraphs are not seen
    return LoadedDocument("", title, "\n".join(lines), kind="docx", lines=numbered,
                          headings=tuple((starts[i], heading) for i, heading in headings if heading),
                          items=tuple(starts[i] for i in items))


def _reason(e: Exception) -> str:
    """A short one-line reason for an error message."""
    text = " ".join(str(e).split()) or type(e).__name__
    return text[:120]
