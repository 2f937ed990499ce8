"""The conversation core through its one entry point, ``Coach.handle``, on the shipped knowledge."""

from __future__ import annotations

import dataclasses
import gc
import json
import random

import pytest

from bot.classify import ASK_BELOW, NAME_FROM
from bot.coach import Coach, build_coach
from bot.messages import Reply
from bot.model import features
from bot.plain_text import plain_text
from bot.replies import DIDNT_CATCH, NOTHING_TO_GUESS_FROM
from bot.store.memory import MemoryStore
from bot.store.sqlite import SQLiteStore
from bot.text import TextReader
from tests.conftest import Clock, say, shipped_knowledge

RICH = "customer is furious and shouting, wants a refund because the delivery came two weeks late"
VAGUE = "cx on the line, need help"


def only(replies: list[Reply]) -> Reply:
    assert len(replies) == 1, [r.title for r in replies]
    return replies[0]


def option_value(reply: Reply, type_id: str) -> str:
    """The value of the option whose strongest signal is ``type_id``."""
    question = next(q for q in shipped_knowledge().questions.values() if q.text == reply.title)
    option = max(question.options, key=lambda o: o.signals.get(type_id, 0.0))
    assert option.signals.get(type_id, 0) > 0, f"no option of {question.id} means {type_id}"
    return next(c.value for c in reply.choices if c.value.endswith(f"|{question.id}|{option.id}"))


async def test_rich_description_is_answered_at_once(coach: Coach):
    reply = only(await coach.handle(say(RICH)))
    assert reply.kind == "answer"
    assert reply.title.startswith("Critical interaction · Angry customer")
    assert [s.title for s in reply.sections] == ["Hold on to", "Say"]
    hold_on, say_lines = reply.sections
    assert len(hold_on.lines) == 1 and hold_on.lines[0].startswith("Opportunity: ")
    assert say_lines.numbered and 1 <= len(say_lines.lines) <= 3
    assert reply.text in ("Sure.", "Fairly sure.", "Best guess.")
    assert [c.label for c in reply.choices] == ["More", "Right", "Not quite", "Start over"]
    more = only(await coach.handle(say(choice=reply.choices[0].value)))
    titles = [s.title for s in more.sections]
    assert (
        titles[:3] == ["What this is", "Hold on to", "What this customer needs"]
        and titles[3] == "Script (de-escalation)"
    )
    assert titles[-2:] == ["After the contact", "Why"] and "furious" in more.sections[-1].lines[0]


async def test_a_contact_whose_words_name_two_kinds_is_asked_about(coach: Coach):
    """An offer call that meets a complaint about a charge is critical (DOMAIN.md rule 3), but the reader, which
    learns precedence from examples, read it as planned for sure. Where the lexicon plainly names two kinds, the
    coach asks what the contact is about, and the agent's answer settles it."""
    text = "rang a customer about the renewal offer, she is fuming about a double charge on her last bill"
    assert coach.classify(text)["missing"][:1] == ["contact"]
    question = only(await coach.handle(say(text)))
    assert question.kind == "question"
    answer = only(await coach.handle(say(choice=option_value(question, "critical"))))
    assert answer.kind == "answer" and answer.title.startswith("Critical interaction · Angry customer")


async def test_vague_opening_asks_then_answers_by_buttons(coach: Coach):
    first = only(await coach.handle(say(VAGUE)))
    assert first.kind == "question" and len(first.choices) >= 3
    asked = 1
    reply = only(await coach.handle(say(choice=option_value(first, "critical"))))
    while reply.kind == "question":
        asked += 1
        wanted = "critical" if any(option_value_safe(reply, "critical")) else "angry"
        reply = only(await coach.handle(say(choice=option_value(reply, wanted))))
    assert asked <= 3
    assert reply.kind == "answer" and reply.title.startswith("Critical interaction")


def option_value_safe(reply: Reply, type_id: str) -> list[str]:
    try:
        return [option_value(reply, type_id)]
    except (AssertionError, StopIteration):
        return []


async def test_free_text_answers_are_accepted(coach: Coach):
    question = only(await coach.handle(say(VAGUE)))
    assert question.kind == "question"
    replies = await coach.handle(say("she is a long time regular, calling about a refund"))
    reply = only(replies)
    while reply.kind == "question":
        reply = only(await coach.handle(say("she's been with us for years, very calm")))
    assert reply.kind == "answer"


