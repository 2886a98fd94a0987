"""assistant.condense: a follow-up made standalone from the history, deterministically; a standalone question stays."""

import pytest

from assistant.answer import REFUSAL
from assistant.condense import is_follow_up, judged_question, rewrite

HISTORY = [("Who kept the Varnholm light?",
            "Its lamp burned paraffin [1]. Ingrid Solberg became the keeper in 1931 [2].")]


def test_pronoun_rewrite_keeps_people_and_skips_sentence_initial_words():
    history = [("Who kept the Varnholm light?", "Its lamp burned paraffin. Ingrid Solberg became the keeper in 1931.")]
    standalone = rewrite("When did she leave?", history)
    assert "Ingrid Solberg" in standalone and "Its" not in standalone and "Varnholm" not in standalone.split("(")[1]


@pytest.mark.parametrize("question", ["Who designed the beacon tower on the skerry?",
                                      "When was the Varnholm light automated?"])
def test_a_standalone_question_is_left_as_asked(question):
    assert not is_follow_up(question)
    assert rewrite(question, HISTORY) == question


def test_without_history_nothing_is_added():
    assert rewrite("When did she leave?", []) == "When did she leave?"


def test_a_follow_up_borrows_the_last_answer_without_its_markers():
    standalone = rewrite("What did it burn?", HISTORY)
    assert standalone.startswith("What did it burn? (") and "paraffin" in standalone
    assert "[1]" not in standalone and "[2]" not in standalone


def test_what_about_takes_the_previous_question_and_the_judge_reads_the_users_words():
    standalone = rewrite("What about Crimea?", [("Does Russia want Ukraine to join NATO?", "It does not [1].")])
    assert standalone == "What about Crimea? (Does Russia want Ukraine to join NATO?)"
    assert judged_question("What about Crimea?", standalone) == "What about Crimea?"
    assert judged_question("When did she leave?", "When did she leave? (Ingrid Solberg)") == \
        "When did she leave? (Ingrid Solberg)"


def test_a_refusal_is_never_borrowed():
    standalone = rewrite("What about it?", [("What is the population of Kyiv?", REFUSAL)])
    assert REFUSAL not in standalone and "population of Kyiv" in standalone
