"""Tables, lists, headings and e-mail threads, per format: what each unit is judged as, where it is cited, and which
lines can never be an answer."""

from pathlib import Path

import numpy as np

from assistant.answer import ExtractiveAnswerer
from assistant.fitted import ANSWER_FEATURES
from assistant.judge import Judgement
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


def test_a_markdown_table_row_keeps_its_headers_and_its_line(tmp_path):
    (tmp_path / "budget.md").write_text(BUDGET)
    passage = whole(tmp_path / "budget.md")
    got = units(passage)
    row = "| Parks | 1,204 | 1,310 |"
    assert got[row] == ("Budget by service, Parks: 2024/25 (£000) 1,204; 2025/26 (£000) 1,310", True)
    place = place_of(passage, row)
    assert place.line_start == place.line_end == disk_line(tmp_path / "budget.md", row)
    assert "Council budget > Spending" in place.location and "2025/26 (£000)" in place.location
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
    (tmp_path / "route.txt").write_text(TIMETABLE)
    passage = whole(tmp_path / "route.txt")
    got = units(passage)
    row = "St Mary's Hospital   08:06   08:37   09:06"
    assert got[row] == ("St Mary's Hospital: 07:45 08:06; 08:15 08:37; 08:45 09:06", True)
    assert place_of(passage, row).line_start == disk_line(tmp_path / "route.txt", row)
    assert got["Stop                 07:45   08:15   08:45"][1] is False
    assert got["-" * 42][1] is False
    assert got["* The 08:15 waits at Grange Road for the train."][1] is True  # a footnote is prose, not a row


def test_an_html_table_row_and_list_item(tmp_path):
    (tmp_path / "vet.html").write_text(PAGE)
    passage = whole(tmp_path / "vet.html")
    got = units(passage)
    assert got["Consultation | £48 | £52"] == ("Standard fees, Consultation: Cats £48; Dogs £52", True)
    assert place_of(passage, "Consultation | £48 | £52").line_start == disk_line(tmp_path / "vet.html", "£48")
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


def test_a_quoted_line_knows_its_message_and_headers_are_never_answers(tmp_path):
    (tmp_path / "thread.txt").write_text(THREAD)
    passage = whole(tmp_path / "thread.txt")
    got = units(passage)
    quoted = "> The evening starts at 18:30 in the Riverside Room."
    assert got[quoted] == ("The evening starts at 18:30 in the Riverside Room.", True)
    assert "quoted from the message of Mon, 7 Apr 2025 at 10:15 by Priya Nair" in place_of(passage, quoted).location
    assert "message of Thu, 10 Apr 2025 16:40 by Priya Nair" in place_of(passage, "The evening now").location
    for markup in ("On Mon, 7 Apr 2025 at 10:15, Priya Nair wrote:", "From: Priya Nair <priya@example.org>",
                   "Date: Thu, 10 Apr 2025 16:40", "-" * 72):
        assert got[markup][1] is False, markup


def test_the_newest_message_leads_when_nearly_as_likely(tmp_path):
    (tmp_path / "thread.txt").write_text(THREAD)
    passage = whole(tmp_path / "thread.txt")
    sentences, chosen = ExtractiveAnswerer(None, 1).candidates([passage])
    old = next(k for k, i in enumerate(chosen) if sentences[i].text.startswith("The evening starts"))
    new = next(k for k, i in enumerate(chosen) if sentences[i].text.startswith("The evening now"))
    scores = np.full(len(chosen), 0.1)
    for newer_score, leads in ((0.85, new), (0.5, old)):
        scores[old], scores[new] = 0.9, newer_score
        features = np.zeros((len(chosen), len(ANSWER_FEATURES)))
        features[[old, new], ANSWER_FEATURES.index("coverage")] = 0.5
        judged = Judgement(features, scores, np.argsort(-scores, kind="stable"), 0.9, False)
        assert ExtractiveAnswerer._newest_first([passage], sentences, chosen, judged)[0] == leads


def test_a_table_row_is_one_unit_and_markup_alone_is_never_one():
    text = "| No. 4 | Fixed e.g. the 1.5 mm gap. Then tested. |\n| --- | --- |\n---"
    assert sentence_spans(text)[0] == (0, text.index("\n"))
    passage = Passage(source="a.md", title="a", text=text, start=0, end=len(text), line_start=1, line_end=3)
    may = {s.text: ExtractiveAnswerer._may_answer(passage, s) for s in sentences_of([passage])}
    assert may["| --- | --- |"] is False and may["---"] is False