async def test_at_most_three_questions(coach: Coach):
    reply = only(await coach.handle(say(VAGUE)))
    asked: list[str] = []
    turns = 0
    while reply.kind == "question":
        if reply.text not in (DIDNT_CATCH, NOTHING_TO_GUESS_FROM):
            asked.append(reply.title)
        turns += 1
        # details that settle nothing: each question is asked once more, then the coach moves on and stops after three
        reply = only(await coach.handle(say("well it is a bit of a long story really")))
        assert len(asked) <= 3 and turns <= 6
    assert reply.kind == "answer"


async def test_a_typed_answer_that_maps_to_no_option_gets_the_same_question_once_more(coach: Coach):
    question = only(await coach.handle(say("customer at the desk, a regular for years")))
    assert question.kind == "question"
    again = only(await coach.handle(say("well it is a bit of a long story really")))
    assert again.title == question.title and again.text == DIDNT_CATCH
    assert [c.value for c in again.choices] == [c.value for c in question.choices]
    moved_on = only(await coach.handle(say("well it is a bit of a long story really")))
    assert moved_on.title != question.title


async def test_an_unhelpful_answer_gets_the_question_again(coach: Coach):
    question = only(await coach.handle(say("customer wants a refund, what do i do")))
    before = await coach.store.get_dialog(say().dialog_key)
    again = only(await coach.handle(say("hmm")))
    assert again.kind == "question" and again.title == question.title and again.text == DIDNT_CATCH
    assert [c.value for c in again.choices] == [c.value for c in question.choices]
    assert await coach.store.get_dialog(say().dialog_key) == before


async def test_skip_gives_best_guess(coach: Coach):
    assert only(await coach.handle(say("customer wants a refund, what do i do"))).kind == "question"
    reply = only(await coach.handle(say("just tell me")))
    assert reply.kind == "answer" and reply.text in ("Sure.", "Fairly sure.", "Best guess.")
    assert (
        reply.title == "Critical interaction · Customer type not clear"
    )  # nothing shown of the customer: no type named


async def test_skip_with_only_the_customer_shown_names_no_contact_type(coach: Coach):
    assert only(await coach.handle(say("customer is shouting, what do i say"))).kind == "question"
    reply = only(await coach.handle(say("skip")))
    assert reply.kind == "answer" and reply.title == "Kind of contact not clear · Angry customer"


def test_the_answer_names_an_unsettled_type_only_where_it_is_likely():
    """After "skip", a reading right less often than not is not shown as the customer's type (DOMAIN.md rule 12)."""
    from bot.classify import Decision

    even = {"stabilizing": 0.3, "critical": 0.3, "planned": 0.2, "surprise": 0.2}
    weak = {"new": 0.1, "impulsive": 0.1, "educated": 0.1, "angry": 0.55, "loyal": 0.15}
    reading = Decision("critical", "angry", "loyal", even, weak)
    assert weak["angry"] < NAME_FROM["customer"] and even["critical"] < NAME_FROM["interaction"]
    shown = reading.as_answer()
    assert (shown.interaction, shown.customer, shown.secondary) == (None, None, None)
    settled = dataclasses.replace(reading, answered=frozenset({"customer"})).as_answer()
    assert (settled.interaction, settled.customer, settled.secondary) == (None, "angry", "loyal")
    likely = dataclasses.replace(reading, customer_probs={**weak, "angry": 0.7, "loyal": 0.0}).as_answer()
    assert likely.customer == "angry" and likely.interaction is None


async def test_skip_names_no_type_the_reading_does_not_make_likely(coach: Coach):
    """ "just tell me" on a line that says little: not a guessed kind of contact with lines for another situation."""
    opening = "woman at the till has been looking for her card for a while"
    read = coach.classify(opening)
    assert read["interaction"] and read["interaction_confidence"] < NAME_FROM["interaction"]
    reply = only(await coach.handle(say(opening)))
    while reply.kind == "question":
        reply = only(await coach.handle(say("skip")))
    assert reply.title == "Kind of contact not clear · Customer type not clear"
    assert reply.text == "Best guess."


