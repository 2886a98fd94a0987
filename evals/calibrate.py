"""Fit the answer judge (sentence ranking, refusal) and the claim verifier on dev data only, into
assistant/models/judge.json.

assistant calibrate [--max-refused 0.05] [--max-rejected 0.10] [--dry-run]

Dev data: squad2-dev-subset (its questions in one collection; each article's questions also asked against a
collection of the other article alone, as out-of-collection questions), the dev half of the multi-document set
when it exists (its questions also asked against the half of its documents that lacks their evidence), and the
claims generated from squad2-dev-subset plus the dev half of the hand-written claims. The answer and refusal
models' L2 strengths, the refusal signals and the refusal threshold are chosen by cross-validation on dev that holds
out one document (SQuAD article, multidoc file) at a time, then the models are fitted on all of dev.
"""

import json
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from assistant.answer import ExtractiveAnswerer
from assistant.api import Assistant
from assistant.fitted import ANSWER_FEATURES, MODEL_FILE, REFUSAL_FEATURES, Logistic, Models, load_models, sigmoid
from assistant.judge import refusal_row
from assistant.settings import Settings
from assistant.verify import SUPPORT_FEATURES
from evals.claims import DEV_SQUAD, TEST_SQUAD, claim_sets, passage_of, verifier_for
from evals.dataset import BUNDLED, Item, load_dataset
from ingest import ingest_paths

MULTIDOC = BUNDLED / "multidoc.jsonl"
REPORTING = TEST_SQUAD.parent


@dataclass
class Rows:
    """Feature rows of candidate sentences, their labels, and which question each belongs to."""

    x: list[list[float]]
    y: list[int]
    question: list[int]
    kind: list[str]  # per question: answerable, unanswerable, out-of-collection
    origin: list[str]  # per row: the question set it comes from
    question_origin: list[str]  # per question: the same
    group: list[str]  # per question: its document (SQuAD article, multidoc file), kept whole in one CV fold


def refuse_non_dev(dataset: str, split: str) -> None:
    """Calibration never sees test halves or the reporting set: one line and exit 2 otherwise."""
    if split != "dev":
        sys.exit(f"error: --split {split}: calibration reads dev data only (test halves are for reporting)")
    if Path(dataset).resolve().is_relative_to(REPORTING.resolve()) or "cs224n" in dataset:
        sys.exit(f"error: --dataset {dataset}: squad2-cs224n-dev is the reporting set; calibrate on squad2-dev-subset")


def candidate_rows(bot: Assistant, answerer: ExtractiveAnswerer, items: list[Item], kind: str, rows: Rows,
                   origin: str, documents: dict[str, str]) -> None:
    """Every candidate sentence's features; positive when it is in the gold document and holds an answer."""
    for item in items:
        question, passages, said = bot.candidates(item.question, item.history)
        sentences, chosen = answerer.candidates(passages, said)
        features = answerer.judge.features(question, sentences, chosen, passages)
        question = len(rows.kind)
        rows.kind.append(kind if item.answerable else "unanswerable")
        rows.question_origin.append(origin)
        rows.group.append(f"{origin}:{documents[item.id]}")
        for i, row in zip(chosen, features):
            rows.x.append(list(row))
            rows.y.append(int(kind == "answerable" and item.answerable
                              and _answers(sentences[i].text, passages[sentences[i].passage].source, item)))
            rows.question.append(question)
            rows.origin.append(origin)


def _answers(sentence: str, source: str, item: Item) -> bool:
    text = " ".join(sentence.lower().split())
    gold = [e for e in item.evidence if Path(e.source).name == Path(source).name]
    return bool(gold) and (any(a.lower() in text for a in item.answers)
                           or any(" ".join(e.quote.lower().split()) in text for e in gold if e.quote))


