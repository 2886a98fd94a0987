"""Grouped cross-validation of the calibration: a document's questions are never both fitted and held out."""

import numpy as np
import pytest

import evals.calibrate as calibrate
from evals.calibrate import Questions, out_of_fold, refusal_cv

GROUPS = 10  # documents; the first six hold answerable questions, the other four unanswerable ones
PER_GROUP = 20
NAMES = tuple(f"doc{g}" for g in range(GROUPS))


def questions(x: np.ndarray) -> Questions:
    group = np.repeat(np.arange(GROUPS), PER_GROUP)
    return Questions(x, group < 6, np.full(len(group), 1.0 / len(group)), np.array([f"d{g}" for g in group]),
                     np.full(len(group), "dev"))


def memorisable() -> Questions:
    """The only signal names the question's document: a model can learn it only for documents it was fitted on."""
    return questions(np.eye(GROUPS)[np.repeat(np.arange(GROUPS), PER_GROUP)])


def cv(q: Questions) -> calibrate.Fold:
    return refusal_cv(q, 1.0, NAMES, 0.05, NAMES, dict.fromkeys(NAMES, 0))


def test_out_of_fold_holds_out_one_whole_document_at_a_time():
    groups = np.repeat(np.array(["a", "b", "c"]), 4)
    seen = []

    def fit_predict(train: np.ndarray, held: np.ndarray) -> np.ndarray:
        seen.append(set(groups[held]))
        assert not set(groups[train]) & set(groups[held])
        assert (train | held).all()
        return np.full(held.sum(), len(seen), float)

    predictions = out_of_fold(groups, fit_predict)
    assert sorted(map(sorted, seen)) == [["a"], ["b"], ["c"]]
    assert len(set(predictions[groups == "a"])) == 1  # every question of a document predicted by one model


def test_the_threshold_chosen_out_of_fold_cannot_learn_a_held_out_document():
    # Leaking folds would learn each document and refuse every unanswerable question at no cost.
    assert cv(memorisable()).others_refused < 0.5


def test_a_leaking_split_would_fail_the_test_above(monkeypatch: pytest.MonkeyPatch):
    def leaking(groups: np.ndarray, fit_predict):  # alternate questions held out, documents ignored
        predictions, odd = np.zeros(len(groups)), np.arange(len(groups)) % 2 == 1
        for held in (odd, ~odd):
            predictions[held] = fit_predict(~held, held)
        return predictions

    monkeypatch.setattr(calibrate, "out_of_fold", leaking)
    assert cv(memorisable()).others_refused > 0.9


def test_a_signal_that_generalises_across_documents_is_kept_with_at_most_the_allowed_answerable_refused():
    rng = np.random.default_rng(0)
    q = memorisable()
    n = len(q.answerable)
    x = np.column_stack([q.answerable + rng.normal(0, 0.3, n), np.zeros((n, GROUPS - 1))])
    fold = cv(questions(x))
    assert fold.others_refused > 0.9
    assert fold.answerable_refused <= 0.05
