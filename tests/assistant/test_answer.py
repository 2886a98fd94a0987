"""assistant.answer: reading an LLM draft into claims, sentence by sentence, with the passages each one cites."""

from assistant.answer import REFUSAL, Claim, parse_claims

# -- citation parsing (no server) -------------------------------------------------------------------------------

def test_parse_claims_reads_markers_per_sentence():
    claims = parse_claims("Witkoff met Putin in Moscow [1]. He called the talks positive [2].", 2)
    assert claims == (Claim("Witkoff met Putin in Moscow.", (0,)), Claim("He called the talks positive.", (1,)))


def test_parse_claims_drops_markers_naming_no_passage():
    claims = parse_claims("Witkoff met Putin [9]. Zelensky opposes concessions [0]. The talks went on [2].", 2)
    assert claims == (Claim("Witkoff met Putin.", ()), Claim("Zelensky opposes concessions.", ()),
                      Claim("The talks went on.", (1,)))


def test_parse_claims_sentence_without_marker_has_no_citation():
    assert parse_claims("No marker here. Nor here!", 3) == (Claim("No marker here.", ()), Claim("Nor here!", ()))


def test_parse_claims_several_and_repeated_markers():
    claims = parse_claims("Both say so [1][2]. Said twice [2] [2]. The U.S. agreed [3].", 3)
    assert claims == (Claim("Both say so.", (0, 1)), Claim("Said twice.", (1,)), Claim("The U.S. agreed.", (2,)))


def test_parse_claims_ignores_marker_only_fragments_and_refusal_text():
    assert parse_claims("[1]", 2) == ()
    assert parse_claims("", 2) == ()
    assert parse_claims(REFUSAL, 2) == (Claim(REFUSAL, ()),)


def test_parse_claims_marker_after_the_full_stop_belongs_to_the_sentence_before():
    claims = parse_claims("Witkoff met Putin in Moscow. [1] Zelensky opposes concessions. [2]", 2)
    assert claims == (Claim("Witkoff met Putin in Moscow.", (0,)), Claim("Zelensky opposes concessions.", (1,)))


def test_parse_claims_comma_separated_markers():
    assert parse_claims("Witkoff met Putin in Moscow [1, 2].", 2) == (Claim("Witkoff met Putin in Moscow.", (0, 1)),)
