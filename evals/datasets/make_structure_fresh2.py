"""Writes the structure-fresh2 set's DOCX (new starter guide) and PDF (hotel room rates); rerun after edits."""

from datetime import datetime, timezone
from pathlib import Path

from docx import Document
from fpdf import FPDF

from evals.datasets.make_structure import add_table
from evals.datasets.make_structure_dev import save_docx
from evals.datasets.make_structure_fresh import write_table

OUT = Path(__file__).parent / "structure-fresh2"
FIXED_DATE = datetime(2026, 3, 1, tzinfo=timezone.utc)
EQUIPMENT = [("Role", "Laptop", "Monitors", "Software licence"),
             ("Architect", "Dell Precision 5690", "Two 27-inch", "Revit"),
             ("Interior designer", "MacBook Pro 16", "One 32-inch", "SketchUp"),
             ("Office administrator", "Dell Latitude 7450", "One 24-inch", "Microsoft 365"),
             ("Site surveyor", "Panasonic Toughbook 40", "None", "AutoCAD")]
ROOMS = [("Room", "Low season (Nov-Mar)", "High season (Apr-Oct)", "Breakfast"),
         ("Standard double", "£95", "£140", "£12 per person"),
         ("Sea-view double", "£120", "£175", "£12 per person"),
         ("Family room", "£145", "£210", "£8 per child"),
         ("Suite", "£190", "£280", "Included")]


def write_docx(path: Path) -> None:
    doc = Document()
    doc.add_heading("Calder & Moss Architects: New starter guide", level=0)
    doc.add_paragraph("Welcome to Calder & Moss. This guide covers your first day, your first week and the equipment "
                      "you will be given.")
    doc.add_heading("Your first day", level=1)
    doc.add_paragraph("Arrive at 09:30 and ask for Nadia Brooks at reception. You will need:")
    for item in ["Your signed contract", "Your bank details for payroll", "A passport photo for your building pass"]:
        doc.add_paragraph(item, style="List Bullet")
    doc.add_heading("Your first Friday", level=1)
    doc.add_paragraph("On your first Friday you meet your mentor for a review of the week. You will need:")
    for item in ["Your laptop, fully charged", "Your completed health and safety quiz",
                 "Two ideas for the team's project board"]:
        doc.add_paragraph(item, style="List Bullet")
    doc.add_heading("Setting up your laptop", level=1)
    for step in ["Plug in the laptop and connect to the Guest network",
                 "Sign in with the temporary password from your welcome email",
                 "Choose a new password of at least 14 characters",
                 "Install Teams and your design software from the Company Portal", "Restart the laptop"]:
        doc.add_paragraph(step, style="List Number")
    doc.add_heading("Equipment by role", level=1)
    add_table(doc, EQUIPMENT)
    doc.add_heading("Working hours", level=1)
    doc.add_paragraph("Core hours are 10:00 to 16:00; outside them you can start and finish when you like. Most "
                      "people work from the studio on Tuesdays and Thursdays.")
    doc.core_properties.author = "Calder & Moss Architects"
    save_docx(doc, path, FIXED_DATE)


def write_pdf(path: Path) -> None:
    pdf = FPDF(format="A4")
    pdf.set_margins(20, 18, 20)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 10, "Harbourside Hotel, Whitby: room rates 2026", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 11)
    pdf.multi_cell(0, 6, "Rates are per room per night and include VAT. A minimum stay of two nights applies on "
                         "Saturdays in high season.", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    write_table(pdf, ROOMS, (45, 40, 45, 40))
    pdf.ln(4)
    pdf.set_font("Helvetica", "B", 13)
    pdf.cell(0, 8, "Included in every stay", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 11)
    for item in ["- Free Wi-Fi throughout the hotel", "- A tea and coffee tray in every room",
                 "- Late check-out until 13:00 for suite guests"]:
        pdf.cell(0, 6, item, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.set_font("Helvetica", "B", 13)
    pdf.cell(0, 8, "Arriving and cancelling", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 11)
    pdf.multi_cell(0, 6, "Check-in is from 15:00 and check-out is by 11:00. Dogs are welcome in standard doubles for "
                         "£15 a night.", new_x="LMARGIN", new_y="NEXT")
    pdf.multi_cell(0, 6, "You can cancel free of charge up to 72 hours before arrival; after that the first night is "
                         "charged.", new_x="LMARGIN", new_y="NEXT")
    pdf.set_creation_date(FIXED_DATE)  # keep the file byte-identical between runs
    pdf.output(str(path))


if __name__ == "__main__":
    write_docx(OUT / "new-starter-guide.docx")
    write_pdf(OUT / "hotel-rates.pdf")
