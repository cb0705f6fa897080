"""Build the project's own paraphrase dataset: hard pairs, reproducible, offline.

Why our own: no paraphrase corpus (MRPC, PAWS, ...) is available offline and MRPC's terms do
not clearly allow redistribution. Why hard: a model that only counts shared words must fail.
Every pair is made from one *frame* (a fact with slots, e.g. "{a} hired {b} in {year}") that
has several surface forms meaning the same (active/passive, synonyms, clause order,
converse verbs) and forms meaning the opposite (negation, antonyms). Pairs:

- positives: two different surface forms of the same fact (reworded, reordered), and, for
  symmetric facts ("{a} married {b}"), the roles swapped;
- negatives with high word overlap: roles swapped in an asymmetric fact, a number, date or
  time changed, one entity changed, negation or an antonym.

Dev and test use names and organisations that training never sees, and one frame in five is
held out of training entirely, so the test measures generalisation, not memory.
All sentences are written for this project (no third-party text): the data is Apache-2.0 like
the code. Run: `python scripts/build_paraphrase_data.py` (writes knowledge/paraphrase/pairs/).
"""

from __future__ import annotations

import argparse
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from knowledge.paraphrase_data import word_overlap, write_splits

OUT_DIR = Path(__file__).resolve().parents[1] / "knowledge" / "paraphrase" / "pairs"
SIZES = {"train": 3000, "dev": 400, "test": 800}
SEED = 101

PEOPLE = [
    "Alice Moreau",
    "Ben Okafor",
    "Carla Silva",
    "David Chen",
    "Elena Petrova",
    "Farid Haddad",
    "Grace Kim",
    "Hugo Lindqvist",
    "Ines Duarte",
    "Jonas Weber",
    "Keiko Tanaka",
    "Liam O'Brien",
    "Maya Patel",
    "Nils Berg",
    "Olivia Grant",
    "Pablo Reyes",
    "Quinn Harper",
    "Rosa Jimenez",
    "Samuel Adeyemi",
    "Tara Novak",
    "Umar Siddiqui",
    "Vera Kowalski",
    "Walter Brandt",
    "Xena Papadakis",
    "Yusuf Demir",
    "Zoe Fischer",
    "Anton Ivanov",
    "Beatriz Costa",
    "Chloe Martin",
    "Dmitri Volkov",
    "Emma Larsen",
    "Felix Wagner",
    "Hana Sato",
    "Isaac Cohen",
    "Julia Rossi",
    "Kofi Mensah",
    "Laura Blanc",
    "Mateo Garcia",
    "Nora Haugen",
    "Oscar Nilsson",
    "Priya Sharma",
    "Rafael Santos",
    "Sofia Romano",
    "Tomas Horvat",
    "Ana Pereira",
    "Victor Dubois",
    "Wen Li",
    "Yara Nasser",
]
ORGS = [
    "Northwind",
    "Bluepeak Labs",
    "Corvane",
    "Driftwood Media",
    "Elmstone Bank",
    "Fernhill Foods",
    "Granite Logistics",
    "Halcyon Energy",
    "Ironleaf",
    "Juniper Health",
    "Kestrel Motors",
    "Lumen Works",
    "Marlow Textiles",
    "Nimbus Cloud",
    "Oakridge Press",
    "Pinecrest Mining",
    "Quartzline",
    "Redfern Air",
    "Silverbrook",
    "Tidewater Shipping",
    "Umbra Games",
    "Valecrest",
    "Westmoor Steel",
    "Yellowfin Tech",
]
TEAMS = [
    "the Hawks",
    "the Wolves",
    "the Tigers",
    "the Falcons",
    "the Bears",
    "the Sharks",
    "the Lions",
    "the Ravens",
    "the Comets",
    "the Pirates",
    "the Rangers",
    "the Titans",
]
CITIES = [
    "Lisbon",
    "Oslo",
    "Nairobi",
    "Lima",
    "Osaka",
    "Dublin",
    "Krakow",
    "Porto",
    "Seville",
    "Hanoi",
    "Quito",
    "Tunis",
    "Leeds",
    "Bergen",
    "Lyon",
    "Turin",
    "Gdansk",
    "Cork",
    "Malmo",
    "Graz",
    "Accra",
    "Cusco",
]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
THINGS = [
    "a bicycle",
    "a piano",
    "a painting",
    "a car",
    "a boat",
    "a camera",
    "a guitar",
    "a laptop",
    "a tractor",
    "a telescope",
]
# Word pools that differ between training and evaluation (see `_pools`).
SPLIT_POOLS = ("person", "org", "team")


