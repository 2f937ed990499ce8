"""The ISO week: the unit the coach counts in, posts the weekly tip once in, and turns its library tip by.

It is worked out here only, so that the week a turn is counted in, the week ``tip stats`` and the
report read, the week a weekly post is due in and the week that picks the library tip can never
disagree (at New Year, say, when the ISO year is not the calendar year).
"""

from __future__ import annotations

import datetime as dt


def iso_week(moment: dt.datetime | dt.date) -> tuple[int, int]:
    """(ISO year, ISO week number) of ``moment``, in the time zone it carries."""
    year, week, _ = moment.isocalendar()
    return year, week


def period_of(moment: dt.datetime | dt.date) -> str:
    """The week of ``moment`` as the stores key it: "2026-W49"."""
    year, week = iso_week(moment)
    return f"{year}-W{week:02d}"


def utc(now: float) -> dt.datetime:
    """Unix seconds as an aware UTC datetime."""
    return dt.datetime.fromtimestamp(now, dt.UTC)


def period_at(now: float) -> str:
    """The week of Unix seconds ``now`` in UTC, the week the counts are kept in."""
    return period_of(utc(now))
