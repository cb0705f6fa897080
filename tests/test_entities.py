"""Entities: both recognizers, the offline matching rules, linking decisions, rendering,
the online path without a network, input limits, and the tool and CLI surfaces.

Linking uses a word-overlap similarity instead of MiniLM so these stay fast and exact; the
one test with the real embeddings is marked slow.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Sequence

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from core.errors import ToolInputError
from core.settings import Settings
from knowledge.wiki_offline import LINK_THRESHOLD, Article, article_text, offline_index
from tests.fakes import ScriptedChatModel
from tools import ToolContext
from tools.entities import (
    EXAMPLE_TEXT,
    Entity,
    Link,
    check_text,
    entity_artifact,
    find_entities,
    link_entities,
    link_markdown,
    llm_entities,
    locate,
    looks_english,
    make_tools,
    parse_llm_answer,
    spacy_entities,
    summary_text,
)

BEATLES = (
    "John Lennon and Paul McCartney formed The Beatles in Liverpool in 1960. "
    "Lennon wrote most of the early songs."
)


def overlap_similarity(context: str, articles: Sequence[Article]) -> list[float]:
    """Share of the context's words found in the article: deterministic stand-in for MiniLM."""
    words = set(re.findall(r"[a-z]+", context.lower()))
    return [
        len(words & set(re.findall(r"[a-z]+", article_text(a).lower()))) / max(1, len(words))
        for a in articles
    ]


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path)


def run(text: str, settings: Settings, **kwargs) -> object:
    return find_entities(text, settings, similarity=overlap_similarity, **kwargs)


def scripted(*answers: object) -> ScriptedChatModel:
    return ScriptedChatModel(script=list(answers), calls=[])


def both_shots(answer: object) -> ScriptedChatModel:
    """The same answer to the zero-shot and the one-shot prompt (LLM mode asks both)."""
    return scripted(answer, answer)


def links_by_text(result) -> dict[str, Link]:
    return {link.text: link for link in result.links}


# --- recognizers ------------------------------------------------------------------------------


def test_spacy_finds_people_places_dates_and_drops_unlisted_labels():
    found = spacy_entities("Marie Curie, a Polish chemist, moved to Paris in 1891.").entities
    labels = {(e.text, e.label) for e in found}
    assert ("Marie Curie", "person") in labels
    assert ("Paris", "gpe") in labels
    assert ("1891", "date") in labels
    assert all(e.label != "norp" for e in found)  # "Polish" is NORP, not one of the 15
    assert all(
        e.text == "Marie Curie, a Polish chemist, moved to Paris in 1891."[e.start : e.end]
        for e in found
    )


def test_llm_valid_answer_gives_every_occurrence_with_offsets():
    answer = json.dumps(
        {
            "entities": [
                {"text": "Paris", "label": "gpe"},
                {"text": "Victor Hugo", "label": "PERSON"},
            ]
        }
    )
    model = scripted(answer)
    text = "Victor Hugo lived in Paris. Paris loved him."
    result = llm_entities(text, model)
    assert [(e.text, e.label, e.start) for e in result.entities] == [
        ("Victor Hugo", "person", 0),
        ("Paris", "gpe", 21),
        ("Paris", "gpe", 28),
    ]
    assert result.notes == ()
    prompt = model.calls[0]["messages"]
    assert "work_of_art" in prompt[0].content  # the label set
    assert isinstance(prompt[2], AIMessage) and "Neil Armstrong" in prompt[2].content  # one shot
    assert prompt[-1].content == text


def test_llm_invalid_answer_is_repaired_once():
    model = scripted(
        "Sure! The entities are Ada Lovelace (person).",
        '```json\n{"entities": [{"text": "Ada Lovelace", "label": "person"}]}\n```',
    )
    result = llm_entities("Ada Lovelace wrote the first program.", model)
    assert [(e.text, e.label) for e in result.entities] == [("Ada Lovelace", "person")]
    assert "repaired once" in result.notes[0]
    repair = model.calls[1]["messages"][-1]
    assert isinstance(repair, HumanMessage) and "not valid" in repair.content


def test_llm_still_invalid_after_repair_is_reported_not_raised():
    model = scripted('{"entities": [{"text": "Ada", "label": "animal"}]}', '{"entities": "none"}')
    result = llm_entities("Ada Lovelace wrote the first program.", model)
    assert result.entities == ()
    assert "still invalid after one repair" in result.notes[0]
    assert len(model.calls) == 2


