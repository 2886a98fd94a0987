"""Claim-verification benchmark: does the verifier catch false claims and accept true ones, per kind of error?

Generated claims perturb real SQuAD sentences (dev: squad2-dev-subset; test: the reporting articles of
squad2-cs224n-dev other than Normans, never tuned on); hand-written ones are on the multi-document set
(evals/datasets/multidoc-claims.jsonl, split by id).

assistant claims [--split dev|test] [--paragraphs N]
"""

import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from assistant.answerability import NUMBER_WORDS, is_heading, names
from assistant.settings import Settings
from assistant.types import Passage
from evals import dataset
from ingest.chunking import sentence_spans

# The shared data beside the checkout; a git worktree one level deeper finds it one level further up.
DEV_SQUAD = dataset.EXTERNAL / dataset.CALIBRATION_SET / "dev-v2.0.json"
TEST_SQUAD = dataset.EXTERNAL / dataset.REPORTING_SET / "dev-v2.0.json"
CALIBRATION_ARTICLES = frozenset({"Normans", "Rhine"})  # squad2-dev-subset's articles: never in a test split
HAND_WRITTEN = Path(__file__).parent / "datasets" / "multidoc-claims.jsonl"
DOCUMENTS = Path(__file__).parent / "datasets" / "multidoc"
TRUE_TYPES = ("original", "subclause", "reordered", "paraphrase", "llm_paraphrase")

_NUMBER = re.compile(r"(?<![\w.,])\d+(?:,\d{3})*(?:\.\d+)?(?![\w])")
_AUXILIARY = re.compile(r"\b(is|was|are|were|has|had|have|can|could|will|would|should|did|does|do|must)\b(?! not\b)")
_CLAUSE = re.compile(r",\s+(which|who|where|while|whose|although|though|but|and|as well as)\b|;\s")
_RELATION = re.compile(r"\b(?!and\b|or\b|the\b|of\b)[a-z]{4,}\b")
_LEADING = re.compile(r"^((?:In|By|During|After|Before|Since|From|On|At|Until)\s[^,]{2,40}),\s+(.+?)([.!?])?$")
# The generator's own list of opposite words (verbs and a few adjectives), written apart from the verifier's.
_ANTONYMS = dict(pair for a, b in [
    ("opened", "closed"), ("increased", "decreased"), ("rose", "fell"), ("won", "lost"), ("accepted", "rejected"),
    ("allowed", "prohibited"), ("introduced", "abolished"), ("began", "ended"), ("built", "destroyed"),
    ("gained", "lost"), ("supported", "opposed"), ("entered", "left"), ("succeeded", "failed"), ("raised", "lowered"),
    ("bought", "sold"), ("arrived", "departed"), ("included", "excluded"), ("largest", "smallest"),
    ("north", "south"), ("east", "west"), ("upper", "lower"), ("first", "last"), ("more", "less"),
    ("increasing", "decreasing"), ("strengthened", "weakened"), ("expanded", "reduced"), ("major", "minor"),
    ("higher", "lower"), ("longest", "shortest"), ("early", "late"), ("before", "after"), ("western", "eastern"),
    ("northern", "southern"), ("ancient", "modern"), ("victory", "defeat"),
] for pair in ((a, b), (b, a)))
_INVENTED = [
    "according to a 1987 survey by the Halvorsen Institute",
    "although most historians now reject this account",
    "which was later confirmed by a royal commission in 1912",
    "and the decision was reversed two years later",
    "after a unanimous vote of the city council",
    "while a second expedition was abandoned in 1741",
    "despite strong objections from the local bishop",
    "a change that doubled the number of visitors",
]


