"""The multi-document bundled set: every item is well formed and every gold quote is where the item says it is."""

import json
import re
from collections import Counter
from functools import cache
from pathlib import Path

import docx
import pytest
import Stemmer
from bm25s.stopwords import STOPWORDS_EN_PLUS
from bs4 import BeautifulSoup
from pypdf import PdfReader

DATASETS = Path(__file__).resolve().parents[2] / "evals" / "datasets"
ITEMS = DATASETS / "multidoc.jsonl"
CORPUS = DATASETS / "multidoc"
CATEGORIES = {  # category -> answerable
    "factoid": True, "paraphrase": True, "why-how": True, "follow-up": True, "instruction": True,
    "two-sentence": True, "near-miss": False, "near_miss": False, "out-of-scope": False,
}
FIELDS = {"id", "question", "history", "answers", "evidence", "answerable", "category", "split"}
LINE_FORMATS = {".txt", ".md", ".html"}
# Words a paraphrase question may share with its answer sentence: NLTK's English stop words and the modal verbs.
STOP_WORDS = frozenset(STOPWORDS_EN_PLUS) | {"must", "may", "might", "would", "could", "shall"}
STEM = Stemmer.Stemmer("english").stemWord


def norm(text: str) -> str:
    return " ".join(text.split())


def visible(markup: str) -> str:
    """What a reader sees of an HTML fragment (entities decoded, tags dropped)."""
    return BeautifulSoup(markup, "html.parser").get_text()


def content_stems(text: str) -> set[str]:
    """Stems of the words that carry meaning: lower-cased, stop words and lone letters ("what's" -> "s") left out."""
    return {STEM(w) for w in re.findall(r"\w+", text.lower())
            if w not in STOP_WORDS and not (len(w) == 1 and w.isalpha())}


def shared_content_words(item: dict) -> set[str]:
    """The content-word stems a question shares with its gold quotes (a paraphrase must share none)."""
    return content_stems(item["question"]) & content_stems(" ".join(e["quote"] for e in item["evidence"]))


@cache
def file_lines(name: str) -> list[str]:
    return (CORPUS / name).read_text(encoding="utf-8").splitlines()


def starts_at(chunks: list[str], index: int, quote: str) -> bool:
    """The quote, whitespace-insensitive, begins inside chunks[index] (it may run on into the following chunks)."""
    rest = norm(" ".join(chunks[index:]))
    return 0 <= rest.find(norm(quote)) < len(norm(chunks[index]))


def line_chunks(name: str) -> list[str]:
    """The file's lines on disk as a reader sees them (tags stripped per line for HTML)."""
    lines = file_lines(name)
    return [visible(line) for line in lines] if name.endswith(".html") else lines


def masked(line: str) -> str:
    return re.sub(r"\d+", "#", line)  # "Page 2 of 5" and "Page 3 of 5" are one footer


@cache
def pdf_pages(name: str) -> tuple[tuple[str, ...], ...]:
    """Page texts without the running header/footer (a first or last line the same on every page), in two readings
    of a line-end hyphen: joined ("construc-|tion" -> "construction") and kept ("puddled-|clay" -> "puddled-clay")."""
    pages = [page.extract_text().splitlines() for page in PdfReader(CORPUS / name).pages]
    chrome = set()
    for end in (0, -1):
        if len(same := {masked(lines[end]) for lines in pages}) == 1:
            chrome |= same
    bodies = ["\n".join(line for line in lines if masked(line) not in chrome) for lines in pages]
    return tuple(tuple(re.sub(r"(\w)-\n(\w)", rf"\1{joint}\2", body) for body in bodies) for joint in ("", "-"))


@cache
def docx_blocks(name: str) -> tuple[str, ...]:
    """Paragraphs, table rows (cells joined by ' | ') and single cells of a DOCX."""
    document = docx.Document(CORPUS / name)
    rows = [row.cells for table in document.tables for row in table.rows]
    return tuple(
        [p.text for p in document.paragraphs] + [" | ".join(c.text for c in cells) for cells in rows]
        + [c.text for cells in rows for c in cells]
    )


def quote_problem(evidence: dict) -> str | None:
    """Why this gold evidence is not where it says (None when it is)."""
    name, quote = evidence["source"], evidence["quote"]
    path = CORPUS / name
    if not path.is_file():
        return f"no document {name}"
    if path.suffix in LINE_FORMATS:
        text = path.read_text(encoding="utf-8")
        if norm(quote) not in norm(visible(text) if path.suffix == ".html" else text):
            return f"quote not in {name}"
        line = evidence.get("line")
        if not isinstance(line, int) or not 1 <= line <= len(file_lines(name)):
            return f"{name}: no valid line for the quote"
        if not starts_at(line_chunks(name), line - 1, quote):
            return f"{name}: quote does not start on line {line}"
    elif path.suffix == ".pdf":
        page = evidence.get("page")
        readings = pdf_pages(name)
        if not isinstance(page, int) or not 1 <= page <= len(readings[0]):
            return f"{name}: no valid page for the quote"
        if not any(starts_at(list(pages), page - 1, quote) for pages in readings):
            return f"{name}: quote does not start on page {page}"
    elif path.suffix == ".docx":
        if not any(norm(quote) in norm(block) for block in docx_blocks(name)):
            return f"quote not in {name}"
    else:
        return f"{name}: unexpected format"
    return None