# Each signal may only push one way (more coverage never makes an answer less likely): the fitted weights stay
# readable and cannot learn artefacts of the dev data, such as generated false claims being near-copies.
ANSWER_SIGNS = {"cosine": 1, "cosine_gap": 1, "coverage": 1, "context_coverage": 1, "slot_found": 1, "slot_missing": -1,
                "new_content": 0, "names_found": 1, "key_term_missing": -1, "unknown_terms": -1,
                "focus_missing": -1, "numbers_found": 1, "reader": 1}
SUPPORT_SIGNS = {"cosine": 1, "coverage": 1, "key_term_missing": -1, "numbers_missing": -1, "names_missing": -1,
                 "polarity_differs": -1, "antonym": -1, "swapped": -1, "reader": 1}
REFUSAL_SIGNS = {"answer": 1, **ANSWER_SIGNS, "slot_nowhere": -1}


def _bounds(names: tuple[str, ...], signs: dict[str, int], used: tuple[str, ...] | None = None) -> list[tuple]:
    """Each weight's sign bound; a signal outside `used` stays at 0."""
    return [{1: (0, None), -1: (None, 0), 0: (None, None)}[signs[n]] if used is None or n in used else (0, 0)
            for n in names]


def fit(x: ArrayLike, y: ArrayLike, names: tuple[str, ...], signs: dict[str, int],
        weights: ArrayLike | None = None, c: float = 1.0, used: tuple[str, ...] | None = None) -> Logistic:
    """L2 logistic regression on standardised features with sign bounds, classes balanced, folded back to raw weights.

    scipy's bounded L-BFGS rather than scikit-learn, whose LogisticRegression cannot bound a coefficient's sign."""
    from scipy.optimize import minimize

    x_arr, y_arr = np.array(x, float), np.array(y, float)
    mean, scale = x_arr.mean(0), x_arr.std(0)
    scale = np.where(scale > 0, scale, 1.0)
    z_x = (x_arr - mean) / scale
    w = np.ones(len(y_arr)) if weights is None else np.array(weights, float)
    # classes weigh the same
    w = w * np.where(y_arr == 1, 0.5 / w[y_arr == 1].sum(), 0.5 / w[y_arr == 0].sum()) * len(y_arr)

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        z = z_x @ theta[:-1] + theta[-1]
        p = sigmoid(z)
        value = np.sum(w * (np.logaddexp(0.0, z) - y_arr * z)) + 0.5 * theta[:-1] @ theta[:-1] / c
        grad = np.append(z_x.T @ (w * (p - y_arr)) + theta[:-1] / c, np.sum(w * (p - y_arr)))
        return value, grad

    bounds = _bounds(names, signs, used) + [(None, None)]
    theta = minimize(loss, np.zeros(len(names) + 1), jac=True, method="L-BFGS-B", bounds=bounds).x
    weights_raw = theta[:-1] / scale
    bias = float(theta[-1] - np.sum(theta[:-1] * mean / scale))
    return Logistic(names, tuple(round(float(v), 6) for v in weights_raw), round(bias, 6), 0.5)


