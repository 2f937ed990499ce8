"""The weekly tip job: which subscribed channels are due, and posting to each exactly once per week.

How "exactly once" holds (see also bot/store/__init__.py):

- Every post is one row per (channel, ISO week), taken with a single INSERT ... ON CONFLICT in the
  store before anything is sent. Two copies running the job at once, a restart, or ``tips run``
  next to ``serve`` all meet at that row; only the holder of the claim posts.
- A claim is leased (``LEASE`` seconds) and moves "claimed" → "sending" just before the platform is
  called → "posted" after it answered. A copy that dies while "claimed" (it had not sent anything
  yet) leaves a lease that runs out, and the next run takes the row over and posts: nothing is
  missed. A copy that dies while "sending" may or may not have reached Slack or Teams; that row is
  never taken over, so a post is never doubled. The price, chosen on purpose: a crash in the
  split second of the HTTP call can cost that channel its tip for that week (logged as unknown,
  visible in ``tip history``). A platform that answers with an error did not post: the row goes
  back to "claimed" with a lease until ``RETRY_AFTER``, and a later run tries again that week.
- The week is the ISO week of the scheduled time in the schedule's time zone. A channel is due
  when the latest scheduled time at or before now falls in the same week as now: a bot that was
  down at the scheduled time posts when it is back within that week, never for a week gone by.
- A queued manager tip is the tip of that week for every subscribed channel of its workspace,
  and is retired when the week's first post chooses it (atomically, in the store). Weeks without
  one post, per channel, the library tip that channel has had least often, in library order.

The date arithmetic is cronsim's (a small, maintained cron evaluator that works with zoneinfo and
handles daylight-saving jumps the way cron does): a schedule is the cron line ``M H * * D``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim

from bot.errors import CoachError, ConfigError
from bot.knowledge import Tip
from bot.messages import Reply
from bot.store import Store
from bot.weeks import period_of

_LOGGER = logging.getLogger(__name__)

LEASE = 600.0  # seconds a claim is held before another run may take over (a dead holder had not sent yet)
RETRY_AFTER = 900.0  # seconds before a post the platform refused is tried again
TICK = 60.0  # seconds between runs in serve
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
DEFAULT_WEEKDAY, DEFAULT_TIME = 0, "09:00"
_TIME = re.compile(r"^([01]?\d|2[0-3])[:.h]([0-5]\d)$")


class PostRejected(CoachError):
    """The platform answered, and the answer was no (channel gone, bot removed, rate limit after retries): nothing
    was posted."""


class Poster(Protocol):
    """How one platform posts on its own initiative. Adapters provide one each."""

    def channel_of(self, conversation: str) -> str:
        """The channel a conversation belongs to (a thread's channel), the key of a subscription."""

    async def post(self, *, channel: str, conversation: str, reply: Reply) -> None:
        """Post ``reply`` as a new message in ``channel``; ``conversation`` is where the subscription was made.

        Raises:
            PostRejected: the platform said no; anything else means the outcome is unknown.
        """


def zone(name: str, *, setting: str = "COACH_TIMEZONE") -> ZoneInfo:
    """The IANA time zone ``name``; ConfigError naming ``setting`` when there is none by that name."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ConfigError(
            f"{setting}={name!r} is not an IANA time zone name (for example UTC, Europe/Paris, America/New_York)"
        ) from None


@dataclass(frozen=True, kw_only=True)
class Schedule:
    """A weekly time: ``weekday`` 0 = Monday, ``time`` "HH:MM", ``timezone`` an IANA name."""

    weekday: int = DEFAULT_WEEKDAY
    time: str = DEFAULT_TIME
    timezone: str = "UTC"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None, default_timezone: str) -> Schedule:
        if not data:
            return cls(timezone=default_timezone)
        return cls(weekday=int(data["weekday"]), time=str(data["time"]), timezone=str(data["timezone"]))

    def to_dict(self) -> dict[str, Any]:
        return {"weekday": self.weekday, "time": self.time, "timezone": self.timezone}

    @property
    def cron(self) -> str:
        hour, minute = (int(part) for part in self.time.split(":"))
        return f"{minute} {hour} * * {(self.weekday + 1) % 7}"  # cron counts Sunday as 0

    def describe(self) -> str:
        return f"{WEEKDAYS[self.weekday].title()} {self.time} ({self.timezone})"

    def latest(self, at: dt.datetime) -> dt.datetime:
        """The last scheduled time at or before ``at``, in the schedule's zone."""
        local = at.astimezone(ZoneInfo(self.timezone))
        # cronsim walks backwards from strictly before its start: start a minute late, skip one that is ahead.
        times = CronSim(self.cron, local.replace(second=0, microsecond=0) + dt.timedelta(minutes=1), reverse=True)
        found = next(times)
        return found if found <= local else next(times)

    def next_after(self, at: dt.datetime) -> dt.datetime:
        return next(CronSim(self.cron, at.astimezone(ZoneInfo(self.timezone))))

    def due_period(self, at: dt.datetime) -> str | None:
        """The week whose post is due at ``at`` ("2026-W48"), or None when this week's time has not come yet."""
        period = period_of(self.latest(at))
        return period if period == period_of(at.astimezone(ZoneInfo(self.timezone))) else None

    def current_period(self, at: dt.datetime) -> str:
        """This week in the schedule's zone, due or not (for ``tip post-now``)."""
        return period_of(at.astimezone(ZoneInfo(self.timezone)))


class ScheduleError(CoachError):
    """A ``tip schedule`` argument that cannot be read; the message says what is expected."""


def parse_schedule(argument: str, current: Schedule) -> Schedule:
    """``friday 14:30 Europe/Paris`` (any order; parts left out keep their current value) → Schedule.

    Raises:
        ScheduleError: a word that is neither a weekday, a time nor a time zone.
    """
    weekday, time, timezone = current.weekday, current.time, current.timezone
    for word in argument.split():
        lowered = word.lower().rstrip(",")
        days = [i for i, name in enumerate(WEEKDAYS) if len(lowered) >= 3 and name.startswith(lowered)]
        if len(days) == 1:
            weekday = days[0]
            continue
        clock = _TIME.match(lowered)
        if clock:
            time = f"{int(clock.group(1)):02d}:{clock.group(2)}"
            continue
        try:
            zone(word)
        except ConfigError:
            raise ScheduleError(
                f"“{word[:40]}” is not a weekday, a time (HH:MM, 24-hour) or a time zone (like Europe/Paris)."
            ) from None
        timezone = word
    return Schedule(weekday=weekday, time=time, timezone=timezone)


@dataclass
class RunReport:
    """What one run did, channel by channel (platform, channel, what happened)."""

    posted: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str, str]] = field(default_factory=list)  # (platform, channel, why)
    failed: list[tuple[str, str, str]] = field(default_factory=list)

    def summary(self) -> str:
        return f"posted {len(self.posted)}, skipped {len(self.skipped)}, failed {len(self.failed)}"