def _years() -> list[str]:
    return [str(y) for y in range(1960, 2025)]


VALUES: dict[str, list[str]] = {
    "person": PEOPLE,
    "org": ORGS,
    "team": TEAMS,
    "city": CITIES,
    "day": DAYS,
    "month": MONTHS,
    "thing": THINGS,
    "year": _years(),
    "pct": [str(n) for n in range(2, 40)],
    "n": [str(n) for n in range(3, 60)],
    "big": [str(n) for n in range(120, 990, 10)],
    "hour": [str(h) for h in range(6, 12)],
    "price": [str(p) for p in range(15, 95, 5)],
    "won": [str(s) for s in range(3, 7)],  # a winner's goals: always more than a loser's
    "lost": [str(s) for s in range(0, 3)],
    "deg": [str(d) for d in range(2, 16)],
}


@dataclass(frozen=True)
class Frame:
    """One fact with slots, its surface forms (`same`) and forms meaning otherwise (`opposite`).

    `swap` names two slots of the same type whose exchange changes the meaning (asymmetric
    facts) or keeps it (`symmetric=True`). `change` lists slots whose value may be replaced
    to make a near-identical negative.
    """

    name: str
    slots: dict[str, str]
    same: list[str]
    opposite: list[str] = field(default_factory=list)
    swap: tuple[str, str] | None = None
    symmetric: bool = False
    change: tuple[str, ...] = ()


P2 = {"a": "person", "b": "person"}

