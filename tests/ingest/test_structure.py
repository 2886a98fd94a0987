"""Tables, lists, headings and e-mail threads, per format: what each unit is judged as, where it is cited, and which
lines can never be an answer."""

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from assistant.answer import ExtractiveAnswerer
from assistant.fitted import ANSWER_FEATURES
from assistant.judge import Judgement
from assistant.retrieval import Terms
from assistant.sentences import sentences_of
from assistant.types import Passage
from ingest.chunking import sentence_spans
from ingest.loaders import load_document

BUDGET = """# Council budget

## Spending

Budget by service

| Service | 2024/25 (£000) | 2025/26 (£000) |
|---|---|---|
| Parks | 1,204 | 1,310 |
| Libraries | 2,460 | 2,395 |

## 2.4.0

### Fixed
- Crash when importing a CSV file
- Totals rounded the wrong way
"""

TIMETABLE = """Route 7 timetable, weekdays.

Stop                 07:45   08:15   08:45
------------------------------------------
Bus Station          07:45   08:15   08:45
St Mary's Hospital   08:06   08:37   09:06
Airfield Park        08:19   08:50   09:19

* The 08:15 waits at Grange Road for the train.
"""

PAGE = """<!DOCTYPE html>
<html><head><title>Vet</title></head><body><main>
<h1>Clinic</h1>
<h2>Fees</h2>
<table>
<caption>Standard fees</caption>
<tr><th>Service</th><th>Cats</th><th>Dogs</th></tr>
<tr><td>Consultation</td><td>£48</td><td>£52</td></tr>
<tr><td>Microchipping</td><td>£25</td><td>£25</td></tr>
</table>
<h2>Opening hours</h2>
<ul>
<li>Saturday: 9:00 to 13:00</li>
</ul>
</main></body></html>
"""

THREAD = """From: Priya Nair <priya@example.org>
To: Events <events@example.org>
Date: Mon, 7 Apr 2025 10:15
Subject: Evening

The evening starts at 18:30 in the Riverside Room.

------------------------------------------------------------------------

From: Priya Nair <priya@example.org>
To: Events <events@example.org>
Date: Thu, 10 Apr 2025 16:40
Subject: Re: Evening

The evening now starts at 19:00 in the Main Hall.

On Mon, 7 Apr 2025 at 10:15, Priya Nair wrote:
> The evening starts at 18:30 in the Riverside Room.

------------------------------------------------------------------------

From: Tom Becker <tom@example.org>
To: Events <events@example.org>
Date: Fri, 11 Apr 2025 08:05
Subject: Re: Evening

Noted, I will bring the projector.

On Thu, 10 Apr 2025 16:40, Priya Nair wrote:
> The evening now starts at 19:00 in the Main Hall.
>> The hall was booked for the whole evening.
"""


def whole(path: Path) -> Passage:
    """A document as one retrieved passage, with the marks ingest stores."""
    doc = load_document(path)
    return Passage(source=doc.source, title=doc.title, text=doc.text, start=0, end=len(doc.text), line_start=1,
                   line_end=doc.line_at(len(doc.text) - 1), marks=doc.marks(0, len(doc.text)))


def units(passage: Passage) -> dict[str, tuple[str, bool]]:
    """Each unit as written -> (the text it is judged as, whether it may be an answer)."""
    sentences, chosen = ExtractiveAnswerer(None, 1).candidates([passage])
    return {passage.text[s.start:s.end]: (s.text, i in chosen) for i, s in enumerate(sentences)}


def place_of(passage: Passage, written: str):
    start = passage.text.index(written)
    return passage.place(start, start + len(written))


def disk_line(path: Path, written: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if written in line)