def test_llm_hallucinated_entities_are_dropped_and_named():
    answer = json.dumps(
        [{"text": "Alan Turing", "label": "person"}, {"text": "Bletchley Park", "label": "fac"}]
    )
    result = llm_entities("Alan Turing broke codes during the war.", scripted(answer))
    assert [e.text for e in result.entities] == ["Alan Turing"]
    assert result.notes == (
        "Dropped 'Bletchley Park': the LLM proposed it but it is not in the text.",
    )


def test_parse_llm_answer_names_the_problem():
    with pytest.raises(ValueError, match="no JSON"):
        parse_llm_answer("no entities here")
    with pytest.raises(ValueError, match="does not match the schema"):
        parse_llm_answer('{"entities": [{"text": "", "label": "person"}]}')
    assert (
        parse_llm_answer('{"entities": [{"text": "Hamlet", "label": "Work of Art"}]}')
        .entities[0]
        .label
        == "work_of_art"
    )


def test_llm_mode_through_find_entities_links_the_result(settings):
    answer = '{"entities": [{"text": "Eiffel Tower", "label": "fac"}]}'
    result = run(
        "We climbed the Eiffel Tower.", settings, mode="llm", chat_model=lambda: both_shots(answer)
    )
    assert result.mode == "llm"
    assert links_by_text(result)["Eiffel Tower"].title == "Eiffel Tower"


# --- offline matching rules -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mention", "title", "rule"),
    [
        ("Liverpool", "Liverpool", "exact title"),
        ("LIVERPOOL", "Liverpool", "title"),  # case
        ("Beatles", "The Beatles", "title"),  # leading "The"
        ("the Beatles", "The Beatles", "title"),
        ("Einstein's", "Albert Einstein", "surname"),  # possessive
        ("Nobel Prizes", "Nobel Prize", None),  # plural
        ("Cordoba, Argentina", "Córdoba, Argentina", "title"),  # accents
        ("USSR", "Soviet Union", "acronym in the article"),
        ("U.S.", "United States", "acronym in the article"),
        ("Apple", "Apple Inc.", "company name without suffix"),
        ("Georgia", "Georgia (country)", "title without disambiguation"),
        ("Second World War", "World War II", "alias in the article"),
        ("da Vinci", "Leonardo da Vinci", "surname"),
    ],
)
def test_matching_rules(mention, title, rule):
    candidates = {c.article.title: c for c in offline_index().lookup(mention)}
    assert title in candidates
    if rule:
        assert candidates[title].rule == rule


def test_exact_title_has_the_highest_prior():
    assert offline_index().lookup("Paris")[0].prior > offline_index().lookup("paris")[0].prior


def test_label_and_context_pick_among_namesakes(settings):
    river = run_link("The Amazon flows into the Atlantic Ocean.", "Amazon", "loc", settings)
    company = run_link("Amazon sells books online as a company.", "Amazon", "org", settings)
    assert river.title == "Amazon River"
    assert company.title == "Amazon (company)"


def test_ambiguous_name_without_support_stays_unlinked(settings):
    # "Jordan" the person: the country has the wrong kind, Michael Jordan only a surname match
    link = run_link("Jordan scored forty points last night.", "Jordan", "person", settings)
    assert not link.linked
    assert link.confidence < LINK_THRESHOLD
    assert "confidence below" in link.reason


def run_link(text: str, mention: str, label: str, settings: Settings) -> Link:
    start = text.index(mention)
    entity = Entity(mention, label, start, start + len(mention))
    links, _ = link_entities(text, [entity], settings, overlap_similarity)
    return links[0]


# --- linking decisions ------------------------------------------------------------------------


def test_surname_after_full_name_takes_its_link(settings):
    result = run(BEATLES, settings)
    links = links_by_text(result)
    assert links["John Lennon"].title == "John Lennon"
    assert links["Lennon"].title == "John Lennon"
    assert links["Lennon"].reason == "surname of John Lennon earlier in the text"


def test_surname_of_an_unlinked_person_stays_unlinked(settings):
    text = "Paul McCartney met John Lennon in 1957. McCartney was fifteen."
    entities = [
        Entity("Paul McCartney", "person", 0, 14),
        Entity("John Lennon", "person", 19, 30),
        Entity("McCartney", "person", 40, 49),
    ]
    links = {
        link.text: link for link in link_entities(text, entities, settings, overlap_similarity)[0]
    }
    assert not links["Paul McCartney"].linked  # not a vital article
    assert not links["McCartney"].linked
    assert "refers to Paul McCartney" in links["McCartney"].reason


