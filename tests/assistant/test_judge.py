"""The answer judge's reading signals and its one refusal decision (issue 11, second pass).

Cases come from the multidoc dev half's failures: a price answered with a cleaning interval, a weight with a tank
size, a head count with a stretch of time, a clause number taken for an amount, a "who" answered with a weekday
or a building, and a museum's opening times that are seasons rather than dates.
"""

import numpy as np
import pytest

from assistant.answerability import asked_slot, holds_slot
from assistant.fitted import REFUSAL_FEATURES, Logistic, Models, load_models
from assistant.judge import AnswerJudge
from assistant.sentences import Sentence
from assistant.types import Passage


@pytest.mark.parametrize("question,sentence", [
    ("How much does a replacement air filter cost?", "Clean the air filter every 2 weeks."),
    ("How much does the Douro Valley tour cost?",
     "- 08:00: full-day tour of the Douro Valley with two vineyard visits."),
    ("How much does the DH-25 weigh?", "The DH-25 removes up to 25 litres per day and has a 4.2-litre tank."),
    ("How many volunteers cleared the Mill Lane site?", "Volunteers spent six months clearing rubble."),
    ("How many students passed the course?", "About 35% of the students passed."),
    ("How much council tax is payable for Flat 3?", "4.1 The Tenant is responsible for council tax and water."),
    ("Who is the instructor of ENVS 214?", "Tuesdays and Thursdays, 10:30-11:50, Hartley Building, Room 2.14"),
    ("Who founded the garden?", "The garden will open its second site on Saturday 17 May."),
    ("How many reactors does the plant have?", "One of the key points is the plant, held since the early days."),
    ("How many soldiers has Ukraine lost?", "The annexation led to Russia's expulsion from the G8."),
])
def test_a_number_or_name_of_the_wrong_kind_does_not_fill_the_slot(question, sentence):
    assert not holds_slot(asked_slot(question), sentence, question)


@pytest.mark.parametrize("question,sentence", [
    ("How much does a replacement air filter cost?", "A replacement filter costs £12."),
    ("How much does the DH-25 weigh?", "The DH-25 weighs 12.5 kg."),
    ("How many volunteers cleared the Mill Lane site?", "Forty volunteers cleared the site."),
    ("How many reactors does the plant have?", "The plant has six reactors."),
    ("How many soldiers are dying?", "Thousands of young soldiers are losing their lives every week."),
    ("How many years did the restoration take?", "The restoration took eleven years."),
    ("What percentage of students passed?", "About 35% of the students passed."),
    ("Who is the instructor of ENVS 214?", "Instructor: Dr. Naomi Fairweather, School of Geography."),
    ("When is the canal museum open?", "It is open at weekends from Easter to the end of September."),
])
def test_the_asked_for_kind_fills_the_slot(question, sentence):
    assert holds_slot(asked_slot(question), sentence, question)


class _Embedder:
    """Unit vectors from the sentence's position: similarity is not what these tests are about."""

    def sentence_vectors(self, texts: list[str]) -> np.ndarray:
        return np.ones((len(texts), 2)) / np.sqrt(2)

    def query_vector(self, text: str) -> np.ndarray:
        return np.ones(2) / np.sqrt(2)


def _judge(refuse: Logistic, threshold: float | None = None) -> AnswerJudge:
    models = load_models()
    return AnswerJudge(_Embedder(), lambda text: text.lower().split(), lambda term: 1.0,
                       Models(models.answer, refuse, models.support), threshold)


def test_the_refusal_is_one_fitted_decision_over_the_best_sentence():
    """The judge refuses by its own refusal model (features: the best sentence's probability and signals), not by a
    threshold on the sentence ranking's probability; a setting can override its threshold."""
    assert load_models().refuse.features == REFUSAL_FEATURES and "slot_nowhere" in REFUSAL_FEATURES
    passage = Passage(source="a.txt", title="a", text="The filter costs £12.", start=0, end=21, line_start=1,
                      line_end=1)
    sentences = [Sentence(0, 0, len(passage.text), passage.text)]
    question = "How much does the filter cost?"
    never = Logistic(REFUSAL_FEATURES, tuple([0.0] * len(REFUSAL_FEATURES)), -5.0, 0.5)
    always = Logistic(REFUSAL_FEATURES, tuple([0.0] * len(REFUSAL_FEATURES)), 5.0, 0.5)
    assert _judge(never).judge(question, sentences, [0], [passage]).refused
    judged = _judge(always).judge(question, sentences, [0], [passage])
    assert not judged.refused and judged.answerable > 0.99 and list(judged.order) == [0]
    assert _judge(always, threshold=1.0).judge(question, sentences, [0], [passage]).refused
    assert _judge(always).judge(question, sentences, [], [passage]).refused  # no candidate: nothing answers


