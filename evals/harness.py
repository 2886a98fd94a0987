"""Run a question set through the assistant on a throwaway collection and score every answer."""

import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from pydantic import BaseModel
from tqdm import tqdm

from assistant.settings import Settings
from assistant.types import Answer, strip_markers
from evals import metrics, stats
from evals.dataset import Dataset, Item, load_dataset

STAGES = ("condense", "retrieve", "answer", "verify", "total")


class Row(BaseModel):
    """One item, the assistant's answer, and its scores (None where a score does not apply)."""

    item: Item
    answer: Answer
    scores: dict[str, float | None]
    failure: str = ""  # why the item failed (`why_failed`); empty when it passed

    @property
    def passed(self) -> bool:
        return not self.failure


class Report(BaseModel):
    """A run: its metrics (overall and by category), the settings used, and every row."""

    dataset: str
    notes: list[str] = []  # what the run left out or changed, e.g. excluded articles, the split asked
    settings: dict
    ingest: dict  # the ingest report, or {} when an existing collection was used
    metrics: dict[str, float | None]
    by_category: dict[str, dict[str, float | None]]
    rows: list[Row]
    seconds: float


def cutoffs(k: int) -> list[int]:
    """The ranks hit@ is reported at: 1, 3, 5 below k, and k."""
    return [c for c in (1, 3, 5) if c < k] + [k]


def score_names(k: int, judged: bool = False) -> list[str]:
    """Per-item scores, in report order; their means are the run's metrics of the same names."""
    return [*(f"retrieval.hit@{c}" for c in cutoffs(k)), f"retrieval.recall@{k}", "retrieval.mrr",
            f"retrieval.ndcg@{k}",
            "answer.exact", "answer.f1", "answer.contains", "overall.exact", "overall.f1",
            "citation.precision", "citation.located", "citation.recall", "verifier.accepted", "citation.faithfulness",
            *(["judge.correct"] if judged else [])]


def metric_names(k: int, judged: bool = False) -> list[str]:
    """Every metric a run reports, e.g. for checking --fail-under gates before running."""
    return list(aggregate([], k, judged))


def answer_text(answer: Answer) -> str:
    """What is scored against the references: the answer without its [n] markers; nothing when refused."""
    return "" if answer.refused else strip_markers(answer.text)


def score_item(item: Item, answer: Answer, k: int) -> dict[str, float | None]:
    passages, gold, text = answer.passages, item.evidence, answer_text(answer)
    scores: dict[str, float | None] = {}
    if gold:
        scores |= {f"retrieval.hit@{c}": metrics.hit_at(passages, gold, c) for c in cutoffs(k)}
        scores[f"retrieval.recall@{k}"] = metrics.recall_at(passages, gold, k)
        scores["retrieval.mrr"] = metrics.reciprocal_rank(passages, gold)
        scores[f"retrieval.ndcg@{k}"] = metrics.ndcg_at(passages, gold, k)
    if item.answerable:
        scores["answer.exact"] = scores["overall.exact"] = metrics.exact_match(text, item.answers)
        scores["answer.f1"] = scores["overall.f1"] = metrics.token_f1(text, item.answers)
        scores["answer.contains"] = metrics.contains_answer(text, item.answers)
        scores["citation.recall"] = metrics.citation_recall(answer.citations, gold)
        scores["citation.located"] = metrics.citation_located(answer.citations, gold)
    else:  # SQuAD 2.0 style: refusing is the right answer to an unanswerable question
        scores["overall.exact"] = scores["overall.f1"] = float(answer.refused)
    scores["citation.precision"] = metrics.citation_precision(answer.citations, gold)
    scores["verifier.accepted"] = metrics.verifier_accepted(answer.citations)
    if not answer.refused:
        scores["citation.faithfulness"] = metrics.faithfulness(answer.text, answer.citations)
    return {name: scores.get(name) for name in score_names(k)}


def why_failed(item: Item, answer: Answer, scores: dict[str, float | None]) -> str:
    """Why an item fails, or "" when it passes.

    Answerable: answered, the answer contains a reference and some citation holds or locates gold evidence.
    Unanswerable: refused.
    """
    if not item.answerable:
        return "" if answer.refused else "answered, should refuse"
    if answer.refused:
        return "refused an answerable question"
    reasons = []
    if scores["answer.contains"] != 1.0:
        reasons.append("no reference in the answer")
    if not (scores["citation.precision"] or scores["citation.located"]):
        reasons.append("cites no gold evidence")
    return "; ".join(reasons)


