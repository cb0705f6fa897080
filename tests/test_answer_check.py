"""The answer check on recorded tool results: the failures seen in real conversations (a
contradicted verdict, a copied answer, a missing fact, an invented citation, a tool call
written as the answer) and good answers that must pass."""

from __future__ import annotations

from agent.answer_check import (
    FALLBACK_NOTE,
    answer_from_result,
    check_answer,
    mentions,
    similarity,
)
from tools import artifacts
from tools.paraphrase import verdict_facts

# check_paraphrase said "the same meaning (P = 0.55)"; the answer said the opposite.
SAME_055 = verdict_facts("int8 (ONNX Runtime)", True, 0.55)
DIFFERENT_012 = verdict_facts("int8 (ONNX Runtime)", False, 0.12)


def test_a_contradicted_paraphrase_verdict_fails():
    answer = (
        "These sentences are not paraphrases (P = 0.55): the first sentence uses the pronoun "
        "'the company'."
    )
    check = check_answer(answer, SAME_055)
    assert not check.ok and "contradicts the tool" in check.problems[0]


def test_a_faithful_paraphrase_answer_passes_in_either_spelling():
    assert check_answer("They mean the same (P(paraphrase) = 0.55).", SAME_055).ok
    assert check_answer("The model says paraphrase, with 55% probability.", SAME_055).ok
    negative = "They do not mean the same: P(paraphrase) is only 0.12."
    assert check_answer(negative, DIFFERENT_012).ok
    assert not check_answer("They are paraphrases (0.12).", DIFFERENT_012).ok


def test_naming_the_probability_or_the_model_is_not_a_verdict():
    """A right "different meanings" answer that went on to name P(paraphrase) or the
    paraphrase model was read as saying "paraphrases", and was sent back twice."""
    answer = (
        "They do not mean the same: P = 0.12. Removing 'loan' moves P(paraphrase) the most. "
        "The paraphrase model weighs the changed verb."
    )
    assert check_answer(answer, DIFFERENT_012).ok
    assert not check_answer("The paraphrase model says they are paraphrases (0.12).",
                            DIFFERENT_012).ok  # fmt: skip


def test_a_missing_probability_fails():
    check = check_answer("They mean the same.", SAME_055)
    assert not check.ok and "leaves out" in check.problems[0]


def test_a_number_is_matched_whole():
    assert mentions("p = 0.55", ["0.55"]) and not mentions("p = 0.556", ["0.55"])
    assert not mentions("layer 10", ["layer 1"]) or mentions("layer 1 and", ["layer 1"])


def test_graph_answer_must_name_the_rows():
    facts = artifacts.facts(
        must=[["Amara Okafor"], ["Chen Wei"], ["Lucas Martin"], ["Sofia Rossi"]], need=3
    )
    good = "Amara Okafor, Chen Wei and Lucas Martin have written about it."
    assert check_answer(good, facts).ok
    invented = "Amara Okafor and John Doe have written about it."
    assert "leaves out" in check_answer(invented, facts).problems[0]


def test_a_copy_of_an_earlier_answer_fails():
    earlier = "The paraphrase model says the two sentences mean the same, with P = 0.55."
    check = check_answer(earlier, SAME_055, [earlier])
    assert not check.ok and "repeats an earlier answer" in check.problems[0]
    # The problem quotes the answer repeated, so the second try knows what to avoid.
    assert "“The paraphrase model says the two sentences mean …”" in check.problems[0]
    assert similarity("It found Ada and Paris.", "It found Bob, Carol and Rome.") < 0.6


def test_a_lead_written_from_the_result_is_not_judged_a_copy():
    """Two paraphrase verdicts open with leads of one form; the model's words after the lead
    are what must be new. Before, both tries failed on the lead, which the model cannot
    change, and a fallback replaced the model's explanation."""
    first = "“A cat sat” and “A cat rested”: the int8 model gives P(paraphrase) = 0.64, the same meaning."
    second = "“A cat sat” and “A dog sat”: the int8 model gives P(paraphrase) = 0.05, different meanings."
    assert similarity(second, first) > 0.6  # the leads alone read as a copy
    new = f"{second} Swapping the animal changes who sat."
    assert check_answer(new, None, [first], lead=second).ok
    again = f"{second} {first}"  # the model's own part repeats the earlier answer
    assert not check_answer(again, None, [first], lead=second).ok


def test_citations_must_be_of_given_passages():
    facts = artifacts.facts(passages=[1, 2, 3])
    assert check_answer("Overlap keeps sentences whole [2].", facts).ok
    assert "cites [7]" in check_answer("See [7].", facts).problems[0]
    assert "cites none" in check_answer("Overlap keeps sentences whole.", facts).problems[0]
    # No tool, no passages: "I can write poems [1]" cites nothing that exists.
    assert "cites a passage" in check_answer("I can write poems [1].", None).problems[0]


