"""Upload limits per file and per upload, and hostile upload names over HTTP: every file lands in the upload areas
or is refused."""

import json
from pathlib import Path

import pytest

from assistant import ui
from ingest.uploads import MAX_NAME_BYTES
from tests.helpers import ROOT
from tests.reliability.gradio_http import multipart_upload, upload_event


# -- uploads ---------------------------------------------------------------------------------------------------------
def test_upload_size_limits_per_file_and_per_request(settings, tmp_path):
    small = settings.with_overrides(max_file_mb=0.01, max_upload_mb=0.025)  # 10 KB per file, 25 KB per upload
    big, ok1, ok2, ok3 = (tmp_path / n for n in ("big.txt", "a.txt", "b.txt", "c.txt"))
    big.write_text(("The Ose gauge stands by the mill. " * 500)[:15000])
    for path in (ok1, ok2, ok3):
        path.write_text((f"The {path.stem} gauge stands by the mill. " * 500)[:10000])
    status, session = ui.ingest_uploads(small, [str(big), str(ok1)], None)
    assert "1 added, 1 failed" in status and "big.txt: 15 KB, over the 0.01 MB limit per file" in status
    status, _ = ui.ingest_uploads(small, [str(ok1), str(ok2), str(ok3)], None)
    assert "0 added, 1 failed" in status and "this upload is 29 KB, over the 0.025 MB limit for one upload" in status
    assert sorted(p.name for p in small.upload_dir.iterdir()) == ["a.txt"]



def files_under(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.is_file()}



@pytest.mark.slow
def test_hostile_upload_names_stay_in_the_upload_areas(chat):
    names = [b"../../../../../../tmp/escape-upload.txt", b"/etc/cron.d/escape-upload.txt", b"a\x00b.txt",
             b"..\\..\\..\\escape-windows.txt", "\u00fc".encode() * 200 + b".txt", b"..", b"\xff\xfe.txt"]
    gradio, uploads = (chat.root / "gradio").resolve(), (chat.data_dir / "uploads").resolve()
    received = []
    for i, name in enumerate(names):
        code, body = multipart_upload(chat, name,
                                      f"Upload {i}: the Quillfeather Observatory opened in 1893.\n".encode())
        assert code in (200, 400), (name, code, body)  # stored inside Gradio's folder, or refused
        if code == 200:
            [path] = json.loads(body)
            assert Path(path).resolve().is_relative_to(gradio) and len(Path(path).name.encode()) <= 255, path
            received.append({"path": path, "meta": {"_type": "gradio.FileData"}})
    assert len(received) >= 4
    status = upload_event(chat, received, "upload-docs")
    assert f"{len(received)} added" in status, status
    saved = sorted(p.name for p in uploads.iterdir())
    assert "escape-upload.txt" in saved and all("\x00" not in n and len(n.encode()) <= MAX_NAME_BYTES for n in saved)
    # A path the page never received is refused by Gradio before our code sees it.
    refused = upload_event(chat, [{"path": "/etc/hostname", "meta": {"_type": "gradio.FileData"}}], "upload-docs")
    assert '"error"' in refused and "hostname" not in {p.name for p in uploads.iterdir()}
    lexical = (chat.data_dir / "lexical").resolve()  # the saved BM25 index: written by the process, named by it
    outside = [p for p in files_under(chat.root) if not any(p.resolve().is_relative_to(area)
                                                            for area in (gradio, uploads, lexical))]
    assert not outside, outside
    for escaped in (Path("/tmp/escape-upload.txt"), Path("/etc/cron.d/escape-upload.txt"), ROOT / "escape-windows.txt",
                    chat.root / "escape-windows.txt", chat.root.parent / "escape-windows.txt"):
        assert not escaped.exists(), escaped


@pytest.mark.slow
def test_upload_size_limits_over_http(chat):
    code, body = multipart_upload(chat, b"huge.txt", b"x" * (1024 * 1024 + 10))
    assert code == 413 and "maximum allowed size" in body
    parts = []
    for name in (b"part-a.txt", b"part-b.txt"):
        code, body = multipart_upload(chat, name, (b"The gauge read forty. " * 40000)[:900_000])
        parts.append({"path": json.loads(body)[0], "meta": {"_type": "gradio.FileData"}})
    status = upload_event(chat, parts, "upload-docs")
    assert "over the 1.5 MB limit for one upload" in status, status
