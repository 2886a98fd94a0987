"""Writes the structure-fresh set's DOCX (allotment rents table) and PDF (ferry fares table); rerun after edits."""

from datetime import datetime, timezone
from pathlib import Path

from docx import Document
from fpdf import FPDF

from evals.datasets.make_structure import add_table

OUT = Path(__file__).parent / "structure-fresh"
FIXED_DATE = datetime(2026, 1, 15, tzinfo=timezone.utc)
RENTS = [("Plot size", "Annual rent", "Concession rent", "Water charge"),
         ("Quarter plot (62 m²)", "£38", "£19", "£6"),
         ("Half plot (125 m²)", "£64", "£32", "£10"),
         ("Full plot (250 m²)", "£112", "£56", "£18"),
         ("Raised bed (8 m²)", "£22", "£11", "£4")]
FARES = [("Ticket", "Adult", "Child (5-15)", "Car and driver"),
         ("Single", "£9.40", "£4.70", "£38.00"),
         ("Day return", "£14.20", "£7.10", "£61.50"),
         ("Period return (5 days)", "£17.80", "£8.90", "£72.00"),
         ("10-journey book", "£68.00", "£34.00", "£290.00")]
SAILINGS = [("Departs", "Portmoor to Skerry", "Skerry to Portmoor"),
            ("First sailing", "07:10", "08:05"),
            ("Last sailing (April to September)", "19:40", "20:35"),
            ("Last sailing (October to March)", "17:20", "18:15")]


def write_docx(path: Path) -> None:
    doc = Document()
    doc.add_heading("Brookfield Allotment Society: Plot rents 2026", level=0)
    doc.add_paragraph("These rents were agreed at the annual general meeting on 22 November 2025 and apply from 1 "
                      "January 2026.")
    doc.add_heading("Rents and water charges", level=1)
    doc.add_paragraph("Concession rents apply to members over 66 and to members receiving a means-tested benefit.")
    add_table(doc, RENTS)
    doc.add_heading("Paying your rent", level=1)
    doc.add_paragraph("Rents are due by 1 March each year. Plots still unpaid on 31 March are offered to the waiting "
                      "list.")
    doc.add_paragraph("A refundable key deposit of £15 is taken when you join.")
    doc.add_paragraph("Pay by bank transfer to the society's account or in cash at the trading hut on Saturday "
                      "mornings.")
    doc.add_heading("Plot rules", level=1)
    for rule in ["Keep at least three quarters of the plot under cultivation",
                 "No bonfires between 1 April and 30 September",
                 "Hosepipes may be used only to fill water butts"]:
        doc.add_paragraph(rule, style="List Bullet")
    doc.core_properties.author = "Brookfield Allotment Society"
    doc.core_properties.created = doc.core_properties.modified = FIXED_DATE
    doc.save(str(path))


def write_table(pdf: FPDF, rows: list[tuple[str, ...]], widths: tuple[int, ...]) -> None:
    with pdf.table(col_widths=widths, text_align="LEFT", line_height=7) as table:
        for values in rows:
            row = table.row()
            for value in values:
                row.cell(value)


def write_pdf(path: Path) -> None:
    pdf = FPDF(format="A4")
    pdf.set_margins(20, 18, 20)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 10, "Skerry Isles Ferry: fares from 1 April 2026", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 11)
    pdf.multi_cell(0, 6, "Fares are per person unless stated. Tickets can be bought online, at the Portmoor terminal "
                         "or on board.", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    write_table(pdf, FARES, (60, 30, 35, 45))
    pdf.ln(4)
    pdf.multi_cell(0, 6, "Children under 5 travel free. Bicycles are carried free of charge, but space is limited to "
                         "twelve bicycles on each sailing.", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.set_font("Helvetica", "B", 13)
    pdf.cell(0, 8, "Sailing times", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 11)
    write_table(pdf, SAILINGS, (70, 50, 50))
    pdf.ln(4)
    pdf.multi_cell(0, 6, "Vehicles must check in at least 30 minutes before departure. Foot passengers should arrive "
                         "10 minutes before departure.", new_x="LMARGIN", new_y="NEXT")
    pdf.set_creation_date(FIXED_DATE)  # keep the file byte-identical between runs
    pdf.output(str(path))


if __name__ == "__main__":
    write_docx(OUT / "allotment-rents.docx")
    write_pdf(OUT / "ferry-fares.pdf")
