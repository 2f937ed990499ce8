"""The tip desk without a platform: sanitising, COACH_MANAGERS, schedules and due weeks, the commands."""

from __future__ import annotations

import datetime as dt

import pytest

from adapters import manager_ids
from adapters.manager_ids import slack_group_ids
from bot.coach import Coach
from bot.errors import ConfigError
from bot.messages import Incoming
from bot.store.memory import MemoryStore
from bot.tips import MAX_TIP_CHARS, Managers, TipRejected, clean_tip
from bot.weekly import Schedule, ScheduleError, parse_schedule, zone
from tests.conftest import Clock, shipped_knowledge

UTC = dt.UTC


# --- sanitising ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, clean",
    [
        ("<!channel> Smile when you pick up.", "Smile when you pick up."),
        ("<!here|here> and <!everyone> listen", "and listen"),
        ("Ask <!subteam^S0614TZR7|@support-leads> first", "Ask first"),
        ("Thanks <@U024BE7LH> and <@W111|bob>!", "Thanks and !"),
        ("@channel @here @everyone read the checklist", "channel here everyone read the checklist"),
        ("hey @@here and @Channel", "hey here and Channel"),
        ("line one\nline\ttwo\x00\x07", "line one line two"),
        ("email me at team@example.com", "email me at team@example.com"),
        ("Greet them with <their name> and <3", "Greet them with <their name> and <3"),
    ],
)
def test_broadcasts_and_mentions_are_removed(raw: str, clean: str):
    assert clean_tip(raw) == clean


@pytest.mark.parametrize("raw", ["", "   ", "<!channel>", "<@U024BE7LH> <!here>"])
def test_empty_tip_is_refused_with_a_clear_error(raw: str):
    with pytest.raises(TipRejected, match="needs some words"):
        clean_tip(raw)


def test_too_long_tip_is_refused_with_the_limit():
    assert len(clean_tip("a" * MAX_TIP_CHARS)) == MAX_TIP_CHARS
    with pytest.raises(TipRejected, match=f"501 characters; keep it to {MAX_TIP_CHARS}"):
        clean_tip("a" * (MAX_TIP_CHARS + 1))


# --- managers and time zones ---------------------------------------------------------------------


def test_managers_parse_and_match_ids_and_roles():
    managers = Managers.parse(
        " slack:U024BE7LH, slack:S0614TZR7 ,, teams:6B703CE3-6D14-4FE6-B90C-DC5F03657AE4 ", ids=manager_ids.RULES
    )
    assert slack_group_ids(managers.ids("slack")) == {"S0614TZR7"}

    def as_(platform, user, roles=()):
        return Incoming(platform=platform, workspace="W", conversation="C", user=user, roles=frozenset(roles))

    assert managers.allows(as_("slack", "U024BE7LH"))
    assert not managers.allows(as_("slack", "U999"))
    assert managers.allows(as_("slack", "U999", ["slack:S0614TZR7"]))
    assert not managers.allows(as_("slack", "U999", ["slack:S0000OTHER"]))
    assert managers.allows(as_("teams", "6b703ce3-6d14-4fe6-b90c-dc5f03657ae4"))  # AAD ids in any case
    assert not managers.allows(as_("teams", "U024BE7LH"))  # a Slack id is not a Teams manager
    assert not Managers.parse("").allows(as_("slack", "U024BE7LH"))


@pytest.mark.parametrize("value", ["U024BE7LH", "slack:", "slack:C0123456", "slack:U1 U2", ":U1"])
def test_bad_managers_entry_is_a_config_error(value: str):
    with pytest.raises(ConfigError, match="COACH_MANAGERS"):
        Managers.parse(value, ids=manager_ids.RULES)


def test_bad_time_zone_is_a_config_error():
    assert zone("Europe/Paris").key == "Europe/Paris"
    with pytest.raises(ConfigError, match="COACH_TIMEZONE='Mars/Olympus'"):
        zone("Mars/Olympus")


# --- schedules -----------------------------------------------------------------------------------


def test_parse_schedule_any_order_and_keeps_what_is_left_out():
    current = Schedule(timezone="UTC")
    assert parse_schedule("friday 14:30 Europe/Paris", current) == Schedule(
        weekday=4, time="14:30", timezone="Europe/Paris"
    )
    assert parse_schedule("9:05 Tue", current) == Schedule(weekday=1, time="09:05", timezone="UTC")
    assert parse_schedule("America/New_York", current) == Schedule(timezone="America/New_York")
    for bad in ("someday", "25:00", "fri 14:30 Nowhere/Town"):
        with pytest.raises(ScheduleError):
            parse_schedule(bad, current)


