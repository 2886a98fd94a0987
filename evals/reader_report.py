"""The reader on public sets it never saw: WikiQA test (answer-sentence selection: MAP, MRR) and WiCE test (is a
real claim supported by its cited page: AUC), beside the bi-encoder's cosine on the same pairs."""

import csv
import gzip
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.reader import Reader
from evals.stats import auc
from ingest.embedding import Embedder

DATA = Path("../shared/training-data")
WIKIQA = DATA / "eval-only" / "wikiqa-test-gold.tsv.gz"
WICE = DATA / "wice-claim-test.jsonl.gz"
MAX_EVIDENCE = 64  # sentences of a WiCE page read per claim (the pages run to hundreds of lines of boilerplate)


@dataclass(frozen=True)
class Ranking:
    question: str
    sentences: list[str]
    labels: list[int]


@dataclass(frozen=True)
class Claim:
    claim: str
    evidence: list[str]
    supported: bool


def wikiqa() -> list[Ranking]:
    """WikiQA's test questions with at least one right sentence (the standard filter)."""
    groups: dict[str, Ranking] = {}
    with gzip.open(WIKIQA, "rt", encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
            group = groups.setdefault(row["QuestionID"], Ranking(row["Question"], [], []))
            group.sentences.append(row["Sentence"])
            group.labels.append(int(row["Label"]))
    return [g for g in groups.values() if any(g.labels)]


def wice() -> list[Claim]:
    """WiCE test claims against their page's sentences; "supported" against partially and not supported."""
    with gzip.open(WICE, "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    return [Claim(r["claim"], r["evidence"][:MAX_EVIDENCE], r["label"] == "supported") for r in rows if r["evidence"]]


def mean_precision(scores: np.ndarray, labels: list[int]) -> tuple[float, float]:
    """Average precision and reciprocal rank of one question's ranking."""
    ranked = np.array(labels)[np.argsort(-scores, kind="stable")]
    hits = np.flatnonzero(ranked)
    precision = [(k + 1) / (rank + 1) for k, rank in enumerate(hits)]
    return float(np.mean(precision)), 1.0 / (hits[0] + 1)


def ranking_figures(score, groups: list[Ranking]) -> dict[str, float]:
    pairs = [mean_precision(score(g.question, g.sentences), g.labels) for g in groups]
    return {"MAP": round(float(np.mean([p for p, _ in pairs])), 3),
            "MRR": round(float(np.mean([r for _, r in pairs])), 3)}


def claim_figures(score, claims: list[Claim]) -> dict[str, float]:
    """A claim's score is its best evidence sentence's: AUC of supported against the rest."""
    best = np.array([score(c.claim, c.evidence).max() for c in claims])
    labels = np.array([c.supported for c in claims], int)
    return {"AUC": round(auc(labels, best), 3), "claims": len(claims), "supported": int(labels.sum())}


def report(reader: Reader, embedder: Embedder) -> dict[str, dict[str, dict[str, float]]]:
    def cosine(query: str, texts: list[str]) -> np.ndarray:
        return embedder.sentence_vectors(texts) @ embedder.query_vector(query)

    groups, claims = wikiqa(), wice()
    return {"wikiqa_test": {"reader": ranking_figures(reader.answers, groups),
                            "cosine": ranking_figures(cosine, groups), "questions": {"n": len(groups)}},
            "wice_test": {"reader": claim_figures(reader.supports, claims), "cosine": claim_figures(cosine, claims)}}
