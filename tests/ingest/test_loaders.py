"""ingest.loaders against real files made with fpdf2, python-docx and plain bytes."""

import zipfile
from pathlib import Path

import pytest

from assistant.errors import LoadError, UnsupportedFile
from ingest import loaders
from ingest.loaders import iter_files, load_document
from tests.helpers import PAGE_WORDS, make_pdf, within


def load_error(path: Path, **kwargs) -> str:
    """What the LoadError loading `path` says after its required "path: " prefix (tmp_path names hold test names)."""
    with pytest.raises(LoadError) as info:
        load_document(path, **kwargs)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and "\n" not in message, message
    return message.removeprefix(f"{path}: ")


def test_pdf_pages_and_page_at(tmp_path):
    doc = load_document(make_pdf(tmp_path / "manual.pdf"))
    assert doc.title == "Field Manual"
    assert doc.source == str((tmp_path / "manual.pdf").resolve())
    assert len(doc.pages) == 3 and doc.pages[0] == 0
    for page, words in enumerate(PAGE_WORDS, start=1):
        offset = doc.text.index(words)
        assert doc.page_at(offset) == page
        assert doc.text[doc.pages[page - 1] :].startswith(words)
    assert all(doc.text[start - 1] == "\n" for start in doc.pages[1:])  # no sentence goes on: a new line


def test_page_at_is_none_without_pages(tmp_path):
    (tmp_path / "a.txt").write_text("hello")
    assert load_document(tmp_path / "a.txt").page_at(0) is None