def row_of(path: Path, text: str, row: str, judged: str, on_disk: str | None = None,
           where: tuple[str, ...] = ()) -> dict[str, tuple[str, bool]]:
    """Write a document and check one table row of it: judged as `judged` (with its headers), an answer, placed on
    the one line of the file that holds `on_disk` (the row itself by default), its place saying each of `where`.
    Returns the document's units, to check more of them."""
    path.write_text(text)
    passage = whole(path)
    got = units(passage)
    assert got[row] == (judged, True)
    place = place_of(passage, row)
    assert place.line_start == place.line_end == disk_line(path, on_disk or row)
    assert all(words in place.location for words in where), place.location
    return got


def test_a_markdown_table_row_keeps_its_headers_and_its_line(tmp_path):
    got = row_of(tmp_path / "budget.md", BUDGET, "| Parks | 1,204 | 1,310 |",
                 "Budget by service, Parks: 2024/25 (£000) 1,204; 2025/26 (£000) 1,310",
                 where=("Council budget > Spending", "2025/26 (£000)"))
    for markup in ("| Service | 2024/25 (£000) | 2025/26 (£000) |", "|---|---|---|", "Budget by service"):
        assert got[markup][1] is False, markup


def test_a_list_item_keeps_its_heading_path_and_needs_no_full_stop(tmp_path):
    (tmp_path / "changes.md").write_text(BUDGET)
    passage = whole(tmp_path / "changes.md")
    item = "- Crash when importing a CSV file"
    assert units(passage)[item] == ("Council budget > 2.4.0 > Fixed: Crash when importing a CSV file", True)
    assert "(Council budget > 2.4.0 > Fixed)" in place_of(passage, item).location
    assert units(passage)["### Fixed"][1] is False


def test_a_space_aligned_table_row_keeps_its_headers(tmp_path):
    got = row_of(tmp_path / "route.txt", TIMETABLE, "St Mary's Hospital   08:06   08:37   09:06",
                 "St Mary's Hospital: 07:45 08:06; 08:15 08:37; 08:45 09:06")
    assert got["Stop                 07:45   08:15   08:45"][1] is False
    assert got["-" * 42][1] is False
    assert got["* The 08:15 waits at Grange Road for the train."][1] is True  # a footnote is prose, not a row


def test_an_html_table_row_and_list_item(tmp_path):
    got = row_of(tmp_path / "vet.html", PAGE, "Consultation | £48 | £52",
                 "Standard fees, Consultation: Cats £48; Dogs £52", on_disk="£48")
    assert got["Standard fees"][1] is False and got["Service | Cats | Dogs"][1] is False
    assert got["Saturday: 9:00 to 13:00"] == ("Clinic > Opening hours: Saturday: 9:00 to 13:00", True)


def test_a_docx_table_row_and_list_item(tmp_path):
    import docx

    document = docx.Document()
    document.add_heading("Rota", level=1)
    table = document.add_table(rows=2, cols=3)
    for row, values in zip(table.rows, [("Day", "Opening", "Closing"), ("Monday", "Ana", "Ben")]):
        for cell, value in zip(row.cells, values):
            cell.text = value
    document.add_heading("Closing checklist", level=1)
    document.add_paragraph("Set the alarm", style="List Bullet")
    document.save(tmp_path / "rota.docx")
    passage = whole(tmp_path / "rota.docx")
    got = units(passage)
    assert got["Monday | Ana | Ben"] == ("Rota, Monday: Opening Ana; Closing Ben", True)
    assert place_of(passage, "Monday | Ana | Ben").location.startswith("¶ 3 (Rota;")
    assert got["Day | Opening | Closing"][1] is False
    assert got["Set the alarm"] == ("Closing checklist: Set the alarm", True)