FRAMES: list[Frame] = [
    Frame(
        "hire",
        {**P2, "year": "year"},
        [
            "{a} hired {b} in {year}.",
            "{b} was hired by {a} in {year}.",
            "In {year}, {a} took on {b}.",
            "In {year}, {b} was recruited by {a}.",
            "{a} recruited {b} in {year}.",
        ],
        ["{a} did not hire {b} in {year}.", "{a} fired {b} in {year}."],
        swap=("a", "b"),
        change=("year", "b"),
    ),
    Frame(
        "beat",
        {"a": "team", "b": "team", "x": "won", "y": "lost"},
        [
            "{a} beat {b} {x} goals to {y}.",
            "{b} lost to {a} {x} goals to {y}.",
            "{a} defeated {b} by {x} goals to {y}.",
            "{b} were defeated by {a}, {x} goals to {y}.",
            "With {x} goals to {y}, {a} won against {b}.",
        ],
        ["{a} lost to {b} {x} goals to {y}.", "{a} did not beat {b} {x} goals to {y}."],
        swap=("a", "b"),
        change=("x",),
    ),
    Frame(
        "acquire",
        {"a": "org", "b": "org", "big": "big"},
        [
            "{a} bought {b} for {big} million dollars.",
            "{b} was acquired by {a} for {big} million dollars.",
            "For {big} million dollars, {a} took over {b}.",
            "{a} acquired {b} in a deal worth {big} million dollars.",
            "{b} was sold to {a} for {big} million dollars.",
        ],
        [
            "{a} failed to buy {b} for {big} million dollars.",
            "{a} sold {b} for {big} million dollars.",
        ],
        swap=("a", "b"),
        change=("big", "b"),
    ),
    Frame(
        "teach",
        {**P2, "city": "city"},
        [
            "{a} taught {b} in {city}.",
            "{b} was taught by {a} in {city}.",
            "In {city}, {b} studied under {a}.",
            "{b} was a student of {a} in {city}.",
            "In {city}, {a} was the teacher of {b}.",
        ],
        ["{a} never taught {b} in {city}."],
        swap=("a", "b"),
        change=("city",),
    ),
    Frame(
        "older",
        P2,
        [
            "{a} is older than {b}.",
            "{b} is younger than {a}.",
            "{a} was born before {b}.",
            "{b} was born after {a}.",
        ],
        ["{a} is younger than {b}.", "{a} is not older than {b}."],
        swap=("a", "b"),
        change=("b",),
    ),
    Frame(
        "lend",
        {**P2, "n": "price"},
        [
            "{a} lent {b} {n} euros.",
            "{b} borrowed {n} euros from {a}.",
            "{a} lent {n} euros to {b}.",
            "{b} got a loan of {n} euros from {a}.",
        ],
        ["{a} refused to lend {b} {n} euros.", "{a} borrowed {n} euros from {b}."],
        swap=("a", "b"),
        change=("n",),
    ),
    Frame(
        "sell",
        {**P2, "thing": "thing", "n": "price"},
        [
            "{a} sold {thing} to {b} for {n} euros.",
            "{b} bought {thing} from {a} for {n} euros.",
            "For {n} euros, {a} sold {b} {thing}.",
            "{b} paid {a} {n} euros for {thing}.",
        ],
        [
            "{a} bought {thing} from {b} for {n} euros.",
            "{a} did not sell {thing} to {b} for {n} euros.",
        ],
        swap=("a", "b"),
        change=("n", "thing"),
    ),
    Frame(
        "replace",
        {"a": "person", "b": "person", "org": "org"},
        [
            "{a} replaced {b} as head of {org}.",
            "{b} was replaced by {a} as head of {org}.",
            "{b} was succeeded by {a} as head of {org}.",
            "As head of {org}, {a} took over from {b}.",
            "{a} succeeded {b} as the head of {org}.",
        ],
        ["{a} did not replace {b} as head of {org}."],
        swap=("a", "b"),
        change=("org",),
    ),
    Frame(
        "marry",
        {**P2, "city": "city", "year": "year"},
        [
            "{a} married {b} in {city} in {year}.",
            "In {year}, {a} and {b} got married in {city}.",
            "{a} and {b} were married in {city} in {year}.",
            "{a} wed {b} in {city} in {year}.",
            "In {year}, {a} married {b} in {city}.",
        ],
        ["{a} divorced {b} in {city} in {year}.", "{a} did not marry {b} in {city} in {year}."],
        swap=("a", "b"),
        symmetric=True,
        change=("year", "city"),
    ),
    Frame(
        "meet",
        {**P2, "city": "city", "day": "day"},
        [
            "{a} met {b} in {city} on {day}.",
            "On {day}, {a} and {b} met in {city}.",
            "{a} and {b} had a meeting in {city} on {day}.",
            "In {city}, {a} met with {b} on {day}.",
        ],
        ["{a} did not meet {b} in {city} on {day}.", "{a} missed {b} in {city} on {day}."],
        swap=("a", "b"),
        symmetric=True,
        change=("day", "city"),
    ),
    Frame(
        "revenue",
        {"org": "org", "pct": "pct", "year": "year"},
        [
            "{org}'s revenue rose by {pct} percent in {year}.",
            "In {year}, revenue at {org} increased {pct} percent.",
            "{org} saw its revenue grow by {pct} percent in {year}.",
            "Revenue at {org} went up {pct} percent in {year}.",
        ],
        [
            "{org}'s revenue fell by {pct} percent in {year}.",
            "In {year}, revenue at {org} decreased {pct} percent.",
            "{org}'s revenue did not rise by {pct} percent in {year}.",
        ],
        change=("pct", "year", "org"),
    ),
    Frame(
        "train",
        {"c1": "city", "c2": "city", "hour": "hour"},
        [
            "The train from {c1} to {c2} leaves at {hour} o'clock.",
            "At {hour} o'clock, the train leaves {c1} for {c2}.",
            "The {c2} train departs from {c1} at {hour} o'clock.",
            "The train to {c2} leaves {c1} at {hour} o'clock.",
        ],
        ["The train from {c1} to {c2} arrives at {hour} o'clock."],
        swap=("c1", "c2"),
        change=("hour", "c2"),
    ),
    Frame(
        "born",
        {"a": "person", "city": "city", "year": "year"},
        [
            "{a} was born in {city} in {year}.",
            "In {year}, {a} was born in {city}.",
            "{a}'s birthplace is {city}, and the year of birth is {year}.",
            "{city} is where {a} was born, in {year}.",
        ],
        ["{a} died in {city} in {year}.", "{a} was not born in {city} in {year}."],
        change=("city", "year", "a"),
    ),
    Frame(
        "meeting_moved",
        {"d1": "day", "d2": "day"},
        [
            "The meeting was moved from {d1} to {d2}.",
            "The meeting originally set for {d1} now takes place on {d2}.",
            "They postponed the meeting from {d1} to {d2}.",
            "The meeting will be on {d2} instead of {d1}.",
        ],
        ["The meeting was not moved from {d1} to {d2}."],
        swap=("d1", "d2"),
        change=("d2",),
    ),
    Frame(
        "stores",
        {"org": "org", "n": "n", "city": "city"},
        [
            "{org} opened {n} new stores in {city}.",
            "In {city}, {org} opened {n} new shops.",
            "{n} new {org} stores opened in {city}.",
            "{org} launched {n} new stores in {city}.",
        ],
        ["{org} closed {n} stores in {city}.", "{org} did not open {n} new stores in {city}."],
        change=("n", "city"),
    ),
    Frame(
        "accept",
        {"a": "person", "org": "org"},
        [
            "{a} accepted the offer from {org}.",
            "The offer from {org} was accepted by {a}.",
            "{a} said yes to the offer from {org}.",
            "{a} took the job offer from {org}.",
        ],
        [
            "{a} rejected the offer from {org}.",
            "The offer from {org} was turned down by {a}.",
            "{a} did not accept the offer from {org}.",
        ],
        change=("org", "a"),
    ),
    Frame(
        "praise",
        {**P2},
        [
            "{a} praised the report written by {b}.",
            "The report written by {b} was praised by {a}.",
            "{a} spoke highly of the report {b} wrote.",
            "{b}'s report received praise from {a}.",
        ],
        [
            "{a} criticized the report written by {b}.",
            "The report written by {b} was criticized by {a}.",
        ],
        swap=("a", "b"),
        change=("b",),
    ),
    Frame(
        "visit",
        {**P2, "month": "month"},
        [
            "{a} visited {b} in {month}.",
            "In {month}, {b} was visited by {a}.",
            "{a} went to see {b} in {month}.",
            "In {month}, {a} paid {b} a visit.",
        ],
        ["{a} did not visit {b} in {month}."],
        swap=("a", "b"),
        change=("month",),
    ),
    Frame(
        "warn",
        {**P2, "day": "day"},
        [
            "{a} warned {b} about the storm on {day}.",
            "On {day}, {b} was warned about the storm by {a}.",
            "{a} alerted {b} to the storm on {day}.",
            "On {day}, {a} gave {b} a warning about the storm.",
        ],
        ["{a} did not warn {b} about the storm on {day}."],
        swap=("a", "b"),
        change=("day",),
    ),
    Frame(
        "price",
        {"thing": "thing", "p1": "price", "p2": "price"},
        [
            "The price of {thing} went from {p1} to {p2} euros.",
            "{thing} that cost {p1} euros now costs {p2} euros.",
            "The price of {thing} changed from {p1} euros to {p2} euros.",
            "{thing} used to cost {p1} euros and now costs {p2} euros.",
        ],
        [],
        swap=("p1", "p2"),
        change=("p2", "thing"),
    ),
    Frame(
        "interview",
        {**P2, "day": "day"},
        [
            "{a} interviewed {b} on {day}.",
            "{b} was interviewed by {a} on {day}.",
            "On {day}, {a} conducted an interview with {b}.",
            "On {day}, {b} gave an interview to {a}.",
        ],
        ["{a} cancelled the interview with {b} on {day}."],
        swap=("a", "b"),
        change=("day",),
    ),
    Frame(
        "sue",
        {"a": "org", "b": "org", "year": "year"},
        [
            "{a} sued {b} in {year}.",
            "{b} was sued by {a} in {year}.",
            "In {year}, {a} took {b} to court.",
            "In {year}, {a} filed a lawsuit against {b}.",
        ],
        ["{a} settled with {b} out of court in {year}.", "{a} did not sue {b} in {year}."],
        swap=("a", "b"),
        change=("year",),
    ),
    Frame(
        "partner",
        {"a": "org", "b": "org", "year": "year"},
        [
            "{a} partnered with {b} in {year}.",
            "In {year}, {a} and {b} formed a partnership.",
            "{a} and {b} became partners in {year}.",
            "In {year}, {b} teamed up with {a}.",
        ],
        [
            "{a} ended its partnership with {b} in {year}.",
            "{a} refused to partner with {b} in {year}.",
        ],
        swap=("a", "b"),
        symmetric=True,
        change=("year",),
    ),
    Frame(
        "taller",
        {"a": "person", "b": "person", "n": "n"},
        [
            "{a} is {n} centimetres taller than {b}.",
            "{b} is {n} centimetres shorter than {a}.",
            "{a} stands {n} centimetres taller than {b}.",
            "{b} is shorter than {a} by {n} centimetres.",
        ],
        ["{a} is {n} centimetres shorter than {b}."],
        swap=("a", "b"),
        change=("n",),
    ),
    Frame(
        "follow",
        {"a": "person", "b": "person", "city": "city"},
        [
            "{a} arrived in {city} before {b}.",
            "{b} arrived in {city} after {a}.",
            "{a} got to {city} earlier than {b}.",
            "{b} reached {city} later than {a}.",
        ],
        ["{a} arrived in {city} after {b}.", "{a} did not arrive in {city} before {b}."],
        swap=("a", "b"),
        change=("city",),
    ),
    Frame(
        "elect",
        {"a": "person", "city": "city", "pct": "pct"},
        [
            "{a} was elected mayor of {city} with {pct} percent of the vote.",
            "With {pct} percent of the vote, {a} won the election for mayor of {city}.",
            "Voters in {city} elected {a} as mayor, giving them {pct} percent.",
            "{a} became mayor of {city} after winning {pct} percent of the vote.",
        ],
        ["{a} lost the election for mayor of {city} with {pct} percent of the vote."],
        change=("pct", "city", "a"),
    ),
    Frame(
        "email",
        {**P2, "hour": "hour"},
        [
            "{a} sent {b} an email at {hour} o'clock.",
            "{b} received an email from {a} at {hour} o'clock.",
            "At {hour} o'clock, {a} emailed {b}.",
            "At {hour} o'clock, an email from {a} reached {b}.",
        ],
        ["{a} did not send {b} an email at {hour} o'clock."],
        swap=("a", "b"),
        change=("hour",),
    ),
    Frame(
        "museum",
        {"city": "city", "hour": "hour", "day": "day"},
        [
            "The museum in {city} opens at {hour} o'clock on {day}.",
            "On {day}, the {city} museum opens its doors at {hour} o'clock.",
            "At {hour} o'clock on {day}, the museum in {city} opens.",
            "The {city} museum opens at {hour} o'clock every {day}.",
        ],
        [
            "The museum in {city} closes at {hour} o'clock on {day}.",
            "The museum in {city} is closed on {day}.",
        ],
        change=("hour", "day", "city"),
    ),
    Frame(
        "help",
        {**P2, "month": "month"},
        [
            "{a} helped {b} move house in {month}.",
            "In {month}, {b} was helped by {a} to move house.",
            "{a} gave {b} a hand moving house in {month}.",
            "In {month}, {b} moved house with help from {a}.",
        ],
        ["{a} refused to help {b} move house in {month}."],
        swap=("a", "b"),
        change=("month",),
    ),
    Frame(
        "invest",
        {"a": "org", "b": "org", "big": "big"},
        [
            "{a} invested {big} million euros in {b}.",
            "{b} received an investment of {big} million euros from {a}.",
            "{big} million euros were invested in {b} by {a}.",
            "{a} put {big} million euros into {b}.",
        ],
        ["{a} withdrew {big} million euros from {b}."],
        swap=("a", "b"),
        change=("big",),
    ),
    Frame(
        "temperature",
        {"city": "city", "n": "deg", "day": "day"},
        [
            "Temperatures in {city} dropped by {n} degrees on {day}.",
            "On {day}, it became {n} degrees colder in {city}.",
            "{city} was {n} degrees colder on {day}.",
            "On {day}, the temperature in {city} fell {n} degrees.",
        ],
        [
            "Temperatures in {city} rose by {n} degrees on {day}.",
            "On {day}, it became {n} degrees warmer in {city}.",
        ],
        change=("n", "day", "city"),
    ),
    Frame(
        "neighbour",
        {**P2, "city": "city"},
        [
            "{a} lives next door to {b} in {city}.",
            "In {city}, {a} and {b} are neighbours.",
            "{a} and {b} live next to each other in {city}.",
            "In {city}, {b} is {a}'s next-door neighbour.",
        ],
        ["{a} lives far away from {b} in {city}."],
        swap=("a", "b"),
        symmetric=True,
        change=("city",),
    ),
    Frame(
        "sign",
        {"a": "team", "p": "person", "year": "year"},
        [
            "{a} signed {p} in {year}.",
            "{p} signed with {a} in {year}.",
            "In {year}, {p} joined {a}.",
            "In {year}, {a} added {p} to the squad.",
        ],
        ["{a} released {p} in {year}.", "In {year}, {p} left {a}."],
        change=("year", "p", "a"),
    ),
    Frame(
        "owe",
        {**P2, "n": "price"},
        [
            "{a} owes {b} {n} euros.",
            "{b} is owed {n} euros by {a}.",
            "{a} has a debt of {n} euros to {b}.",
            "{b} is waiting for {a} to pay back {n} euros.",
        ],
        ["{a} has paid back the {n} euros to {b}."],
        swap=("a", "b"),
        change=("n",),
    ),
    Frame(
        "population",
        {"c1": "city", "c2": "city"},
        [
            "{c1} has more inhabitants than {c2}.",
            "{c2} has fewer inhabitants than {c1}.",
            "{c1} is more populous than {c2}.",
            "The population of {c2} is smaller than that of {c1}.",
        ],
        ["{c1} has fewer inhabitants than {c2}."],
        swap=("c1", "c2"),
        change=("c2",),
    ),
]