def test_when_the_lead_lacks_what_was_asked_the_answer_goes_on_with_the_next_sentence_that_holds_it():
    from assistant.answer import ExtractiveAnswerer
    from assistant.retrieval import shared_terms

    text = ("Stand the unit upright on a flat, level floor. Wait at least 2 hours before switching it on if the unit "
            "has been transported lying down. This lets the refrigerant settle back into the compressor.")
    passage = Passage(source="manual.md", title="Manual", text=text, start=0, end=len(text), line_start=1, line_end=1)
    models = load_models()
    judge = AnswerJudge(_Embedder(), shared_terms(), lambda term: 1.0, models, 0.0)
    draft = ExtractiveAnswerer(judge, 2).draft(
        "Why should you wait before switching on a dehumidifier that was transported lying down?", [passage])
    assert [c.text for c in draft.claims][-1] == "This lets the refrigerant settle back into the compressor.", draft


@pytest.mark.parametrize("question,focus", [
    ("How much does the DH-25 weigh?", ["weigh"]),
    ("How many students can enrol in ENVS 214?", ["students"]),
    ("What colour is the rover?", ["colour"]),
    ("What is the population of Teller?", ["population"]),
    ("What is the name of the CNN journalist who interviewed Witkoff?", []),  # "name" is a kind of answer
    ("Who designed the beacon tower?", []),
])
def test_the_focus_of_a_question_is_the_word_naming_what_it_asks_about(question, focus):
    from assistant.answerability import focus_words

    assert focus_words(question) == focus


def test_a_sentence_whose_context_lacks_the_questions_focus_scores_lower():
    """Near-misses: "How many students can enrol?" against a sentence about the course's credits and rooms."""
    from assistant.fitted import ANSWER_FEATURES
    from assistant.retrieval import shared_terms
    from assistant.sentences import sentences_of

    text = "ENVS 214 is taught in the Hartley Building. It carries 3 credits. Up to 40 students can enrol."
    passage = Passage(source="s.md", title="Syllabus", text=text, start=0, end=len(text), line_start=1, line_end=1)
    sentences = sentences_of([passage])
    judge = AnswerJudge(_Embedder(), shared_terms(), lambda term: 1.0, load_models())
    rows = judge.features("How many students can enrol in ENVS 214?", sentences, [0, 2], [passage])
    focus = ANSWER_FEATURES.index("focus_missing")
    assert rows[0, focus] == 1.0 and rows[1, focus] == 0.0
    assert dict(zip(load_models().answer.features, load_models().answer.weights))["focus_missing"] < 0


def test_a_version_the_passage_never_names_is_another_entity():
    """'When will Ledgerly 4.4.0 be released?' against a thread about 4.2.3: its names match, its version does not."""
    from assistant.fitted import ANSWER_FEATURES
    from assistant.retrieval import shared_terms
    from assistant.sentences import sentences_of

    text = "We expect to release Ledgerly 4.2.3 in the week of 17 March."
    passage = Passage(source="t.txt", title="Thread", text=text, start=0, end=len(text), line_start=1, line_end=1)
    judge = AnswerJudge(_Embedder(), shared_terms(), lambda term: 1.0, load_models())
    features = dict(zip(ANSWER_FEATURES,
                        judge.features("When will Ledgerly 4.4.0 be released?", sentences_of([passage]),
                                                        [0], [passage])[0]))
    assert features["names_found"] == 1.0 and features["numbers_found"] == 0.0
    refusal = dict(zip(load_models().refuse.features, load_models().refuse.weights))
    assert refusal["numbers_found"] > 0