async def answer_after_skipping(coach: Coach, monkeypatch, opening: str, *, read_as) -> tuple[Reply, list[str]]:
    """The answer, and its lines to say, when ``opening`` reads as the evidence ``read_as`` and every question is
    skipped."""
    monkeypatch.setattr(coach.classifier, "read", lambda text: read_as)
    reply = only(await coach.handle(say(opening)))
    while reply.kind == "question":
        reply = only(await coach.handle(say("skip")))
    return reply, [line for s in reply.sections if s.title == "Say" for line in s.lines]


def reading_too_unsure_to_name(coach: Coach, interaction: str, situation: str, **model: float):
    """Evidence naming ``situation``, whose reading leans to ``interaction`` too little for the answer to name it."""
    from bot.classify import Evidence

    evidence = Evidence(model={"surprise": -3.0, **model}, shows=("interaction", "customer"), situations=(situation,))
    reading = coach.classifier.decide(evidence)
    assert reading.interaction == interaction and reading.as_answer().interaction is None
    return evidence, reading


async def test_a_type_too_unlikely_to_name_still_rules_out_a_situation_written_for_another(coach: Coach, monkeypatch):
    """ "It's wrong" on a contact read as more likely a complaint than an offer: after "skip" the answer names no
    kind of contact, and still never leads with dropping an offer nobody made."""
    leaning, reading = reading_too_unsure_to_name(
        coach, "critical", "complaint-during-offer", critical=1.5, planned=0.0, stabilizing=1.0, angry=3.0
    )
    assert coach.classifier.situation(leaning, reading.as_answer()).id == "complaint-during-offer"  # the trap
    reply, said = await answer_after_skipping(coach, monkeypatch, "cx says it came wrong", read_as=leaning)
    assert reply.title.startswith("Kind of contact not clear")
    trap = next(s for s in shipped_knowledge().situations if s.id == "complaint-during-offer")
    assert said and not {step.say for step in trap.steps} & set(said)


async def test_a_type_the_agent_said_is_not_shown_rules_out_a_situation_written_for_it(coach: Coach):
    """Anger at a previous provider leads with its lines while the words read angry. Once the agent has answered that
    nothing stands out about the customer, the answer must not say "I hear you, and I'm sorry about that" to someone
    the agent has just called calm."""
    from bot.classify import Evidence

    classifier = coach.classifier
    said = classifier.read("caller going on about the mess her previous provider left, wants to switch to us")
    assert classifier.answer(said)[1].id == "third-party"
    shown, situation = classifier.answer(said.plus(Evidence(unshown=("customer",))))
    assert situation is None and shown.customer is None


async def test_a_situation_that_exists_within_one_type_names_it(coach: Coach, monkeypatch):
    """An offer read at 40%: the lines lead with the offer ("I'll leave the offer there"), so the headline says it is
    one, not "not clear"."""
    offer, _ = reading_too_unsure_to_name(
        coach, "planned", "complaint-during-offer", planned=3.0, critical=0.0, stabilizing=1.4, loyal=3.0
    )
    shown, situation = coach.classifier.answer(offer)
    assert situation is not None and situation.id == "complaint-during-offer" and shown.interaction == "planned"
    reply, said = await answer_after_skipping(
        coach, monkeypatch, "rang her about the renewal, she says her last bill was wrong", read_as=offer
    )
    assert reply.title.startswith("Planned interaction")
    assert said[0] == situation.steps[0].say


@pytest.mark.parametrize("opening", ["help pls", "hmm", "zzqx blorf"])
async def test_skip_with_nothing_to_go_on_asks_again_and_keeps_the_dialog(coach: Coach, opening: str):
    """No cue and no word the model knows: there is no best guess, so none is offered or given."""
    question = only(await coach.handle(say(opening)))
    assert question.kind == "question" and not any(c.value.endswith("|skip") for c in question.choices)
    before = await coach.store.get_dialog(say().dialog_key)
    stale_skip = f"d|{before['id']}|{before['pending']}|skip"  # the skip button, had it been offered
    for turn in (say("skip"), say(choice=stale_skip), say("hmm")):
        again = only(await coach.handle(turn))
        assert again.kind == "question" and again.title == question.title and again.text == NOTHING_TO_GUESS_FROM
        assert [c.value for c in again.choices] == [c.value for c in question.choices]
        assert await coach.store.get_dialog(say().dialog_key) == before
    reply = only(await coach.handle(say(choice=option_value(question, "critical"))))
    assert any(c.value.endswith("|skip") for c in reply.choices)  # now there is something to guess from
    while reply.kind == "question":
        reply = only(await coach.handle(say("skip")))
    assert reply.title.startswith("Critical interaction")