def test_unlinkable_entities_say_why(settings):
    result = run(
        "Zorblax Industries opened an office in Liverpool on Monday.",
        settings,
        mode="llm",
        chat_model=lambda: both_shots(
            json.dumps(
                {
                    "entities": [
                        {"text": "Zorblax Industries", "label": "org"},
                        {"text": "Liverpool", "label": "gpe"},
                        {"text": "Monday", "label": "date"},
                    ]
                }
            )
        ),
    )
    links = links_by_text(result)
    assert links["Zorblax Industries"].reason == "no article of that name in the offline set"
    assert links["Monday"].reason == "date entities are not linked to Wikipedia"
    assert links["Liverpool"].linked
    assert "[Zorblax" not in result.linked_text


def test_lowercase_spans_are_not_linked(settings):
    answer = '{"entities": [{"text": "songs", "label": "work_of_art"}, {"text": "北京", "label": "gpe"}]}'
    result = run(
        "He wrote songs in 北京.", settings, mode="llm", chat_model=lambda: both_shots(answer)
    )
    links = links_by_text(result)
    assert links["songs"].reason == "lowercase: not a proper name"
    assert links["北京"].reason != "lowercase: not a proper name"  # uncased script


def test_repeated_entity_is_decided_once_and_linked_everywhere(settings):
    result = run("Paris is large. I love Paris. Paris!", settings)
    assert [link.text for link in result.links].count("Paris") == 1
    assert result.linked_text.count("[Paris](https://en.wikipedia.org/wiki/Paris)") == 3


# --- rendering --------------------------------------------------------------------------------


def linked(text: str, title: str, confidence: float = 0.9) -> Link:
    return Link(
        text, "gpe", title=title, url=f"https://x/{title.replace(' ', '_')}", confidence=confidence
    )


def test_markdown_longest_match_first_and_no_nested_links():
    links = [linked("New York", "New York (state)"), linked("New York City", "New York City")]
    out = link_markdown("New York City is in New York. New York City never sleeps.", links)
    assert out == (
        "[New York City](https://x/New_York_City) is in [New York](https://x/New_York_(state)). "
        "[New York City](https://x/New_York_City) never sleeps."
    )


def test_markdown_keeps_unlinked_text_and_word_boundaries():
    out = link_markdown("Romania is not Rome; Rome is.", [linked("Rome", "Rome")])
    assert out == "Romania is not [Rome](https://x/Rome); [Rome](https://x/Rome) is."
    assert link_markdown("Nothing here.", [Link("here", "loc")]) == "Nothing here."


def test_locate_resolves_overlaps_longest_first():
    text = "New York City and New York."
    spans, missing = locate(text, [("New York", "gpe"), ("New York City", "gpe"), ("Oslo", "gpe")])
    assert [(e.text, e.start) for e in spans] == [("New York City", 0), ("New York", 18)]
    assert missing == ["Oslo"]


def test_urls_encode_parentheses_so_markdown_links_hold(settings):
    link = run_link("Mercury is the closest planet to the Sun.", "Mercury", "loc", settings)
    assert link.title == "Mercury (planet)"
    assert link.url == "https://en.wikipedia.org/wiki/Mercury_%28planet%29"


def test_artifact_has_view_markdown_and_table_and_is_json(settings):
    result = run(BEATLES, settings)
    art = entity_artifact(result)
    kinds = [p["kind"] for p in art["parts"]]
    assert kinds == ["custom", "markdown", "table", "markdown", "table"]
    view = art["parts"][0]
    assert view["component"] == "EntityView"
    first = view["props"]["entities"][0]
    assert first["text"] == "John Lennon"
    assert first["url"] == "https://en.wikipedia.org/wiki/John_Lennon"
    assert view["props"]["text"][first["start"] : first["end"]] == "John Lennon"
    rows = {row[0]: row for row in art["parts"][2]["rows"]}
    assert rows["Paul McCartney"][3].startswith("not linked: ")
    assert rows["John Lennon"][6].startswith("exact title (prior 1.00); person vs article kind")
    considered = {(row[0], row[1]): row for row in art["parts"][4]["rows"]}
    assert considered[("John Lennon", "John Lennon")][-1] == "linked"
    assert considered[("Liverpool", "Liverpool")][2] == "exact title"
    json.dumps(art)


