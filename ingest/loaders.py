"""Turn files (text, Markdown, HTML, PDF, DOCX) into plain text whose offsets and lines citations point into."""

from __future__ import annotations

import bisect
import codecs
import fnmatch
import io
import os
import re
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
            title, text = _html(raw)
        elif suffix == ".pdf":
            title, text, pages = _pdf(data, path)
        elif suffix == ".docx":
            title, text = _docx(data, path)
        elif raw is None:
            raise LoadError(f"{path}: binary or undecodable content (not UTF-8 or cp1252 text)")
        elif suffix in HTML_SUFFIXES:
            title, text = _html(raw)
        elif suffix in TEXT_SUFFIXES:
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


def _html(raw: str) -> tuple[str, str]:
    """(title, visible text): blocks on their own lines, runs of blank lines collapsed."""
    from bs4 import BeautifulSoup, NavigableString

    soup = BeautifulSoup(raw, "html.parser")
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    # Dropping the head-only tags rather than <head> itself: html.parser nests the body in an unclosed <head>.
    for tag in soup.find_all(_HTML_DROP):
        tag.decompose()
    for s in soup.find_all(string=True):
        if type(s) is not NavigableString:  # comments, doctype, CDATA
            s.extract()
        elif not s.find_parent(["pre", "textarea"]):
            s.replace_with(_SPACES.sub(" ", s))  # as a browser renders source whitespace
    for br in soup.find_all("br"):
        br.replace_with("\n")
    for cell in soup.find_all(["td", "th"]):
        if cell.find_previous_sibling(["td", "th"]):
            cell.insert_before(" | ")  # as DOCX rows read
    for tag in soup.find_all(_HTML_BLOCKS):
        tag.insert_before("\n")
        tag.insert_after("\n")
    for tag in soup.find_all(_HTML_LINES):
        tag.insert_after("\n")
    lines = (line.strip() for line in soup.get_text().split("\n"))
    return title, re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _pdf(data: bytes, path: Path) -> tuple[str, str, tuple[int, ...]]:
    """(title, text, page start offsets): pages joined by a blank line."""
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise LoadError(f"{path}: encrypted PDF (needs a password)")
        if len(reader.pages) > MAX_PDF_PAGES:
            raise LoadError(f"{path}: PDF has {len(reader.pages)} pages, over the {MAX_PDF_PAGES}-page limit")
        texts = [(page.extract_text() or "").replace("\r\n", "\n").replace("\r", "\n") for page in reader.pages]
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