async def test_nothing_stands_out_keeps_the_customer_unnamed_and_stops_asking(coach: Coach):
    """A calm, ordinary customer: the agent says so, and the coach answers for any customer (DOMAIN.md rule 12)."""
    knowledge = shipped_knowledge()
    reply = only(await coach.handle(say("man at the desk wants two tickets for the late show")))
    asked = []
    while reply.kind == "question":
        question = next(q for q in knowledge.questions.values() if q.text == reply.title)
        asked.append(question.asks)
        if question.asks == "interaction":
            reply = only(await coach.handle(say(choice=option_value(reply, "stabilizing"))))
            continue
        nothing = next(o for o in question.options if o.shows_nothing)
        value = next(c.value for c in reply.choices if c.value.endswith(f"|{question.id}|{nothing.id}"))
        reply = only(await coach.handle(say(choice=value)))
    assert asked.count("customer") == 1, asked  # asked once, then never again
    assert reply.title == "Stabilizing interaction · No customer type stands out"
    more = plain_text(only(await coach.handle(say("more"))))
    assert "Calm, nothing stands out" in more  # the why quotes the agent's answer


async def test_typed_nothing_special_is_the_shows_nothing_option(coach: Coach):
    reply = only(await coach.handle(say("cx on the phone wants to book a table for four")))
    while reply.kind == "question" and "customer" not in reply.title.lower():
        reply = only(await coach.handle(say("a question or purchase, nothing wrong")))
    assert reply.kind == "question"
    answer = only(await coach.handle(say("nothing special")))
    assert answer.kind == "answer" and answer.title.endswith("No customer type stands out")


async def test_a_type_named_after_nothing_stands_out_still_counts(coach: Coach):
    """The later, more specific word wins: 'nothing stands out' and then 'regular' reads loyal."""
    from bot.classify import Evidence

    classifier = coach.classifier
    calm = Evidence(shows=("interaction", "customer"), unshown=("customer",))
    assert classifier.decide(calm).customer is None and not classifier.decide(calm).unsure("customer")
    named = calm.plus(Evidence(answer={"loyal": 3.0}))
    assert classifier.decide(named).customer == "loyal"
    stored = Evidence.from_dict(json.loads(json.dumps(calm.to_dict())))
    assert stored == calm
    old = {k: v for k, v in calm.to_dict().items() if k != "unshown"}  # a dialog saved before the field
    assert Evidence.from_dict(old).unshown == ()


async def test_skip_button_and_more(coach: Coach):
    question = only(await coach.handle(say("customer wants a refund, what do i do")))
    skip = next(c.value for c in question.choices if c.value.endswith("|skip"))
    answer = only(await coach.handle(say(choice=skip)))
    assert answer.kind == "answer"
    more = only(await coach.handle(say("more")))
    assert more.kind == "answer" and more.sections[0].title == "What this is"
    assert more.sections[-1].title == "Why" and any(
        line.startswith("Interaction: Critical") for line in more.sections[-1].lines
    )


async def test_start_over_and_help_keep_working_mid_dialog(coach: Coach):
    question = only(await coach.handle(say(VAGUE)))
    help_reply = only(await coach.handle(say("help")))
    assert help_reply.kind == "info" and "checklist" in plain_text(help_reply)
    # the dialog is intact: the pending question's button still works
    answered = only(await coach.handle(say(choice=question.choices[0].value)))
    assert answered.kind in ("question", "answer")
    assert only(await coach.handle(say("start over"))).title == "Cleared."
    assert await coach.store.get_dialog(say().dialog_key) is None
    stale = only(await coach.handle(say(choice=question.choices[0].value)))
    assert stale.kind == "error" and "ended" in stale.title


async def test_a_new_situation_replaces_an_answered_one(coach: Coach):
    only(await coach.handle(say(RICH)))
    first_id = (await coach.store.get_dialog(say().dialog_key))["id"]
    reply = only(
        await coach.handle(
            say("we called him to offer the premium upgrade, he has been a member for 10 years and loves it")
        )
    )
    assert reply.kind == "answer" and reply.title.startswith("Planned")
    assert (await coach.store.get_dialog(say().dialog_key))["id"] != first_id