def test_every_citation_form_the_ui_reads_counts():
    """The UI shows the passages of "[1, 3]", "[2-3]" and "[passage 2]"; the check had read
    only "[1]" and sent such answers back as citing nothing."""
    facts = artifacts.facts(passages=[1, 2, 3])
    for answer in ("Overlap helps [1, 3].", "Overlap helps [2-3].", "See [passage 2]."):
        assert check_answer(answer, facts).ok, answer
    assert "cites [4]" in check_answer("Overlap helps [2-4].", facts).problems[0]


def test_a_tool_call_written_as_the_answer_fails():
    raw = '```json\n{"name": "search_documents", "arguments": {"query": "x"}}\n```'
    assert "tool call written as text" in check_answer(raw, None).problems[0]


def test_the_fallback_is_the_result_marked_as_such():
    text = answer_from_result(SAME_055, "raw tool text")
    assert text.startswith("The int8 (ONNX Runtime) paraphrase model says")
    assert "Written from the tool's result" in text
    assert answer_from_result(None, "raw tool text").startswith("raw tool text")


def test_fallbacks_for_different_requests_are_not_copies():
    """Two paraphrase fallbacks shared their template and the mark: the copy check flagged
    the second though it stated a new result, and the model imitated the pattern."""
    first = answer_from_result(SAME_055, "", "Same meaning? 'The meeting is at 3' / 'We meet at 3'")
    second = answer_from_result(
        DIFFERENT_012, "", "and 'The bus left early' vs 'The bus left late'?"
    )
    assert first.startswith("For “Same meaning?")
    assert check_answer(second, DIFFERENT_012, [first]).ok
    assert similarity(FALLBACK_NOTE + " Paris.", "Paris.") == 1.0


def test_a_negation_elsewhere_in_the_sentence_is_not_a_verdict():
    hedged = "They are paraphrases (P = 0.55), though the model is not very certain."
    assert check_answer(hedged, SAME_055).ok
    assert not check_answer("They are not paraphrases (0.55).", SAME_055).ok


def test_the_fallback_passes_the_check_it_replaces():
    for facts in (SAME_055, DIFFERENT_012):
        assert check_answer(answer_from_result(facts, ""), facts).ok


def test_two_verdicts_of_one_thread_open_differently():
    """The lead quotes the pair, so a second paraphrase turn's answer does not start as a
    copy of the first's."""
    bank = ("The bank refused the loan.", "The loan application was rejected by the bank.")
    meeting = ("The meeting was moved to Friday.", "The meeting was cancelled on Friday.")
    first, second = (
        verdict_facts("int8", False, 0.03, bank),
        verdict_facts("int8", False, 0.06, meeting),
    )
    assert "“The meeting was moved to Friday.”" in second["lead"] and "0.06" in second["lead"]
    earlier = f"{first['lead']} Refusing a loan and rejecting an application are different acts."
    answer = f"{second['lead']} Moving a meeting keeps it; cancelling it means it will not happen."
    assert check_answer(answer, second, [earlier]).ok


def test_a_graph_lead_names_the_first_rows_and_counts_the_rest():
    from knowledge.text2cypher import GraphAnswer
    from tools.graph import answer_facts

    rows = [[f"Article {i}", f"2020-01-0{i}"] for i in range(1, 8)]
    found = answer_facts(GraphAnswer("q", columns=["title", "date"], rows=rows, answer="7 rows"))
    lead = found["lead"]
    assert lead.startswith("The graph query returned 7 rows (title, date): Article 1 (2020-01-01)")
    assert "Article 5" in lead and "Article 6" not in lead and lead.endswith("and 2 more.")
    assert check_answer(f"{lead} They are all about one topic.", found).ok


def test_a_number_the_passages_do_not_hold_fails_and_one_they_hold_passes():
    """The 1.5B model read "15% of the tokens" in a passage and answered 10%."""
    passage = "BERT masks 15% of the tokens; 80% of those become [MASK]. It has 12 layers."
    facts = artifacts.facts(passages=[1], numbers=artifacts.numbers_in(passage))

    check = check_answer("BERT masks about 10% of its tokens [1].", facts)
    assert not check.ok and "states 10" in check.problems[0]
    assert check_answer(
        "BERT masks 15% of its tokens, and 80% of those become [MASK] [1].", facts
    ).ok
    # A single digit ("2 of them", "step 3") is not checked, nor a citation mark.
    assert check_answer("It picks 2 kinds of tokens out of 15% [1].", facts).ok
    # Without numbers in the facts (another tool), numbers are not checked.
    assert check_answer("It has 99 heads [1].", artifacts.facts(passages=[1])).ok