# --- online path ------------------------------------------------------------------------------


def test_online_without_network_falls_back_to_offline(settings, monkeypatch):
    import requests
    import wikipedia

    def no_network(*args, **kwargs):
        raise requests.exceptions.ConnectionError("network is unreachable")

    monkeypatch.setattr(wikipedia, "search", no_network)
    result = run("She was born in Liverpool in 1940.", settings, online=True)
    link = links_by_text(result)["Liverpool"]
    assert link.title == "Liverpool" and link.source == "offline"
    assert any("Online Wikipedia unavailable (ConnectionError)" in n for n in result.notes)


def test_online_timeout_falls_back(settings, monkeypatch):
    import wikipedia

    monkeypatch.setattr(wikipedia, "search", lambda *a, **k: time.sleep(2))
    start = time.perf_counter()
    result = run(
        "She was born in Liverpool in 1940.", settings.with_(wiki_timeout_s=0.2), online=True
    )
    assert time.perf_counter() - start < 1.5
    assert links_by_text(result)["Liverpool"].source == "offline"
    assert any("TimeoutError" in n for n in result.notes)


def test_online_result_is_used_and_cached_on_disk(settings, monkeypatch):
    import wikipedia

    monkeypatch.setattr(wikipedia, "search", lambda q, results: ["Ringo Starr"])
    monkeypatch.setattr(
        wikipedia,
        "summary",
        lambda t, sentences, auto_suggest: "Ringo Starr is an English musician. He drummed.",
    )
    ringo = '{"entities": [{"text": "Ringo Starr", "label": "person"}]}'
    result = run(
        "Ringo Starr played drums.",
        settings,
        online=True,
        mode="llm",
        chat_model=lambda: both_shots(ringo),
    )
    link = links_by_text(result)["Ringo Starr"]
    assert (link.title, link.source) == ("Ringo Starr", "online")
    assert list((settings.data_dir / "wiki" / "online").glob("*.json"))

    monkeypatch.setattr(wikipedia, "search", lambda *a, **k: 1 / 0)  # the cache answers now
    again = run(
        "Ringo Starr played drums.",
        settings,
        online=True,
        mode="llm",
        chat_model=lambda: both_shots(ringo),
    )
    assert links_by_text(again)["Ringo Starr"].source == "online"


# --- input limits and languages ---------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   \n "])
def test_empty_text_is_refused_clearly(settings, text):
    with pytest.raises(ToolInputError, match="no text to analyse"):
        check_text(text, settings)


def test_too_long_text_states_the_limit(settings):
    small = settings.with_(max_entity_chars=100)
    with pytest.raises(ToolInputError, match="at most 100 "):
        run("Paris. " * 20, small)
    assert check_text("x" * 100, small)


def test_non_english_text_does_not_crash(settings):
    result = run("Le château de Versailles se trouve près de Paris, en France.", settings)
    assert any("does not look English" in n for n in result.notes)
    assert all(link.confidence >= LINK_THRESHOLD for link in result.links if link.linked)
    chinese = run(
        "北京是中国的首都。",
        settings,
        mode="llm",
        chat_model=lambda: both_shots('{"entities": [{"text": "北京", "label": "gpe"}]}'),
    )
    assert [e.text for e in chinese.entities] == ["北京"]


@pytest.mark.parametrize(
    ("text", "english"),
    [
        ("Angela Merkel war Bundeskanzlerin von Deutschland und lebte in Berlin.", False),
        ("Microsoft and Google compete in cloud computing.", True),
        ("Marie Curie moved to Paris in 1891.", True),
    ],
)
def test_language_guess(text, english):
    assert looks_english(text) is english


def test_unknown_mode_is_refused(settings):
    with pytest.raises(ToolInputError, match="Unknown recognizer"):
        run("Paris", settings, mode="regex")


# --- tool and CLI -----------------------------------------------------------------------------


def test_tool_returns_text_and_artifact(settings, monkeypatch):
    monkeypatch.setattr("tools.entities.embedding_similarity", lambda s: overlap_similarity)
    ctx = ToolContext(settings=settings, chat_model=lambda: both_shots())
    [tool] = make_tools(ctx)
    message = tool.invoke(
        {"type": "tool_call", "name": tool.name, "id": "1", "args": {"text": BEATLES}}
    )
    assert isinstance(message, ToolMessage)
    assert "- John Lennon (person) -> Wikipedia: John Lennon" in message.content
    assert "- Paul McCartney (person) -> not linked: no article" in message.content
    assert ["John Lennon"] in message.artifact["facts"]["must"]
    assert message.artifact["tool"] == "find_entities"


