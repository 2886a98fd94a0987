"""Turn files (text, Markdown, HTML, PDF, DOCX) into plain text whose offsets and lines citations point into."""

from __future__ import annotations

import bisect
import codecs
import fnmatch
import io
import os
import re
import time
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from assistant.errors import LoadError, UnsupportedFile

SUFFIXES = frozenset({".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx"})
TEXT_SUFFIXES = frozenset({".txt", ".md", ".markdown"})
HTML_SUFFIXES = frozenset({".html", ".htm"})
MAX_PDF_PAGES = 2000
MAX_DOCX_UNZIPPED = 200 * 1024 * 1024
MAX_HTML_TAGS = 1_000_000  # each parsed tag costs ~1 KB of memory
MAX_PDF_SECONDS = 300.0  # text extraction of one PDF, checked between pages (pypdf bounds each page's work)
MB = 1024 * 1024

_SNIFF = 8192
# cp1252 decodes almost any byte, so "cleanly" also means no control characters a text file would not have.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_HTML_START = re.compile(r"<!doctype\s+html|<html[\s>]", re.IGNORECASE)
_HTML_TAG = re.compile(r"<(head|body)[\s>]", re.IGNORECASE)
_MD_TITLE = re.compile(r"^# +(.+?)(?: +#+)? *$", re.MULTILINE)
_SPACES = re.compile(r"[ \t\r\n\f]+")
_HTML_DROP = ["title", "meta", "link", "base", "script", "style", "noscript", "template"]
# Paragraph-like blocks are set apart by a blank line; list items and table rows by a line break.
_HTML_BLOCKS = [
    "address", "article", "aside", "blockquote", "details", "div", "dl", "figure", "footer", "form",
    "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "main", "nav", "ol", "p", "pre", "section", "table", "ul",
]
_HTML_LINES = ["caption", "dd", "dt", "figcaption", "li", "summary", "tr"]


@dataclass(frozen=True)
class LoadedDocument:
    """One file's extracted text; `pages` holds the offset where each PDF page starts."""

    source: str
    title: str
    text: str
    pages: tuple[int, ...] = ()

    def page_at(self, offset: int) -> int | None:
        """The 1-based page containing a char offset of `text`, or None for documents without pages."""
        return bisect.bisect_right(self.pages, offset) if self.pages else None


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
    pages: tuple[int, ...] = ()
    if data.startswith(b"%PDF-"):
        title, text, pages = _pdf(data, path)
    elif _is_docx(data):
        title, text = _docx(data, path)
    else:
        raw = _decode(data)
        if raw is not None and _looks_like_html(raw):
            title, text = _html(raw, path)
        elif suffix == ".pdf" and (raw is None or b"%PDF-" in data[:1024]):  # pypdf finds a late header too
            title, text, pages = _pdf(data, path)
        elif suffix == ".docx" and (raw is None or data.startswith(b"PK")):  # a zip, if a broken one
            title, text = _docx(data, path)
        elif raw is None:
            raise LoadError(f"{path}: binary or undecodable content (not UTF-8 or cp1252 text)")
        elif suffix in HTML_SUFFIXES:
            title, text = _html(raw, path)
        elif suffix in TEXT_SUFFIXES or suffix in (".pdf", ".docx"):  # plain text, whatever its name says
            match = _MD_TITLE.search(raw) if suffix in (".md", ".markdown") else None
            title, text = (match.group(1) if match else ""), raw
        else:
            raise UnsupportedFile(f"{path}: unsupported file type '{suffix}' (skipped)")
    if not text.strip():
        reason = "no text layer (scanned or image-only PDF?)" if pages else "empty file (no text)"
        raise LoadError(f"{path}: {reason}")
    return LoadedDocument(str(path.resolve()), title.strip() or path.stem, text, pages)


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


def _html(raw: str, path: Path) -> tuple[str, str]:
    """(title, visible text): blocks on their own lines, runs of blank lines collapsed.

    One pass over the parsed tree that never edits it: linear in the markup, so a page of 100 000 paragraphs or
    tags nested 100 000 deep costs seconds, not hours (inserting into the tree was quadratic)."""
    from bs4 import BeautifulSoup, NavigableString, Tag

    if raw.count("<") > MAX_HTML_TAGS:
        raise LoadError(f"{path}: HTML has over {MAX_HTML_TAGS} tags, over the limit (markup bomb?)")
    soup = BeautifulSoup(raw, builder=_linear_builder())
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    pieces: list[str] = []
    drop, blocks, lines = frozenset(_HTML_DROP), frozenset(_HTML_BLOCKS), frozenset(_HTML_LINES)
    # (node, entering?) pairs; a tag is pushed twice: to open it, then (below its children) to close it.
    # `cells[-1]` says whether the open element already had a <td>/<th> child (cells are joined by " | ").
    stack: list[tuple[object, bool]] = [(child, True) for child in reversed(soup.contents)]
    cells, preformatted = [False], 0
    while stack:
        node, entering = stack.pop()
        if not isinstance(node, Tag):
            if type(node) is NavigableString:  # not comments, doctype, CDATA
                pieces.append(str(node) if preformatted else _SPACES.sub(" ", node))
            continue
        name = node.name
        if not entering:
            cells.pop()
            if name in ("pre", "textarea"):
                preformatted -= 1
            if name in blocks or name in lines:
                pieces.append("\n")
            continue
        if name in drop:
            continue
        if name == "br":  # as a browser renders it; anything inside a <br> is dropped with it
            pieces.append("\n")
            continue
        if name in ("td", "th"):
            if cells[-1]:
                pieces.append(" | ")  # as DOCX rows read
            cells[-1] = True
        if name in blocks:
            pieces.append("\n")
        if name in ("pre", "textarea"):
            preformatted += 1
        cells.append(False)
        stack.append((node, False))
        stack.extend((child, True) for child in reversed(node.contents))
    text_lines = (line.strip() for line in "".join(pieces).split("\n"))
    return title, re.sub(r"\n{3,}", "\n\n", "\n".join(text_lines)).strip()


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


def _pdf(data: bytes, path: Path) -> tuple[str, str, tuple[int, ...]]:
    """(title, text, page start offsets): pages joined by a blank line."""
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
            texts.append((page.extract_text() or "").replace("\r\n", "\n").replace("\r", "\n"))
        title = str((reader.metadata.title if reader.metadata else None) or "")
    except LoadError:
        raise
    except Exception as e:  # pypdf raises many types (PdfReadError, ValueError, KeyError...) on malformed files
        raise LoadError(f"{path}: corrupt or unreadable PDF ({_reason(e)})") from e
    starts, offset = [], 0
    for t in texts:
        starts.append(offset)
        offset += len(t) + 2
    return title, "\n\n".join(texts), tuple(starts)


def _docx(data: bytes, path: Path) -> tuple[str, str]:
    """(title, text): paragraphs and table rows (cells joined by ' | ') in document order, one per line."""
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
        lines = []
        for block in document.iter_inner_content():
            if isinstance(block, Table):
                lines += [" | ".join(cell.text for cell in row.cells) for row in block.rows]
            else:
                lines.append(block.text)
        title = document.core_properties.title or ""
    except Exception as e:  # python-docx raises KeyError, ValueError, lxml errors... on broken packages
        raise LoadError(f"{path}: corrupt or unreadable DOCX ({_reason(e)})") from e
    return title, "\n".join(lines)


def _reason(e: Exception) -> str:
    """A short one-line reason for an error message."""
    text = " ".join(str(e).split()) or type(e).__name__
    return text[:120]
