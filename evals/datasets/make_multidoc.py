"""Writes the multidoc set's PDF (wrapped, hyphenated, five pages) and DOCX from the text below; rerun after edits."""

import re
from datetime import datetime, timezone
from pathlib import Path

from docx import Document
from fpdf import FPDF

OUT = Path(__file__).parent / "multidoc"
FIXED_DATE = datetime(2025, 6, 1, tzinfo=timezone.utc)

# Where fpdf2 may break these words at a line end (it then prints a hyphen), as a printed reference work would.
HYPHENATION = [
    "ac-counts", "au-thor-is-ing", "cel-e-bra-tion", "col-lapsed", "con-struc-tion", "Con-struc-tion",
    "in-dus-tri-al", "main-tain-ing", "nav-i-ga-tion", "orig-i-nal-ly", "Par-lia-ment", "pho-to-graphs",
    "re-spon-si-ble", "res-to-ra-tion", "school-teach-er", "Sep-tem-ber", "struc-tures", "struc-ture",
    "su-per-vis-ing", "through-out", "com-mer-cial", "re-cord-ed", "sur-viv-ing", "re-sid-ent",
]
SOFT_HYPHEN = "\u00ad"

# The encyclopedia article: (heading, paragraphs).
CANAL_TITLE = "Harrowgate Canal"
CANAL = [
    (None, [
        "The Harrowgate Canal is a narrow canal in the north of England that links the River Kelda at Sedby with the "
        "industrial town of Harrowgate Cross. It is 34 miles (55 km) long and climbs 310 feet (94 m) through 27 locks. "
        "Built to carry coal, limestone and wool, it was one of the last canals of the canal age to be completed, and "
        "it is now used almost entirely by leisure boats.",
    ]),
    ("History", [
        "A canal between Sedby and Harrowgate Cross was first proposed in 1784 by a group of mill owners who wanted a "
        "cheaper route for coal than the turnpike road, where a horse and cart could carry barely a ton. The scheme "
        "was delayed for several years by a dispute with the owners of the Kelda Navigation, who feared a loss of "
        "tolls, and the Act of Parliament authorising the canal was not passed until 1791.",
        "Construction began in 1793 under the chief engineer Thomas Callow. His younger brother, Edwin Callow, had "
        "surveyed the route in 1789 and later worked as the company's resident engineer, which has led some writers "
        "to credit the whole canal to Edwin. The company's minute books make clear, however, that every major "
        "structure was designed by Thomas, and that Edwin was responsible for supervising the contractors and "
        "keeping the accounts.",
        "Work went slowly because of a shortage of money during the war with France, and the canal took eight years "
        "to build. It opened throughout on 14 May 1801, when a fleet of eleven boats carried coal from Sedby to a "
        "celebration at the Harrowgate Cross basin. A branch of 3 miles to the limestone quarries at Oxley was "
        "opened on 2 September 1803.",
        "The canal was profitable for about forty years. Its best year was 1838, when it carried 412,000 tons of "
        "cargo, more than half of it coal. The opening of the Sedby and Harrowgate Railway in 1847 took much of its "
        "trade, and in 1852 the canal company was bought by the railway company, which had little interest in "
        "maintaining it. Traffic declined steadily through the rest of the century, and the last commercial "
        "cargo, a load of timber, was delivered in 1937.",
    ]),
    ("Engineering", [
        "The canal is best known for two structures. The Brindle Aqueduct carries it across the valley of "
        "the River Brindle on nine stone arches, each with a span of 30 feet. When it was completed in 1798 it was "
        "the longest aqueduct in the county, and it was built with an unusual puddled-clay lining that Thomas "
        "Callow had tested on a small scale at Oxley. The aqueduct has never leaked seriously, and it is now a "
        "listed building.",
        "Kelda Tunnel, near the summit of the canal, is 1,240 yards (1,134 m) long. It has no towpath, so boats "
        "were originally legged through by men lying on their backs and pushing against the tunnel walls with their "
        "feet, while the horses were led over the hill. Legging a loaded boat through the tunnel took about an hour "
        "and a half. The tunnel took four years to dig, and at least nine workers died in its construction, "
        "most of them in a roof collapse in the winter of 1796.",
        "Water for the summit is supplied by Greystone Reservoir, which was enlarged in 1824 after a dry summer "
        "closed the canal for six weeks. Because the summit pound is short, boats going uphill must wait for a boat "
        "coming down where possible, so that each lockful of water is used twice.",
    ]),
    ("Closure and restoration", [
        "After the Second World War the canal was in poor condition. Several locks had collapsed, and in 1949 a "
        "section of bank near Oxley gave way and flooded twenty houses. The canal was formally closed to navigation "
        "in 1951, and parts of it were filled in to build a road.",
        "The Harrowgate Canal Society was founded in 1968 to campaign for the canal's reopening. Its first chairman "
        "was Ruth Callow, a schoolteacher who was not related to the canal's engineers despite sharing their "
        "surname. Volunteers began clearing the channel at weekends in 1970, and the society later raised money to "
        "rebuild the locks with the help of the county council. The restoration took eleven years, and the "
        "canal was reopened throughout on 21 June 1983.",
        "The Oxley branch has not been restored. Its course is now a footpath, and the society has said that it has "
        "no plans to restore it because the quarry basin at its end was built over in the 1960s.",
    ]),
    ("The canal today", [
        "The canal is managed by a national waterways charity and is open to boats from March to October. In winter "
        "the locks are closed for repairs, although the towpath remains open to walkers and cyclists. About 4,000 "
        "boat movements are recorded through the Kelda Tunnel each year, and the aqueduct is a popular place for "
        "photographs.",
        "A small museum in the old toll house at Harrowgate Cross tells the story of the canal and its builders. It "
        "holds the only surviving portrait of Thomas Callow, together with his drawings for the aqueduct, and it is "
        "open at weekends from Easter to the end of September. Entry is free, but donations are welcome.",
    ]),
]


