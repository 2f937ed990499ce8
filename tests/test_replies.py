"""The answer an agent reads mid-call: short, in any trade's words, the situation's step first, honest labels."""

from __future__ import annotations

import re
import statistics
from pathlib import Path

import pytest
import yaml

from adapters.console import render
from bot.coach import Coach
from bot.errors import KnowledgeError
from bot.knowledge import ANY, CUSTOMERS, INTERACTIONS, fits_any_trade, load_knowledge
from bot.messages import Reply
from bot.replies import NOTHING_TO_GUESS_FROM, SHORT_LINES
from bot.store.memory import MemoryStore
from tests.conftest import say, shipped_knowledge

DATA = Path(__file__).resolve().parent / "data"
MEDIAN_WORDS, MAX_WORDS = 60, 80

# One line an agent might type for each situation the reply issue names, and the situation it is.
SITUATIONS = {
    "safety": "kid at table six bit into glass in his pasta, mum is frantic",
    "injury": "member cut his hand on the rowing machine, he's bleeding on the mat",
    "collapse": "man by the lifts went down, he's unresponsive and his wife says he's not breathing",
    "choking": "diner at table four is choking on a piece of chicken, his wife is thumping his back",
    "missing-child": "dad at the desk in a panic, his boy was beside him a minute ago, now he can't find his son",
    "sudden-death": "caller needs to close her son's account, he was killed in a car accident last month",
    # "without" reaches "doesn't" as a negator: a phrase that begins with one still counts.
    "self-harm": "caller lost her husband in the spring, says without him she doesn't want to be alive anymore",
    "hazard": "smoke is coming out of the back of the printer by the queue, people are stepping back",
    "cannot-meet": "woman wants to return the dress she wore once, it was final sale and my manager said no",
    "advances": "guy at the counter keeps hitting on me while i ring him up, won't take the hint",
    "unwanted-contact": "guest keeps touching my arm while i check him in, i've moved away once already",
    "crowding": "customer followed me to my car after my shift, still going on about his refund",
    "threat": "he says he'll leave a one star review and go to trading standards if we don't sort it",
    "manager": "cx demanding to speak to a manager about the charge",
    "outage": "nobody in the area has service since this morning, whole system down, cx on the line",
    "billing-error": "customer charged twice for the same thing on her statement",
    "delivery-problem": "parcel never arrived, tracking says delivered, cx on chat",
    "repeat-fault": "same fault again, third time it broke after the repair",
    "special-request": "guest asking for a late checkout, flight isn't till the evening",
    "third-party": "cx furious at her previous provider for the mess they left, wants to switch to us",
    "offer-turned-complaint": "rang her about the renewal offer and she started complaining her last bill was wrong",
    "first-use": "customer wants help to set up the thing she bought yesterday, first time using one",
    "renewal-offer": "calling him about renewing his plan with an upgrade we can offer",
    "offer-declined": "offered her the store card at the till and she said no thanks, do i ask again",
    "regular-visit": "our regular is at the counter for his usual coffee, same order as always, all fine",
    "service-down": "cx furious, her internet is down since last night and she works from home",
    "find-an-item": "lady wants a novel she heard about on the radio, doesn't know the title, remembers the cover",
    "booking-request": "man on the phone wants to book a table for four on saturday night",
    "none-left": "caller wants two seats for the show tonight, it's sold out",
    "grief": "widow on the phone, her husband died last month, she's calling to close his account",
    "unwell": "her mum died last year, she's in the shop today and has just fainted by the till",
    "emergency-signs": "tour coach, one of my group says chest pains and his arm is going numb",
    "lost-item": "guest on the phone, left her glasses in the room yesterday, asking if anything's been handed in",
}


@pytest.fixture(scope="module")
def reader() -> Coach:
    return Coach(knowledge=shipped_knowledge(), store=MemoryStore())


async def answer_to(coach: Coach, text: str, user: str = "U1") -> Reply:
    """The answer a line gets, pressing "skip" through any question."""
    (reply,) = await coach.handle(say(text, user=user))
    for _ in range(6):
        if reply.kind != "question":
            break
        # With nothing to guess from, "skip" asks again: the agent then picks the first option.
        turn = (
            say(choice=reply.choices[0].value, user=user)
            if reply.text == NOTHING_TO_GUESS_FROM
            else say("skip", user=user)
        )
        (reply,) = await coach.handle(turn)
    return reply