def load_items() -> list[dict]:
    return [json.loads(line) for line in ITEMS.read_text(encoding="utf-8").splitlines() if line.strip()]


ALL = load_items()


def test_set_size_and_documents():
    documents = {p.name for p in CORPUS.iterdir()}
    # The sample article is one of the set's documents, stored once: the folder links to the bundled sample.
    assert (CORPUS / "peace-talks.txt").resolve() == (CORPUS.parent.parent.parent / "assistant" / "data"
                                                     / "peace-talks.txt").resolve()
    others = documents - {"peace-talks.txt"}
    assert len(others) >= 8
    assert {Path(name).suffix for name in others} >= {".pdf", ".docx", ".html", ".md", ".txt"}
    assert len(ALL) >= 150
    assert len({item["id"] for item in ALL}) == len(ALL)
    cited = {e["source"] for item in ALL for e in item["evidence"]}
    assert cited == documents, "every document is asked about and every cited file exists"
    assert len(pdf_pages("harrowgate-canal.pdf")[0]) >= 5


@pytest.mark.parametrize("item", ALL, ids=[item["id"] for item in ALL])
def test_item_is_valid(item):
    assert set(item) == FIELDS
    assert item["question"].strip() and item["category"] in CATEGORIES and item["split"] in ("dev", "test")
    assert item["answerable"] is CATEGORIES[item["category"]]
    assert bool(item["history"]) is (item["category"] == "follow-up")
    assert all(len(turn) == 2 and all(isinstance(t, str) and t for t in turn) for turn in item["history"])
    if not item["answerable"]:
        assert item["answers"] == [] and item["evidence"] == []
        return
    assert item["answers"] and item["evidence"]
    assert len(item["evidence"]) >= (2 if item["category"] == "two-sentence" else 1)
    quotes = [norm(e["quote"]) for e in item["evidence"]]
    for answer in item["answers"]:
        assert any(norm(answer) in quote for quote in quotes), f"answer {answer!r} is in no gold quote"
    if item["category"] == "paraphrase":
        assert not (shared := shared_content_words(item)), f"a paraphrase shares content words with its quote: {shared}"
    for evidence in item["evidence"]:
        assert set(evidence) <= {"source", "quote", "line", "page"}
        assert quote_problem(evidence) is None, quote_problem(evidence)


def test_categories_and_splits_are_balanced():
    per_category = Counter(item["category"] for item in ALL)
    assert set(per_category) == set(CATEGORIES)
    minimum = {"factoid": 35, "paraphrase": 60, "why-how": 15, "follow-up": 15, "instruction": 15,
               "two-sentence": 10, "near-miss": 25, "near_miss": 40, "out-of-scope": 15}
    assert all(per_category[c] >= n for c, n in minimum.items()), per_category
    for key in ("category", "document"):
        groups = Counter()
        for item in ALL:
            group = item[key] if key == "category" else item["id"].split("-")[0]  # ids are DOCUMENT-CATEGORY-NN
            groups[group, item["split"]] += 1
        for group in {g for g, _ in groups}:
            assert abs(groups[group, "dev"] - groups[group, "test"]) <= 2, (key, group, groups)
    for category in ("near-miss", "near_miss", "paraphrase"):
        documents = {item["id"].split("-")[0] for item in ALL if item["category"] == category}
        assert len(documents) >= 9, f"every document has {category} questions"


def test_the_paraphrase_check_catches_a_shared_word():
    """A question that repeats a word of its quote, or only the word's stem, is caught; a true paraphrase is not."""
    quote = [{"source": "dehumidifier-manual.md", "quote": "Clean the air filter every 2 weeks.", "line": 57}]
    assert shared_content_words({"question": "How often should the air filter be cleaned?", "evidence": quote}) == {
        "air", "filter", "clean"}
    assert shared_content_words({"question": "What does cleaning involve?", "evidence": quote}) == {"clean"}
    assert shared_content_words({"question": "How frequently should the mesh screen be washed?",
                                 "evidence": quote}) == set()


def test_a_moved_or_corrupted_quote_is_caught():
    """The checks can fail: a changed word, a wrong line and a wrong page are each reported."""
    good = {"source": "tenancy-agreement.txt", "quote": "The rent is £1,150 per calendar month", "line": 14}
    assert quote_problem(good) is None
    assert quote_problem(good | {"quote": "The rent is £1,250 per calendar month"})
    assert quote_problem(good | {"line": 13})
    crossing = {"source": "harrowgate-canal.pdf", "page": 2,
                "quote": "The Brindle Aqueduct carries it across the valley of the River Brindle on nine stone arches"}
    assert quote_problem(crossing) is None, "a quote crossing a page break starts on its first page"
    assert quote_problem(crossing | {"page": 3})
    assert quote_problem({"source": "envs214-syllabus.docx", "quote": "Midterm exam (2 hours)"})
    html = {"source": "garden-news.html", "quote": "Beds on both sites cost £30 a year", "line": 54}
    assert quote_problem(html) is None
    assert quote_problem(html | {"line": 53})