# Every fifth frame never appears in training: dev and test check generalisation to new facts.
HELD_OUT = frozenset(f.name for i, f in enumerate(FRAMES) if i % 5 == 4)


def _pools(split: str) -> dict[str, list[str]]:
    """Slot values for a split: people, organisations and teams differ between train and eval."""
    pools = dict(VALUES)
    for kind in SPLIT_POOLS:
        values = VALUES[kind]
        pools[kind] = [v for i, v in enumerate(values) if (i % 4 == 3) == (split != "train")]
    return pools


def _fill(template: str, values: dict[str, str]) -> str:
    text = template.format(**values)
    return text[0].upper() + text[1:]


def _sample_values(frame: Frame, pools: dict[str, list[str]], rng: random.Random) -> dict[str, str]:
    """Distinct values for slots of the same type (no "Ana hired Ana")."""
    values: dict[str, str] = {}
    for slot, kind in frame.slots.items():
        taken = {v for s, v in values.items() if frame.slots[s] == kind}
        values[slot] = rng.choice([v for v in pools[kind] if v not in taken])
    return values


def _changed(frame: Frame, values: dict[str, str], pools, rng: random.Random) -> dict[str, str]:
    slot = rng.choice(frame.change)
    kind = frame.slots[slot]
    used = {v for s, v in values.items() if frame.slots[s] == kind}
    return {**values, slot: rng.choice([v for v in pools[kind] if v not in used])}