def test_due_period_in_the_schedules_zone_and_only_within_that_week():
    friday = Schedule(weekday=4, time="14:30", timezone="Europe/Paris")
    paris = zone("Europe/Paris")
    at = lambda *args: dt.datetime(*args, tzinfo=paris)  # noqa: E731
    assert friday.due_period(at(2026, 11, 20, 14, 29)) is None  # Friday, a minute early
    assert friday.due_period(at(2026, 11, 20, 14, 30)) == "2026-W47"
    assert friday.due_period(at(2026, 11, 22, 23, 59)) == "2026-W47"  # down until Sunday night: still this week
    assert friday.due_period(at(2026, 11, 23, 0, 1)) is None  # Monday: last week's is gone, this week's not due
    assert friday.due_period(dt.datetime(2026, 11, 20, 13, 31, tzinfo=UTC)) == "2026-W47"  # 14:31 in Paris
    monday = Schedule(weekday=0, time="00:30", timezone="Pacific/Auckland")  # Sunday 11:30 UTC in November
    assert monday.due_period(dt.datetime(2026, 11, 22, 11, 31, tzinfo=UTC)) == "2026-W48"
    # Across the spring-forward night (Paris, 29 March 2026), 02:30 does not exist: cron runs it at 03:00.
    sunday = Schedule(weekday=6, time="02:30", timezone="Europe/Paris")
    assert sunday.due_period(at(2026, 3, 29, 2, 59)) is None
    assert sunday.due_period(at(2026, 3, 29, 3, 1)) == "2026-W13"


# --- the commands on the core --------------------------------------------------------------------


@pytest.fixture
def desk_coach() -> Coach:
    return Coach(
        knowledge=shipped_knowledge(),
        store=MemoryStore(),
        clock=Clock(),
        managers=Managers.parse("test:boss"),
        timezone="Europe/Paris",
    )


def said(text: str, user: str = "boss") -> Incoming:
    return Incoming(platform="test", workspace="W1", conversation="C1", user=user, text=text)


async def test_anyone_gets_this_weeks_tip_and_non_managers_are_refused_politely(desk_coach: Coach):
    (tip,) = await desk_coach.handle(said("tip", user="agent"))
    assert tip.title == "Tip of the week" and tip.text
    for words in (
        "tip add Be kind",
        "tip list",
        "tip remove 1",
        "tip schedule friday 10:00",
        "tip subscribe",
        "tip post-now",
        "tip history",
        "tip stats",
    ):
        (refusal,) = await desk_coach.handle(said(words, user="agent"))
        assert refusal.title == "Sorry, that one is for managers." and refusal.private, words
    assert await desk_coach.store.queued_tips("test", "W1") == []


async def test_manager_queues_lists_removes_and_schedules(desk_coach: Coach):
    (added,) = await desk_coach.handle(said("tip add Greet every caller by name <!here>"))
    assert added.title == "Tip 1 queued." and added.sections[0].lines == ("Greet every caller by name",)
    await desk_coach.handle(said("tip add Second one"))
    (listed,) = await desk_coach.handle(said("tip list"))
    assert listed.sections[0].lines == ("1: Greet every caller by name", "2: Second one")
    (removed,) = await desk_coach.handle(said("tip remove 1"))
    assert removed.title == "Tip 1 removed from the queue."
    (missing,) = await desk_coach.handle(said("tip remove 1"))
    assert missing.kind == "error"
    (empty,) = await desk_coach.handle(said("tip add <@U1>"))
    assert empty.kind == "error" and "needs some words" in empty.text
    (shown,) = await desk_coach.handle(said("tip schedule"))
    assert shown.title == "Weekly tip: Monday 09:00 (Europe/Paris)"  # the default, in COACH_TIMEZONE
    (changed,) = await desk_coach.handle(said("tip schedule fri 14:30 America/New_York"))
    assert (
        changed.title == "Weekly tip: Friday 14:30 (America/New_York)"
        and "Next post: Friday 20 November" in changed.text
    )
    (bad,) = await desk_coach.handle(said("tip schedule someday"))
    assert bad.kind == "error" and "not a weekday" in bad.text
    assert await desk_coach.store.get_tip_schedule("test", "W1") == {
        "weekday": 4,
        "time": "14:30",
        "timezone": "America/New_York",
    }


async def test_stats_are_counts_by_type_only(desk_coach: Coach):
    period = "{}-W{:02d}".format(*dt.datetime.fromtimestamp(desk_coach.clock(), UTC).isocalendar()[:2])
    for pair in [("critical", "angry")] * 3 + [("planned", "loyal")]:
        await desk_coach.store.count_identified(period, *pair)
    (stats,) = await desk_coach.handle(said("tip stats"))
    assert stats.title == f"Situations this week ({period}): 4"
    assert [s.title for s in stats.sections] == ["By interaction", "By customer", "Pairs"]
    assert stats.sections[0].lines == ("Critical: 3", "Planned: 1")
    assert stats.sections[2].lines[0] == "Critical · Angry: 3"


async def test_post_now_without_a_poster_says_so(desk_coach: Coach):
    (reply,) = await desk_coach.handle(said("tip post-now"))
    assert reply.kind == "error" and "server" in reply.text
