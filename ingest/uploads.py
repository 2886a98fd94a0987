"""Files uploaded by people: safe names, size limits, a copy in the upload folder, then ingest, one file at a time.

Upload names come from browsers, so a name never chooses a folder: it loses folders, `..`, NUL and control
characters and is cut to MAX_NAME_BYTES, and the copy lands only in `settings.upload_dir`."""

import os
import re
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from assistant.errors import AssistantError, one_line
from assistant.settings import MB, Settings
from assistant.types import file_name
from ingest.pipeline import Ingestor

MAX_NAME_BYTES = 120
_UNSAFE_NAME = re.compile("[\x00-\x1f\x7f/\\\\:*?\"<>|\ud800-\udfff]+")
Progress = Callable[[int, int, str], None]  # (files done, files in all, the file being ingested; "" when done)


@dataclass
class UploadReport:
    """What became of one upload: files added as (name, chunks), files refused or failed as (name, reason)."""

    added: list[tuple[str, int]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)


def safe_name(name: str) -> str:
    """A bare file name safe to create in the upload folder: no folders, control characters or NUL, bounded."""
    name = _UNSAFE_NAME.sub("_", file_name(str(name))).strip(" ._")
    stem, suffix = os.path.splitext(name)
    if len(suffix) > 16 or not re.fullmatch(r"\.[A-Za-z0-9]+", suffix or "."):
        stem, suffix = name, ""
    stem = stem.encode("utf-8")[:MAX_NAME_BYTES - len(suffix)].decode("utf-8", "ignore").rstrip(" ._") or "upload"
    return stem + suffix.lower()


def save_upload(path: str | Path, upload_dir: Path, name: str | None = None) -> Path:
    """Copy an uploaded temp file into the upload folder under its sanitised name; never outside the folder."""
    upload_dir.mkdir(parents=True, exist_ok=True)
    root = upload_dir.resolve()
    target = root / safe_name(name or Path(path).name)
    if target.parent != root:
        raise AssistantError(f"upload: bad file name {name!r}")
    if target.is_symlink() or target.is_dir():
        raise AssistantError(f"upload: {target.name} exists and is not a plain file")
    shutil.copyfile(path, target)
    return target


def add_uploads(settings: Settings, paths: Sequence[str | Path], progress: Progress | None = None) -> UploadReport:
    """Check the limits, then save and ingest each file; a file that fails is removed again and listed with why.
    Errors of the store or the model end the upload and are listed too, never raised."""
    report = UploadReport()
    try:
        sizes = [_size(path) for path in paths]
        if sum(sizes) > settings.max_upload_mb * MB:
            raise AssistantError(f"this upload is {_size_text(sum(sizes))}, over the {settings.max_upload_mb:g} MB "
                                 "limit for one upload: send fewer files at a time")
        ingestor = Ingestor(settings)
        for i, (path, size) in enumerate(zip(paths, sizes)):
            shown = safe_name(Path(path).name)
            if progress is not None:
                progress(i, len(paths), shown)
            if size > settings.max_file_mb * MB:
                report.failed.append((shown,
                                      f"{_size_text(size)}, over the {settings.max_file_mb:g} MB limit per file"))
                continue
            try:
                target = save_upload(path, settings.upload_dir)
            except (AssistantError, OSError) as exc:
                report.failed.append((shown, one_line(exc) if isinstance(exc, AssistantError)
                                      else f"cannot save it ({exc.strerror or type(exc).__name__})"))
                continue
            ingested = ingestor.run([target], on_message=lambda line: None)
            problems = ingested.failed + ingested.skipped
            if problems:
                target.unlink(missing_ok=True)
                report.failed.append((target.name, _reason(problems[0], target)))
            else:
                report.added.append((target.name, ingested.added + ingested.updated + ingested.unchanged))
        if progress is not None:
            progress(len(paths), len(paths), "")
    except Exception as exc:  # the store, the model: listed, not raised
        report.failed.append(("upload", one_line(exc)))
    return report


def delete_upload(settings: Settings, source: str) -> None:
    """Delete the copy of a document that an upload made (a file in the upload folder); other files are left alone."""
    copy = Path(source)
    if copy.parent == settings.upload_dir.resolve():
        copy.unlink(missing_ok=True)


def _size_text(size: int) -> str:
    return f"{size / MB:.1f} MB" if size >= MB else f"{size / 1024:.0f} KB"


def _size(path: str | Path) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0  # a vanished temp file fails, with its own message, when it is copied


def _reason(message: str, target: Path) -> str:
    """An ingest message without the server-side folder in front of the file name."""
    for prefix in (f"{target}: ", f"{target} ", str(target)):
        if message.startswith(prefix):
            return message[len(prefix):].strip() or message
    return message.replace(str(target.parent) + os.sep, "")