def named_situations(coach: Coach, text: str) -> set[str]:
    """The situations whose phrases ``text`` holds, whatever the reading; an answer leads with one of them or none."""
    return {key for key, _ in coach.classifier.situations.find(coach.classifier.reader.tokens(text))}


def shown_words(reply: Reply) -> int:
    """Words the console shows before the first option."""
    return len(render(reply).split("\n  [1] ")[0].split())


def says(reply: Reply) -> tuple[str, ...]:
    """The lines to say, where the answer must have some."""
    return next(s.lines for s in reply.sections if s.title == "Say")


def said_lines(reply: Reply) -> tuple[str, ...]:
    """The lines to say, none where the answer has no "Say" section."""
    return next((s.lines for s in reply.sections if s.title == "Say"), ())


async def test_short_answer_is_types_hold_on_and_a_few_lines_and_the_rest_is_behind_more(coach: Coach):
    reply = await answer_to(coach, "cx furious, blender broke on day 2, wants it sorted")
    assert reply.title == "Critical interaction · Angry customer"
    assert [s.title for s in reply.sections] == ["Hold on to", "Say"] and 0 < len(says(reply)) <= SHORT_LINES
    assert shown_words(reply) <= MAX_WORDS
    (more,) = await coach.handle(say(choice=reply.choices[0].value))
    titles = [s.title for s in more.sections]
    assert {"What this is", "What this customer needs", "Script (de-escalation)", "After the contact", "Why"} <= set(
        titles
    )


async def test_words_before_the_first_option_on_a_labelled_set():
    coach = Coach(knowledge=shipped_knowledge(), store=MemoryStore())
    items = yaml.safe_load((DATA / "real_dev.yaml").read_text(encoding="utf-8"))
    counts = [shown_words(await answer_to(coach, item["text"], user=f"U{n}")) for n, item in enumerate(items)]
    print(f"\nwords before the first option: median {statistics.median(counts)}, max {max(counts)}")
    assert statistics.median(counts) <= MEDIAN_WORDS and max(counts) <= MAX_WORDS


@pytest.mark.parametrize(
    "situation, text",
    [*SITUATIONS.items()],
)
async def test_the_answer_leads_with_the_situations_own_step(coach: Coach, situation: str, text: str):
    wanted = next(s for s in shipped_knowledge().situations if s.id == situation)
    reply = await answer_to(coach, text)
    first = wanted.steps[0]
    if first.say:
        assert says(reply)[0] == first.say, (situation, reply.title)
    else:  # no sentence fits most such contacts: what to do first leads the script behind "More"
        later = next((step.say for step in wanted.steps if step.say), None)
        said = said_lines(reply)
        assert (said[0] == later) if later else not said, (situation, said)
        (more,) = await coach.handle(say(choice=reply.choices[0].value))
        script = next(s for s in more.sections if s.title.startswith("Script"))
        assert script.lines[0].startswith(first.do), (situation, script.lines[0])


