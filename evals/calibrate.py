"""Calibrate the extractive answerer's lexical weight and refusal threshold on squad2-dev-subset (never on reporting data).

python -m evals.calibrate [--dataset PATH] [--max-refused 0.05]
"""

import argparse
import tempfile
from pathlib import Path

import numpy as np

from assistant.api import Assistant
from assistant.settings import Settings
from evals.dataset import load_dataset
from evals.metrics import contains_answer
from ingest import ingest_paths

SUBSET = Path(__file__).resolve().parent.parent.parent / "shared" / "external-eval" / "squad2-dev-subset" / "dev-v2.0.json"
WEIGHTS = (0.0, 0.2, 0.35, 0.5, 0.75)


def best_drafts(bot: Assistant, items) -> list[tuple[float, str]]:
    """(best relevance, answer text) per item, with refusal switched off so every score is seen."""
    answerer = bot._extractive()
    answerer.refuse_threshold = -np.inf
    out = []
    for item in items:
        passages = bot.retriever.passages(item.question, bot.settings.k)
        draft = answerer.draft(item.question, passages)
        out.append((draft.best_score, " ".join(c.text for c in draft.claims)))
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default=str(SUBSET))
    # 3.5%, not 5%: SQuAD questions copy the text's words, so paraphrased questions score lower and need headroom.
    parser.add_argument("--max-refused", type=float, default=0.035, help="Share of answerable items we accept to refuse.")
    args = parser.parse_args(argv)
    dataset = load_dataset(args.dataset, format="squad")
    with tempfile.TemporaryDirectory() as tmp:
        base = Settings(data_dir=Path(tmp), collection="calibrate")
        ingest_paths(dataset.corpus, base)
        answerable = [i for i in dataset.items if i.answerable]
        unanswerable = [i for i in dataset.items if not i.answerable]
        results = {}
        for weight in WEIGHTS:
            bot = Assistant(base, lexical_weight=weight)
            drafts = best_drafts(bot, answerable)
            hit = np.mean([contains_answer(text, item.answers) for (_, text), item in zip(drafts, answerable)])
            results[weight] = (hit, drafts)
            print(f"lexical_weight={weight:.2f}: answer contains a reference {hit:.3f}")
        # The smallest weight within a point of the best: lexical overlap favours SQuAD's text-copying questions,
        # and a lighter weight keeps paraphrased questions (few shared words) answerable.
        top = max(hit for hit, _ in results.values())
        weight = min(w for w, (hit, _) in results.items() if hit >= top - 0.01)
        good = np.array([score for score, _ in results[weight][1]])
        bad = np.array([score for score, _ in best_drafts(Assistant(base, lexical_weight=weight), unanswerable)])
        threshold = float(np.quantile(good, args.max_refused))
        print(f"chosen lexical_weight={weight}; refuse_threshold={threshold:.3f} refuses "
              f"{np.mean(good < threshold):.3f} of answerable and {np.mean(bad < threshold):.3f} of unanswerable items")
        for t in np.linspace(threshold - 0.15, threshold + 0.15, 7):
            print(f"  threshold {t:.3f}: answerable refused {np.mean(good < t):.3f}, unanswerable refused {np.mean(bad < t):.3f}")


if __name__ == "__main__":
    main()
