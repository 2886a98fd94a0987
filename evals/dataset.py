"""Question sets: the harness's JSONL and SQuAD v1.1/v2.0 JSON, loaded into one `Dataset` shape."""

import json
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

BUNDLED = Path(__file__).parent / "datasets"
SAMPLE_CORPUS = Path(__file__).parent.parent / "assistant" / "data"
TEXT_SUFFIXES = {".txt", ".md"}  # files whose raw text is the extracted text, so quotes can be located in them


class Evidence(BaseModel):
    """Where the answer is: a document (by file name) and the exact quote, with its line and char offset when known."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: str
    quote: str = ""
    line: int | None = None  # 1-based
    start: int | None = None  # char offset of the quote in the document


class Item(BaseModel):
    """One question with its references; unanswerable items have no answers and no evidence."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    question: str
    history: list[tuple[str, str]] = []
    answers: list[str] = []
    evidence: list[Evidence] = []
    answerable: bool = True
    category: str = ""


@dataclass
class Dataset:
    """Items plus the documents they are asked against (files or folders to ingest)."""

    name: str
    items: list[Item]
    corpus: list[Path]
    # Keeps documents written for a SQuAD file alive as long as the dataset is.
    workdir: tempfile.TemporaryDirectory | None = field(default=None, repr=False, compare=False)


def load_dataset(source: str | Path = "peace-talks", format: str | None = None, corpus: Path | None = None) -> Dataset:
    """A bundled set by name, or a `.jsonl` / SQuAD `.json` file; JSONL documents default to the folder named like the file."""
    bundled = BUNDLED / f"{source}.jsonl"
    path = bundled if bundled.is_file() else Path(source)
    if not path.is_file():
        names = ", ".join(sorted(p.stem for p in BUNDLED.glob("*.jsonl")))
        raise ValueError(f"no dataset {source!r}: not a file and not a bundled set ({names})")
    format = format or ("jsonl" if path.suffix == ".jsonl" else "squad")
    if format == "squad":
        return _load_squad(path)
    if format != "jsonl":
        raise ValueError(f"unknown dataset format {format!r}: use jsonl or squad")
    if corpus is None:
        corpus = SAMPLE_CORPUS if path.parent == BUNDLED else path.with_suffix("")
    if not corpus.exists():
        raise ValueError(f"{path}: its documents are not at {corpus}; pass a corpus folder")
    return _load_jsonl(path, corpus)


def _load_jsonl(path: Path, corpus: Path) -> Dataset:
    items = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = Item.model_validate_json(line)
        except ValidationError as error:
            raise ValueError(f"{path}:{number}: {error.errors()[0]['loc']} {error.errors()[0]['msg']}") from None
        items.append(item.model_copy(update={
            "evidence": [_locate(ev, corpus, f"{path}:{number}") for ev in item.evidence],
            "category": item.category or ("answerable" if item.answerable else "unanswerable"),
        }))
    return Dataset(name=path.stem, items=items, corpus=[corpus])


def _locate(ev: Evidence, corpus: Path, where: str) -> Evidence:
    """Fill in the quote's char offset (and line) from a plain-text document, failing loudly on a quote that is not there."""
    document = corpus if corpus.is_file() else corpus / ev.source
    if not ev.quote or document.suffix.lower() not in TEXT_SUFFIXES or not document.is_file():
        return ev
    text = document.read_text(encoding="utf-8")
    lines = text.split("\n")
    if ev.line is not None:
        if not 1 <= ev.line <= len(lines) or ev.quote not in lines[ev.line - 1]:
            raise ValueError(f"{where}: quote {ev.quote[:40]!r} is not on line {ev.line} of {ev.source}")
        start = sum(len(line) + 1 for line in lines[: ev.line - 1]) + lines[ev.line - 1].index(ev.quote)
    elif (start := text.find(ev.quote)) < 0:
        raise ValueError(f"{where}: quote {ev.quote[:40]!r} is not in {ev.source}")
    return ev.model_copy(update={"start": start, "line": text.count("\n", 0, start) + 1})


def _load_squad(path: Path) -> Dataset:
    """Each paragraph becomes a .txt document in a temporary folder; gold evidence is the answer span in it."""
    try:
        articles = json.loads(path.read_text(encoding="utf-8"))["data"]
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise ValueError(f"{path}: not a SQuAD JSON file ({error})") from None
    workdir = tempfile.TemporaryDirectory(prefix="eval-squad-")
    items = []
    for article in articles:
        for number, paragraph in enumerate(article["paragraphs"]):
            context = paragraph["context"]
            name = f"{re.sub(r'[^A-Za-z0-9]+', '_', article.get('title', 'doc')).strip('_')}-{number:03d}.txt"
            (Path(workdir.name) / name).write_text(context, encoding="utf-8", newline="")
            for qa in paragraph["qas"]:
                answerable = not qa.get("is_impossible", False)
                spans = list(dict.fromkeys((a["text"], a["answer_start"]) for a in qa["answers"])) if answerable else []
                items.append(Item(
                    id=qa["id"],
                    question=qa["question"],
                    answers=list(dict.fromkeys(text for text, _ in spans)),
                    evidence=[Evidence(source=name, quote=text, start=start, line=context.count("\n", 0, start) + 1)
                              for text, start in spans],
                    answerable=answerable,
                    category="answerable" if answerable else "unanswerable",
                ))
    return Dataset(name=path.stem, items=items, corpus=[Path(workdir.name)], workdir=workdir)