def test_docx_paragraphs_and_table(tmp_path):
    import docx

    document = docx.Document()
    document.core_properties.title = "Quarterly Report"
    document.add_paragraph("Revenue grew in the north.")
    table = document.add_table(rows=2, cols=2)
    for r, row in enumerate([("Region", "Growth"), ("North", "12%")]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    document.add_paragraph("Closing remarks.")
    document.save(tmp_path / "report.docx")

    doc = load_document(tmp_path / "report.docx")
    assert doc.title == "Quarterly Report"
    assert doc.text.split("\n") == ["Revenue grew in the north.", "Region | Growth", "North | 12%", "Closing remarks."]
    assert doc.pages == () and doc.page_at(3) is None


def test_html_visible_text_only(tmp_path):
    (tmp_path / "page.html").write_text(
        "<!DOCTYPE html><html><head><title> Setup Guide </title>"
        "<style>body { color: red; }</style><script>alert(1)</script></head>"
        "<body><h1>Install</h1><p>Run the\n   installer.</p><!-- secret comment -->"
        "<noscript>enable js</noscript><p>Then reboot.</p><script>var x = 2;</script>"
        "<ul><li>one</li><li>two</li></ul>"
        "<table><tr><th>Key</th><th>Value</th></tr><tr><td>a</td><td>1</td></tr></table>"
        "</body></html>"
    )
    doc = load_document(tmp_path / "page.html")
    assert doc.title == "Setup Guide"
    assert doc.text.split("\n") == [
        "Install", "", "Run the installer.", "", "Then reboot.", "", "one", "two", "", "Key | Value", "a | 1",
    ]
    for hidden in ("alert", "color", "var x", "secret", "enable js", "Setup Guide"):
        assert hidden not in doc.text


def test_markdown_title_and_stem_fallback(tmp_path):
    (tmp_path / "notes.md").write_text("intro line\n\n# The Real Title #\n\nbody\n")
    (tmp_path / "plain.md").write_text("no heading here\n## only a level two\n")
    assert load_document(tmp_path / "notes.md").title == "The Real Title"
    assert load_document(tmp_path / "plain.md").title == "plain"


def test_txt_crlf_lines_preserved(tmp_path):
    (tmp_path / "a.txt").write_bytes(b"\xef\xbb\xbfline one\r\n  indented  \r\n\r\nline four\r\n")
    doc = load_document(tmp_path / "a.txt")
    assert doc.text == "line one\n  indented  \n\nline four\n"
    assert doc.title == "a"


def test_cp1252_fallback(tmp_path):
    (tmp_path / "old.txt").write_bytes(b"caf\xe9 \x93quoted\x94")
    assert load_document(tmp_path / "old.txt").text == "caf\u00e9 \u201cquoted\u201d"


@pytest.mark.parametrize("name", ["blob.bin", "blob.txt"])
def test_binary_file(tmp_path, name):
    (tmp_path / name).write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    with pytest.raises(LoadError) as info:
        load_document(tmp_path / name)
    assert not isinstance(info.value, UnsupportedFile)
    assert load_error(tmp_path / name).startswith("binary")


@pytest.mark.parametrize(
    "name, content",
    [("e.txt", b""), ("e.txt", b"  \n\t\r\n  "), ("e.md", b"\xef\xbb\xbf\n"), ("e.pdf", b""), ("e.docx", b" \n")],
)
def test_empty_or_whitespace_file(tmp_path, name, content):
    (tmp_path / name).write_bytes(content)
    assert load_error(tmp_path / name) == "empty file (no text)"


def test_vanished_file(tmp_path):
    assert load_error(tmp_path / "gone.txt") == "cannot read (No such file or directory)"


def test_corrupt_pdf(tmp_path):
    (tmp_path / "bad.pdf").write_bytes(b"%PDF-1.4 garbage")
    assert load_error(tmp_path / "bad.pdf").startswith("corrupt or unreadable PDF (")


def test_encrypted_pdf(tmp_path):
    assert load_error(make_pdf(tmp_path / "locked.pdf", password="secret")) == "encrypted PDF (needs a password)"


def test_pdf_without_text_layer(tmp_path):
    assert load_error(make_pdf(tmp_path / "scan.pdf", pages=[""])).startswith("no text layer")


def test_pdf_page_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(loaders, "MAX_PDF_PAGES", 2)
    assert load_error(make_pdf(tmp_path / "long.pdf")) == "PDF has 3 pages, over the 2-page limit"


def test_pdf_with_txt_suffix_loads_as_pdf(tmp_path):
    doc = load_document(make_pdf(tmp_path / "disguised.txt"))
    assert len(doc.pages) == 3 and "bravo second page" in doc.text
    assert "%PDF" not in doc.text


def test_html_with_txt_suffix_loads_as_html(tmp_path):
    html = "\n  <html><head><title>Saved</title></head><body><p>Hello <b>world</b></p></body></html>"
    (tmp_path / "saved.txt").write_text(html)
    doc = load_document(tmp_path / "saved.txt")
    assert (doc.title, doc.text) == ("Saved", "Hello world")


def test_markdown_quoting_html_stays_markdown(tmp_path):
    text = "# HTML basics\n\nA page has a `<body>` tag:\n\n    <body><p>hi</p></body>\n"
    (tmp_path / "html.md").write_text(text)
    assert load_document(tmp_path / "html.md").text == text


def test_unsupported_suffix(tmp_path):
    (tmp_path / "data.xyz").write_text("just some text")
    with pytest.raises(UnsupportedFile) as info:
        load_document(tmp_path / "data.xyz")
    assert str(info.value) == f"{tmp_path / 'data.xyz'}: unsupported file type '.xyz' (skipped)"


def test_max_bytes(tmp_path):
    (tmp_path / "big.txt").write_text("x" * (2 * 1024 * 1024))
    assert load_error(tmp_path / "big.txt", max_bytes=1024 * 1024) == "file is 2.0 MB, over the 1.0 MB limit"
    assert len(load_document(tmp_path / "big.txt", max_bytes=3 * 1024 * 1024).text) == 2 * 1024 * 1024


def test_zip_bomb_docx(tmp_path):
    path = tmp_path / "bomb.docx"
    chunk = bytes(1024 * 1024)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        with zf.open("word/document.xml", "w") as member:
            for _ in range(300):
                member.write(chunk)
    assert path.stat().st_size < 2 * 1024 * 1024
    assert load_error(path) == "DOCX unpacks to 300 MB, over the 200 MB limit (zip bomb?)"


def test_broken_docx(tmp_path):
    (tmp_path / "broken.docx").write_bytes(b"PK\x03\x04 this is not really a zip")
    assert load_error(tmp_path / "broken.docx").startswith("corrupt or unreadable DOCX (")


def test_iter_files_missing_path(tmp_path):
    (tmp_path / "here.txt").write_text("x")
    with pytest.raises(LoadError, match=r"nope: no such file or directory$"):
        list(iter_files([tmp_path / "here.txt", tmp_path / "nope"]))


def test_iter_files_recursion_glob_hidden(tmp_path):
    names = ["b.md", "a.txt", "sub/c.md", "sub/deeper/d.md", "z/e.md", ".hidden.md", ".git/f.md", "sub/.cache/g.md"]
    for name in names:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    found = [p.relative_to(tmp_path).as_posix() for p in iter_files([tmp_path], glob="*.md")]
    assert found == ["b.md", "sub/c.md", "sub/deeper/d.md", "z/e.md"]
    everything = [p.relative_to(tmp_path).as_posix() for p in iter_files([str(tmp_path)])]
    assert everything == ["a.txt", "b.md", "sub/c.md", "sub/deeper/d.md", "z/e.md"]
    assert list(iter_files([tmp_path / ".hidden.md"])) == [tmp_path / ".hidden.md"]


# -- bombs and disguises (issue 8): bounded in time and memory, handled by content --------------------------------
def outcome(fn, *args):
    """fn(*args), or the LoadError it raised."""
    try:
        return fn(*args)
    except LoadError as e:
        return e


def raw_pdf(objects: list[bytes]) -> bytes:
    """A PDF from object bodies (object n is objects[n-1]; 1 is the catalog), with a correct xref table."""
    out, offsets = bytearray(b"%PDF-1.7\n"), []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def pdf_stream(data: bytes) -> bytes:
    import zlib

    packed = zlib.compress(data, 9)
    return b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(packed) + packed + b"\nendstream"


FONT = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"
TEXT = pdf_stream(b"BT /F1 12 Tf 72 720 Td (hello from the bomb) Tj ET")


def pdf_pages(count: int, contents: bytes = TEXT, declared: int | None = None, catalog_extra: bytes = b"",
              page_extra: bytes = b"") -> bytes:
    """`count` pages sharing one content stream (object 3) and one font (object 4)."""
    kids = b" ".join(b"%d 0 R" % (5 + i) for i in range(count))
    page = (b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 3 0 R "
            b"/Resources << /Font << /F1 4 0 R >> >> " + page_extra + b">>")
    return raw_pdf([b"<< /Type /Catalog /Pages 2 0 R " + catalog_extra + b">>",
                    b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, declared or count), contents, FONT]
                   + [page] * count)


