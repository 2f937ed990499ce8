"""The tip desk: ``tip ...`` commands, who counts as a manager, and what a manager's tip may contain.

Everyone may ask for this week's tip (``tip``); every other ``tip`` word is for managers. Who is a
manager is decided here, once, for every platform: COACH_MANAGERS lists ``platform:id`` entries; a
person matches by their own id, or by a role the adapter found (``Incoming.roles``, in the same
``platform:id`` form: a group the person is in, say). What an id looks like is each adapter's
business: it checks the configured ids and spells them as it spells ``Incoming.user``.

A tip reaches the core as plain words: each adapter removes its platform's mentions and broadcast
markup from what people type before it builds ``Incoming``. What is left to remove here is what
reads as a broadcast in any chat (``@channel``, ``@here``, ...).

Managers' tips are their words to their teams, so they are stored (the queue, the history); the
text is still never logged.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from bot.errors import ConfigError
from bot.knowledge import ANY, Knowledge
from bot.messages import Incoming, Reply, Section
from bot.store import Store
from bot.weekly import Poster, Schedule, ScheduleError, WeeklyJob, parse_schedule, zone
from bot.weeks import period_at

_LOGGER = logging.getLogger(__name__)

MAX_TIP_CHARS = 500
HISTORY_LINES = 10
_ENTRY = re.compile(r"^([a-z][a-z0-9-]*):(\S+)$")

# What a tip must not carry into a channel: markup an adapter passed on as written (people's mentions, say),
# and broadcasts as anyone may type them.
_MARKUP = re.compile(
    r"<[^\w\s<>][^<>]*>"
)  # angle brackets opened by a sigil (a mention, a broadcast, a link): not words
_BROADCAST = re.compile(r"(?<![\w@])@+(channel|here|everyone|all|team)\b", re.IGNORECASE)
_CONTROL = dict.fromkeys(i for i in range(0x20) if chr(i) not in "\n\t")


class TipRejected(ValueError):
    """A tip that cannot be queued; the message says why, in words for the manager."""


def clean_tip(text: str, *, limit: int = MAX_TIP_CHARS) -> str:
    """The tip as it will be posted: markup and broadcasts removed, whitespace tidied.

    Raises:
        TipRejected: nothing left to post, or longer than ``limit`` characters.
    """
    cleaned = unicodedata.normalize("NFC", text).translate(_CONTROL)
    cleaned = _MARKUP.sub(" ", cleaned)
    cleaned = _BROADCAST.sub(lambda m: m.group(1), cleaned)
    cleaned = " ".join(cleaned.split())
    if not cleaned:
        raise TipRejected("A tip needs some words: “tip add Greet every caller by name this week.”")
    if len(cleaned) > limit:
        raise TipRejected(f"That tip has {len(cleaned):,} characters; keep it to {limit:,} or fewer.")
    return cleaned


@dataclass(frozen=True)
class Managers:
    """The COACH_MANAGERS entries, as ``platform:id`` strings."""

    entries: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, value: str | None, *, ids: Mapping[str, Callable[[str], str]] | None = None) -> Managers:
        """``platform:id, platform:id, ...`` → Managers.

        Args:
            value: COACH_MANAGERS.
            ids: per platform, its adapter's rule for the ids it names: the id as the adapter spells it in
                ``Incoming``, or ValueError saying what such an id looks like. Ids of other platforms are kept as
                written.

        Raises:
            ConfigError: an entry that is not ``platform:id``, or an id its platform's rule refuses.
        """
        rules = ids or {}
        entries = set()
        for raw in (value or "").split(","):
            entry = raw.strip()
            if not entry:
                continue
            match = _ENTRY.match(entry)
            if not match:
                raise ConfigError(
                    f"COACH_MANAGERS: {entry[:60]!r} is not platform:id (for example slack:<user or group id>, "
                    "teams:<object id>)"
                )
            platform, ident = match.groups()
            if platform in rules:
                try:
                    ident = rules[platform](ident)
                except ValueError as why:
                    raise ConfigError(f"COACH_MANAGERS: {entry!r} {why}") from None
            entries.add(f"{platform}:{ident}")
        return cls(frozenset(entries))

    def ids(self, platform: str) -> set[str]:
        prefix = f"{platform}:"
        return {entry[len(prefix) :] for entry in self.entries if entry.startswith(prefix)}

    def allows(self, incoming: Incoming) -> bool:
        return f"{incoming.platform}:{incoming.user}" in self.entries or not self.entries.isdisjoint(incoming.roles)


_MANAGER_WORDS = {
    "add",
    "list",
    "remove",
    "delete",
    "schedule",
    "subscribe",
    "unsubscribe",
    "post-now",
    "history",
    "stats",
}
USAGE = (
    "tip: this week's tip (anyone)",
    "tip add TEXT: queue a tip for a coming week",
    "tip list / tip remove ID: the queue",
    "tip schedule [weekday HH:MM [Area/City]]: show or set when the weekly post goes out",
    "tip subscribe / tip unsubscribe: this channel gets the weekly post, or stops getting it",
    "tip post-now: post this week's tip now to subscribed channels that have not had it",
    "tip history / tip stats: what was posted; this week's situations by type (counts only)",
)


class TipDesk:
    """Answers ``tip ...``; everything it keeps goes through the store, so any copy of the bot can answer.

    Args:
        knowledge: for the library tips and the type names in ``tip stats``.
        store: the bot's store.
        clock: Unix seconds now.
        managers: who may use the manager words.
        timezone: COACH_TIMEZONE, the default schedule's zone.
        tip_of_week: this week's library tip as a reply, for ``tip`` alone.
        posters: one per platform the weekly post can go to; none (the terminal chat): nothing is posted from here.
    """

    def __init__(
        self,
        *,
        knowledge: Knowledge,
        store: Store,
        clock: Callable[[], float] = time.time,
        managers: Managers = Managers(),
        timezone: str = "UTC",
        tip_of_week: Callable[[], Reply],
        posters: Mapping[str, Poster] | None = None,
    ) -> None:
        self.knowledge = knowledge
        self.store = store
        self.clock = clock
        self.managers = managers
        self.timezone = zone(timezone).key
        self.tip_of_week = tip_of_week
        self.job = WeeklyJob(store=store, library=knowledge.tips, posters=posters or {}, default_timezone=self.timezone)

    async def handle(self, argument: str, incoming: Incoming) -> list[Reply]:
        word, _, rest = argument.strip().partition(" ")
        word = word.lower().rstrip(":")
        word = {"delete": "remove", "postnow": "post-now", "now": "post-now", "post": "post-now"}.get(word, word)
        if word not in _MANAGER_WORDS:
            if word in ("help", "?") and self.managers.allows(incoming):
                return [self._usage()]
            return [self.tip_of_week()]
        if not self.managers.allows(incoming):
            _LOGGER.info("tip %s refused on %s: not a manager", word, incoming.platform)
            return [
                _info("Sorry, that one is for managers.", "Anyone can say “tip” to see this week's tip.", error=True)
            ]
        handler = getattr(self, "_" + word.replace("-", "_"))
        return [await handler(rest.strip(), incoming)]

    # ------------------------------------------------------------------ the queue

    async def _add(self, text: str, incoming: Incoming) -> Reply:
        try:
            tip = clean_tip(text)
        except TipRejected as why:
            return _info("That tip was not queued.", str(why), error=True)
        tip_id = await self.store.add_tip(incoming.platform, incoming.workspace, tip, incoming.user, self.clock())
        queued = await self.store.queued_tips(incoming.platform, incoming.workspace)
        place = next((n for n, t in enumerate(queued, start=1) if t["id"] == tip_id), len(queued))
        return _info(
            f"Tip {tip_id} queued.",
            f"It is number {place} in the queue; each week's post takes the oldest one.",
            lines=(tip,),
        )

    async def _list(self, _: str, incoming: Incoming) -> Reply:
        queued = await self.store.queued_tips(incoming.platform, incoming.workspace)
        if not queued:
            return _info(
                "No tips are queued.", "Weeks without one post a tip from the library. Add one with “tip add TEXT”."
            )
        return _info(
            f"{len(queued)} tip(s) queued, next first",
            "Remove one with “tip remove ID”.",
            lines=tuple(f"{t['id']}: {t['text']}" for t in queued),
        )

    async def _remove(self, argument: str, incoming: Incoming) -> Reply:
        ident = argument.strip().lstrip("#")
        if not ident.isdigit():
            return _info("Which tip?", "Say “tip remove ID” with an id from “tip list”.", error=True)
        if await self.store.remove_tip(incoming.platform, incoming.workspace, int(ident)):
            return _info(f"Tip {ident} removed from the queue.")
        return _info(
            f"There is no queued tip {ident}.",
            "“tip list” shows the queue; tips already posted stay in the history.",
            error=True,
        )

    # ------------------------------------------------------------------ when and where

    async def _schedule(self, argument: str, incoming: Incoming) -> Reply:
        current = await self._current_schedule(incoming)
        if not argument:
            return _info(
                f"Weekly tip: {current.describe()}",
                "Change it with, for example, “tip schedule friday 14:30 Europe/Paris”.",
            )
        try:
            schedule = parse_schedule(argument, current)
        except ScheduleError as why:
            return _info("The schedule was not changed.", str(why), error=True)
        await self.store.put_tip_schedule(incoming.platform, incoming.workspace, schedule.to_dict(), self.clock())
        now = dt.datetime.fromtimestamp(self.clock(), dt.UTC)
        upcoming = schedule.next_after(now)
        return _info(
            f"Weekly tip: {schedule.describe()}",
            f"Next post: {upcoming:%A %d %B, %H:%M} ({schedule.timezone}), unless this week's went out already.",
        )

    async def _current_schedule(self, incoming: Incoming) -> Schedule:
        return Schedule.from_dict(
            await self.store.get_tip_schedule(incoming.platform, incoming.workspace), self.timezone
        )

    def _channel(self, incoming: Incoming) -> str:
        return self.job.channel_of(incoming.platform, incoming.conversation)

    async def _subscribe(self, _: str, incoming: Incoming) -> Reply:
        new = await self.store.subscribe_tips(
            incoming.platform, self._channel(incoming), incoming.workspace, incoming.conversation, self.clock()
        )
        schedule = await self._current_schedule(incoming)
        title = "This channel now gets the weekly tip." if new else "This channel gets the weekly tip already."
        return _info(title, f"Every {schedule.describe()}. “tip unsubscribe” stops it.")

    async def _unsubscribe(self, _: str, incoming: Incoming) -> Reply:
        if await self.store.unsubscribe_tips(incoming.platform, self._channel(incoming)):
            return _info("This channel no longer gets the weekly tip.")
        return _info("This channel was not getting the weekly tip.", "“tip subscribe” starts it.")

    async def _post_now(self, _: str, incoming: Incoming) -> Reply:
        if not self.job.posters:
            return _info(
                "I can't post from here.", "Weekly posts go out from the server (python app.py serve).", error=True
            )
        now = dt.datetime.fromtimestamp(self.clock(), dt.UTC)
        report = await self.job.run(now, only=(incoming.platform, incoming.workspace), now_due=True)
        had = sum(1 for *_, why in report.skipped if why.startswith(("posted", "sending", "taken")))
        lines = [f"Posted to {len(report.posted)} channel(s)."]
        if had:
            lines.append(f"{had} channel(s) had this week's tip already.")
        if report.failed:
            lines.append(f"{len(report.failed)} channel(s) could not be reached; I'll try again later.")
        if not report.posted and not had and not report.failed:
            lines = ["No channel here is subscribed. Say “tip subscribe” in a channel first."]
        return _info("This week's tip", " ".join(lines))

    # ------------------------------------------------------------------ looking back

    async def _history(self, _: str, incoming: Incoming) -> Reply:
        rows = await self.store.tip_posts(incoming.platform, workspace=incoming.workspace)
        if not rows:
            return _info("No weekly tip has been posted here yet.")
        names = {"posted": "posted", "sending": "outcome unknown", "claimed": "pending"}
        lines = tuple(
            f"{r['period']} · {r['channel']} · {'manager tip ' + r['tip'] if r['source'] == 'manager' else 'library'} "
            f"· {names.get(r['state'], r['state'])}" + (f": {r['text']}" if r["text"] else "")
            for r in reversed(rows[-HISTORY_LINES:])
        )
        return _info("Weekly tips, latest first", lines=lines)

    async def _stats(self, _: str, incoming: Incoming) -> Reply:
        period = period_at(self.clock())  # the same week the Coach counts in
        counts = await self.store.identified_counts(period)
        if not counts:
            return _info(f"Situations this week ({period})", "None identified yet.")
        names = {
            ANY: "Not clear",
            **{k: v.name for k, v in self.knowledge.interactions.items()},
            **{k: v.name for k, v in self.knowledge.customers.items()},
        }
        by_interaction = _totals((i, n) for (i, _c), n in counts.items())
        by_customer = _totals((c, n) for (_i, c), n in counts.items())
        pairs = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        return Reply(
            kind="info",
            title=f"Situations this week ({period}): {sum(counts.values())}",
            text="Counts only: what was said is never kept.",
            sections=(
                Section(title="By interaction", lines=tuple(f"{names.get(k, k)}: {n}" for k, n in by_interaction)),
                Section(title="By customer", lines=tuple(f"{names.get(k, k)}: {n}" for k, n in by_customer)),
                Section(
                    title="Pairs", lines=tuple(f"{names.get(i, i)} · {names.get(c, c)}: {n}" for (i, c), n in pairs)
                ),
            ),
            private=True,
        )

    def _usage(self) -> Reply:
        return Reply(kind="info", title="Weekly tips", sections=(Section(title="Commands", lines=USAGE),), private=True)


def _totals(pairs: Iterable[tuple[str, int]]) -> list[tuple[str, int]]:
    totals: dict[str, int] = {}
    for key, n in pairs:
        totals[key] = totals.get(key, 0) + n
    return sorted(totals.items(), key=lambda item: (-item[1], item[0]))


def _info(title: str, text: str = "", *, lines: tuple[str, ...] = (), error: bool = False) -> Reply:
    """Manager answers are private: only the person who asked sees them, where the platform can."""
    sections = (Section(title="", lines=lines),) if lines else ()
    return Reply(kind="error" if error else "info", title=title, text=text, sections=sections, private=True)