async def test_stale_and_foreign_buttons_change_nothing(coach: Coach, clock: Clock):
    question = only(await coach.handle(say(VAGUE, user="U1")))
    saved = await coach.store.get_dialog(say(user="U1").dialog_key)
    # someone else presses U1's button in the same channel
    foreign = only(await coach.handle(say(choice=question.choices[0].value, user="U2")))
    assert foreign.kind == "error" and foreign.private
    assert await coach.store.get_dialog(say(user="U2").dialog_key) is None
    # a made-up value and a value of an unknown option
    for value in ("d|nope|contact|x", "garbage", "d|" + saved["id"] + "|contact|no-such-option", ""):
        assert only(await coach.handle(say(choice=value))).kind == "error"
    assert await coach.store.get_dialog(say(user="U1").dialog_key) == saved
    # after expiry the button is stale too
    clock.now += 31 * 60
    assert only(await coach.handle(say(choice=question.choices[0].value))).kind == "error"


async def test_two_agents_never_share_a_dialog(coach: Coach):
    a = only(await coach.handle(say(VAGUE, user="A")))
    b = only(await coach.handle(say(RICH, user="B")))
    assert a.kind == "question" and b.kind == "answer"
    assert (await coach.store.get_dialog(say(user="A").dialog_key))["pending"] is not None
    other_conversation = only(await coach.handle(say("more", user="A", conversation="C2")))
    assert other_conversation.title == "There is no situation yet."


async def test_bad_input_gets_a_helpful_reply_and_keeps_the_dialog(coach: Coach):
    only(await coach.handle(say(VAGUE)))
    before = await coach.store.get_dialog(say().dialog_key)
    for text in ("", "   ", "🙂🙂🙂", "/frobnicate now", "...!!!"):
        replies = await coach.handle(say(text))
        assert replies and all(r.title for r in replies), text
        assert await coach.store.get_dialog(say().dialog_key) == before, text
    assert "frobnicate" in only(await coach.handle(say("/frobnicate"))).title


