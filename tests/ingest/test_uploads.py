"""ingest.uploads without any page: the typed report of an upload, and which copies a removal deletes."""

from ingest.uploads import UploadReport, add_uploads, delete_upload


def test_an_upload_over_the_request_limit_is_refused_whole_and_copies_nothing(settings, tmp_path):
    small = settings.with_overrides(max_upload_mb=0.001)  # about 1 KB
    files = []
    for n in range(2):
        files.append(tmp_path / f"part{n}.txt")
        files[-1].write_text("word " * 200)
    report = add_uploads(small, files)
    assert report.added == [] and len(report.failed) == 1
    name, reason = report.failed[0]
    assert name == "upload" and "over the 0.001 MB limit for one upload" in reason and "\n" not in reason
    assert not small.upload_dir.exists() or not any(small.upload_dir.iterdir())


def test_progress_is_reported_per_file_then_done(settings, tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    steps = []
    report = add_uploads(settings, [empty], lambda done, total, name: steps.append((done, total, name)))
    assert steps == [(0, 1, "empty.txt"), (1, 1, "")]
    assert isinstance(report, UploadReport) and report.added == [] and [n for n, _ in report.failed] == ["empty.txt"]
    assert not (settings.upload_dir / "empty.txt").exists()  # a file that fails is not kept


def test_removing_deletes_only_the_upload_folders_own_copies(settings, tmp_path):
    settings.upload_dir.mkdir(parents=True)
    copy = settings.upload_dir / "a.txt"
    copy.write_text("a")
    elsewhere = tmp_path / "a.txt"
    elsewhere.write_text("a")
    delete_upload(settings, str(elsewhere))
    assert elsewhere.exists() and copy.exists()
    delete_upload(settings, str(copy.resolve()))
    assert not copy.exists()
    delete_upload(settings, str(copy.resolve()))  # already gone: nothing to do