def test_cli_json(settings, monkeypatch, capsys):
    from agent import cli

    monkeypatch.setattr("tools.entities.embedding_similarity", lambda s: overlap_similarity)
    monkeypatch.setenv("GENAI101_DATA_DIR", str(settings.data_dir))
    assert cli.main(["entities", "Ada Lovelace lived in London.", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {link["text"]: link["title"] for link in out["links"]} == {
        "Ada Lovelace": "Ada Lovelace",
        "London": "London",
    }
    assert cli.main(["entities", " "]) == 2
    assert "no text to analyse" in capsys.readouterr().err


@pytest.mark.slow
def test_real_embeddings_disambiguate_by_context(settings):
    from tools.entities import embedding_similarity

    sim = embedding_similarity(settings)
    text = "Mercury orbits the Sun faster than any other planet."
    entity = Entity("Mercury", "loc", 0, 7)
    links, _ = link_entities(text, [entity], settings, sim)
    assert links[0].title == "Mercury (planet)"


# --- in-context learning, visibly ------------------------------------------------------------


def shot_aware(zero: str, one: str):
    """A model that answers `one` when the worked example is in the prompt, else `zero`."""

    def answer(messages) -> str:
        return one if any(EXAMPLE_TEXT in str(m.content) for m in messages) else zero

    return lambda: scripted(answer, answer)


def test_llm_mode_shows_zero_shot_beside_one_shot(settings):
    zero = '{"entities": [{"text": "NASA", "label": "product"}, {"text": "1969", "label": "date"}]}'
    one = '{"entities": [{"text": "NASA", "label": "org"}, {"text": "Moon", "label": "loc"}]}'
    result = run(
        "NASA reached the Moon in 1969.", settings, mode="llm", chat_model=shot_aware(zero, one)
    )
    assert [(e.text, e.label) for e in result.entities] == [("NASA", "org"), ("Moon", "loc")]
    icl = result.icl
    assert [m["role"] for m in icl["zero-shot"]["prompt"]] == ["system", "human"]
    assert [m["role"] for m in icl["one-shot"]["prompt"]] == ["system", "human", "ai", "human"]
    assert icl["zero-shot"]["json"] == zero
    assert icl["changes"] == [
        {"entity": "NASA", "change": "relabelled product -> org"},
        {"entity": "1969", "change": "dropped (zero-shot: date)"},
        {"entity": "Moon", "change": "added as loc"},
    ]
    shown = entity_artifact(result)["parts"][-1]["content"]
    assert "| NASA | product | org | relabelled product -> org |" in shown
    assert zero in shown and one in shown and EXAMPLE_TEXT in shown
    assert "the example changed 3" in summary_text(result)


def test_spacy_mode_has_no_icl_comparison(settings):
    result = run("Marie Curie moved to Paris.", settings)
    assert result.icl is None
    assert all("In-context" not in p.get("content", "") for p in entity_artifact(result)["parts"])


def test_linking_lists_the_candidates_and_why_the_winner_won(settings):
    result = run("Amazon sells books online, and Amazon ships them worldwide.", settings)
    amazon = links_by_text(result)["Amazon"]
    titles = [c["title"] for c in amazon.candidates]
    assert amazon.title == titles[0] == "Amazon (company)"
    assert "Amazon River" in titles or "Amazon rainforest" in titles
    assert amazon.candidates[0]["label_fit"] == 1.0
    assert "next " in amazon.reason and "org vs article kind" in amazon.reason


# --- the entity view: decisions and the zero-shot / one-shot comparison ------------------------


def view_of(result) -> dict:
    [view] = [p for p in entity_artifact(result)["parts"] if p["kind"] == "custom"]
    assert view["component"] == "EntityView"
    return view["props"]


def test_view_of_a_spacy_run_has_each_entitys_candidates_and_reason(settings):
    result = run(BEATLES + " Amazon sells books online.", settings)
    props = view_of(result)
    assert props["mode"] == "spacy" and props["icl"] is None
    assert props["threshold"] == LINK_THRESHOLD
    links = props["links"]
    for entity in props["entities"]:
        decision = links[entity["link"]]
        assert (decision["text"], decision["label"]) == (entity["text"], entity["label"])
        assert entity["reason"] and entity["reason"] == decision["reason"]
    by_text = {d["text"]: d for d in links}
    amazon = by_text["Amazon"]
    assert amazon["linked"] and amazon["title"] == "Amazon (company)"
    assert amazon["candidates"][0]["title"] == "Amazon (company)"
    assert len(amazon["candidates"]) >= 2  # the losers are there too, with their scores
    assert set(amazon["candidates"][0]) == {
        "title",
        "matched_by",
        "prior",
        "kinds",
        "label_fit",
        "context",
        "confidence",
    }
    assert "next " in amazon["reason"]
    assert by_text["John Lennon"]["found_by"]
    assert not by_text["Paul McCartney"]["linked"]
    assert by_text["Paul McCartney"]["reason"] == "no article of that name in the offline set"
    assert by_text["Paul McCartney"]["candidates"] == []
    assert by_text["1960"]["reason"] == "date entities are not linked to Wikipedia"
    assert by_text["Lennon"]["reason"] == "surname of John Lennon earlier in the text"
    assert len(json.dumps(props)) < 20_000


def test_view_keeps_at_most_five_candidates_and_counts_the_rest(settings):
    from dataclasses import replace

    from tools.entities import VIEW_CANDIDATES, view_props

    result = run("Amazon sells books online.", settings)
    [amazon] = result.links
    many = tuple({**amazon.candidates[0], "title": f"Amazon {i}"} for i in range(8))
    props = view_props(replace(result, links=(replace(amazon, candidates=many),)))
    [decision] = props["links"]
    assert len(decision["candidates"]) == VIEW_CANDIDATES == 5
    assert decision["candidates"][0]["title"] == "Amazon 0"
    assert decision["more_candidates"] == 3


def test_view_of_an_llm_run_has_both_runs_and_what_the_example_changed(settings):
    zero = '{"entities": [{"text": "NASA", "label": "product"}, {"text": "1969", "label": "date"}]}'
    one = '{"entities": [{"text": "NASA", "label": "org"}, {"text": "Moon", "label": "loc"}]}'
    result = run(
        "NASA reached the Moon in 1969.", settings, mode="llm", chat_model=shot_aware(zero, one)
    )
    props = view_of(result)
    assert props["mode"] == "llm"
    icl = props["icl"]
    assert icl["zero-shot"]["json"] == zero and icl["one-shot"]["json"] == one
    assert icl["zero-shot"]["entities"] == [
        {"text": "NASA", "label": "product"},
        {"text": "1969", "label": "date"},
    ]
    assert icl["one-shot"]["entities"] == [
        {"text": "NASA", "label": "org"},
        {"text": "Moon", "label": "loc"},
    ]
    assert [m["role"] for m in icl["zero-shot"]["prompt"]] == ["system", "human"]
    one_prompt = icl["one-shot"]["prompt"]
    assert [m["role"] for m in one_prompt] == ["system", "human", "ai", "human"]
    assert one_prompt[1]["content"] == EXAMPLE_TEXT
    assert one_prompt[-1]["content"] == "NASA reached the Moon in 1969."
    assert icl["changes"] == [
        {"entity": "NASA", "change": "relabelled product -> org"},
        {"entity": "1969", "change": "dropped (zero-shot: date)"},
        {"entity": "Moon", "change": "added as loc"},
    ]
    # the spans shown and linked are the one-shot ones, each with its decision
    assert [(e["text"], e["label"]) for e in props["entities"]] == [
        ("NASA", "org"),
        ("Moon", "loc"),
    ]
    assert all(props["links"][e["link"]]["reason"] for e in props["entities"])
    json.dumps(props)


def test_view_cuts_a_rambling_json_answer(settings):
    from tools.entities import VIEW_JSON_CHARS

    answer = '{"entities": [{"text": "NASA", "label": "org"}]}' + " and so on" * 1000
    result = run("NASA flew.", settings, mode="llm", chat_model=shot_aware(answer, answer))
    shown = view_of(result)["icl"]["one-shot"]["json"]
    assert result.icl["one-shot"]["json"] == answer  # the result itself keeps it whole
    assert shown.startswith(answer[:VIEW_JSON_CHARS]) and len(shown) < VIEW_JSON_CHARS + 100
    assert shown.endswith(f"({len(answer) - VIEW_JSON_CHARS:,} more characters)")