def _negative(frame: Frame, values, pools, rng: random.Random) -> tuple[str, str, str]:
    """A meaning-changing variant; the second sentence is often reworded too."""
    kinds = ["change"]
    if frame.swap and not frame.symmetric:
        kinds += ["swap", "swap"]
    if frame.opposite:
        kinds += ["opposite", "opposite"]
    kind = rng.choice(kinds)
    t1 = rng.choice(frame.same)
    if kind == "opposite":
        t2 = rng.choice(frame.opposite)
        label = "negation" if " not " in t2 or "never" in t2 else "antonym"
        return _fill(t1, values), _fill(t2, values), label
    t2 = rng.choice(frame.same)  # may equal t1: then only the swapped or changed word differs
    if kind == "swap":
        a, b = frame.swap
        return _fill(t1, values), _fill(t2, {**values, a: values[b], b: values[a]}), "swap"
    new = _changed(frame, values, pools, rng)
    changed = next(s for s in values if values[s] != new[s])
    label = "number" if new[changed].isdigit() else "entity"
    return _fill(t1, values), _fill(t2, new), label


def _positive(frame: Frame, values, rng: random.Random) -> tuple[str, str, str]:
    """Two different wordings of one fact; symmetric facts may also swap their roles."""
    t1, t2 = rng.sample(frame.same, 2)
    if frame.symmetric and rng.random() < 0.4:
        a, b = frame.swap
        t2 = rng.choice(frame.same)
        return _fill(t1, values), _fill(t2, {**values, a: values[b], b: values[a]}), "symmetric"
    return _fill(t1, values), _fill(t2, values), "reword"