@pytest.mark.parametrize("line, judged, where", [
    ("> The evening starts at 18:30 in the Riverside Room.", "The evening starts at 18:30 in the Riverside Room.",
     "(quoted from the message of Mon, 7 Apr 2025 at 10:15 by Priya Nair)"),
    ("The evening now starts at 19:00 in the Main Hall.", None, "(message of Thu, 10 Apr 2025 16:40 by Priya Nair)"),
    ("> The evening now starts at 19:00 in the Main Hall.", "The evening now starts at 19:00 in the Main Hall.",
     "(quoted from the message of Thu, 10 Apr 2025 16:40 by Priya Nair)"),
    # ">>" without a "wrote:" line of its own: the message that the quoted one quoted
    (">> The hall was booked for the whole evening.", "The hall was booked for the whole evening.",
     "(quoted from the message of Mon, 7 Apr 2025 at 10:15 by Priya Nair)"),
])
def test_a_quoted_line_knows_its_message(tmp_path, line, judged, where):
    (tmp_path / "thread.txt").write_text(THREAD)
    passage = whole(tmp_path / "thread.txt")
    assert units(passage)[line] == (judged or line, True)
    assert place_of(passage, line).location.endswith(where)


def test_e_mail_headers_are_never_answers(tmp_path):
    (tmp_path / "thread.txt").write_text(THREAD)
    passage = whole(tmp_path / "thread.txt")
    got = units(passage)
    for markup in ("On Mon, 7 Apr 2025 at 10:15, Priya Nair wrote:", "From: Priya Nair <priya@example.org>",
                   "Date: Thu, 10 Apr 2025 16:40", "-" * 72):
        assert got[markup][1] is False, markup


def test_the_newest_message_on_the_subject_leads_when_likely(tmp_path):
    (tmp_path / "thread.txt").write_text(THREAD)
    passage = whole(tmp_path / "thread.txt")
    sentences, chosen = ExtractiveAnswerer(None, 1).candidates([passage])

    def at(start: str) -> int:
        return next(k for k, i in enumerate(chosen) if sentences[i].text.startswith(start))

    old, new, other = at("The evening starts"), at("The evening now"), at("Noted, I will bring")
    judge = SimpleNamespace(terms=Terms(), function=frozenset(Terms()("the what when does")),
                            model=SimpleNamespace(threshold=0.5))
    answerer = ExtractiveAnswerer(judge, 1)
    # (the newer message's score, the newest one's, which leads): the newest on the subject leads unless it is far
    # below the best; a newer message about something else never does.
    for newer, newest, leads in ((0.7, 0.1, new), (0.5, 0.1, old), (0.1, 0.85, old)):
        scores = np.full(len(chosen), 0.05)
        scores[old], scores[new], scores[other] = 0.9, newer, newest
        features = np.zeros((len(chosen), len(ANSWER_FEATURES)))
        judged = Judgement(features, scores, np.argsort(-scores, kind="stable"), 0.9, False)
        assert answerer._newest_first("When does the evening start?", [passage], sentences, chosen,
                                      judged)[0] == leads


def test_a_signature_line_is_judged_as_its_authors_and_the_name_alone_is_not_an_answer(tmp_path):
    (tmp_path / "thread.txt").write_text(THREAD.replace("Noted, I will bring the projector.\n",
                                                        "Noted, I will bring the projector.\n\nTom Becker\n"
                                                        "Events Officer\n"))
    passage = whole(tmp_path / "thread.txt")
    got = units(passage)
    assert got["Events Officer"] == ("Tom Becker: Events Officer", True)
    assert got["Tom Becker"][1] is False
    assert got["Noted, I will bring the projector."] == ("Noted, I will bring the projector.", True)


def test_a_list_item_is_about_the_version_of_its_own_section(tmp_path):
    (tmp_path / "changes.md").write_text("# Changes\n\n## 2.4.0\n\n### Fixed\n- Crash on import\n\n"
                                         "## 2.3.0\n\n### Fixed\n- Totals rounded\n")
    passage = whole(tmp_path / "changes.md")
    at = passage.text.index("- Totals")
    assert passage.section_at(at).strip() == "Changes > 2.3.0 > Fixed\n### Fixed\n- Totals rounded"
    assert "2.4.0" not in passage.section_at(at) and "2.4.0" in passage.section_at(passage.text.index("- Crash"))