def fit_ranking(x: ArrayLike, y: ArrayLike, group: ArrayLike, names: tuple[str, ...], signs: dict[str, int],
                group_weights: dict[int, float], c: float = 1.0) -> Logistic:
    """Sign-bounded listwise (softmax per question) fit of which candidate answers, then scaled to a probability.

    It learns to put an answering sentence first among its own question's candidates, which a pooled fit over all
    candidates does not ask: most of its signal separates one question's passages from another's."""
    from scipy.optimize import minimize

    x_arr, y_arr, g_arr = np.array(x, float), np.array(y, bool), np.array(group)
    mean, scale = x_arr.mean(0), x_arr.std(0)
    scale = np.where(scale > 0, scale, 1.0)
    z_x = (x_arr - mean) / scale
    keep = np.isin(g_arr, np.unique(g_arr[y_arr]))  # questions with an answering candidate
    z_x, y_k, g_k = z_x[keep], y_arr[keep], np.unique(g_arr[keep], return_inverse=True)[1]
    n = g_k.max() + 1
    gw = np.zeros(n)
    for original, index in zip(g_arr[keep], g_k):
        gw[index] = group_weights[original]
    gw *= n / gw.sum()

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        z = z_x @ theta
        top = np.full(n, -np.inf)
        np.maximum.at(top, g_k, z)
        e = np.exp(z - top[g_k])
        every, answering = np.bincount(g_k, e, n), np.bincount(g_k, e * y_k, n)
        value = np.sum(gw * (np.log(every) - np.log(answering))) + 0.5 * theta @ theta / c
        grad_z = gw[g_k] * (e / every[g_k] - y_k * e / answering[g_k])
        return value, z_x.T @ grad_z + theta / c

    theta = minimize(loss, np.zeros(len(names)), jac=True, method="L-BFGS-B", bounds=_bounds(names, signs)).x
    raw = theta / scale
    score = (x_arr @ raw)[:, None]
    platt = fit(score.tolist(), list(map(int, y_arr)), ("score",), {"score": 1},
                [group_weights[g] for g in g_arr])
    return Logistic(names, tuple(round(float(platt.weights[0] * v), 6) for v in raw), platt.bias, 0.5)


def multidoc_dev() -> list[Item]:
    """The multi-document set's dev half, when the set exists."""
    return load_dataset("multidoc", split="dev").items if MULTIDOC.is_file() else []


def answer_rows(settings: Settings, dataset: str) -> Rows:
    squad = load_dataset(dataset, format="squad")
    rows = Rows([], [], [], [], [], [], [])
    # Unanswerable SQuAD questions name no evidence: their article comes from the file itself.
    articles = {qa["id"]: article["title"] for article in json.loads(Path(dataset).read_text(encoding="utf-8"))["data"]
                for paragraph in article["paragraphs"] for qa in paragraph["qas"]}
    by_article: dict[str, list[Path]] = {}
    for path in sorted(squad.corpus[0].iterdir()):
        by_article.setdefault(path.name.rsplit("-", 1)[0], []).append(path)
    with tempfile.TemporaryDirectory() as tmp:
        def bot_on(name: str, paths: list[Path]) -> Assistant:
            s = Settings.model_validate({**settings.model_dump(), "data_dir": Path(tmp) / name, "chroma_url": None,
                                         "collection": f"calibrate-{name}"})
            ingest_paths(paths, s, progress=False)
            return Assistant(s)

        everything = bot_on("all", [squad.corpus[0]])
        answerer = everything.answerer()
        candidate_rows(everything, answerer, squad.items, "answerable", rows, "squad", articles)
        for article, paths in by_article.items():
            alone = bot_on(article.lower(), paths)
            others = [i for i in squad.items if i.answerable and i.evidence[0].source.rsplit("-", 1)[0] != article]
            candidate_rows(alone, alone.answerer(), others, "out-of-collection", rows, "squad", articles)
        multidoc = multidoc_dev()
        if multidoc:
            files = {i.id: i.id.split("-")[0] for i in multidoc}  # ids name their document: "manual-fact-01"
            bot = bot_on("multidoc", [BUNDLED / "multidoc"])
            candidate_rows(bot, bot.answerer(), multidoc, "answerable", rows, "multidoc", files)
            # Out-of-collection questions among neighbours: the documents split in two halves (the changelog apart
            # from the support thread about the same app), each half's answerable questions asked of the other.
            documents = sorted((BUNDLED / "multidoc").iterdir())
            for name, half, other in (("a", documents[0::2], documents[1::2]), ("b", documents[1::2], documents[0::2])):
                names = {p.name for p in other}
                away = [i for i in multidoc if i.answerable and {Path(e.source).name for e in i.evidence} <= names]
                alone = bot_on(f"multidoc-{name}", half)
                candidate_rows(alone, alone.answerer(), away, "out-of-collection", rows, "multidoc", files)
    print(f"answer judge: {len(rows.kind)} questions ({sum(k == 'answerable' for k in rows.kind)} answerable, "
          f"{len(multidoc)} from the multidoc dev half), {len(rows.y)} candidate sentences, {sum(rows.y)} answering")
    return rows


