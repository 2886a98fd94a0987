"""Writes the structure-dev set's DOCX (first aid and fire safety policy); rerun after edits."""

import io
import zipfile
from datetime import datetime, timezone
from pathlib import Path

from docx import Document

from evals.datasets.make_structure import add_table

OUT = Path(__file__).parent / "structure-dev"
FIXED_DATE = datetime(2026, 2, 2, tzinfo=timezone.utc)
FIRST_AIDERS = [("Floor", "First aider", "Extension", "Fire warden"),
                ("Ground floor", "Priya Shah", "2104", "Owen Marsh"),
                ("First floor", "Callum Reid", "2231", "Dana Okafor"),
                ("Second floor", "Jo Whitaker", "2318", "Priya Shah"),
                ("Third floor", "Leon Brandt", "2405", "Amira Haddad")]


def save_docx(doc, path: Path, when: datetime) -> None:
    """Saves `doc` with every zip entry stamped `when`: python-docx stamps them with the clock, so reruns differ."""
    buffer = io.BytesIO()
    doc.core_properties.created = doc.core_properties.modified = when
    doc.save(buffer)
    with zipfile.ZipFile(buffer) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            out.writestr(zipfile.ZipInfo(info.filename, when.timetuple()[:6]), src.read(info), zipfile.ZIP_DEFLATED)


def write_docx(path: Path) -> None:
    doc = Document()
    doc.add_heading("Harrow & Finch Ltd: First aid and fire safety", level=0)
    doc.add_paragraph("This policy applies to everyone working at 14 Canal Street, including visitors and "
                      "contractors. It was approved by the directors in January 2026.")
    doc.add_heading("First aiders and fire wardens", level=1)
    doc.add_paragraph("Each floor has a trained first aider and a fire warden.")
    add_table(doc, FIRST_AIDERS)
    doc.add_heading("First aid kits", level=1)
    doc.add_paragraph("There is a green first aid kit beside the lift on every floor. Each kit holds:")
    for item in ["Twenty plasters in assorted sizes", "Two sterile eye pads", "Six triangular bandages",
                 "Two pairs of disposable gloves", "A foil blanket"]:
        doc.add_paragraph(item, style="List Bullet")
    doc.add_paragraph("Kits are checked on the first Monday of every month by the ground floor first aider.")
    doc.add_heading("If you hear the fire alarm", level=1)
    for step in ["Leave the building by the nearest exit", "Do not use the lifts",
                 "Go to the assembly point in the Brook Street car park",
                 "Wait for your fire warden to take the register",
                 "Do not go back inside until the fire service says it is safe"]:
        doc.add_paragraph(step, style="List Number")
    doc.add_paragraph("The fire alarm is tested every Wednesday at 11:00; you do not need to leave during the test.")
    doc.core_properties.author = "Harrow & Finch Ltd"
    save_docx(doc, path, FIXED_DATE)


if __name__ == "__main__":
    write_docx(OUT / "first-aid-policy.docx")