def build_split(split: str, size: int, seed: int, exclude: set[tuple[str, str]]) -> list[dict]:
    """`size` unique pairs, half positive, none of them in `exclude` (pairs of other splits).

    Training uses the frames not held out; dev and test use all frames, with their own word
    pools. Sentence order inside a pair is random so position carries no signal.
    """
    rng = random.Random(f"{seed}-{split}")
    frames = [f for f in FRAMES if split != "train" or f.name not in HELD_OUT]
    pools = _pools(split)
    rows: list[dict] = []
    seen = set(exclude)
    while len(rows) < size:
        frame = rng.choice(frames)
        values = _sample_values(frame, pools, rng)
        label = len(rows) % 2  # alternate: balance by construction
        s1, s2, kind = (
            _positive(frame, values, rng) if label else _negative(frame, values, pools, rng)
        )
        key = tuple(sorted((s1, s2)))
        if s1 == s2 or key in seen:
            continue
        seen.add(key)
        if rng.random() < 0.5:
            s1, s2 = s2, s1
        rows.append(
            {"sentence1": s1, "sentence2": s2, "label": label, "kind": kind, "frame": frame.name}
        )
    rng.shuffle(rows)
    return rows


def build(sizes: dict[str, int] = SIZES, seed: int = SEED) -> dict[str, list[dict]]:
    """All splits; the same seed and sizes give byte-identical output."""
    splits: dict[str, list[dict]] = {}
    used: set[tuple[str, str]] = set()
    for split, size in sizes.items():
        splits[split] = build_split(split, size, seed, used)
        used |= {tuple(sorted((r["sentence1"], r["sentence2"]))) for r in splits[split]}
    return splits


