"""Agents confirm or correct an answer, and say whether its script helped; managers read the counts.

Counts are kept per ISO week and team only: no text and no agent anywhere (bot/report.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import pytest

from bot.coach import Coach
from bot.messages import Reply
from bot.metrics import MeteredStore, Metrics
from bot.plain_text import plain_text
from bot.store.memory import MemoryStore
from bot.store.sqlite import SQLiteStore
from bot.tips import Managers
from bot.weeks import period_at
from tests.conftest import Clock, say, shipped_knowledge
from tests.pg import PgTarget

RICH = "cx furious, blender smoked on day 2, third time it broke, wants a refund now"
MANAGER = "MGR"


def coach_on(store, clock: Clock | None = None) -> Coach:
    return Coach(
        knowledge=shipped_knowledge(),
        store=store,
        managers=Managers.parse(f"test:{MANAGER}"),
        **({"clock": clock} if clock else {}),
    )


def button(reply: Reply, label: str) -> str:
    return next(c.value for c in reply.choices if c.label == label)


async def answered(coach: Coach, user: str = "U1") -> Reply:
    (reply,) = await coach.handle(say(RICH, user=user))
    while reply.kind == "question":
        (reply,) = await coach.handle(say(choice=reply.choices[0].value, user=user))
    return reply


async def report(coach: Coach, weeks: str = "") -> Reply:
    (reply,) = await coach.handle(say(f"report {weeks}".strip(), user=MANAGER))
    return reply


async def test_not_quite_then_a_pick_redoes_the_answer_and_the_report_counts_it():
    coach = coach_on(MemoryStore())
    answer = await answered(coach)
    assert [c.label for c in answer.choices] == ["More", "Right", "Not quite", "Start over"]
    (menu,) = await coach.handle(say(choice=button(answer, "Not quite")))
    assert menu.kind == "question" and "Planned interaction" in [c.label for c in menu.choices]
    assert not any(
        c.label == answer.title.split(" interaction")[0] + " interaction" for c in menu.choices
    )  # the type read is not offered
    (redone,) = await coach.handle(say(choice=button(menu, "Planned interaction")))
    assert redone.kind == "answer" and redone.title.startswith("Planned interaction")
    assert "Right" not in [c.label for c in redone.choices] and "Redone" in redone.text
    (again,) = await coach.handle(say(choice=button(menu, "Planned interaction")))  # the old menu, tapped twice
    assert again.title.startswith("Planned interaction") and "already" in again.text

    figures = await report(coach)
    text = plain_text(figures)
    assert figures.private and "1 given; 0 marked right" in text and "1 corrected" in text
    assert "interaction: Critical read, Planned meant: 1" in text


async def test_right_counts_once_however_often_it_is_tapped():
    coach = coach_on(MemoryStore())
    answer = await answered(coach)
    for _ in range(3):
        (shown,) = await coach.handle(say(choice=button(answer, "Right")))
        assert shown.kind == "answer" and "Right" not in [c.label for c in shown.choices]
    assert "1 marked right (100%)" in plain_text(await report(coach))


async def test_scripts_that_did_not_help_are_listed_by_situation():
    coach = coach_on(MemoryStore())
    answer = await answered(coach)
    (full,) = await coach.handle(say(choice=button(answer, "More")))
    assert [c.label for c in full.choices] == ["Helped", "Didn't help", "Start over"]
    (noted,) = await coach.handle(say(choice=button(full, "Didn't help")))
    assert [c.label for c in noted.choices] == ["Start over"]
    assert "Scripts that didn't help" in plain_text(await report(coach))


async def test_feedback_on_a_question_not_yet_answered_changes_nothing():
    coach = coach_on(MemoryStore())
    (question,) = await coach.handle(say("cx on the line, need help"))
    dialog_id = (await coach.store.get_dialog(say().dialog_key))["id"]
    (reply,) = await coach.handle(say(choice=f"d|{dialog_id}|right"))
    assert reply.title == "That question is answered already."
    (reply,) = await coach.handle(say(choice=f"d|{dialog_id}|fix|interaction|nonsense"))
    assert reply.kind == "error" or reply.title == "That question is answered already."


async def test_report_is_for_managers_only_and_answers_the_caller_alone():
    coach = coach_on(MemoryStore())
    await answered(coach)
    (refused,) = await coach.handle(say("report"))
    assert refused.kind == "error" and refused.private and "managers" in refused.title


async def test_report_spans_the_weeks_asked_for(tmp_path: Path):
    clock = Clock(1_795_000_000.0)
    coach = coach_on(MemoryStore(), clock)
    await answered(coach, "U1")
    clock.now += 8 * 86400
    await answered(coach, "U2")
    assert "1 given" in plain_text(await report(coach))
    assert "2 given" in plain_text(await report(coach, "2"))


async def test_metrics_count_confirmations_and_corrections_by_type_pair():
    metrics = Metrics()
    coach = coach_on(MeteredStore(inner=MemoryStore(), metrics=metrics))
    answer = await answered(coach, "U1")
    await coach.handle(say(choice=button(answer, "Right"), user="U1"))
    other = await answered(coach, "U2")
    (menu,) = await coach.handle(say(choice=button(other, "Not quite"), user="U2"))
    await coach.handle(say(choice=button(menu, "Loyal customer"), user="U2"))
    text = metrics.render()[0].decode()
    assert 'coach_feedback_total{kind="confirmed"} 1.0' in text
    assert 'coach_corrections_total{dimension="customer",picked="loyal",read="angry"} 1.0' in text


async def test_no_typed_word_reaches_the_store(tmp_path: Path):
    store = SQLiteStore(path=tmp_path / "c.db")
    coach = coach_on(store)
    words = "zebrafinch quokka blender smoked furious"
    for n in range(5):
        (reply,) = await coach.handle(say(f"cx {words} number {n}", user=f"U{n}"))
        while reply.kind == "question":
            (reply,) = await coach.handle(say(choice=reply.choices[0].value, user=f"U{n}"))
        await coach.handle(say(choice=button(reply, "Right"), user=f"U{n}"))
    await store.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    for word in ("zebrafinch", "quokka"):
        assert word.encode() not in raw


@pytest.mark.slow
async def test_two_copies_on_postgres_count_a_thousand_double_taps_once_each(pg_target: PgTarget):
    from bot.store.postgres import PostgresStore

    stores = [await PostgresStore.connect(dsn=pg_target.dsn, schema=pg_target.schema, max_size=10) for _ in range(2)]
    try:
        copies = [coach_on(store) for store in stores]
        template = await answered(copies[0], "U0")
        state = await stores[0].get_dialog(say(user="U0").dialog_key)
        for n in range(1, 1000):
            await stores[0].put_dialog(say(user=f"U{n}").dialog_key, {**state, "id": f"d{n:04d}"}, copies[0].clock())
        taps = [
            say(choice=button(template, "Right").replace(state["id"], f"d{n:04d}" if n else state["id"]), user=f"U{n}")
            for n in range(1000)
        ]
        await asyncio.gather(*(copy.handle(tap) for tap in taps for copy in copies))
        rows = await stores[0].tallies([period_at(copies[0].clock())])
        confirmed = sum(r["n"] for r in rows if r["metric"] == "confirmed")
        assert confirmed == 1000
    finally:
        for store in stores:
            await store.close()


def test_console_not_quite_then_a_pick_shows_in_the_report_and_as_json(tmp_path: Path):
    from tests.test_cli import run

    user = __import__("getpass").getuser()
    env = {"COACH_MANAGERS": f"console:{user}"}
    typed = "cx furious, third time the blender broke, wants a refund now quokkaword"
    result = run([], stdin=f"{typed}\n3\n2\nreport\n", env=env, tmp=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "[3] Not quite" in out and "What is it really?" in out and "Redone with your correction." in out
    assert "Coach report" in out and "1 corrected" in out and "Top corrections:" in out
    printed = run(["report", "--since", "2020-01-06"], env=env, tmp=tmp_path)
    assert printed.returncode == 0, printed.stderr
    figures = json.loads(printed.stdout)
    assert (
        figures["all"]["corrected"] == 1
        and figures["all"]["answered"] == 1
        and list(figures["teams"]) == ["console:local"]
    )
    assert not any(b"quokkaword" in p.read_bytes() for p in tmp_path.rglob("coach.sqlite3*"))


def marked(n: int) -> str:
    return f"cx furious about the late delivery, third time, refund now zqx{n:03d}marker"


async def two_hundred_dialogs_with_feedback(coach: Coach) -> None:
    for n in range(200):
        user = f"U{n:03d}"
        (reply,) = await coach.handle(say(marked(n), user=user))
        while reply.kind == "question":
            (reply,) = await coach.handle(say(choice=reply.choices[0].value, user=user))
        if n % 2:
            await coach.handle(say(choice=button(reply, "Right"), user=user))
        else:
            (menu,) = await coach.handle(say(choice=button(reply, "Not quite"), user=user))
            await coach.handle(say(choice=menu.choices[0].value, user=user))


async def test_after_200_dialogs_no_typed_word_is_in_sqlite_its_wal_or_the_debug_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.DEBUG)
    store = SQLiteStore(path=tmp_path / "c.db")
    await two_hundred_dialogs_with_feedback(coach_on(store))
    files = b"".join(p.read_bytes() for p in tmp_path.iterdir())  # the database, its -wal and -shm, before closing
    await store.close()
    assert b"marker" not in files and "marker" not in caplog.text


@pytest.mark.slow
async def test_after_200_dialogs_no_typed_word_is_in_a_postgres_dump(
    pg_target: PgTarget, caplog: pytest.LogCaptureFixture
):
    import asyncpg

    from bot.store.postgres import PostgresStore

    caplog.set_level(logging.DEBUG)
    store = await PostgresStore.connect(dsn=pg_target.dsn, schema=pg_target.schema)
    try:
        await two_hundred_dialogs_with_feedback(coach_on(store))
        rows = await store.tallies([period_at(coach_on(store).clock())])
        assert sum(r["n"] for r in rows if r["metric"] in ("confirmed", "corrected")) == 200
    finally:
        await store.close()
    con = await asyncpg.connect(pg_target.dsn)
    try:
        tables = [
            r["tablename"]
            for r in await con.fetch("SELECT tablename FROM pg_tables WHERE schemaname = $1", pg_target.schema)
        ]
        dump = ""
        for table in tables:
            dump += str(await con.fetch(f'SELECT * FROM "{pg_target.schema}"."{table}"'))
    finally:
        await con.close()
    assert "dialogs" in tables and "tallies" in tables
    assert "marker" not in dump and "marker" not in caplog.text
