"""The structure-dev and structure-fresh2 sets: items well formed, every gold quote where the item says it is."""

import json
import re
from functools import cache
from pathlib import Path

import docx
import pytest
from bs4 import BeautifulSoup
from pypdf import PdfReader

DATASETS = Path(__file__).resolve().parents[2] / "evals" / "datasets"
SETS = {"structure-dev": "dev", "structure-fresh2": "test"}  # set -> the split all its items carry
CATEGORIES = {"table", "list", "email", "prose"}
FIELDS = {"id", "question", "history", "answers", "evidence", "answerable", "category", "split"}


def norm(text: str) -> str:
    return " ".join(text.split())


def seen(line: str) -> str:
    """An HTML line as a reader sees it: a table row's cells joined by " | ", other tags dropped."""
    cells = re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", line)
    if cells:
        return " | ".join(BeautifulSoup(cell, "html.parser").get_text() for cell in cells)
    return BeautifulSoup(line, "html.parser").get_text()


@cache
def docx_blocks(path: Path) -> tuple[str, ...]:
    document = docx.Document(str(path))
    rows = [" | ".join(cell.text for cell in row.cells) for table in document.tables for row in table.rows]
    return tuple(norm(text) for text in [p.text for p in document.paragraphs] + rows)


@cache
def pdf_pages(path: Path) -> tuple[str, ...]:
    return tuple(norm(page.extract_text()) for page in PdfReader(str(path)).pages)


def misplaced(corpus: Path, evidence: dict) -> str | None:
    """Why a gold quote is not where its evidence says (None when it is)."""
    path, quote = corpus / evidence["source"], norm(evidence["quote"])
    if path.suffix in {".txt", ".md", ".html"}:
        lines = path.read_text(encoding="utf-8").splitlines()
        line = evidence.get("line")
        if not isinstance(line, int) or not 1 <= line <= len(lines):
            return f"{path.name}: bad line {line!r}"
        text = seen(lines[line - 1]) if path.suffix == ".html" else lines[line - 1]
        return None if quote in norm(text) else f"{path.name}:{line}: not there"
    if path.suffix == ".pdf":
        page = evidence.get("page")
        pages = pdf_pages(path)
        ok = isinstance(page, int) and 1 <= page <= len(pages) and quote in pages[page - 1]
        return None if ok else f"{path.name} page {page!r}: not there"
    return None if any(quote in block for block in docx_blocks(path)) else f"{path.name}: not in the DOCX"


def items(name: str) -> list[dict]:
    return [json.loads(line) for line in (DATASETS / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()]


CASES = [pytest.param(name, item, id=f"{name}:{item['id']}") for name in SETS for item in items(name)]


@pytest.mark.parametrize("name,item", CASES)
def test_item_is_valid(name, item):
    assert set(item) == FIELDS
    assert item["category"] in CATEGORIES and item["split"] == SETS[name] and item["history"] == []
    assert item["answerable"] == bool(item["answers"]) == bool(item["evidence"])
    quotes = " ".join(norm(e["quote"]).lower() for e in item["evidence"])
    assert all(norm(answer).lower() in quotes for answer in item["answers"])
    assert [misplaced(DATASETS / name, e) for e in item["evidence"]] == [None] * len(item["evidence"])


@pytest.mark.parametrize("name", SETS)
def test_set_has_every_kind_and_format(name):
    rows = items(name)
    assert len({row["id"] for row in rows}) == len(rows) >= 70
    assert {row["category"] for row in rows} == CATEGORIES
    assert sum(not row["answerable"] for row in rows) >= 6
    assert {Path(e["source"]).suffix for row in rows for e in row["evidence"]} >= {".md", ".txt", ".html", ".docx"}


def test_a_moved_or_corrupted_quote_is_caught():
    corpus = DATASETS / "structure-dev"
    good = {"source": "q1-review-thread.txt", "line": 15,
            "quote": "> It seats eight people and has a wall screen but no video camera."}
    assert misplaced(corpus, good) is None
    assert misplaced(corpus, {**good, "line": 16}) is not None
    assert misplaced(corpus, {**good, "quote": "> It seats nine people"}) is not None
    row = {"source": "recycling-guide.html", "quote": "Coleton | Wednesday | Monday | Thursday", "line": 49}
    assert misplaced(corpus, row) is None
    assert misplaced(corpus, {**row, "quote": "Coleton | Monday | Wednesday | Thursday"}) is not None
    cell = {"source": "first-aid-policy.docx", "quote": "Second floor | Jo Whitaker | 2318"}
    assert misplaced(corpus, cell) is None
    assert misplaced(corpus, {**cell, "quote": "Second floor | Jo Whitaker | 9999"}) is not None
    rate = {"source": "hotel-rates.pdf", "quote": "Suite £190 £280 Included", "page": 1}
    assert misplaced(DATASETS / "structure-fresh2", rate) is None
    assert misplaced(DATASETS / "structure-fresh2", {**rate, "page": 2}) is not None