# The reader reads claims, not answers. In the answer judge it ranked a little better (dev out-of-fold 0.699 against
# 0.691) but refused fewer unanswerable questions (on dev and on the multidoc test half), gained nothing on the fresh
# sets, and tripled the answer's p50; on claims it accepted 15 points more paraphrased true claims for 1.4 points of
# false claims caught (docs/evaluation-reader.md). So the answer and refusal models are fitted without it.
READER_READS_ANSWERS = False

# Tried by grouped cross-validation on dev, fixed before looking at any figure: L2 strengths, and the refusal
# signals from the answer probability alone to all of them (ties keep the simpler: smaller C, fewer signals).
C_GRID = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0)
REFUSAL_SETS = {"answer": ("answer",), "core": ("answer", "cosine", "coverage", "slot_nowhere", "reader"),
                "all": REFUSAL_FEATURES}


def origin_weights(origins: list[str]) -> np.ndarray:
    """Each question set weighs the same: the multidoc dev half (near-misses, paraphrases, instructions) counts as
    much as SQuAD, whose questions copy their paragraph's words."""
    counts = {o: origins.count(o) for o in set(origins)}
    return np.array([1.0 / counts[o] for o in origins])


def out_of_fold(groups: np.ndarray, fit_predict: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> np.ndarray:
    """Leave one document out: each document's predictions come from `fit_predict(train, held)` fitted without it."""
    predictions = np.zeros(len(groups))
    for name in np.unique(groups):
        held = groups == name
        predictions[held] = fit_predict(~held, held)
    return predictions


def threshold_for(p: np.ndarray, weights: np.ndarray, max_share: float) -> float:
    """The probability under which at most `max_share` (weighted) of these positives fall."""
    order = np.argsort(p)
    share = np.cumsum(weights[order]) / weights.sum()
    return float(p[order][np.searchsorted(share, max_share)])


@dataclass(frozen=True)
class Questions:
    """One refusal row per question: its signals, whether it is answerable, its weight, document and question set."""

    x: np.ndarray
    answerable: np.ndarray
    weight: np.ndarray
    group: np.ndarray
    origin: np.ndarray


@dataclass(frozen=True)
class Fold:
    """Out-of-fold refusal figures of one setting: its threshold, the largest share of answerable questions refused
    in any question set, and the (weighted) share of the other questions refused."""

    c: float
    signals: tuple[str, ...]
    threshold: float
    answerable_refused: float
    others_refused: float
    p: np.ndarray = field(repr=False, compare=False)  # the out-of-fold refusal probabilities


def refusal_cv(questions: Questions, c: float, signals: tuple[str, ...], max_refused: float,
               names: tuple[str, ...] = REFUSAL_FEATURES, signs: dict[str, int] = REFUSAL_SIGNS) -> Fold:
    """The refusal model's out-of-fold threshold (at most `max_refused` answerable refused in every question set)
    and what it refuses."""
    q, yes = questions, questions.answerable

    def fit_predict(train: np.ndarray, held: np.ndarray) -> np.ndarray:
        model = fit(q.x[train], yes[train], names, signs, q.weight[train], c, signals)
        return model.probability(q.x[held])

    p = out_of_fold(q.group, fit_predict)
    sets = [yes & (q.origin == o) for o in np.unique(q.origin[yes])]
    threshold = min(threshold_for(p[mine], q.weight[mine], max_refused) for mine in sets)
    refused = p < threshold
    return Fold(c, signals, threshold, max(float(refused[mine].mean()) for mine in sets),
                float(np.sum(q.weight * refused * ~yes) / np.sum(q.weight * ~yes)), p)


def top_right(y: np.ndarray, question: np.ndarray, weights: np.ndarray, scores: np.ndarray) -> float:
    """Weighted share of the questions with an answering candidate whose best-scored candidate answers."""
    hit = {q: y[question == q][np.argmax(scores[question == q])] for q in np.unique(question[y])}
    return sum(weights[q] * h for q, h in hit.items()) / sum(weights[q] for q in hit)


def calibrate_judge(rows: Rows, max_refused: float) -> tuple[Logistic, Logistic]:
    """The answer and refusal models, their L2 strengths, refusal signals and threshold chosen out-of-fold on dev.

    The refusal model reads out-of-fold answer probabilities (each question's candidates scored by a ranking fitted
    without its document), as it will read the ranking's probabilities on unseen questions."""
    x, y, question = np.array(rows.x), np.array(rows.y, bool), np.array(rows.question)
    weights, groups = origin_weights(rows.question_origin), np.array(rows.group)[question]
    print(f"cross-validation on dev: {len(set(rows.group))} folds, each holding out one document "
          "(SQuAD article, multidoc file) with all its questions")

    def ranking(c: float) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
        def fit_predict(train: np.ndarray, held: np.ndarray) -> np.ndarray:
            model = fit_ranking(x[train], y[train], question[train], ANSWER_FEATURES, ANSWER_SIGNS,
                                dict(enumerate(weights)), c)
            return model.probability(x[held])
        return fit_predict

    scored = {}
    for c in C_GRID:
        scored[c] = out_of_fold(groups, ranking(c))
        print(f"  answer C={c:<5} best sentence answers (out-of-fold) {top_right(y, question, weights, scored[c]):.3f}")
    answer_c = max(C_GRID, key=lambda c: (top_right(y, question, weights, scored[c]), -c))
    answer = fit_ranking(x, y, question, ANSWER_FEATURES, ANSWER_SIGNS, dict(enumerate(weights)), answer_c)
    print(f"  in-sample with C={answer_c}: {top_right(y, question, weights, answer.probability(x)):.3f}")

    asked = [q for q in range(len(rows.kind)) if (question == q).any()]  # no candidates: refused anyway
    refusal_x = np.array([refusal_row(scored[answer_c][question == q], x[question == q],
                                      int(np.argmax(scored[answer_c][question == q]))) for q in asked])
    origins = [rows.question_origin[q] for q in asked]
    questions = Questions(refusal_x, np.array([rows.kind[q] == "answerable" for q in asked]), origin_weights(origins),
                          np.array([rows.group[q] for q in asked]), np.array(origins))
    folds = [refusal_cv(questions, c, signals, max_refused) for signals in REFUSAL_SETS.values() for c in C_GRID]
    named = {signals: name for name, signals in REFUSAL_SETS.items()}
    for f in folds:
        print(f"  refuse over {named[f.signals]:<6} C={f.c:<5} out-of-fold: answerable refused "
              f"{f.answerable_refused:.3f} (the worse question set), unanswerable and out-of-collection refused "
              f"{f.others_refused:.3f} (threshold {f.threshold:.4f})")
    best = max(folds, key=lambda f: f.others_refused)  # the first of equals: fewer signals, smaller C
    print(f"  chosen: answer C={answer_c}; refusal C={best.c} over {named[best.signals]} "
          f"({', '.join(best.signals)}), threshold {best.threshold:.4f} (out-of-fold)")
    refuse = fit(refusal_x, questions.answerable, REFUSAL_FEATURES, REFUSAL_SIGNS, questions.weight, best.c,
                 best.signals)
    p = refuse.probability(refusal_x)
    kinds = np.array([rows.kind[q] for q in asked])
    for o in sorted(set(origins)):
        for kind in ("answerable", "unanswerable", "out-of-collection"):
            mask = (questions.origin == o) & (kinds == kind)
            if mask.any():
                print(f"  {o:<9} {kind:<18} refused out-of-fold {np.mean(best.p[mask] < best.threshold):.3f}, "
                      f"in-sample {np.mean(p[mask] < best.threshold):.3f} (n={mask.sum()})")
    return answer, Logistic(refuse.features, refuse.weights, refuse.bias, best.threshold)


def support_model(settings: Settings, max_rejected: float) -> Logistic:
    x, y, weights = [], [], []
    for claims in claim_sets("dev"):
        verifier = verifier_for(claims, settings, model=load_models().support)
        found = [verifier.evidence(i.claim, passage_of(i.source, claims.documents[i.source])) for i in claims.items]
        kept = [(row[0], int(item.supported)) for item, row in zip(claims.items, found) if row is not None]
        x += [row for row, _ in kept]
        y += [label for _, label in kept]
        # Each claim set weighs the same: the few hand-written paraphrases count as much as the many generated
        # near-copies, so the verifier does not learn that a true claim always repeats its sentence word for word.
        weights += [1.0 / len(kept)] * len(kept)
        print(f"claims: {claims.name} dev, {len(claims.items)} claims ({sum(i.supported for i in claims.items)} true)")
    model = fit(x, y, SUPPORT_FEATURES, SUPPORT_SIGNS, weights)
    scores, labels, w = model.probability(np.array(x)), np.array(y, bool), np.array(weights)
    threshold = threshold_for(scores[labels], w[labels], max_rejected)
    print(f"  true claims accepted {np.mean(scores[labels] >= threshold):.3f} (sets weighted equally: "
          f"{np.sum(w[labels] * (scores[labels] >= threshold)) / w[labels].sum():.3f}), "
          f"false claims caught {np.mean(scores[~labels] < threshold):.3f}")
    return Logistic(model.features, model.weights, model.bias, round(threshold, 4))


def show(name: str, model: Logistic) -> None:
    print(f"{name}: threshold {model.threshold:.4f}, bias {model.bias:+.3f}")
    for feature, weight in zip(model.features, model.weights):
        print(f"  {feature:<18} {weight:+.3f}")


def refit(settings: Settings, dataset: str, max_refused: float, max_rejected: float, only: str | None = None) -> Models:
    """The three models fitted on dev; with `only` ("judge": answer and refusal, or "support") the others are kept
    from judge.json as they are."""
    kept = load_models()
    answer, refuse = kept.answer, kept.refuse
    if only in (None, "judge"):
        reads = settings.model_copy(update={"reader": settings.reader and READER_READS_ANSWERS})
        answer, refuse = calibrate_judge(answer_rows(reads, dataset), max_refused)
    support = support_model(settings, max_rejected) if only in (None, "support") else kept.support
    return Models(answer, refuse, support)


@dataclass(frozen=True)
class Calibration:
    """What one calibration run takes (the options of `assistant calibrate`)."""

    dataset: str = str(DEV_SQUAD)  # the SQuAD-format dev file
    split: str = "dev"  # only dev is accepted: test halves are for reporting
    max_refused: float = 0.05  # share of answerable dev questions the refusal threshold may refuse out-of-fold
    max_rejected: float = 0.10  # share of true dev claims the support threshold may reject, each claim set alike
    only: str | None = None  # "judge" (answer and refusal) or "support" (the claim verifier): refit only that
    dry_run: bool = False  # print the fitted models without writing them


def main(args: Calibration = Calibration()) -> None:
    refuse_non_dev(args.dataset, args.split)
    models = refit(Settings(), args.dataset, args.max_refused, args.max_rejected, args.only)
    show("answer judge (does this sentence answer the question?)", models.answer)
    show("refusal (does the best sentence answer at all?)", models.refuse)
    show("verifier (does this passage support the claim?)", models.support)
    if not args.dry_run:
        models.save(MODEL_FILE)
        print(f"wrote {MODEL_FILE}")

