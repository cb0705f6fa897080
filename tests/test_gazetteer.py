"""The gazetteer: names of the offline articles found in text, and the filters that keep
common words and parts of longer names out; then its merge with spaCy's entities."""

from __future__ import annotations

from functools import lru_cache

import pytest

from knowledge.gazetteer import Token, gazetteer
from knowledge.wiki_offline import load_articles
from tools.entities import Entity, merge, spacy_entities


def tokens(text: str) -> list[Token]:
    """spaCy's English tokenizer alone: the same token boundaries the pipeline gives."""
    return [Token(t.idx, t.idx + len(t.text)) for t in _tokenizer()(text)]


@lru_cache(maxsize=1)
def _tokenizer():
    import spacy

    return spacy.blank("en")


def found(text: str) -> dict[str, str]:
    """Span text -> the best candidate's title."""
    return {m.text: m.candidates[0].article.title for m in gazetteer().find(text, tokens(text))}


@pytest.mark.parametrize(
    ("text", "span", "title"),
    [
        ("The Beatles formed in Liverpool.", "The Beatles", "The Beatles"),
        ("He loved the Beatles.", "Beatles", "The Beatles"),  # lowercase "the" left out
        ("Ludwig van Beethoven moved.", "Ludwig van Beethoven", "Ludwig van Beethoven"),
        ("It hangs in the Louvre.", "Louvre", "Louvre"),
        ("Simon Bolivar was born there.", "Simon Bolivar", "Simón Bolívar"),  # accents
        ("They read Darwin's notes.", "Darwin", "Charles Darwin"),  # possessive
        ("We flew to Washington, D.C. today.", "Washington, D.C.", "Washington, D.C."),
        ("The Eiffel Tower is tall.", "Eiffel Tower", "Eiffel Tower"),  # "The" not in title
    ],
)
def test_known_names_are_found_as_written(text, span, title):
    assert found(text).get(span) == title


@pytest.mark.parametrize(
    ("text", "not_found"),
    [
        ("Music is what he loved.", "Music"),  # an article of no entity kind
        ("May I come in?", "May"),  # a stop word
        ("Bell rang at noon.", "Bell"),  # sentence-initial word the articles write lowercase
        ("He worked at Sun Microsystems.", "Sun"),  # part of a longer capitalised name
        ("She met Paris Hilton.", "Paris"),
        ("The Battle of Waterloo ended it.", "Battle"),  # joined by "of" to a name
        ("He baked an apple pie.", "apple"),  # not capitalised
    ],
)
def test_common_words_and_parts_of_longer_names_are_not_names(text, not_found):
    assert not_found not in found(text)


def test_longest_name_wins_at_a_token():
    assert "Amazon River" in found("The Amazon River floods.")
    assert "Amazon" not in found("The Amazon River floods.")


def test_match_label_is_the_articles_main_kind():
    (match,) = gazetteer().find("Genghis Khan rode.", tokens("Genghis Khan rode."))
    assert match.label == "person"  # "Khan of the Mongol Empire": a person, not the empire
    assert {"person", "gpe"} <= match.kinds


def test_primary_kind_is_the_descriptions_head_noun():
    articles = load_articles()
    assert articles["Guernica (Picasso)"].primary_kind == "work_of_art"  # "anti-war painting"
    assert articles["Louvre"].primary_kind == "fac"
    assert articles["Simón Bolívar"].primary_kind == "person"


# --- merge with the statistical model ------------------------------------------------------


def test_merge_relabels_what_the_model_contradicts_and_keeps_what_it_agrees_with():
    text = "Ludwig van Beethoven saw Amazon in the Louvre."
    model = [
        Entity("Ludwig van Beethoven", "org", 0, 20, "spaCy"),
        Entity("Amazon", "org", 25, 31, "spaCy"),
        Entity("Louvre", "person", 39, 45, "spaCy"),
    ]
    merged = {e.text: e for e in merge(text, model, gazetteer().find(text, tokens(text)))}
    assert merged["Ludwig van Beethoven"].label == "person"
    assert merged["Louvre"].label == "fac"
    assert "spaCy said person" in merged["Louvre"].found_by
    assert merged["Amazon"].label == "org"  # some "Amazon" article is an organisation
    assert merged["Amazon"].found_by == "spaCy and the knowledge base"


def test_merge_longest_span_wins_either_way():
    text = "Genghis Khan studied at the University of Paris."
    model = [
        Entity("Khan", "person", 8, 12, "spaCy"),
        Entity("University of Paris", "org", 28, 47, "spaCy"),
    ]
    merged = merge(text, model, gazetteer().find(text, tokens(text)))
    assert [(e.text, e.label) for e in merged] == [
        ("Genghis Khan", "person"),
        ("University of Paris", "org"),
    ]


def test_nationality_stays_unless_the_language_is_used_as_a_noun():
    army = "The French army marched."
    norp = [Entity("French", "norp", 4, 10, "spaCy")]
    assert merge(army, norp, gazetteer().find(army, tokens(army))) == norp
    spoken = "French is spoken here."
    norp = [Entity("French", "norp", 0, 6, "spaCy")]
    (entity,) = merge(spoken, norp, gazetteer().find(spoken, tokens(spoken)))
    assert entity.label == "language"


def test_spacy_mode_finds_what_the_small_model_misses():
    entities = spacy_entities("The Beatles were an English rock band formed in Liverpool.")
    beatles = next(e for e in entities.entities if e.text == "The Beatles")
    assert (beatles.label, beatles.found_by) == ("org", "knowledge base")
    assert all(e.label != "norp" for e in entities.entities)