@dataclass(frozen=True)
class Subscription:
    platform: str
    channel: str
    workspace: str
    conversation: str


class WeeklyJob:
    """Posts the weekly tip to every due subscribed channel, once per channel and week.

    Args:
        store: where subscriptions, schedules, the queue and the post rows live.
        library: the knowledge tips, in order (the fallback when no manager tip is queued).
        posters: one per platform that can post ("slack", "teams").
        default_timezone: COACH_TIMEZONE, for workspaces without a schedule of their own.
        lease: seconds a claim is held.
    """

    def __init__(
        self,
        *,
        store: Store,
        library: Sequence[Tip],
        posters: Mapping[str, Poster],
        default_timezone: str = "UTC",
        lease: float = LEASE,
    ) -> None:
        self.store = store
        self.library = tuple(library)
        self.posters = dict(posters)
        self.default_timezone = default_timezone
        self.lease = lease

    async def schedule(self, platform: str, workspace: str) -> Schedule:
        return Schedule.from_dict(await self.store.get_tip_schedule(platform, workspace), self.default_timezone)

    def channel_of(self, platform: str, conversation: str) -> str:
        poster = self.posters.get(platform)
        return poster.channel_of(conversation) if poster is not None else conversation

    async def run(self, at: dt.datetime, *, only: tuple[str, str] | None = None, now_due: bool = False) -> RunReport:
        """Post to every subscribed channel that is due at ``at`` and has no post for that week yet.

        Args:
            at: the time to act as of (timezone-aware).
            only: (platform, workspace) to limit the run to one workspace.
            now_due: treat this week as due whatever the schedule says (``tip post-now``).
        """
        report = RunReport()
        by_workspace: dict[tuple[str, str], list[Subscription]] = {}
        for subscribed in await self.store.tip_subscriptions():
            sub = Subscription(
                subscribed["platform"], subscribed["channel"], subscribed["workspace"], subscribed["conversation"]
            )
            if only is None or (sub.platform, sub.workspace) == only:
                by_workspace.setdefault((sub.platform, sub.workspace), []).append(sub)
        for (platform, workspace), subs in by_workspace.items():
            schedule = await self.schedule(platform, workspace)
            period = schedule.current_period(at) if now_due else schedule.due_period(at)
            if period is None:
                report.skipped.extend((platform, s.channel, "not due yet") for s in subs)
                continue
            rows = {r["channel"]: r for r in await self.store.tip_posts(platform, workspace=workspace, period=period)}
            for sub in subs:
                row = rows.get(sub.channel)
                if row is not None and not (row["state"] == "claimed" and row["lease_until"] < at.timestamp()):
                    report.skipped.append((platform, sub.channel, f"{row['state']} for {period}"))
                    continue
                await self._deliver(sub, period, at.timestamp(), report)
        return report

    async def _deliver(self, sub: Subscription, period: str, now: float, report: RunReport) -> None:
        poster = self.posters.get(sub.platform)
        if poster is None:
            report.skipped.append((sub.platform, sub.channel, "no poster for this platform"))
            return
        token = uuid.uuid4().hex
        if not await self.store.claim_tip_post(
            sub.platform, sub.channel, period, sub.workspace, token, now, now + self.lease
        ):
            report.skipped.append((sub.platform, sub.channel, f"taken for {period}"))
            return
        source, tip_id, text = await self._content(sub, period)
        if not await self.store.start_tip_post(
            sub.platform, sub.channel, period, token, source=source, tip=tip_id, text=text, now=now
        ):
            report.skipped.append((sub.platform, sub.channel, "lease lost"))
            return
        try:
            await poster.post(channel=sub.channel, conversation=sub.conversation, reply=weekly_reply(text))
        except PostRejected as error:
            await self.store.retry_tip_post(sub.platform, sub.channel, period, token, now + RETRY_AFTER)
            _LOGGER.warning(
                "weekly tip to %s %s refused (%s); will try again after %.0f s",
                sub.platform,
                sub.channel,
                error,
                RETRY_AFTER,
            )
            report.failed.append((sub.platform, sub.channel, str(error)))
            return
        except Exception as error:
            # Sent or not, nobody knows: the row stays "sending" and is never posted again this week.
            _LOGGER.error(
                "weekly tip to %s %s: outcome unknown (%s); not retried, to never post twice",
                sub.platform,
                sub.channel,
                type(error).__name__,
            )
            report.failed.append((sub.platform, sub.channel, f"unknown: {type(error).__name__}"))
            return
        await self.store.finish_tip_post(sub.platform, sub.channel, period, token, now)
        _LOGGER.info("weekly tip %s posted to %s %s for %s", tip_id, sub.platform, sub.channel, period)
        report.posted.append((sub.platform, sub.channel))

    async def _content(self, sub: Subscription, period: str) -> tuple[str, str, str]:
        """(source, tip id, text): the week's queued manager tip, else the library tip this channel has had least."""
        queued = await self.store.week_tip(sub.platform, sub.workspace, period)
        if queued is not None:
            return "manager", str(queued["id"]), queued["text"]
        had: dict[str, int] = {}
        for row in await self.store.tip_posts(sub.platform, channel=sub.channel):
            if row["source"] == "library" and row["period"] != period:
                had[row["tip"]] = had.get(row["tip"], 0) + 1
        tip = min(self.library, key=lambda t: had.get(t.id, 0))  # min keeps library order among equals
        return "library", tip.id, tip.text