def test_pdf_bomb_many_pages_of_one_huge_stream_is_stopped_by_the_time_budget(tmp_path, monkeypatch):
    monkeypatch.setattr(loaders, "MAX_PDF_SECONDS", 1.0)
    ops = b"BT /F1 12 Tf 72 720 Td (bomb) Tj ET\n"
    path = tmp_path / "bomb.pdf"
    path.write_bytes(pdf_pages(400, pdf_stream(ops * 20_000)))  # 60 KB on disk, 400 pages x 700 KB of drawing
    assert path.stat().st_size < 100_000
    error = within(60, outcome, load_document, path)
    assert isinstance(error, LoadError) and "PDF text extraction passed the 1 s limit at page" in str(error)


@pytest.mark.parametrize("case", ["nested arrays", "nested dictionaries", "lying page count", "page tree loop"])
def test_pdf_bombs_of_structure_are_bounded(tmp_path, case):
    body = {
        "nested arrays": lambda: pdf_pages(1, catalog_extra=b"/Deep " + b"[" * 100_000 + b"]" * 100_000),
        "nested dictionaries": lambda: pdf_pages(1, page_extra=b"/Deep " + b"<< /A " * 20_000 + b"1" + b" >>" * 20_000),
        "lying page count": lambda: pdf_pages(1, declared=10**9),
        "page tree loop": lambda: raw_pdf([b"<< /Type /Catalog /Pages 2 0 R >>",
                                           b"<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >>",
                                           b"<< /Type /Page /Parent 2 0 R /Contents 5 0 R >>", FONT, TEXT]),
    }[case]()
    (tmp_path / "bomb.pdf").write_bytes(body)
    result = within(60, outcome, load_document, tmp_path / "bomb.pdf")
    if isinstance(result, LoadError):
        assert str(result).startswith(f"{tmp_path / 'bomb.pdf'}: ") and "\n" not in str(result)
    else:
        assert "hello from the bomb" in result.text