class ClaimItem(BaseModel):
    """One claim about one document, with the quote that decides it and whether the document supports it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    claim: str
    source: str
    evidence: str
    supported: bool
    type: str
    split: str


@dataclass
class ClaimSet:
    """Claims plus the text of every document they are about (by source name)."""

    name: str
    items: list[ClaimItem]
    documents: dict[str, str]


class TypeScore(BaseModel):
    type: str
    supported: bool  # true claims (accepted is right) or false ones (caught is right)
    n: int
    correct: float  # share accepted (true types) or caught (false types)
    balanced_accuracy: float  # with the true claims of the same run: (caught + accepted) / 2


class ClaimsReport(BaseModel):
    split: str
    sets: list[str]
    n: int
    false_caught: float
    true_accepted: float
    balanced_accuracy: float
    by_type: list[TypeScore]
    by_set: dict[str, dict[str, float]]
    misses: list[dict]  # a few wrong verdicts per type, for reading


# -- generated claims -------------------------------------------------------------------------------------------

def generated_claims(path: Path, split: str, paragraphs: int | None = None,
                     exclude: frozenset = frozenset()) -> ClaimSet:
    """Claims from every (or the first `paragraphs`) paragraph of each article of a SQuAD file, deterministically."""
    try:
        articles = [a for a in json.loads(path.read_text(encoding="utf-8"))["data"] if a["title"] not in exclude]
    except (OSError, ValueError, KeyError) as exc:
        raise ValueError(f"{path}: not a readable SQuAD file ({exc})") from None
    article_names = [sorted({n for p in a["paragraphs"] for n in names(p["context"]) if len(n) > 3}) for a in articles]
    # One sentence per paragraph: claims about the same article that this paragraph does not make.
    article_sentences = [[p["context"][slice(*sentence_spans(p["context"])[-1])] for p in a["paragraphs"]]
                         for a in articles]
    items, documents = [], {}
    for a_index, article in enumerate(articles):
        foreign = [n for i, pool in enumerate(article_names) if i != a_index for n in pool]
        for p_index, paragraph in enumerate(article["paragraphs"][:paragraphs]):
            strangers = [t for i, t in enumerate(article_sentences[a_index]) if i != p_index
                         and t not in paragraph["context"]]
            source = f"{article['title']}-{p_index:03d}"
            documents[source] = paragraph["context"]
            items += _paragraph_claims(source, paragraph["context"], foreign, split, p_index)
            if strangers:
                unrelated = strangers[(p_index * 7 + 3) % len(strangers)]
                items.append(ClaimItem(id=f"{source}-unrelated", claim=unrelated, source=source, evidence="",
                                       supported=False, type="unrelated", split=split))
    return ClaimSet(path.parent.name, items, documents)


def _paragraph_claims(source: str, text: str, foreign: list[str], split: str, seed: int) -> list[ClaimItem]:
    sentences = [text[s:e] for s, e in sentence_spans(text)]
    usable = [i for i, s in enumerate(sentences) if len(s.split()) >= 8 and not is_heading(s) and "[" not in s]
    if not usable:
        return []
    usable = usable[seed % len(usable):] + usable[: seed % len(usable)]  # a different first sentence per paragraph
    values = {_value(m.group()) for m in _NUMBER.finditer(text)}
    made: dict[str, tuple[str, str]] = {}
    for i in usable:
        sentence = sentences[i]
        far = " ".join(s for j, s in enumerate(sentences) if abs(j - i) > 1)
        for kind, claim in _perturbations(sentence, far, values, text, foreign, seed):
            if claim != sentence and kind not in made:
                made[kind] = (claim, sentence)
    # Every sentence a claim was made from is also a true claim as it stands: the unperturbed positives.
    originals = list(dict.fromkeys(evidence for _, evidence in made.values()))
    out = [ClaimItem(id=f"{source}-original-{n}", claim=sentence, source=source, evidence=sentence, supported=True,
                     type="original", split=split) for n, sentence in enumerate(originals)]
    for kind, (claim, evidence) in sorted(made.items(), key=lambda k: (k[0] not in TRUE_TYPES, k[0])):
        out.append(ClaimItem(id=f"{source}-{kind}", claim=claim, source=source, evidence=evidence,
                             supported=kind in TRUE_TYPES, type=kind, split=split))
    return out


def _perturbations(sentence: str, far: str, values: set[float], text: str, foreign: list[str], seed: int):
    """(type, claim) pairs for one sentence: faithful variants first, then one of each kind of error that applies."""
    clause = _CLAUSE.search(sentence)
    if clause and len(sentence[: clause.start()].split()) >= 6:
        yield "subclause", sentence[: clause.start()].rstrip(" ,;") + "."
    leading = _LEADING.match(sentence)
    if leading:
        rest = leading.group(2)
        yield "reordered", f"{rest[0].upper()}{rest[1:]} {leading.group(1)[0].lower()}{leading.group(1)[1:]}."
    auxiliary = _AUXILIARY.search(sentence)
    if auxiliary:
        yield "negation", f"{sentence[: auxiliary.end()]} not{sentence[auxiliary.end():]}"
    number = _NUMBER.search(sentence)
    if number:
        n = _value(number.group())
        step = 7 if 1000 <= n <= 2100 else max(3, int(n) + 2)
        absent = next(int(n) + step * k for k in range(1, 50) if int(n) + step * k not in values)
        yield "number_absent", _replace(sentence, number, str(absent))
        others = [m.group() for m in _NUMBER.finditer(far) if _value(m.group()) != n]
        if others:
            yield "number_other", _replace(sentence, number, others[seed % len(others)])
        for digits in sorted({m.group().replace(",", "") for m in _NUMBER.finditer(text)}, key=len, reverse=True):
            pieces = [digits[j: j + w] for w in (1, 2) for j in range(len(digits) - w + 1)] if len(digits) >= 3 else []
            piece = next((p for p in pieces if p.isdigit() and p[0] != "0" and float(p) not in values
                          and float(p) != n), None)
            if piece:
                yield "number_substring", _replace(sentence, number, piece)
                break
    word = re.search(rf"\b({'|'.join(w for w in NUMBER_WORDS if w not in ('zero', 'one'))})\b", sentence, re.I)
    if word:
        value = NUMBER_WORDS[word.group().lower()]
        other = next(w for w, v in NUMBER_WORDS.items() if v == (value + 2 if value < 18 else 5))
        yield "word_number", _replace(sentence, word, other)
    elif number and 2 <= _value(number.group()) <= 17 and "." not in number.group():
        other = next(w for w, v in NUMBER_WORDS.items() if v == int(_value(number.group())) + 2)
        yield "word_number", _replace(sentence, number, other)
    found = sorted((n for n in names(sentence) if len(n) > 3 and re.search(rf"\b{re.escape(n)}\b", sentence)),
                   key=sentence.find)
    strangers = [n for n in foreign if n not in text]
    if found and strangers:
        target = re.search(rf"\b{re.escape(found[0])}\b", sentence)
        yield "entity_other", _replace(sentence, target, strangers[(seed * 7 + len(sentence)) % len(strangers)])
    # Two names around a relation ("A defeated B"), not items of a list ("A, B and C"), whose order means nothing.
    pair = next(((a, b) for a in found for b in found if sentence.find(a) < sentence.find(b) and a not in b
                 and b not in a and _RELATION.search(sentence[sentence.find(a) + len(a): sentence.find(b)])), None)
    if pair:
        a, b = pair
        swapped = re.sub(rf"\b({re.escape(a)}|{re.escape(b)})\b", lambda m: b if m.group() == a else a, sentence,
                         count=2)
        yield "entity_swap", swapped
    antonym = next((m for m in re.finditer(r"[A-Za-z]+", sentence) if m.group().lower() in _ANTONYMS), None)
    if antonym:
        opposite = _ANTONYMS[antonym.group().lower()]
        yield "antonym", _replace(sentence, antonym,
                                  opposite.capitalize() if antonym.group()[0].isupper() else opposite)
    body = re.sub(r"[.!?]+[\"'”’)]*$", "", sentence)
    yield "invented_clause", f"{body}, {_INVENTED[(seed + len(sentence)) % len(_INVENTED)]}."


def _value(number: str) -> float:
    return float(number.replace(",", ""))


def _replace(sentence: str, match: re.Match, new: str) -> str:
    return sentence[: match.start()] + new + sentence[match.end():]


# -- hand-written claims ----------------------------------------------------------------------------------------

def hand_written_claims(split: str, path: Path = HAND_WRITTEN, documents: Path = DOCUMENTS) -> ClaimSet:
    """The hand-written claims of one split, with the extracted text of each document they are about."""
    from ingest.loaders import load_document

    items = [item for _, item in dataset.read_jsonl(path, ClaimItem) if item.split == split]
    texts = {source: load_document(documents / source).text for source in sorted({i.source for i in items})}
    return ClaimSet(path.stem, items, texts)


def claim_sets(split: str, paragraphs: int | None = None) -> list[ClaimSet]:
    """Every claim set of a split: generated SQuAD claims, and the hand-written ones when their file exists."""
    if split == "dev":
        sets = [generated_claims(DEV_SQUAD, "dev", paragraphs)]
    elif split == "test":
        sets = [generated_claims(TEST_SQUAD, "test", paragraphs or 4, exclude=CALIBRATION_ARTICLES)]
    else:
        raise ValueError(f"split {split!r}: use dev or test")
    if HAND_WRITTEN.is_file():
        sets.append(hand_written_claims(split))
    return sets


# -- running ----------------------------------------------------------------------------------------------------

def verifier_for(claims: ClaimSet, settings: Settings, model=None):
    """A Verifier whose term weights come from the claim set's own documents (no store needed)."""
    from assistant.reader import get_reader
    from assistant.retrieval import bm25_idf, shared_terms
    from assistant.verify import Verifier
    from ingest.embedding import get_embedder

    terms = shared_terms()
    df = Counter(t for text in claims.documents.values() for t in set(terms(text)))
    n = len(claims.documents)
    query = settings.query_backend  # the embedder an Assistant with these settings verifies with
    embedder = get_embedder(settings, None if query == "documents" else query)
    return Verifier(embedder, terms, lambda t: bm25_idf(n, df.get(t, 0)), settings.support_threshold,
                    drop_unsupported=False, model=model, reader=get_reader() if settings.reader else None)


