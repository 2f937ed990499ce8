"""How well the coach reads situations, on the labelled sets in tests/data (never used for training).

The foundation issue's bars, with no question asked: interaction >= 95% and customer >= 90%
overall; on situations written the way agents really type (style "real"), >= 90% and >= 85%.
Vague openings reach the right answer in at most 3 questions, 2.5 on average.

Measured when these floors were set (2026-11-23, 6,290 training examples): overall interaction
95.2%, customer 97.2%; real 95.8% and 95.1%; vague 1.93 questions and 100% right by buttons,
1.84 and 95.3% typed. Every bar is met, and a typed answer to a vague opening is still sometimes
misread. The floors below sit just under those figures so that a change which reads situations
worse fails here; raise them as the reader improves.

situations_b.yaml and situations_c.yaml were written later by other hands from DOMAIN.md alone
and checked by a blind second reader (see their headers): a view of how the reader does on text
its authors never saw. Measured then: B interaction 94.0%, customer 98.7% (real 91.9%, 97.8%);
C 95.8% and 98.5% (real 94.6%, 98.1%).

The floor of situations.yaml's real style came down from 0.94 to 0.93 on 2026-12-07, when the contact's kind
came to be read by a combination fitted on the examples (bot/combiner.py): that set's 144 real-style lines read
one line fewer (94.4% -> 93.8%), the 990 lines of the three sets together one line more (945 -> 946), and the
fresh development set of real situations 19 lines more of 263 (59.7% -> 66.9%).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from rapidfuzz import fuzz, process

from bot.coach import Coach
from bot.replies import DIDNT_CATCH, NOTHING_TO_GUESS_FROM
from bot.store.memory import MemoryStore
from tests.conftest import say, shipped_knowledge

pytestmark = pytest.mark.slow

DATA = Path(__file__).resolve().parent / "data"
# Floors for each labelled set, (all, real style), for (interaction, customer); situations.yaml is the issue's own.
FLOORS = {
    "situations.yaml": ({"interaction": 0.94, "customer": 0.96}, {"interaction": 0.93, "customer": 0.93}),
    "situations_b.yaml": ({"interaction": 0.93, "customer": 0.97}, {"interaction": 0.90, "customer": 0.96}),
    "situations_c.yaml": ({"interaction": 0.94, "customer": 0.97}, {"interaction": 0.93, "customer": 0.96}),
}
FLOOR_VAGUE_RIGHT = {"buttons": 0.97, "typed": 0.90}
MAX_MEAN_QUESTIONS = 2.5
NEAR_COPY = 80  # rapidfuzz token_sort_ratio at or above which an example counts as a copy of a test line


def load(name: str) -> list[dict]:
    return yaml.safe_load((DATA / name).read_text(encoding="utf-8"))


def score(coach: Coach, items: list[dict]) -> tuple[float, float, list[str]]:
    right_i = right_c = 0
    misses = []
    for item in items:
        result = coach.classify(item["text"])
        ok_i = result["interaction"] == item["interaction"]
        ok_c = result["customer"] == item["customer"]
        right_i += ok_i
        right_c += ok_c
        if not (ok_i and ok_c):
            misses.append(
                f"{item['interaction']}/{item['customer']} read as {result['interaction']}/{result['customer']}: "
                f"{item['text']}"
            )
    return right_i / len(items), right_c / len(items), misses


@pytest.fixture(scope="module")
def reader() -> Coach:
    return Coach(knowledge=shipped_knowledge(), store=MemoryStore())


def test_held_out_sets_are_not_near_copies_of_training_examples():
    """A test line reworded into knowledge/examples would make the figures here say nothing about new text."""
    held_out = [item["text"] for name in (*FLOORS, "real_dev.yaml") for item in load(name)] + [
        item["opening"] for item in load("vague.yaml")
    ]
    near = []
    for example in shipped_knowledge().examples:
        match = process.extractOne(example.text, held_out, scorer=fuzz.token_sort_ratio, score_cutoff=NEAR_COPY)
        if match:
            near.append(f"{example.text!r} ~ {match[0]!r} ({match[1]:.0f})")
    assert not near, "\n".join(near)


@pytest.mark.parametrize("name", list(FLOORS))
def test_labelled_set_covers_every_combination(name: str):
    items = load(name)
    assert len(items) >= 150
    combos = {(i["interaction"], i["customer"]) for i in items}
    assert len(combos) == 20
    assert sum(i["style"] == "real" for i in items) >= 60


@pytest.mark.parametrize("style", ["all", "real"])
@pytest.mark.parametrize("name", list(FLOORS))
def test_accuracy_with_no_question_asked(reader: Coach, name: str, style: str):
    items = [i for i in load(name) if style == "all" or i["style"] == style]
    floor = FLOORS[name][style == "real"]
    interaction, customer, misses = score(reader, items)
    print(f"\n{name} {style} {len(items)}: interaction {interaction:.1%}, customer {customer:.1%}")
    assert interaction >= floor["interaction"] and customer >= floor["customer"], "\n".join(misses[:40])


async def run_vague(item: dict, *, typed: bool) -> tuple[int, bool]:
    """Play one vague opening through the dialog, answering as the agent would; (questions, right)."""
    coach = Coach(knowledge=shipped_knowledge(), store=MemoryStore())
    (reply,) = await coach.handle(say(item["opening"]))
    asked = 0
    while reply.kind == "question":
        again = reply.text in (
            DIDNT_CATCH,
            NOTHING_TO_GUESS_FROM,
        )  # the typed answer did not land: the agent presses the button
        asked += not again
        assert asked <= 3, item["opening"]
        question = next(q for q in shipped_knowledge().questions.values() if q.text == reply.title)
        if typed and not again and question.id in item.get("answers", {}):
            (reply,) = await coach.handle(say(item["answers"][question.id]))
        else:
            truth = item["interaction"] if question.asks == "interaction" else item["customer"]
            option = max(question.options, key=lambda o: o.signals.get(truth, 0.0))
            (reply,) = await coach.handle(
                say(choice=f"d|{(await coach.store.get_dialog(say().dialog_key))['id']}|{question.id}|{option.id}")
            )
    right = reply.title.startswith(
        f"{shipped_knowledge().interactions[item['interaction']].name} interaction · "
        f"{shipped_knowledge().customers[item['customer']].name} customer"
    )
    return asked, right


@pytest.mark.parametrize("typed", [False, True], ids=["buttons", "typed answers"])
async def test_vague_openings(typed: bool):
    items = load("vague.yaml")
    assert len(items) >= 20
    results = [await run_vague(item, typed=typed) for item in items]
    mean = sum(a for a, _ in results) / len(results)
    right = sum(r for _, r in results) / len(results)
    print(f"\nvague {len(items)} ({'typed' if typed else 'buttons'}): mean questions {mean:.2f}, right {right:.1%}")
    wrong = [item["opening"] for item, (_, r) in zip(items, results, strict=True) if not r]
    assert mean <= MAX_MEAN_QUESTIONS
    assert right >= FLOOR_VAGUE_RIGHT["typed" if typed else "buttons"], wrong


# Situations from real front-line work (tests/data/real_dev.yaml, never trained on), read with no question
# answered. Measured 2026-12-07 on 741 lines from accounts no other set uses (bench/reader_real.py): interaction
# 64.3% and customer 64.8% on the lines whose label names a type; asks about the customer on 98.0% of the lines
# that show none; 9 answered at once, none wrong. The reader of that morning read them 51.0% and 57.3%; the 476
# lines written last, after every change of that day, read 62.8% and 63.4%. Most misses are routine contacts
# read as critical. The reader issue's bars (80% / 85%) are not met: these floors keep what was won.
# `situation_found`: of the answers that lead with a situation's lines, how many lead with the one two blind readers
# chose (57.1%, 48 of 84, on 2026-12-07, after the phrases that set a busy scene or named a trade were narrowed: a
# phrase that fires on the wrong contacts puts the wrong lines first). Only 11% of labelled situations are found:
# real agents rarely use a situation's words.
# Round three (1,522 more lines, a later session of 2026-12-07) tripled the set: on all 2,263 lines, 64.8% and
# 70.8%, asking on 96.8%, and 36 answered at once, 3 of them wrong (a type named for a customer who shows none, and
# a first-time camera buyer's question read as routine): far fewer than the 5 per 100 lines, but short of
# its 95%.
# With round three's situations (1,260 labelled), answers that lead with a situation lead with the labelled one 50.6%
# of the time (133/263): 60.2% on rounds one and two, whose lines earlier phrase fixes were checked on, 46.1% on the
# fresh lines.
# Since the customer type is answered at once only where a cue or an answer shows it (bot/classify.py, 2026-12-07):
# 34 answered at once, one wrong (97.1%), meeting the 95%, which the test now holds.
# Round eleven (145 fresh lines, 2026-12-08) brought two more wrong at once, both where the words plainly named two
# kinds of contact (an outage with a threat to cancel, read critical; labelled surprise): 51 with 4 wrong (92.2%). Such
# a contact is now asked about (bot/classify.py, CONTESTED_CUE): 43 with 2 wrong (95.3%) on the 3,419 lines.
REAL_FLOORS = {"interaction": 0.62, "customer": 0.66, "asks": 0.96, "situation_found": 0.48}
MAX_WRONG_AT_ONCE = 3
AT_ONCE_RIGHT = 0.95


def test_real_situations_read_with_no_question_answered(reader: Coach):
    from bench.reader_real import measure

    figures = measure(reader, load("real_dev.yaml"))
    counts = figures["counts"]
    rates = {key: counts[key][0] / counts[key][1] for key in REAL_FLOORS}
    print(f"\nreal_dev: {rates}, answered at once {counts['at_once']}")
    assert all(rates[key] >= floor for key, floor in REAL_FLOORS.items()), rates
    assert counts["at_once"][1] - counts["at_once"][0] <= MAX_WRONG_AT_ONCE, "\n".join(figures["misses"])
    assert counts["at_once"][0] >= AT_ONCE_RIGHT * counts["at_once"][1], counts["at_once"]


# The situations' phrases on the real work they are tuned on: the real-work examples whose `situation` two blind readers
# agreed on (knowledge/examples/real_work*.yaml, 2,244 lines, 1,835 naming one). On 2026-12-07 the answers that lead
# with a situation led with the labelled one 55.9% of the time (199/356), and found 10.8% of those labelled.
# tests/data/real_dev.yaml stays the held-out check (REAL_FLOORS above).
TUNED_SITUATION_FLOOR = 0.53


def test_situations_lead_with_the_labelled_one_on_real_work(reader: Coach):
    from bench.reader_real import measure

    items = [
        example
        for path in sorted((Path(__file__).resolve().parent.parent / "knowledge" / "examples").glob("real_work*.yaml"))
        for example in yaml.safe_load(path.read_text(encoding="utf-8"))["examples"]
        if "situation" in example
    ]
    right, leads = measure(reader, items)["counts"]["situation_found"]
    print(f"\nsituations on real work: {right}/{leads} leads right, of {len(items)} labelled lines")
    assert len(items) > 2000 and right / leads >= TUNED_SITUATION_FLOOR


def test_real_sets_share_no_source():
    """A story told in the development set must not also be one the reader learned from."""
    trained = {e.source for e in shipped_knowledge().examples if e.source}
    developed = {item["source"] for item in load("real_dev.yaml")}
    assert trained and developed and not trained & developed
