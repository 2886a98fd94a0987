"""evals.claims: generated and hand-written claims for the verifier, and a report that must come out low for a verifier
that accepts everything."""

import pytest

from assistant import Settings
from assistant.verify import Verdict


def test_generated_claims_are_deterministic_and_cover_every_perturbation():
    from evals.claims import DEV_SQUAD, generated_claims

    first, again = generated_claims(DEV_SQUAD, "dev", 3), generated_claims(DEV_SQUAD, "dev", 3)
    assert first.items == again.items
    kinds = {item.type for item in generated_claims(DEV_SQUAD, "dev").items}
    assert kinds >= {"original", "negation", "number_absent", "number_other", "number_substring", "word_number",
                     "entity_other", "entity_swap", "antonym", "invented_clause", "unrelated"}
    for item in first.items:
        assert item.evidence in first.documents[item.source] and (item.evidence or item.type == "unrelated")
        assert item.supported == (item.type in {"original", "subclause", "reordered"})


def test_hand_written_claims_quote_their_documents():
    from evals.claims import DOCUMENTS, HAND_WRITTEN, hand_written_claims

    if not DOCUMENTS.is_dir():
        pytest.skip("the multi-document set is not in this checkout")
    items = [c for split in ("dev", "test") for c in [hand_written_claims(split)]]
    claims = [item for s in items for item in s.items]
    assert len(claims) >= 60 and {c.split for c in claims} == {"dev", "test"}
    assert sum(c.supported for c in claims) >= 20 and any(c.type == "paraphrase" for c in claims)
    for s in items:
        for c in s.items:
            assert " ".join(c.evidence.split()) in " ".join(s.documents[c.source].split()), (HAND_WRITTEN, c.id)


def test_claims_report_catches_nothing_when_the_verifier_accepts_everything(monkeypatch):
    from assistant.verify import Verifier
    from evals import claims

    monkeypatch.setattr(Verifier, "check", lambda self, claim, passages: Verdict(True, 1.0, 0))
    monkeypatch.setattr(claims, "HAND_WRITTEN", claims.HAND_WRITTEN.with_name("missing.jsonl"))
    report = claims.run_claims(Settings(), "dev", paragraphs=2)
    assert report.false_caught == 0.0 and report.true_accepted == 1.0 and report.balanced_accuracy == 0.5
    assert all(t.correct == (1.0 if t.supported else 0.0) for t in report.by_type)


def paraphrase_problem(claim: str, evidence: str) -> str | None:
    """Why a claim is not an LLM-style restatement of its evidence: a number not in the evidence, or too few new
    words."""
    import re

    from tests.evals.test_multidoc_dataset import content_stems

    numbers = re.compile(r"\d+(?:[.,:]\d+)*")
    if extra := set(numbers.findall(claim)) - set(numbers.findall(evidence)):
        return f"numbers not in the evidence: {sorted(extra)}"
    if len(new := content_stems(claim) - content_stems(evidence)) < 2:
        return f"near-verbatim: only {sorted(new)} not in the evidence"
    return None


def test_llm_paraphrases_restate_their_evidence_in_other_words():
    """Every `llm_paraphrase` keeps its evidence's numbers and uses other words; the check catches a copy and a swap."""
    from evals.claims import HAND_WRITTEN, ClaimItem
    from evals.dataset import read_jsonl

    evidence = "The DH-25 removes up to 25 litres per day and has a 4.2-litre tank."
    assert paraphrase_problem("The DH-25 can take as much as 25 litres of moisture out of the air daily.",
                              evidence) is None
    assert "near-verbatim" in paraphrase_problem("The DH-25 removes up to 25 litres each day.", evidence)
    assert "numbers" in paraphrase_problem("The DH-25 can take as much as 20 litres of moisture out of the air daily.",
                                           evidence)
    claims = [item for _, item in read_jsonl(HAND_WRITTEN, ClaimItem)]
    ours = [c for c in claims if c.type == "llm_paraphrase"]
    assert len(ours) >= 40 and all(sum(c.split == s for c in ours) >= 18 for s in ("dev", "test"))
    for claim in ours:
        assert claim.supported and paraphrase_problem(claim.claim, claim.evidence) is None, (claim.id, claim.claim)