def passage_of(source: str, text: str) -> Passage:
    return Passage(source=source, title=source, text=text, start=0, end=len(text), line_start=1,
                   line_end=text.count("\n") + 1)


def verdicts(claims: ClaimSet, settings: Settings) -> list[bool]:
    verifier = verifier_for(claims, settings)
    return [verifier.check(item.claim, [passage_of(item.source, claims.documents[item.source])]).supported
            for item in claims.items]


def run_claims(settings: Settings | None = None, split: str = "test", paragraphs: int | None = None) -> ClaimsReport:
    """Verify every claim of a split and score the verdicts per type of claim."""
    settings = settings or Settings()
    sets = claim_sets(split, paragraphs)
    rows = [(s.name, item, accepted) for s in sets for item, accepted in zip(s.items, verdicts(s, settings))]
    true_rows = [accepted for _, item, accepted in rows if item.supported]
    false_rows = [not accepted for _, item, accepted in rows if not item.supported]
    accepted = sum(true_rows) / len(true_rows) if true_rows else 0.0
    caught = sum(false_rows) / len(false_rows) if false_rows else 0.0
    by_type, misses = [], []
    for kind in sorted({item.type for _, item, _ in rows}, key=lambda k: (k not in TRUE_TYPES, k)):
        group = [(item, ok) for _, item, ok in rows if item.type == kind]
        right = [ok == item.supported for item, ok in group]
        share = sum(right) / len(right)
        supported = group[0][0].supported
        by_type.append(TypeScore(type=kind, supported=supported, n=len(group), correct=round(share, 4),
                                 balanced_accuracy=round((share + (accepted if not supported else share)) / 2, 4)))
        misses += [{"type": kind, "claim": item.claim, "evidence": item.evidence, "supported": item.supported}
                   for (item, ok), r in zip(group, right) if not r][:3]
    by_set = {}
    for name in dict.fromkeys(name for name, _, _ in rows):
        t = [ok for n, item, ok in rows if n == name and item.supported]
        f = [not ok for n, item, ok in rows if n == name and not item.supported]
        by_set[name] = {"n": float(len(t) + len(f)), "true_accepted": round(sum(t) / max(len(t), 1), 4),
                        "false_caught": round(sum(f) / max(len(f), 1), 4)}
    return ClaimsReport(split=split, sets=[s.name for s in sets], n=len(rows), false_caught=round(caught, 4),
                        true_accepted=round(accepted, 4), balanced_accuracy=round((caught + accepted) / 2, 4),
                        by_type=by_type, by_set=by_set, misses=misses)


