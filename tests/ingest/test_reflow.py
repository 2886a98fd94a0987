"""Document fidelity on real files made here by real libraries (fpdf2, python-docx, plain text and HTML on disk):
sentences come out whole, page chrome stays out, and every citation names a place where a person finds the quote."""

import html
import re
import textwrap
from pathlib import Path

import pytest

from assistant import Assistant, Settings
from ingest import ingest_paths
from ingest.chunking import sentence_spans
from ingest.loaders import load_document
from ingest.reflow import Mapped, reflow

HEADER, SOFT = "Northern Waterways Review", "\u00ad"
NAMES = ["Ashby", "Brindle", "Callow", "Dunmore", "Elsworth", "Farleigh", "Greystone", "Hollins", "Ingleby",
         "Jessop", "Kelda", "Langley", "Marwood", "Netherby", "Oxley", "Pellow", "Quarry", "Redmire", "Sedby",
         "Thornton", "Ulverby", "Vantage", "Whitmore", "Yarrow", "Zennor", "Alderley", "Birkdale", "Coldwell",
         "Dovecote", "Eastwick", "Fenwick", "Gatebeck", "Hartside", "Irwell", "Kirkstall", "Lowther"]


def squash(text: str) -> str:
    """Letters and digits only: compares texts across line breaks, hyphenation and entity spellings."""
    return re.sub(r"[\W_]+", "", text.replace(SOFT, "")).lower()


def assert_on_lines(quote: str, disk: list[str], first: int, last: int) -> None:
    """The quote is on lines first..last of the file, and on no narrower range."""
    shown = [html.unescape(re.sub(r"<[^>]+>", "", line)) for line in disk[first - 1:last]]
    assert squash(quote) in squash(" ".join(shown)), (quote, first, last)
    if last > first:
        assert squash(quote) not in squash(" ".join(shown[1:])) and squash(quote) not in squash(" ".join(shown[:-1]))


def canal_sentences() -> list[str]:
    """Distinct sentences, each naming its own lock and year; long words may be hyphenated at a line end."""
    return [f"The {name} lock was re{SOFT}built in {1790 + 3 * i} by {i + 3} work{SOFT}ers, who re{SOFT}placed its "
            f"rotten tim{SOFT}ber gates with heavy iron ones cast at the foun{SOFT}dry in {NAMES[i - 1]}."
            for i, name in enumerate(NAMES)]


