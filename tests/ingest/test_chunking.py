"""ingest.chunking: sentence boundaries, and chunks packed from whole sentences within the token limit, with exact
offsets, whole-sentence overlap and stable ids. Tokens here are words (a stand-in tokenizer), so every count is
checkable by eye; tests/ingest/test_pipeline.py checks the same on the real model's tokenizer."""

import re

import pytest

from ingest.chunking import Chunker, document_hash, sentence_spans
from ingest.loaders import load_document


def words(texts: list[str]) -> list[int]:
    return [len(t.split()) for t in texts]


def word_spans(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in re.finditer(r"\S+", text)]


def chunker(max_tokens: int, overlap: int = 0) -> Chunker:
    return Chunker(words, word_spans, max_tokens, overlap)


def load(tmp_path, text: str, name: str = "doc.txt"):
    (tmp_path / name).write_text(text, encoding="utf-8")
    return load_document(tmp_path / name)


def sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in sentence_spans(text)]


@pytest.mark.parametrize("text,expected", [
    ("One. Two! Three?", ["One.", "Two!", "Three?"]),
    ("Dr. Smith met Mr. Jones in the U.S. capital. Then he left.",
     ["Dr. Smith met Mr. Jones in the U.S. capital.", "Then he left."]),
    ("J. R. R. Tolkien wrote it. It cost 4.50 euros.", ["J. R. R. Tolkien wrote it.", "It cost 4.50 euros."]),
    ('He said "stop." Then he left (quietly.) Done.', ['He said "stop."', "Then he left (quietly.)", "Done."]),
    ("A heading\nA line without a full stop\n\n  Indented text.  ", ["A heading", "A line without a full stop",
                                                                   "Indented text."]),
    ("", []),
])
def test_sentences_end_at_punctuation_and_line_breaks_but_not_at_abbreviations(text, expected):
    assert sentences(text) == expected


def test_chunks_are_exact_spans_of_whole_sentences_within_the_limit(tmp_path):
    text = "\n".join(f"Sentence {i} has exactly six words." for i in range(1, 21))
    document = load(tmp_path, text)
    chunks = chunker(20).split(document)
    ends = {end for _, end in sentence_spans(document.text)}
    assert len(chunks) == 7  # three six-word sentences fit in 20 tokens: 20 sentences -> 7 chunks, no overlap
    for i, chunk in enumerate(chunks):
        assert document.text[chunk.start:chunk.end] == chunk.text and chunk.index == i
        assert words([chunk.text])[0] <= 20 and chunk.end in ends
        assert (chunk.line_start, chunk.line_end) == (3 * i + 1, min(3 * i + 3, 20))
    assert chunks[0].text.startswith("Sentence 1 ") and chunks[-1].text.endswith("20 has exactly six words.")


def test_chunks_overlap_by_whole_sentences_and_always_move_forward(tmp_path):
    text = " ".join(f"Fact {i} is four." for i in range(12))
    chunks = chunker(12, overlap=4).split(load(tmp_path, text))
    for before, after in zip(chunks, chunks[1:]):
        assert after.start > before.start
        shared = before.text[after.start - before.start:] if after.start < before.end else ""
        assert shared == sentences(before.text)[-1], "the overlap is the last whole sentence"
    assert chunks[-1].text.endswith("Fact 11 is four.")


def test_a_sentence_over_the_limit_is_cut_at_token_boundaries(tmp_path):
    text = "Short one. " + " ".join(f"w{i}" for i in range(25)) + "."
    chunks = chunker(10).split(load(tmp_path, text))
    assert chunks[0].text == "Short one."
    assert all(words([c.text])[0] <= 10 for c in chunks)
    assert " ".join(c.text for c in chunks[1:]) == text[len("Short one. "):]


def test_ids_are_stable_and_repeated_text_stays_distinct(tmp_path):
    text = "The same line.\nThe same line.\nAnother line."
    first, again = chunker(3).split(load(tmp_path, text)), chunker(3).split(load(tmp_path, text))
    assert [c.id for c in first] == [c.id for c in again]
    assert first[0].text == first[1].text and first[0].id != first[1].id
    moved = chunker(3).split(load(tmp_path, text, "other.txt"))
    assert not {c.id for c in moved} & {c.id for c in first}, "ids name their source"


def test_the_document_hash_follows_the_text(tmp_path):
    one = document_hash(load(tmp_path, "Alpha. Beta."))
    assert document_hash(load(tmp_path, "Alpha. Beta.")) == one
    assert document_hash(load(tmp_path, "Alpha. Gamma.")) != one


def test_metadata_holds_everything_but_the_text(tmp_path):
    chunk = chunker(50).split(load(tmp_path, "One fact here."))[0]
    meta = chunk.metadata(n_chunks=1).to_chroma()
    assert (meta["source"], meta["start"], meta["end"], meta["n_chunks"]) == (chunk.source, 0, 14, 1)
    assert chunk.text not in meta.values() and "page" not in meta  # Chroma refuses None: absent, not null