def stats(splits: dict[str, list[dict]]) -> str:
    """A markdown table for DATA.md: size, positive share, kinds, word overlap per split."""
    lines = [
        "| split | pairs | positive | held-out frames | mean word overlap (pos / neg) |",
        "|---|---|---|---|---|",
    ]
    for split, rows in splits.items():
        pos = sum(r["label"] for r in rows)
        held = sum(r["frame"] in HELD_OUT for r in rows)
        overlap = {
            lab: [word_overlap(r["sentence1"], r["sentence2"]) for r in rows if r["label"] == lab]
            for lab in (0, 1)
        }
        lines.append(
            f"| {split} | {len(rows)} | {pos / len(rows):.1%} | {held} | "
            f"{_mean(overlap[1]):.2f} / {_mean(overlap[0]):.2f} |"
        )
    kinds = Counter((r["label"], r["kind"]) for rows in splits.values() for r in rows)
    lines += ["", "| label | kind | pairs (all splits) |", "|---|---|---|"]
    lines += [f"| {lab} | {kind} | {n} |" for (lab, kind), n in sorted(kinds.items())]
    return "\n".join(lines)


def _mean(xs: list[float]) -> float:
    return sum(xs) / len(xs) if xs else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()
    splits = build(SIZES, args.seed)
    write_splits(splits, args.out)
    print(stats(splits))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