class ArticlePdf(FPDF):
    """An A5 reference-work page: running header with the article title, footer with page numbers."""

    def header(self) -> None:
        self.set_font("Times", "I", 9)
        self.cell(0, 5, f"Encyclopedia of Northern Waterways - {CANAL_TITLE}", align="C", new_x="LMARGIN", new_y="NEXT")
        self.ln(4)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Times", "", 9)
        self.cell(0, 5, f"Page {self.page_no()} of {{nb}}", align="C")


def hyphenable(text: str) -> str:
    """The text with soft hyphens at the break points HYPHENATION lists."""
    for word in HYPHENATION:
        text = re.sub(rf"\b{word.replace('-', '')}\b", word.replace("-", SOFT_HYPHEN), text)
    return text


def write_pdf(path: Path) -> None:
    """The encyclopedia article: body paragraphs wrapped by multi_cell at the page width."""
    pdf = ArticlePdf(format="A5")
    pdf.set_margins(18, 14, 18)
    pdf.set_auto_page_break(True, margin=16)
    pdf.add_page()
    pdf.set_font("Times", "B", 18)
    pdf.multi_cell(0, 9, CANAL_TITLE, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    for heading, paragraphs in CANAL:
        if heading:
            pdf.ln(2)
            pdf.set_font("Times", "B", 13)
            pdf.multi_cell(0, 7, heading, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Times", "", 13)
        for paragraph in paragraphs:
            pdf.multi_cell(0, 7.5, hyphenable(paragraph), new_x="LMARGIN", new_y="NEXT")
            pdf.ln(2)
    pdf.set_creation_date(FIXED_DATE)  # keep the file byte-identical between runs
    pdf.output(str(path))


def write_docx(path: Path) -> None:
    """The course syllabus: headings, paragraphs, bullet and numbered lists and two tables."""
    doc = Document()
    doc.add_heading("ENVS 214: Urban Ecology", level=0)
    doc.add_paragraph(
        "Autumn Semester 2025 · 3 credits · Tuesdays and Thursdays, 10:30-11:50, Hartley Building, Room 2.14"
    )

    doc.add_heading("Teaching staff", level=1)
    doc.add_paragraph(
        "Instructor: Dr. Naomi Fairweather, School of Geography. Office hours are on Wednesdays from 14:00 to 16:00 "
        "in Hartley Building, Room 3.07, or by appointment."
    )
    doc.add_paragraph(
        "Teaching assistant: Luca Fairweather (no relation to the instructor). He runs the Friday lab sessions and "
        "answers questions about the field report. His office hours are on Mondays from 11:00 to 12:00 in the "
        "Geography Lab."
    )
    doc.add_paragraph("Send all e-mail about the course to envs214@university.example, not to personal addresses.")

    doc.add_heading("Course description", level=1)
    doc.add_paragraph(
        "Cities are ecosystems too. This course looks at how plants, animals and people share urban space, and at "
        "how design choices such as green roofs, street trees and river restoration change urban biodiversity. "
        "Students learn to run a simple biodiversity survey, to analyse the data in a spreadsheet, and to write "
        "up the results as a short scientific report."
    )
    doc.add_paragraph(
        "There are no formal prerequisites, but students should have passed an introductory statistics course or "
        "be willing to work through the statistics primer in the first two weeks."
    )

    doc.add_heading("Learning outcomes", level=1)
    doc.add_paragraph("By the end of the course, students will be able to:")
    for outcome in (
        "explain how urban heat, pollution and fragmentation affect plant and animal species;",
        "design and carry out a transect survey of birds or pollinators;",
        "compare the biodiversity of two urban sites using species richness and the Shannon index;",
        "evaluate a real green-infrastructure project and argue for or against it in writing.",
    ):
        doc.add_paragraph(outcome, style="List Number")

    doc.add_heading("Assessment", level=1)
    table = doc.add_table(rows=1, cols=3)
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, ("Component", "Weight", "Due")):
        cell.text = text
    for row in (
        ("Weekly quizzes (best 8 of 10)", "10%", "Thursdays, online"),
        ("Field report (2,500 words)", "30%", "Friday 24 October 2025"),
        ("Midterm exam (1 hour)", "20%", "Tuesday 21 October 2025"),
        ("Final exam (2 hours)", "40%", "Exam period, 8-19 December 2025"),
    ):
        cells = table.add_row().cells
        for cell, text in zip(cells, row):
            cell.text = text
    doc.add_paragraph(
        "To pass the course, students need an overall mark of at least 40% and at least 35% on the final exam."
    )

    doc.add_heading("Schedule", level=1)
    schedule = doc.add_table(rows=1, cols=2)
    schedule.style = "Table Grid"
    for cell, text in zip(schedule.rows[0].cells, ("Weeks", "Topic")):
        cell.text = text
    for row in (
        ("1-2", "What is an urban ecosystem? Statistics primer"),
        ("3-4", "Urban heat islands and street trees"),
        ("5", "Field trip to Corran Marshes (Saturday 4 October, 09:00-12:00)"),
        ("6-7", "Birds, pollinators and green roofs"),
        ("8", "Midterm exam; reading week follows"),
        ("9-10", "Rivers, flooding and restoration"),
        ("11-12", "Urban planning, equity and access to green space"),
    ):
        cells = schedule.add_row().cells
        for cell, text in zip(cells, row):
            cell.text = text

    doc.add_heading("Policies", level=1)
    for policy in (
        "Late work: 10% of the mark is deducted for each day late, for up to 5 days; after 5 days the work receives "
        "a mark of zero.",
        "Extensions of up to 7 days can be granted by the instructor if you apply before the deadline with a reason.",
        "Attendance at the field trip is required. Students who cannot attend must complete an alternative "
        "survey in the university park, agreed with the teaching assistant.",
        "Generative AI tools may be used to check grammar, but not to write any part of the field report. Any use "
        "must be declared in an appendix.",
        "Bring a notebook, a pencil and waterproof clothing to the field trip; binoculars can be borrowed from the "
        "Geography Lab.",
    ):
        doc.add_paragraph(policy, style="List Bullet")

    doc.add_heading("Reading", level=1)
    doc.add_paragraph(
        "The core textbook is Urban Ecology: Patterns, Processes and Applications (2nd edition). Weekly readings are "
        "listed on the course website and must be completed before the Tuesday lecture."
    )
    doc.core_properties.author = "Naomi Fairweather"
    doc.core_properties.created = doc.core_properties.modified = FIXED_DATE  # not the day it was regenerated
    doc.save(str(path))


if __name__ == "__main__":
    write_pdf(OUT / "harrowgate-canal.pdf")
    write_docx(OUT / "envs214-syllabus.docx")
