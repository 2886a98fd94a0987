"""Writes the structure set's DOCX (a heading, a staff rota table and a list); rerun after edits."""

from datetime import datetime, timezone
from pathlib import Path

from docx import Document

OUT = Path(__file__).parent / "structure"
FIXED_DATE = datetime(2025, 6, 1, tzinfo=timezone.utc)
ROTA = [("Day", "Opening shift", "Closing shift", "First aid"),
        ("Monday", "Ana Costa", "Ben Hughes", "Ana Costa"),
        ("Tuesday", "Chloe Park", "Dev Mistry", "Dev Mistry"),
        ("Wednesday", "Ben Hughes", "Ana Costa", "Ben Hughes"),
        ("Thursday", "Dev Mistry", "Chloe Park", "Chloe Park"),
        ("Friday", "Ana Costa", "Dev Mistry", "Ana Costa")]


def add_table(doc, rows: list[tuple[str, ...]]) -> None:
    """A DOCX table of `rows`, the first being the header row."""
    table = doc.add_table(rows=len(rows), cols=len(rows[0]))
    for row, values in zip(table.rows, rows):
        for cell, value in zip(row.cells, values):
            cell.text = value


def write_docx(path: Path) -> None:
    doc = Document()
    doc.add_heading("Millbrook Library: Staff Handbook", level=0)
    doc.add_paragraph("This handbook is for all staff and volunteers at Millbrook Library. It is reviewed every June.")
    doc.add_heading("Weekly rota", level=1)
    doc.add_paragraph("The rota below applies from 2 June 2025.")
    add_table(doc, ROTA)
    doc.add_heading("Closing checklist", level=1)
    for item in ["Switch off the public computers", "Lock the side door to the car park",
                 "Set the alarm with code 4471", "Leave the returns trolley by the front desk"]:
        doc.add_paragraph(item, style="List Bullet")
    doc.core_properties.created = doc.core_properties.modified = FIXED_DATE
    doc.save(str(path))


if __name__ == "__main__":
    write_docx(OUT / "library-handbook.docx")