def section_metrics(report: ClaimsReport) -> dict[str, float]:
    """The headline figures, for the suite's table: overall, and the weakest kind of false claim."""
    weakest = min((t for t in report.by_type if not t.supported), key=lambda t: t.correct)
    return {"items": float(report.n), "claims.false_caught": report.false_caught,
            "claims.true_accepted": report.true_accepted, "claims.balanced_accuracy": report.balanced_accuracy,
            f"claims.caught.{weakest.type}": weakest.correct}


def table(report: ClaimsReport) -> str:
    lines = [f"claims benchmark, {report.split} split ({', '.join(report.sets)}): {report.n} claims",
             f"false claims caught {report.false_caught:.3f}  true claims accepted {report.true_accepted:.3f}  "
             f"balanced accuracy {report.balanced_accuracy:.3f}", "",
             f"{'type':<18}{'n':>5}  {'right':>7}  {'balanced':>8}"]
    for t in report.by_type:
        label = "accepted" if t.supported else "caught"
        lines.append(f"{t.type:<18}{t.n:>5}  {t.correct:>7.3f}  {t.balanced_accuracy:>8.3f}  ({label})")
    lines += ["", *(f"{name}: {s['n']:.0f} claims, true accepted {s['true_accepted']:.3f}, false caught "
                    f"{s['false_caught']:.3f}" for name, s in report.by_set.items())]
    return "\n".join(lines)