def test_a_table_row_is_one_unit_and_markup_alone_is_never_one():
    text = "| No. 4 | Fixed e.g. the 1.5 mm gap. Then tested. |\n| --- | --- |\n---"
    assert sentence_spans(text)[0] == (0, text.index("\n"))
    passage = Passage(source="a.md", title="a", text=text, start=0, end=len(text), line_start=1, line_end=3)
    may = {s.text: ExtractiveAnswerer._may_answer(passage, s) for s in sentences_of([passage])}
    assert may["| --- | --- |"] is False and may["---"] is False


def test_a_chunk_is_embedded_and_indexed_under_its_heading_path(tmp_path):
    from assistant.retrieval import _indexed
    from ingest.chunking import Chunker
    from ingest.records import StoredChunk

    (tmp_path / "changes.md").write_text(BUDGET)
    words = Chunker(lambda texts: [len(t.split()) for t in texts], None, max_tokens=10, overlap_tokens=0)
    chunk = next(c for c in words.split(load_document(tmp_path / "changes.md")) if c.text.startswith("- Totals"))
    heading = "Council budget > 2.4.0 > Fixed"
    assert chunk.indexed == f"{heading}\n{chunk.text}"
    assert _indexed(StoredChunk(chunk.id, chunk.text, chunk.metadata(1))) == chunk.indexed  # BM25 reads the same
    # The item's stored vector pools its heading's tokens with its own, as it is judged under its heading.
    assert [chunk.indexed[s:e] for s, e in chunk.pooled_spans()[0]] == [heading, "- Totals rounded the wrong way"]


@pytest.fixture(scope="module")
def thread_bot(tmp_path_factory):
    from assistant import Assistant
    from assistant.settings import Settings
    from ingest import ingest_paths

    folder = tmp_path_factory.mktemp("thread")
    (folder / "thread.txt").write_text(THREAD)
    settings = Settings(data_dir=folder / "data", collection="thread")
    assert not ingest_paths([folder / "thread.txt"], settings).failed
    return Assistant(settings)


def test_a_later_message_that_changes_a_fact_is_the_answer(thread_bot):
    answer = thread_bot.ask("What time does the evening start?")
    assert "19:00" in answer.text and "18:30" not in answer.text, answer.text
    assert all("10 Apr 2025" in c.location for c in answer.citations), [c.location for c in answer.citations]


def test_a_pdf_table_row_keeps_its_headers_and_its_page(tmp_path):
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=11)
    pdf.add_page()
    pdf.multi_cell(0, 6, "Harbour ferry fares apply from 1 May 2025 on all routes.")
    pdf.add_page()
    with pdf.table(col_widths=(60, 40, 40), text_align="LEFT") as table:
        for values in [("Ticket", "Adult", "Child"), ("Single", "4.20", "2.10"), ("Day return", "7.50", "3.80")]:
            row = table.row()
            for value in values:
                row.cell(value)
    pdf.multi_cell(0, 6, "Children under five travel free with an adult.")
    pdf.output(str(tmp_path / "fares.pdf"))
    passage = whole(tmp_path / "fares.pdf")
    got = units(passage)
    assert got["Day return | 7.50 | 3.80"] == ("Day return: Adult 7.50; Child 3.80", True)
    assert got["Ticket | Adult | Child"][1] is False
    assert place_of(passage, "Day return | 7.50 | 3.80").location == "p. 2 (columns: Ticket | Adult | Child)"
    assert got["Children under five travel free with an adult."][1] is True


def test_a_nested_list_item_is_judged_under_the_item_it_sits_under(tmp_path):
    (tmp_path / "h.md").write_text("# Handbook\n\n## Packing\n\n- Dry goods\n  - One box of cereal\n- Toiletries\n"
                                   "  - One bar of soap\n- Two tins of soup\n\nText here.\n")
    got = units(whole(tmp_path / "h.md"))
    assert got["- One bar of soap"] == ("Handbook > Packing > Toiletries: One bar of soap", True)
    assert got["- Toiletries"][1] is False  # it only heads the items under it
    assert got["- Two tins of soup"] == ("Handbook > Packing: Two tins of soup", True)
    assert got["Text here."] == ("Text here.", True)