def weekly_reply(text: str) -> Reply:
    return Reply(kind="info", title="Tip of the week", text=text)


async def run_forever(
    job: WeeklyJob,
    *,
    clock: Callable[[], float],
    stop: asyncio.Event,
    tick: float = TICK,
    on_error: Callable[[BaseException], None] | None = None,
) -> None:
    """Run ``job`` now and every ``tick`` seconds until ``stop`` is set; a run in flight is finished, not cut.

    Waking every minute rather than at the next scheduled time keeps it simple and self-healing: a
    schedule changed by a manager, a new subscription, a claim whose lease ran out and a refused post
    are all picked up on the next tick, and each run costs a few reads when nothing is due.
    """
    from bot.errors import StoreUnavailable

    while not stop.is_set():
        try:
            report = await job.run(dt.datetime.fromtimestamp(clock(), dt.UTC))
            if report.posted or report.failed:
                _LOGGER.info("weekly tips: %s", report.summary())
        except StoreUnavailable:
            _LOGGER.warning("weekly tips skipped: storage unavailable; will retry")
        except Exception as error:
            _LOGGER.exception("weekly tips run failed; will retry")
            if on_error is not None:
                on_error(error)
        try:
            await asyncio.wait_for(stop.wait(), timeout=tick)
        except TimeoutError:
            pass