@pytest.mark.parametrize(
    "text, not_this",
    [
        # "list" folds from "listing": a listing that vanished is no request to stop offers
        (
            "caller says the flat she paid a deposit on has vanished off the listing site, she wants it back",
            "stop-contact",
        ),
        # a warning on a label is no one choking
        ("mum asking if the toy has small parts, worried about a choking hazard for her toddler", "choking"),
        # a second visit, or a second go at something, is no fault that came back
        (
            "customer at the desk says the self check-in kiosk didn't take her card, "
            "it's only her second time using it",
            "repeat-fault",
        ),
        # a courtesy call carries no offer (DOMAIN.md rule 4), so a complaint on one is no offer turned sour
        ("courtesy call after his service, he's angry the car pulls to the left again", "offer-turned-complaint"),
        # an offer still to be made, or taken, is not one declined; nor is a no to a question
        (
            "cx at the till asked about the extended warranty on the laptop, wants to know if it covers spills",
            "offer-declined",
        ),
        ("asked him for his order number and he said no, he doesnt have it", "offer-declined"),
        # folding reads "sparking" as "spark": the safety lines need sparks seen, not a part asked for
        ("parts counter, guy needs spark plugs for his mower, doesn't know the size", "safety"),
        # panel p34 (2026-12-07): "never fix" folded from "never fixed", a fee that is non-refundable, an animal
        # scared, a card a machine swallowed
        (
            "fitted the new opener, he says he'd never fix it himself, about to offer our maintenance plan",
            "complaint-during-offer",
        ),
        ("guest checking in says he has his dog with him, the pet fee is non-refundable", "cannot-meet"),
        ("couple after balloons, they say the neighbour's chicken is scared of them", "fear"),
        ("cx at the cash machine outside, it just swallowed her card, wants it back now", "safety"),
        # panel p35 (2026-12-07): a drunk passenger nobody served is no wait, a bag she can't decide on no purchase
        ("deplaning, woman so drunk she can't stand, crew says nobody served her, worried she'll drive", "long-wait"),
        ("cx at my till can't decide whether her bag of potatoes needs a carrier bag", "before-buying"),
        # panel p37: an "ambulance chaser" is no emergency, nor is the agent's own question whether to climb a gate
        ("phoning a contact from a seminar, wrong number, she's yelling that i'm an ambulance chaser", "safety"),
        (
            "rural delivery, gate is padlocked, nobody answers the phone, leave it at the gate or climb over?",
            "risky-behaviour",
        ),
        # panel p39 (2026-12-08): a phrase does not run across a comma ("probably not, happy w/ his provider")
        (
            "courtesy call list, asked if he'd switch to us for a special deal, he says probably not, happy w/ his"
            " provider",
            "complaint-during-offer",
        ),
        # panel p36: a smell that "hit me" is no one hitting staff
        (
            "new carpet job, not cleaned in years, strong smell hit me at the door, how do i set expectations",
            "unwanted-contact",
        ),
        # round thirteen (2026-12-08): "injuring" folds to "injured", "recurring" charges are no fault that came back,
        # and a customer asking if the agent is a scammer is no one being scammed
        (
            "new client hauls a huge backpack to every session, close to injuring himself, how do i raise it",
            "injury",
        ),
        ("cx just noticed recurring charges from a store card, says he'll close his account", "repeat-fault"),
        ("older gent on the line asks if i'm a scammer trying to sell him a scooter", "vulnerable"),
        # a chest pain seen days ago is no emergency now
        (
            "caller seen 3 days ago for chest pain, started her antibiotic tonight, asks about side effects",
            "emergency-signs",
        ),
    ],
)
async def test_words_that_only_look_like_a_situation_do_not_lead_with_it(coach: Coach, text: str, not_this: str):
    assert coach.classify(text)["situation"] != not_this
    reply = await answer_to(coach, text)
    said = said_lines(reply)
    wrong = {"stop-contact", "offer-turned-complaint", "offer-declined", not_this}
    leads = {s.id for s in shipped_knowledge().situations if s.id in wrong and s.steps[0].say in said[:1]}
    assert not leads, (text, said)


@pytest.mark.parametrize(
    "situation, not_it, it",
    [
        # panel p36: a call for a partner's consent to cancel got "I'll leave the offer there"
        (
            "offer-turned-complaint",
            "outbound calling the other half of a couple plan to get his ok to cancel it, he says no",
            "calling to offer the upgrade and he says he's been overcharged for months",
        ),
        # panel p39: a client told the pros and cons who has chosen was asked what she would use it for
        (
            "before-buying",
            "at a client's house for lash extensions, went thru the pros and cons, she still wants the full set",
            "couple looking at the 2 big tvs, husband asking me pros and cons",
        ),
        # panels p37 and p38: a call we made about arrears got "Thanks for telling me" before anyone spoke
        (
            "hardship",
            "calling a borrower 12 months behind on his mortgage, he's in arrears on the card too",
            "caller says she lost her job and can't pay this month's bill",
        ),
    ],
)
def test_a_situation_is_named_by_what_the_customer_brings_not_by_the_call_around_it(
    coach: Coach, situation: str, not_it: str, it: str
):
    """The phrases alone, whatever the reading: both situations lead only after an answer ("a complaint") that the
    skip-through tests above never give."""
    assert situation not in named_situations(coach, not_it)
    assert situation in named_situations(coach, it)