def make_pdf(path: Path, blank_page: bool = False) -> Path:
    """A multi-page article wrapped by fpdf2, with a running header and a page-number footer."""
    from fpdf import FPDF

    class Article(FPDF):
        def header(self):
            self.set_font("helvetica", "I", 9)
            self.cell(0, 8, HEADER, new_x="LMARGIN", new_y="NEXT")

        def footer(self):
            self.set_y(-15)
            self.set_font("helvetica", size=9)
            self.cell(0, 8, f"Page {self.page_no()}", align="C")

    pdf = Article(format=(148, 210))  # A5: more pages
    pdf.set_auto_page_break(True, margin=20)
    pdf.add_page()
    pdf.set_font("helvetica", "B", 14)
    pdf.multi_cell(0, 8, "Locks of the canal", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("helvetica", size=12)
    sentences = canal_sentences()
    for start in range(0, len(sentences), 4):
        pdf.multi_cell(0, 7, " ".join(sentences[start:start + 4]), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)
    if blank_page:
        pdf.add_page()
        pdf.rect(30, 40, 100, 80, style="F")  # a drawing, no text: as a scanned page reads
    pdf.output(str(path))
    return path


def printed_pages(path: Path) -> list[tuple[int, int]]:
    """(first page, last page) of each canal sentence, read from pypdf's raw page text, not from the code under test."""
    from pypdf import PdfReader

    pages = [squash((page.extract_text() or "").replace(HEADER, "").replace(f"Page {n}", ""))
             for n, page in enumerate(PdfReader(path).pages, 1)]
    joined, starts = "".join(pages), []
    for page in pages:
        starts.append((starts[-1] + len(pages[len(starts) - 1])) if starts else 0)
    where = []
    for sentence in canal_sentences():
        at = joined.index(squash(sentence))
        first = max(i for i, s in enumerate(starts, 1) if s <= at)
        last = max(i for i, s in enumerate(starts, 1) if s < at + len(squash(sentence)))
        where.append((first, last))
    return where


def test_pdf_reads_as_prose_without_chrome_and_pages_belong_to_each_sentence(tmp_path):
    path = make_pdf(tmp_path / "locks.pdf")
    from pypdf import PdfReader

    raw = "\n".join(page.extract_text() for page in PdfReader(path).pages)
    assert re.search(r"\w-\n\w", raw) and raw.count(HEADER) >= 3, "test data: hyphenated line ends, 3+ pages"
    doc = load_document(path)
    found = [doc.text[s:e] for s, e in sentence_spans(doc.text)]
    expected = [s.replace(SOFT, "") for s in canal_sentences()]
    assert found == ["Locks of the canal", *expected]  # whole sentences, hyphens undone, no header or footer
    assert HEADER not in doc.text and not re.search(r"Page \d", doc.text)
    truth = printed_pages(path)
    assert any(first != last for first, last in truth), "test data: a sentence crosses a page break"
    for (first, last), sentence in zip(truth, expected):
        start = doc.text.index(sentence)
        assert (doc.page_at(start), doc.page_at(start + len(sentence) - 1)) == (first, last), sentence


def test_pdf_page_without_text_layer_is_named_in_the_ingest_summary(tmp_path):
    path = make_pdf(tmp_path / "locks.pdf", blank_page=True)
    pages = len(__import__("pypdf").PdfReader(path).pages)
    settings = Settings(data_dir=tmp_path / "data", collection="blank")
    report, again = ingest_paths([path], settings), ingest_paths([path], settings)
    assert report.added > 0 and report.notes == [f"{path.resolve()}: page {pages}: no text layer"]
    assert again.added == 0 and again.notes == report.notes  # said again, though nothing changed
    assert f"page {pages}: no text layer" in report.summary().split("\n")[1]


WRAPPED = (
    "The committee met on Jan. 5 to review the budget, which grew by 4.5 percent to $3.2 million. Dr. Alvarez "
    "said, \"We cannot keep spending like this.\" The vote was postponed until the spring, when the new figures "
    "from the U.S. office arrive. Members agreed that the reserve fund, established in 1998, should not be "
    "touched for ordinary expenses, and the set-up of a new fund was left to the treasurer."
)
WRAPPED_SENTENCES = [
    "The committee met on Jan. 5 to review the budget, which grew by 4.5 percent to $3.2 million.",
    "Dr. Alvarez said, \"We cannot keep spending like this.\"",
    "The vote was postponed until the spring, when the new figures from the U.S. office arrive.",
    "Members agreed that the reserve fund, established in 1998, should not be touched for ordinary expenses, and "
    "the set-up of a new fund was left to the treasurer.",
]
ITEMS = ["- Approve the minutes of the last meeting.", "- Review the audit report before Friday.",
         "1. Send the letter to the bank.", "2. File the tax forms."]


def write_wrapped(path: Path, heading: str) -> str:
    text = (f"{heading}\n\n{textwrap.fill(WRAPPED, 60)}\n\n{textwrap.fill(WRAPPED, 71)}\n\nAction items:\n"
            + "\n".join(ITEMS) + "\n")
    path.write_text(text, encoding="utf-8")
    return text


@pytest.mark.parametrize("name, heading", [("minutes.txt", "BUDGET MEETING"), ("minutes.md", "# Budget meeting")])
def test_hard_wrapped_text_keeps_sentences_and_cites_lines_on_disk(tmp_path, name, heading):
    disk = write_wrapped(tmp_path / name, heading).split("\n")
    doc = load_document(tmp_path / name)
    found = [doc.text[s:e] for s, e in sentence_spans(doc.text)]
    assert found == [heading, *WRAPPED_SENTENCES, *WRAPPED_SENTENCES, "Action items:", *ITEMS]
    for s, e in sentence_spans(doc.text):
        assert_on_lines(doc.text[s:e], disk, doc.line_at(s), doc.line_at(e - 1))


def test_text_with_meant_line_breaks_is_not_joined(tmp_path):
    """One sentence or heading per line (long lines, as the bundled sample): every line break is kept."""
    text = ("Canal Reopens After Eleven Years\n" + "Volunteers cleared the channel at weekends while the county "
            "council paid for the new lock gates and the towpath repairs along the whole route.\n") * 4
    (tmp_path / "news.txt").write_text(text)
    doc = load_document(tmp_path / "news.txt")
    assert doc.text == text and sentence_spans(doc.text)[0] == (0, len("Canal Reopens After Eleven Years"))


def test_line_end_hyphens_follow_the_document():
    """A split word is joined when the document writes it whole elsewhere or its halves are no words (exam-ple,
    mainte-nance); a hyphen between two words the document uses on their own stays (set-up)."""
    text = ("We set the pump up before the test, so that the whole set-\n"
            "up took an hour, and we could run the first exam-\n"
            "ple of the failure. The example ran well, and the mainte-\n"
            "nance crew wrote the report that evening in the shed.")
    flat = reflow(Mapped.verbatim(text), "pdf").text
    assert flat == ("We set the pump up before the test, so that the whole set-up took an hour, and we could run the "
                    "first example of the failure. The example ran well, and the maintenance crew wrote the report "
                    "that evening in the shed.")


def test_html_citations_lead_to_the_file_and_chrome_stays_out(tmp_path):
    page = textwrap.dedent("""\
        <!DOCTYPE html>
        <html><head><title>Tea</title></head>
        <body>
        <header><a href="/">Home</a> <a href="/shop">Shop</a></header>
        <nav><ul><li>Menu one</li><li>Menu two</li></ul></nav>
        <div id="cookie-notice">We use cookies to improve your visit. Accept all cookies?</div>
        <main>
        <article>
        <header><h1>Tea guide</h1></header>
        <h2>Brewing</h2>
        <p>Green tea should steep for
        two minutes at 80 &deg;C.</p>
        <p>Black tea needs  &amp;  likes
        boiling water, said the <b>master</b>
        blender.</p>
        <h2>Storing</h2>
        <ul><li>Keep leaves in a tin.</li><li>Use them within a year.</li></ul>
        </article>
        </main>
        <aside>Related: coffee grinders</aside>
        <p class="legal">Copyright 2023 Tea Co. All rights reserved.</p>
        <footer>Contact us at the shop</footer>
        </body></html>
        """)
    (tmp_path / "tea.html").write_text(page)
    doc = load_document(tmp_path / "tea.html")
    for chrome in ("Home", "Menu", "cookies", "coffee", "Copyright", "Contact"):
        assert chrome not in doc.text
    disk = page.split("\n")
    quotes = {doc.text[s:e]: (s, e) for s, e in sentence_spans(doc.text)}
    assert list(quotes) == ["Tea guide", "Brewing", "Green tea should steep for two minutes at 80 °C.",
                            "Black tea needs & likes boiling water, said the master blender.", "Storing",
                            "Keep leaves in a tin.", "Use them within a year."]
    for quote, (s, e) in quotes.items():
        assert_on_lines(quote, disk, doc.line_at(s), doc.line_at(e - 1))
    marks = doc.marks(*quotes["Keep leaves in a tin."])
    assert marks.headings[0][1] == "Tea guide > Storing"


def make_docx(path: Path) -> Path:
    import docx

    document = docx.Document()
    document.add_heading("Course syllabus", 0)
    document.add_heading("Week one", 1)
    document.add_paragraph("Read the first chapter of the textbook.")
    document.add_paragraph("")
    document.add_paragraph("Submit the field notebook by Friday at noon.")
    document.add_heading("Week two", 1)
    document.add_paragraph("The quiz on river ecology is held on Monday.")
    document.save(path)
    return path


def test_docx_paragraph_numbers_and_nearest_heading(tmp_path):
    doc = load_document(make_docx(tmp_path / "syllabus.docx"))
    quote = "Submit the field notebook by Friday at noon."
    start = doc.text.index(quote)
    assert doc.line_at(start) == 4  # the empty paragraph is not counted: a reader does not see it
    marks = doc.marks(start, start + len(quote))
    assert marks.kind == "docx" and marks.headings == ((start, "Week one"),)
    quiz = doc.text.index("The quiz")
    assert doc.line_at(quiz) == 6 and doc.marks(quiz, quiz + 5).headings == ((quiz, "Week two"),)


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    """The PDF, a hard-wrapped Markdown file, an HTML page and a DOCX, ingested once."""
    folder = tmp_path_factory.mktemp("library") / "docs"
    folder.mkdir()
    make_pdf(folder / "locks.pdf")
    write_wrapped(folder / "minutes.md", "# Budget meeting")
    (folder / "tea.html").write_text("<html><body><h1>Tea</h1>\n<p>Oolong tea is\nrolled by hand in Fujian.</p>"
                                     "\n<footer>Copyright 2023 Tea Co</footer></body></html>\n")
    make_docx(folder / "syllabus.docx")
    settings = Settings(data_dir=folder.parent / "data", collection="fidelity")
    assert not ingest_paths([folder], settings).failed
    return folder, Assistant(settings)


def test_citations_name_the_quotes_own_page_including_a_page_break(library):
    folder, bot = library
    truth = printed_pages(folder / "locks.pdf")
    crossing = next(i for i, (first, last) in enumerate(truth) if first != last)
    on_one_page = next(i for i, (first, last) in enumerate(truth) if first == last and first > 1)
    for i in (crossing, on_one_page):
        answer = bot.ask(f"When was the {NAMES[i]} lock rebuilt?")
        cited = [c for c in answer.citations if str(1790 + 3 * i) in c.quote]
        assert cited, answer.text
        first, last = truth[i]
        c = cited[0]
        assert c.quote == canal_sentences()[i].replace(SOFT, "")  # a whole sentence, not a fragment
        assert (c.page, c.page_end) == (first, last)
        assert c.location == (f"p. {first}" if first == last else f"pp. {first}-{last}")
        assert f"{c.source}, {c.location}" in answer.sources_text()


def test_citations_name_lines_on_disk_paragraphs_and_headings(library):
    folder, bot = library
    answer = bot.ask("Where is oolong tea rolled by hand?")
    c = next(c for c in answer.citations if "Fujian" in c.quote)
    assert c.location == "lines 2-3 (Tea)"
    assert_on_lines(c.quote, (folder / "tea.html").read_text().split("\n"), 2, 3)
    answer = bot.ask("By when must the field notebook be submitted?")
    c = next(c for c in answer.citations if "notebook" in c.quote)
    assert c.location == "¶ 4 (Week one)"
    answer = bot.ask("How much did the budget grow?")
    c = next(c for c in answer.citations if "4.5 percent" in c.quote)
    assert c.location == f"lines {c.line_start}-{c.line_end} (Budget meeting)" and c.line_end > c.line_start
    assert_on_lines(c.quote, (folder / "minutes.md").read_text().split("\n"), c.line_start, c.line_end)


def test_an_initial_at_a_line_start_continues_the_sentence():
    """"J. Smith" at the start of a wrapped line is a name, not a list item "a." that would start a new block."""
    text = ("The first report on the canal was written in the spring by\n"
            "J. Smith, who surveyed the locks and the reservoir for the company.\n"
            "a. The locks were measured first.")
    flat = reflow(Mapped.verbatim(text), "pdf").text
    assert flat.split("\n") == ["The first report on the canal was written in the spring by J. Smith, who surveyed the "
                                "locks and the reservoir for the company.", "a. The locks were measured first."]