async def test_twenty_kilobytes_of_text(coach: Coach):
    text = (RICH + " ") * (20_000 // len(RICH))
    replies = await coach.handle(say(text))
    assert replies[0].kind == "info" and "first part" in replies[0].title
    assert replies[-1].kind == "answer"


async def test_free_text_is_never_stored(tmp_path, clock: Clock):
    store = SQLiteStore(path=tmp_path / "coach.sqlite3")
    coach = Coach(knowledge=shipped_knowledge(), store=store, clock=clock)
    secret = "Zanzibarian toaster at Mrs Okonkwo's flat, she is livid and wants a refund"
    await coach.handle(say(secret))
    await coach.handle(say("more"))
    raw = (tmp_path / "coach.sqlite3").read_bytes() + b"".join(p.read_bytes() for p in tmp_path.glob("coach.sqlite3-*"))
    for word in (b"Zanzibar", b"toaster", b"Okonkwo"):
        assert word not in raw
    assert json.dumps(await store.get_dialog(say().dialog_key)).find("toaster") == -1
    await store.close()


async def test_dialog_survives_a_restart(tmp_path, clock: Clock):
    path = tmp_path / "coach.sqlite3"
    first = Coach(knowledge=shipped_knowledge(), store=SQLiteStore(path=path), clock=clock)
    question = only(await first.handle(say(VAGUE)))
    await first.store.close()
    second = Coach(knowledge=shipped_knowledge(), store=SQLiteStore(path=path), clock=clock)
    reply = only(await second.handle(say(choice=question.choices[0].value)))
    assert reply.kind in ("question", "answer")
    await second.store.close()


async def test_abandoned_dialogs_expire(coach: Coach, clock: Clock):
    only(await coach.handle(say(VAGUE)))
    clock.now += 29 * 60
    assert await coach.expire() == 0
    clock.now += 2 * 60
    assert await coach.expire() == 1


async def test_checklists(coach: Coach):
    listing = only(await coach.handle(say("checklist")))
    assert len(listing.choices) == len(shipped_knowledge().departments)
    billing = only(await coach.handle(say("checklist billing")))
    assert billing.title.startswith("Checklist:") and billing.sections[0].numbered
    misspelt = only(await coach.handle(say("checklist bilinng")))
    assert misspelt.title.startswith("Checklist:") or any("billing" in c.value for c in misspelt.choices)
    unknown = only(await coach.handle(say("checklist astronauts")))
    assert unknown.kind == "error" and unknown.choices
    picked = only(await coach.handle(say(choice=unknown.choices[0].value)))
    assert picked.title.startswith("Checklist:")
    assert only(await coach.handle(say("/checklist sales"))).title.startswith("Checklist:")


async def test_tip_of_the_week_is_stable_within_a_week(coach: Coach, clock: Clock):
    first = only(await coach.handle(say("tip")))
    clock.now += 3600
    assert only(await coach.handle(say("tip"))).text == first.text
    clock.now += 7 * 86400
    assert only(await coach.handle(say("tip"))).text != first.text


async def test_identified_types_are_counted(coach: Coach, clock: Clock):
    only(await coach.handle(say(RICH)))
    counts = await coach.store.identified_counts("2026-W47")
    assert counts == {("critical", "angry"): 1}


async def test_negation_keeps_a_new_customer_new(coach: Coach):
    result = coach.classify("first time customer, not angry at all, just confused about how to set up the app")
    assert result["customer"] == "new"
    assert result["interaction"] == "stabilizing"


@pytest.mark.parametrize(
    "text, found",
    [
        ("she is not happy with the repair", True),
        ("asked if he'd switch, he says probably not, happy w/ his provider", False),
        ("asked if he'd switch. not. happy where he is", False),
    ],
)
def test_a_phrase_does_not_run_across_punctuation(coach: Coach, text: str, found: bool):
    """Panel p39 (2026-12-08): "probably not, happy" was read as "not happy", and an offer call as a complaint."""
    assert ("not happy" in coach.classify(text)["cues"]) is found


@pytest.mark.parametrize(
    "text, theirs",
    [
        ("at the zoo gate, mum holding out her screaming baby for me to see the ticket", False),
        ("her toddler is screaming the place down while she pays", False),
        ("kids yelling in the back of the car, driver asks which lane for returns", False),
        ("cx screaming at me about the refund", True),
        ("customer yelling at my kid who works the till", True),
    ],
)
async def test_a_child_or_pet_making_noise_is_not_the_customer_shouting(coach: Coach, text: str, theirs: bool):
    """Only the customer's own state shows their type (DOMAIN.md rule 12): a cue with a child or a pet beside it
    ("unless_by" in cues.yaml) is someone else's noise, so nothing there names the customer angry for sure."""
    found = coach.classifier.cues.find(coach.classifier.reader.tokens(text))
    assert ("shouting" in {key for key, _ in found}) is theirs


async def test_typos_abbreviations_and_emoji(coach: Coach):
    assert coach.classify("cx furios 😡 wants refnd asap")["customer"] == "angry"
    assert coach.classify("CUSTOMER SAYS THIS IS A JOKE AND I WANT MY MONEY BACK")["customer"] == "angry"


@pytest.mark.parametrize(
    "text, cursing",
    [
        ("customer swearing at me over the phone about his bill", True),
        ("caller yelling and swearing, says we cut his line", True),
        ("customer shouting, swearing, threatening to call the police", True),
        ("he swore and said he'd never come back", True),
        ("she swears she paid the bill last week, wants the late fee off", False),
        ("he swears he left it on the counter, asking if anyone handed it in", False),
        ("cx swears she paid the bill last week", False),
        ("customer swears he never got the parcel", False),
    ],
)
def test_swearing_is_cursing_not_insisting(coach: Coach, text: str, cursing: bool):
    """Folding reads "swears" as "swearing": "she swears she paid" insists, so it is read as "insists" first."""
    matched = {cue for cue, _ in coach.classifier.cues.find(coach.classifier.reader.tokens(text))}
    assert ("swearing" in matched) is cursing, matched


def test_plainly_angry_comes_first_whatever_else_the_text_says(coach: Coach):
    """DOMAIN.md rule 7: twelve years of loyalty make loyal the secondary, not the type, once she is swearing."""
    result = coach.classify(
        "gold member with us 12 years, knows everyone by name, today she is swearing at the desk about the new locker "
        "fee"
    )
    assert (result["customer"], result["secondary_customer"]) == ("angry", "loyal")
    assert (
        coach.classifier.decide(
            coach.classifier.read("gold member with us 12 years, swearing at the desk")
        ).confidence_of("customer")
        >= 0.9
    )
    assert (
        coach.classify("regular for years, not angry at all, just asking about the new class times")["customer"]
        == "loyal"
    )


def test_building_a_coach_leaves_the_garbage_collector_as_it_found_it():
    """build_coach pauses the collector while it trains; a server must not be left without one."""
    assert gc.isenabled()
    build_coach(store=MemoryStore())
    assert gc.isenabled()
    gc.disable()
    try:
        build_coach(store=MemoryStore())
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_an_organisations_ascii_emoticon_is_read():
    """The shipped emoji are all non-ASCII, so plain text skips the emoji pass; an overlay's ">:(" must not be
    skipped."""
    language = shipped_knowledge().language
    reader = TextReader(
        language=dataclasses.replace(language, emoji={**language.emoji, ">:(": "angry"}), vocabulary=set()
    )
    assert [t.word for t in reader.tokens("cx on the phone >:(")][-1] == "angry"


def test_the_model_reads_a_set_of_words_alike_in_any_order(coach: Coach):
    """Two copies of the bot hold the same words in sets of different order; a plain float sum would differ."""
    model = coach.classifier.interaction_model
    words = sorted(
        features(
            coach.classifier.reader.tokens(RICH + ", second week with us, quoted the spec sheet and three competitors")
        )
    )
    readings = {
        tuple(model.log_posterior(set(random.Random(seed).sample(words, len(words)))).values()) for seed in range(50)
    }
    assert len(readings) == 1


def test_real_words_are_not_mended_into_nearby_cue_words(coach: Coach):
    """One letter from a cue word is not a typo when it is a word of its own: no breach at the beach."""
    read = coach.classifier.reader
    mended = {
        word: read.correct(word)
        for word in ("beach", "cooking", "treat", "scammed", "clauses", "furios", "recieved", "custmer")
    }
    assert mended == {
        "beach": "beach",
        "cooking": "cooking",
        "treat": "treat",
        "scammed": "scammed",
        "clauses": "clauses",
        "furios": "furious",
        "recieved": "received",
        "custmer": "customer",
    }
    assert (
        "surprise"
        not in coach.classifier.read("cx was cooking when she rang, asks where the spare filters are").cue_weights
    )  # not "choking"


async def test_the_agents_own_words_are_not_read_as_the_situation(coach: Coach):
    """ "bit stuck" is the agent, not a stuck product; "asap" after "need coaching" is the agent's hurry."""
    for opening in (
        "help pls",
        "need coaching asap",
        "bit stuck here",
        "dunno how to handle this",
        "not sure about this",
    ):
        assert only(await coach.handle(say(opening))).kind == "question", opening
        assert coach.classify(opening)["cues"] == [], opening
    assert coach.classify("the washing machine door is stuck, help pls")["cues"] == ["stuck"]
    assert coach.classify("cx not sure how to set up the router, first week with us")["customer"] == "new"


def test_classify_reports_missing_questions(coach: Coach):
    vague = coach.classify(VAGUE)
    assert vague["missing"] and len(vague["missing"]) <= 3
    assert set(vague) == {
        "interaction",
        "customer",
        "secondary_customer",
        "confidence",
        "interaction_confidence",
        "customer_confidence",
        "cues",
        "missing",
        "situation",
    }
    assert coach.classify(RICH)["missing"] == []


def test_a_customer_type_the_model_alone_reads_is_asked_about_however_sure(coach: Coach):
    """Held out, the model's customer types with no cue behind them were right half the time (bot/classify.py): the
    coach asks rather than answering at once; the same type shown by a cue, or by the agent's answer, is not asked."""
    from bot.classify import Evidence

    model_only = Evidence(model={"critical": 4.0, "impulsive": 6.0}, shows=("interaction", "customer"))
    reading = coach.classifier.decide(model_only)
    assert reading.customer == "impulsive" and reading.confidence_of("customer") >= ASK_BELOW["customer"]
    assert reading.unsure("customer")
    for shown in (Evidence(cue_weights={"impulsive": 2.5}), Evidence(answer={"impulsive": 3.0})):
        assert not coach.classifier.decide(model_only.plus(shown)).unsure("customer")