@pytest.mark.parametrize(
    "text",
    [
        "breakdown cover caller says he hit a guardrail on a mountain pass abroad, shaken, needs a tow",
        "policyholder on the phone in a panic, her son crashed his motorbike at a junction and is badly hurt",
    ],
)
async def test_a_crash_checks_on_the_people_first(coach: Coach, text: str):
    """Panel p36: a shaken caller after a crash got "I understand why that's frustrating." first."""
    first = says(await answer_to(coach, text))[0]
    people_first = {s.steps[0].say for s in shipped_knowledge().situations if s.id in ("safety", "injury")}
    assert first in people_first


@pytest.mark.parametrize(
    "text, situation",
    [
        ("man fell by the tills and hit his head, we've called an ambulance, his wife is shouting at staff", "safety"),
        ("two kids are climbing on the shelves in aisle 4, mum is on her phone", "risky-behaviour"),
        # panel p39: a death named with "just" between
        ("timeshare call, man cut me off to say his wife just died, what do i do", "grief"),
        # round thirteen: the narrowed phrases
        ("she slipped on the wet floor by the door and is injured, bleeding a bit", "injury"),
        ("elderly caller says a scammer called pretending to be us and got her card number", "vulnerable"),
        ("the same noise is a recurring fault on his car, third visit", "repeat-fault"),
        # a caller asking what he has left to live for is at risk first, whatever grief brought it
        ("collections call, he says his wife died last month and asks what he's got left to live for", "self-harm"),
    ],
)
def test_narrowed_phrases_still_find_what_they_name(coach: Coach, text: str, situation: str):
    assert situation in named_situations(coach, text)


@pytest.mark.parametrize(
    "text, not_said",
    [
        # panel p39 (2026-12-08): each line judged wrong where the situation's own words make it so
        (
            "regular on my route, another load of parcels for her, she has very little english",
            "Let me find a way for us to understand each other.",
        ),
        ("regular at the counter, wants his usual, same as always", "Would you like it the same as before?"),
        # panel p40: a room is booked by nights, not by a time
        ("phone call just after midnight, someone wants to book a room", "Which time would suit you best?"),
        (
            "new member just signed up, says training is expensive and she's not sure it's a smart idea",
            "Did that work? Then we'll move on to the next bit.",
        ),
        # panel p41: offered unasked, help from someone else reads as doubting the customer can cope
        (
            "woman booking a family shoot, her husband has early alzheimers, the sons are flying in for it",
            "Is there someone you'd like me to contact for you?",
        ),
    ],
)
async def test_no_line_asks_or_says_what_the_situation_already_rules_out(coach: Coach, text: str, not_said: str):
    reply = await answer_to(coach, text)
    said = said_lines(reply)
    assert not_said not in said


async def test_safety_comes_before_the_product(coach: Coach):
    reply = await answer_to(coach, "customer's child swallowed a piece of glass from the dish, she is screaming at me")
    first = says(reply)[0].lower()
    assert "hurt" in first or "help" in first
    assert not any(word in " ".join(says(reply)).lower() for word in ("unplug", "switched off", "refund"))


async def test_a_routine_request_gets_what_to_hold_on_to_and_no_filler_line(coach: Coach):
    """No one sentence fits most routine requests (panels judged the filler wrong a third of the time): the short
    answer names the type and what to hold on to, and the full script behind "More" still has lines to say."""
    reply = await answer_to(coach, "customer asking what time we open tomorrow")
    assert reply.title.startswith("Stabilizing interaction")
    assert [s.title for s in reply.sections] == ["Hold on to"]
    assert "Help with what they need" in reply.sections[0].lines[0]
    (more,) = await coach.handle(say(choice=reply.choices[0].value))
    script = next(s for s in more.sections if s.title.startswith("Script"))
    assert any("“" in line for line in script.lines)


def test_every_sample_sentence_fits_any_trade():
    k = shipped_knowledge()
    sentences = [s.say for script in k.scripts.values() for s in script.steps if s.say]
    sentences += [s.say for situation in k.situations for s in situation.steps if s.say]
    sentences += [script.hold_on.line for script in k.scripts.values()]
    problems = [(s, fits_any_trade(s, k.language.trade_words)) for s in sentences]
    assert not [p for p in problems if p[1]], [p for p in problems if p[1]]