def aggregate(rows: list[Row], k: int, judged: bool = False) -> dict[str, float | None]:
    """The run's metrics: means of per-item scores, pass rate, refusal rates and latency percentiles (seconds)."""
    means = {name: stats.mean([row.scores.get(name) for row in rows]) for name in score_names(k, judged)}
    refusals = metrics.refusal_scores([r.item.answerable for r in rows], [r.answer.refused for r in rows])
    latency = {}
    for stage in STAGES:
        values = [r.answer.timings[stage] for r in rows if stage in r.answer.timings]
        latency |= {f"latency.{stage}.p50": stats.percentile(values, 50),
                    f"latency.{stage}.p95": stats.percentile(values, 95)}
    results = {"items": float(len(rows)), "overall.pass": stats.mean([float(r.passed) for r in rows]), **means,
               **refusals, **latency}
    return {name: None if value is None else round(value, 4) for name, value in results.items()}


def pick(items: list[Item], limit: int | None) -> list[Item]:
    """`limit` items spread evenly over the set, so a short run still samples every category."""
    if limit is None or limit >= len(items):
        return items
    return [items[i * len(items) // limit] for i in range(limit)]


def judge_rows(rows: list[Row], settings: Settings, progress: bool = True) -> list[Row]:
    """Rows with a `judge.correct` score from `settings.llm`: 1/0 for answerable items (a refusal is 0), None for
    unanswerable ones."""
    from evals.judge import Judge

    judge = Judge(settings)
    judged = []
    for row in tqdm(rows, desc="judge", unit="q", disable=not progress, dynamic_ncols=True):
        verdict = None
        if row.item.answerable:
            verdict = 0.0 if row.answer.refused else judge.grade(
                row.answer.standalone_question or row.item.question, row.item.answers, answer_text(row.answer))
        judged.append(row.model_copy(update={"scores": {**row.scores, "judge.correct": verdict}}))
    return judged


def run_eval(dataset: Dataset | str | Path = "peace-talks", settings: Settings | None = None, limit: int | None = None,
             progress: bool = True, judge: str | None = None, ingest: bool = True) -> Report:
    """Ask every item and score the answers; the dataset's documents go into a throwaway store unless `ingest=False`."""
    from assistant.api import Assistant
    from ingest import ingest_paths

    dataset = dataset if isinstance(dataset, Dataset) else load_dataset(dataset)
    settings = settings or Settings()
    items = pick(dataset.items, limit)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="eval-store-") as tmp:
        ingested = {}
        if ingest:
            # model_validate, unlike with_overrides, can clear chroma_url: the throwaway store is always embedded.
            settings = Settings.model_validate({**settings.model_dump(), "data_dir": Path(tmp), "chroma_url": None,
                                                "collection": "eval-collection"})
            ingested = asdict(ingest_paths(dataset.corpus, settings, progress=progress))
        bot = Assistant(settings)
        bar = tqdm(items, desc=f"eval {dataset.name}", unit="q", disable=not progress, dynamic_ncols=True)
        answers = [bot.ask(item.question, history=item.history or None) for item in bar]
    rows = []
    for item, answer in zip(items, answers):
        scores = score_item(item, answer, settings.k)
        rows.append(Row(item=item, answer=answer, scores=scores, failure=why_failed(item, answer, scores)))
    if judge:
        rows = judge_rows(rows, settings.with_overrides(llm=judge, llm_max_tokens=16), progress)  # a one-word verdict
    categories = sorted({row.item.category for row in rows})
    return Report(
        dataset=dataset.name,
        notes=dataset.notes,
        settings=settings.model_dump(mode="json", exclude={"llm_api_key"}) | ({"judge": judge} if judge else {}),
        ingest=ingested,
        metrics=aggregate(rows, settings.k, bool(judge)),
        by_category={c: aggregate([r for r in rows if r.item.category == c], settings.k,
                                  bool(judge)) for c in categories},
        rows=rows,
        seconds=round(time.perf_counter() - started, 2),
    )
