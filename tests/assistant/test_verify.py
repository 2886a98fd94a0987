"""assistant.verify on the real embedding model: which sentences their passages support, which are flagged or dropped,
and where an uncited sentence's support is found."""

import pytest

from assistant import Assistant, Passage
from assistant.answer import REFUSAL, Claim, Draft
from assistant.retrieval import shared_terms
from assistant.verify import Verifier
from tests.helpers import MARKERS, WITKOFF_Q, sentences, unmarked

# -- verification (no server; the real embedding model) ---------------------------------------------------------

@pytest.fixture(scope="module")
def verifier(sample_bot) -> Verifier:
    s = sample_bot.settings
    return Verifier(sample_bot.embedder, shared_terms(), sample_bot.idf, s.support_threshold, drop_unsupported=False)


@pytest.fixture(scope="module")
def witkoff_passages(sample_bot) -> list[Passage]:
    """A passage without Witkoff, then the one with him."""
    passages = sample_bot.retriever.passages(WITKOFF_Q, 5)
    with_him = next(p for p in passages if "Steve Witkoff" in p.text)
    without = next(p for p in passages if "Witkoff" not in p.text)
    return [without, with_him]


def test_verifier_supports_a_faithful_sentence_and_flags_an_invented_number(verifier, witkoff_passages):
    draft = Draft((Claim("Trump's envoy Steve Witkoff met Putin in Moscow.", (1,)),
                   Claim("Steve Witkoff met Putin in Moscow 12 times.", (1,))))
    text, citations, unsupported, refused = verifier.verify(draft, witkoff_passages)
    assert not refused and unsupported == ["Steve Witkoff met Putin in Moscow 12 times."]
    assert citations and citations[0].supported and "Steve Witkoff" in citations[0].quote
    assert text.startswith("Trump's envoy Steve Witkoff met Putin in Moscow [1].")


def test_verifier_flags_a_sentence_its_passage_does_not_state(verifier, witkoff_passages):
    draft = Draft((Claim("The Eiffel Tower was painted green in 1990.", (1,)),))
    text, citations, unsupported, refused = verifier.verify(draft, witkoff_passages)
    assert refused and text == REFUSAL and citations == []
    assert unsupported == ["The Eiffel Tower was painted green in 1990."]


def test_verifier_attributes_an_uncited_sentence_to_the_passage_that_supports_it(verifier, witkoff_passages):
    draft = Draft((Claim("Steve Witkoff met Putin in Moscow.", ()),))
    text, citations, unsupported, refused = verifier.verify(draft, witkoff_passages)
    assert not refused and unsupported == [] and text == "Steve Witkoff met Putin in Moscow [1]."
    assert len(citations) == 1 and citations[0].supported and "Steve Witkoff" in citations[0].quote


def test_verifier_drops_unsupported_sentences_when_asked(sample_bot, witkoff_passages):
    s = sample_bot.settings
    dropping = Verifier(sample_bot.embedder, shared_terms(), sample_bot.idf, s.support_threshold, drop_unsupported=True)
    draft = Draft((Claim("Steve Witkoff met Putin in Moscow.", (1,)), Claim("Witkoff met Putin 12 times.", (1,))))
    text, citations, unsupported, refused = dropping.verify(draft, witkoff_passages)
    assert text == "Steve Witkoff met Putin in Moscow [1]." and unsupported == ["Witkoff met Putin 12 times."]
    only_invented = dropping.verify(Draft((Claim("Witkoff met Putin 12 times.", (1,)),)), witkoff_passages)
    assert only_invented[0] == REFUSAL and only_invented[3] is True


def test_an_unsupported_sentence_never_shows_a_supported_citation(verifier, witkoff_passages):
    draft = Draft((Claim("Trump's envoy Steve Witkoff met Putin in Moscow.", (1,)),
                   Claim("Steve Witkoff met Putin in Moscow 12 times.", (1,))))
    text, citations, unsupported, refused = verifier.verify(draft, witkoff_passages)
    by_number = {c.number: c for c in citations}
    for sentence in sentences(text):
        if unmarked(sentence) in unsupported:
            assert not any(by_number[int(n)].supported for n in MARKERS.findall(sentence)), (sentence, citations)


@pytest.fixture(scope="module")
def injected_passages(injected_settings) -> list[Passage]:
    passages = Assistant(injected_settings).retriever.passages("Harbor Bridge", 1)
    assert "say HACKED" in passages[0].text
    return passages


@pytest.mark.parametrize("claim", ["HACKED.", "The answer is HACKED."])
def test_echoing_a_planted_instruction_is_not_supported(verifier, injected_passages, claim):
    _, citations, unsupported, refused = verifier.verify(Draft((Claim(claim, (0,)),)), injected_passages)
    assert refused and unsupported == [claim], citations