@pytest.mark.parametrize(
    "sentence, problem",
    [
        ("Your order arrives Thursday between 8 and 12.", "number"),
        ("Welcome aboard! I'm Sam.", "capitalised"),
        ("I can process that refund right now.", "refund"),
        ("I'll call you back by [time] with an update.", None),
        ("Go ahead, I'm listening. Take your time.", None),
    ],
)
def test_the_rule_for_sample_sentences(sentence: str, problem: str | None):
    found = fits_any_trade(sentence, frozenset({"refund", "order"}))
    assert (found is None) if problem is None else (problem in found)


def test_check_knowledge_names_file_and_line_of_a_sentence_that_fits_one_trade(knowledge_copy: Path):
    path = knowledge_copy / "scripts.yaml"
    text = path.read_text(encoding="utf-8")
    first_say = re.search(r'say: "([^"]+)"', text)
    assert first_say
    path.write_text(text.replace(first_say.group(0), 'say: "Your order arrives Thursday at 9."', 1), encoding="utf-8")
    line = next(n for n, row in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if "Thursday at 9" in row)
    with pytest.raises(KnowledgeError) as caught:
        load_knowledge(knowledge_copy)
    assert any(p.startswith(f"{path}:{line}:") and "number" in p for p in caught.value.problems), caught.value.problems


@pytest.mark.parametrize("interaction", INTERACTIONS)
@pytest.mark.parametrize("customer", CUSTOMERS)
def test_scripts_are_named_for_what_they_are(interaction: str, customer: str):
    """DOMAIN.md: de-escalation for angry customers and surprise or critical contacts, follow-up otherwise."""
    k = shipped_knowledge()
    kinds = {k.interactions[interaction].script_kind, k.customers[customer].script_kind}
    de_escalation = customer == "angry" or interaction in ("surprise", "critical")
    assert ("de-escalation" in kinds) == de_escalation
    script = k.scripts[(interaction, customer)]
    if interaction in ("surprise", "critical"):
        # Behind "More" the de-escalation always has lines to say. Which of them the short answer reads is for panels
        # to decide (scripts.yaml: a line leads only where readers said it as it is at least as often as wrong).
        assert any(step.say for step in script.steps)


async def test_why_quotes_what_the_agent_typed(coach: Coach):
    reply = await answer_to(coach, "regular for 6 yrs, 😡😡 about the double charge")
    (more,) = await coach.handle(say(choice=reply.choices[0].value))
    why = next(s for s in more.sections if s.title == "Why").lines[0]
    assert "“for 6 yrs”" in why and "“😡😡”" in why
    assert "num" not in why.split() and "years" not in why


async def test_a_pair_with_no_line_that_fits_most_contacts_shows_what_to_hold_on_to(coach: Coach):
    """A surprise with an angry customer: every line tried was wrong more often than said as it is (scripts.yaml), so
    the short answer is the types and what to hold on to, and the script's lines wait behind "More"."""
    reply = await answer_to(coach, "cx furious, blender smoked on day 2")
    assert reply.title == "Surprise interaction · Angry customer"
    assert [s.title for s in reply.sections] == ["Hold on to"]
    (more,) = await coach.handle(say(choice=reply.choices[0].value))
    script = next(s for s in more.sections if s.title == "Script (de-escalation)")
    assert any("“" in line or '"' in line for line in script.lines), script.lines


async def test_how_i_read_it_lists_only_types_with_a_real_share(coach: Coach):
    reply = await answer_to(coach, "cx furious, blender smoked on day 2")
    (more,) = await coach.handle(say(choice=reply.choices[0].value))
    for line in next(s for s in more.sections if s.title == "Why").lines[1:]:
        shares = [int(p) for p in re.findall(r"(\d+)%", line)]
        assert shares and all(p >= 10 for p in shares)


async def test_a_type_not_shown_is_named_as_not_clear(coach: Coach):
    reply = await answer_to(coach, "customer wants to return a kettle")
    assert reply.title.endswith("Customer type not clear")
    assert ANY not in reply.title
