"""assistant.types: the one citation-marker syntax every part reads and writes, where a citation's quote sits, and the
document listing's pages."""

from datetime import datetime, timedelta, timezone

from assistant.types import DocumentInfo, DocumentPage, QuoteSpan, marker_numbers, strip_markers
from tests.helpers import passage, quoting


def test_markers_single_and_grouped_are_read_in_order():
    assert marker_numbers("Witkoff met Putin [2]. He left [1, 3] and [4 ,5].") == [2, 1, 3, 4, 5]
    assert marker_numbers("No markers, only [brackets] and 1932.") == []


def test_stripping_markers_keeps_the_text_and_its_punctuation():
    assert strip_markers("Witkoff met Putin [2]. He left [1, 3].") == "Witkoff met Putin. He left."
    assert strip_markers("[brackets] stay, [12a] too") == "[brackets] stay, [12a] too"


def test_document_pages_sort_filter_and_clamp():
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    documents = [DocumentInfo(source=f"/d/{name}", title=name, embedding_model="m",
                              ingested_at=None if i == 0 else now + timedelta(minutes=i))
                 for i, name in enumerate(["b.txt", "A.txt", "c.txt", "d.md", "e.txt"])]
    by_name = DocumentPage.of(documents, "name", size=2)
    assert [d.name for d in by_name.documents] == ["A.txt", "b.txt"] and (by_name.pages, by_name.total) == (3, 5)
    newest = DocumentPage.of(documents, "newest", size=10)
    assert [d.name for d in newest.documents] == ["e.txt", "d.md", "c.txt", "A.txt", "b.txt"]  # undated last
    assert DocumentPage.of(documents, page=99, size=2).page == 3 and DocumentPage.of(documents, page=-1).page == 1
    found = DocumentPage.of(documents, query=".MD")
    assert [d.name for d in found.documents] == ["d.md"] and found.total == 1
    assert DocumentPage.of([], size=2).pages == 1


def test_a_citation_finds_its_quote_by_offsets_and_falls_back_to_the_quote():
    p = passage("alpha beta gamma. delta epsilon.", 100, 7)
    c = quoting(p, "delta epsilon.")
    assert c.span_in([p]) == QuoteSpan(p, 18, 32)
    moved = c.model_copy(update={"start": 0, "end": 3})  # offsets that disagree with the text
    assert moved.span_in([p]) == QuoteSpan(p, 18, 32)
    assert c.span_in([passage("delta epsilon.", 100, 7, source="/docs/b.txt")]) is None  # another document
