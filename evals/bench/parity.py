"""Point 6: retrieval parity of every embedding backend (documents and questions) against torch fp32."""

from evals.bench.common import Say
from evals.stats import mean


def _dense(bot, question: str, k: int) -> list:
    from assistant.types import Passage

    got = bot.retriever.store.query(bot.embedder.query_vector(question), k)
    return [Passage(source=c.meta.source, title=c.meta.title, text=c.text, start=c.meta.start, end=c.meta.end,
                    line_start=c.meta.line_start, line_end=c.meta.line_end, page=c.meta.page, chunk_ids=(c.id,))
            for c in got]


# Documents' backend, questions' backend ("documents": the same): torch fp32 is the reference every other is held to.
# ONNX fp32 documents are left out: their vectors equal torch fp32's (tests/ingest/test_embedding.py).
PARITY_PAIRS = (("fp32", "documents"), ("int8", "documents"), ("int8", "onnx"), ("onnx-int8", "documents"))


def pair_name(documents: str, query: str) -> str:
    return documents if query == "documents" else f"{documents}+{query}"


def measure_parity(datasets: list, settings_for, say: Say, k: int = 5, limit: int | None = None,
                   pairs: tuple[tuple[str, str], ...] = PARITY_PAIRS) -> dict:
    """hit@5 and MRR@5 of each (documents backend, questions backend) pair on the same documents, hybrid retrieval
    and dense alone, as points against torch fp32 for both."""
    from assistant import condense
    from assistant.api import Assistant
    from evals import metrics
    from evals.harness import pick
    from ingest.pipeline import Ingestor

    results = {}
    for name, dataset in datasets:
        items = pick([item for item in dataset.items if item.evidence], limit)
        questions = [condense.rewrite(i.question, list(i.history)) if i.history else i.question for i in items]
        per_pair, ingested = {}, {}
        for documents, query in pairs:
            settings = settings_for(f"parity-{name}-{documents}"[:60], documents).with_overrides(query_backend=query)
            if documents not in ingested:
                ingested[documents] = Ingestor(settings).run(dataset.corpus, on_message=lambda line: None)
            bot = Assistant(settings)
            scores = {}
            for mode, retrieve in (("hybrid", lambda q: bot.retriever.passages(q, k)),
                                   ("dense", lambda q: _dense(bot, q, k))):
                ranked = [retrieve(q) for q in questions]
                scores[mode] = {
                    "hit@5": 100 * mean([metrics.hit_at(p, i.evidence, k) for p, i in zip(ranked, items)]),
                    "mrr@5": 100 * mean([metrics.reciprocal_rank(p[:k], i.evidence) for p, i in zip(ranked, items)]),
                }
            per_pair[pair_name(documents, query)] = {"ingest_s": ingested[documents].seconds,
                                                      "chunks": ingested[documents].added, **scores}
        reference = per_pair[pair_name(*pairs[0])]
        deltas = {pair: {mode: {metric: scores[mode][metric] - reference[mode][metric] for metric in ("hit@5", "mrr@5")}
                         for mode in ("hybrid", "dense")} for pair, scores in per_pair.items()}
        results[name] = {"questions": len(items), "reference": pair_name(*pairs[0]), "scores": per_pair,
                         "points_vs_reference": deltas,
                         "parity": {pair: {mode: all(d >= -1.0 for d in delta[mode].values()) for mode in delta}
                                    for pair, delta in deltas.items()}}
        say(f"  {name} ({len(items)} questions), hybrid hit@5 / MRR@5: " + "; ".join(
            f"{pair} {scores['hybrid']['hit@5']:.1f}/{scores['hybrid']['mrr@5']:.1f}"
            for pair, scores in per_pair.items()))
    return results