def test_pdf_page_limit_counts_the_real_page_tree(tmp_path, monkeypatch):
    monkeypatch.setattr(loaders, "MAX_PDF_PAGES", 50)
    (tmp_path / "many.pdf").write_bytes(pdf_pages(500))
    error = within(60, outcome, load_document, tmp_path / "many.pdf")
    assert str(error).endswith("PDF has 500 pages, over the 50-page limit")


def test_docx_with_deeply_nested_xml_is_refused(tmp_path):
    path = tmp_path / "deep.docx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/'
                    'package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/></Types>')
        zf.writestr("word/document.xml",
                    "<w:document>" + "<w:body>" * 100_000 + "</w:body>" * 100_000 + "</w:document>")
    error = within(60, outcome, load_document, path)
    assert isinstance(error, LoadError) and "corrupt or unreadable DOCX" in str(error)


@pytest.mark.parametrize("markup, text", [
    ("<div>" * 100_000, None),  # tags and no words: refused as empty
    ("<p>line<br>" * 20_000, "line\n\n" * 19_999 + "line"),
    ("<b><i>x</i></b><img src=x>" * 30_000, "x" * 30_000),
])
def test_html_bombs_load_in_linear_time(tmp_path, markup, text):
    (tmp_path / "bomb.html").write_text(f"<html><body>{markup}</body></html>")
    result = within(60, outcome, load_document, tmp_path / "bomb.html")  # was minutes to hours: quadratic
    if text is None:
        assert isinstance(result, LoadError) and str(result).endswith("empty file (no text)")
    else:
        assert not isinstance(result, LoadError) and result.text.strip() == text


def test_html_tag_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(loaders, "MAX_HTML_TAGS", 1000)
    (tmp_path / "tags.html").write_text("<html><body>" + "<p>x</p>" * 600 + "</body></html>")
    assert load_error(tmp_path / "tags.html") == "HTML has over 1000 tags, over the limit (markup bomb?)"


def test_wrong_extensions_are_handled_by_content(tmp_path):
    import docx

    document = docx.Document()
    document.add_paragraph("The docx paragraph about lanterns.")
    document.save(tmp_path / "real.docx")
    data = (tmp_path / "real.docx").read_bytes()
    for name in ("docx-as.txt", "docx-as.pdf", "docx-as.md"):
        (tmp_path / name).write_bytes(data)
        assert load_document(tmp_path / name).text == "The docx paragraph about lanterns."
    make_pdf(tmp_path / "pdf-as.docx")
    assert "bravo second page" in load_document(tmp_path / "pdf-as.docx").text
    for name in ("text-as.pdf", "text-as.docx"):
        (tmp_path / name).write_text("Plain words about harbours.\n")
        doc = load_document(tmp_path / name)
        assert (doc.text, doc.pages) == ("Plain words about harbours.\n", ())
    (tmp_path / "page.md").write_text("<!DOCTYPE html><html><body><p>Markup <b>named</b> .md</p></body></html>")
    assert load_document(tmp_path / "page.md").text == "Markup named .md"
