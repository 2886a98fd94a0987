"""Question sets: the harness's JSONL and SQuAD v1.1/v2.0 JSON, loaded into one `Dataset` shape."""

import json
import re
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

BUNDLED = Path(__file__).parent / "datasets"
SAMPLE_CORPUS = Path(__file__).parent.parent / "assistant" / "data"
EXTERNAL = Path(__file__).resolve().parent.parent.parent / "shared" / "external-eval"
TEXT_SUFFIXES = {".txt", ".md"}  # files whose raw text is the extracted text, so quotes can be located in them
# The SQuAD reporting set and the calibration set beside it: articles of the latter never count in the former.
REPORTING_SET, CALIBRATION_SET = "squad2-cs224n-dev", "squad2-dev-subset"
OUT_OF_COLLECTION = "out-of-collection"
Split = Literal["dev", "test"]

M = TypeVar("M", bound=BaseModel)

class Evidence(BaseModel):
    """Where the answer is: a document (by file name) and the exact quote, with its line, page and char offset when
    known."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: str
    quote: str = ""
    line: int | None = None  # 1-based line of the file on disk where the quote starts (txt/md)
    page: int | None = None  # 1-based page (pdf)
    start: int | None = None  # char offset of the quote in the document; filled in for plain-text files
    line_end: int | None = None  # the line where the quote ends; filled in with `start`


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
    split: Split | None = None  # dev: tune and calibrate here; test: report only


@dataclass
class Dataset:
    """Items plus the documents they are asked against (files or folders to ingest), and what was left out and why."""

    name: str
    items: list[Item]
    corpus: list[Path]
    notes: list[str] = field(default_factory=list)
    # Keeps documents written for a SQuAD file alive as long as the dataset is.
    workdir: tempfile.TemporaryDirectory | None = field(default=None, repr=False, compare=False)


def load_dataset(source: str | Path = "peace-talks", format: str | None = None, corpus: Path | None = None,
                 split: Split | None = None, exclude_articles: list[str] | None = None,
                 holdout_articles: int = 0) -> Dataset:
    """A bundled set by name, or a `.jsonl` / SQuAD `.json` file; JSONL documents default to the folder named like the
    file.

    SQuAD only: `exclude_articles` (None: the calibration set's articles when loading the reporting set) and
    `holdout_articles` (the last N articles stay out of the collection; their answerable questions should be refused).
    """
    bundled = BUNDLED / f"{source}.jsonl"
    path = bundled if bundled.is_file() else Path(source)
    if not path.is_file():
        names = ", ".join(sorted(p.stem for p in BUNDLED.glob("*.jsonl")))
        raise ValueError(f"no dataset {source!r}: not a file and not a bundled set ({names})")
    format = format or ("jsonl" if path.suffix == ".jsonl" else "squad")
    if format == "squad":
        if split:
            raise ValueError(f"{path}: a SQuAD file has no dev/test split; choose the file instead")
        return _load_squad(path, exclude_articles, holdout_articles)
    if format != "jsonl":
        raise ValueError(f"unknown dataset format {format!r}: use jsonl or squad")
    if exclude_articles or holdout_articles:
        raise ValueError(f"{path}: --exclude-articles and --holdout-articles apply to SQuAD files only")
    if corpus is None:
        # The sample article's set predates bundled corpus folders and asks about assistant/data.
        corpus = path.with_suffix("")
        corpus = SAMPLE_CORPUS if path.parent == BUNDLED and not corpus.is_dir() else corpus
    if not corpus.exists():
        raise ValueError(f"{path}: its documents are not at {corpus}; pass a corpus folder")
    return _load_jsonl(path, corpus, split)


def read_jsonl(path: Path, model: type[M]) -> list[tuple[int, M]]:
    """(line number, record) for each non-blank line; a bad line is one ValueError naming the file, line and field."""
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            records.append((number, model.model_validate_json(line)))
        except ValidationError as error:
            raise ValueError(f"{path}:{number}: {error.errors()[0]['loc']} {error.errors()[0]['msg']}") from None
    return records


def _load_jsonl(path: Path, corpus: Path, split: Split | None) -> Dataset:
    items = []
    for number, item in read_jsonl(path, Item):
        items.append(item.model_copy(update={
            "evidence": [_locate(ev, corpus, f"{path}:{number}") for ev in item.evidence],
            "category": item.category or ("answerable" if item.answerable else "unanswerable"),
        }))
    notes = []
    if split:
        if not any(item.split for item in items):
            raise ValueError(f"{path}: --split {split}: its items have no split field")
        items = [item for item in items if item.split == split]
        notes.append(f"{split} half only ({len(items)} items)")
    return Dataset(name=path.stem + (f"-{split}" if split else ""), items=items, corpus=[corpus], notes=notes)


def _locate(ev: Evidence, corpus: Path, where: str) -> Evidence:
    """Fill in a plain-text quote's char offset and lines, matching whitespace loosely; fail loudly on a quote not
    there.

    Other formats (PDF, DOCX, HTML) are matched by their whitespace-normalised text when scored.
    """
    document = corpus if corpus.is_file() else corpus / ev.source
    if not ev.quote or document.suffix.lower() not in TEXT_SUFFIXES or not document.is_file():
        return ev
    text = document.read_text(encoding="utf-8")
    pattern = re.compile(r"\s+".join(map(re.escape, ev.quote.split())))
    line_of = lambda offset: text.count("\n", 0, offset) + 1  # noqa: E731
    found = [m for m in pattern.finditer(text) if ev.line is None or line_of(m.start()) == ev.line]
    if not found:
        place = f"on line {ev.line} of" if ev.line is not None else "in"
        raise ValueError(f"{where}: quote {ev.quote[:40]!r} is not {place} {ev.source}")
    match = found[0]
    return ev.model_copy(update={"start": match.start(), "line": line_of(match.start()),
                                 "line_end": line_of(match.end() - 1)})


def only_categories(dataset: Dataset, categories: list[str]) -> Dataset:
    """The dataset with only the items of these categories (e.g. out-of-collection); an unknown one is an error."""
    present = sorted({item.category for item in dataset.items})
    if unknown := [c for c in categories if c not in present]:
        raise ValueError(f"--category {unknown[0]!r}: {dataset.name} has categories {', '.join(present)}")
    items = [item for item in dataset.items if item.category in categories]
    return replace(dataset, items=items, notes=[*dataset.notes, f"only {', '.join(categories)} ({len(items)} items)"])


def calibration_titles(reporting: Path) -> list[str]:
    """The article titles of the calibration set that sits beside the reporting set."""
    calibration = reporting.parent.parent / CALIBRATION_SET / reporting.name
    try:
        return [article["title"] for article in json.loads(calibration.read_text(encoding="utf-8"))["data"]]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{calibration}: cannot read the calibration set's titles to exclude them ({error}); "
                         "pass --exclude-articles") from None


def _load_squad(path: Path, exclude: list[str] | None, holdout: int) -> Dataset:
    """Each paragraph becomes a .txt document in a temporary folder; gold evidence is the answer span in it."""
    try:
        articles = json.loads(path.read_text(encoding="utf-8"))["data"]
        titles = [article["title"] for article in articles]
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise ValueError(f"{path}: not a SQuAD JSON file ({error})") from None
    notes = []
    if exclude is None and path.parent.name == REPORTING_SET:
        exclude = [title for title in calibration_titles(path) if title in titles]
        notes.append(f"excluded articles {', '.join(exclude) or '(none)'}: they are in {CALIBRATION_SET}, the "
                     "calibration set")
    elif exclude:
        if unknown := [title for title in exclude if title not in titles]:
            raise ValueError(f"--exclude-articles: {path} has no article {unknown[0]!r}; it has {', '.join(titles)}")
        notes.append(f"excluded articles {', '.join(exclude)}")
    articles = [article for article in articles if article["title"] not in (exclude or [])]
    if not 0 <= holdout < len(articles):
        raise ValueError(f"--holdout-articles {holdout}: must be at least 0 and below the {len(articles)} "
                         "articles left")
    held = articles[len(articles) - holdout:] if holdout else []
    workdir = tempfile.TemporaryDirectory(prefix="eval-squad-")
    items = []
    for index, article in enumerate(articles):
        kept = index < len(articles) - holdout
        for number, paragraph in enumerate(article["paragraphs"]):
            context = paragraph["context"]
            name = f"{re.sub(r'[^A-Za-z0-9]+', '_', article.get('title', 'doc')).strip('_')}-{number:03d}.txt"
            if kept:
                (Path(workdir.name) / name).write_text(context, encoding="utf-8", newline="")
            for qa in paragraph["qas"]:
                answerable = not qa.get("is_impossible", False)
                if not kept:
                    # The paragraph is not in the collection, so its answerable questions should now be refused.
                    if answerable:
                        items.append(Item(id=qa["id"], question=qa["question"], answerable=False,
                                          category=OUT_OF_COLLECTION))
                    continue
                spans = list(dict.fromkeys((a["text"], a["answer_start"]) for a in qa["answers"])) if answerable else []
                items.append(Item(
                    id=qa["id"],
                    question=qa["question"],
                    answers=list(dict.fromkeys(text for text, _ in spans)),
                    evidence=[Evidence(source=name, quote=text, start=start, line=context.count("\n", 0, start) + 1,
                                       line_end=context.count("\n", 0, start + len(text) - 1) + 1)
                              for text, start in spans],
                    answerable=answerable,
                    category="answerable" if answerable else "unanswerable",
                ))
    if held:
        notes.append(f"held out of the collection: {', '.join(a['title'] for a in held)} "
                     f"(their answerable questions are asked as {OUT_OF_COLLECTION}, to be refused)")
    name = path.parent.name if path.stem == "dev-v2.0" else path.stem
    return Dataset(name=name, items=items, corpus=[Path(workdir.name)], notes=notes, workdir=workdir)
