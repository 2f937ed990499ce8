"""The Coach: one call per turn, ``handle(Incoming) -> list[Reply]``, the same for every platform.

Each turn loads the person's dialog from the store, changes it, and saves it back, so any copy
of the bot can take the next turn. The agent's text is read into numbers and dropped; it is
never saved and never logged.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rapidfuzz import fuzz, process

from bot import choice_values, disk_cache, report
from bot.choice_values import FIX, HELPED, MORE, RIGHT, SKIP, START_OVER, UNHELPFUL
from bot.classify import SETTLED, Classifier, Decision, Evidence, PhraseMatcher
from bot.commands import Command, parse_command
from bot.dialog import Dialog, next_question
from bot.errors import AlreadyClaimed, StoreUnavailable
from bot.failures import STORE_APOLOGY
from bot.knowledge import ANY, DIMENSION_TYPES, Knowledge, Option, Question, Tip, load_knowledge
from bot.messages import Incoming, Reply
from bot.replies import DIDNT_CATCH, NOTHING_TO_GUESS_FROM, Replies
from bot.store import Store
from bot.text import MAX_CHARS
from bot.tips import Managers, TipDesk
from bot.weeks import iso_week, period_at, utc

if TYPE_CHECKING:
    from bot.metrics import Metrics
    from bot.weekly import Poster

_LOGGER = logging.getLogger(__name__)

DIALOG_TTL = 30 * 60
# A message sent while a question is pending is taken as a new situation, not as more detail,
# when it is this long and reads clearly on both types by itself.
NEW_SITUATION_WORDS = 8
NEW_SITUATION_EVIDENCE = 1.5
# A reply to a pending question with no option and no cue in it counts as added detail only
# from this many words on; shorter ones ("hmm", an emoji) get the question again.
DETAIL_WORDS = 4


# An adapter's way to turn a turn's replies into outbox items (bot/store/__init__.py):
# {"id", "platform", "payload", ...}.
Outbox = Callable[[list[Reply]], Sequence[dict[str, Any]]]


@dataclass
class _Turn:
    """One turn's view of the store: the dialog's version as loaded, and what to write back when it ends."""

    incoming: Incoming
    now: float
    version: int = 0  # of the dialog row as loaded; 0: there was none
    changed: Dialog | None = None  # the dialog to save, compare-and-set at ``version``
    answered: Decision | None = None  # an answer reached: counted once the save has landed
    tallies: list[tuple[str, str]] = field(default_factory=list)  # (metric, key) to count with the save


class Coach:
    """The platform-neutral conversation core."""

    def __init__(
        self,
        *,
        knowledge: Knowledge,
        store: Store,
        clock: Callable[[], float] = time.time,
        dialog_ttl: float = DIALOG_TTL,
        managers: Managers | None = None,
        timezone: str = "UTC",
        reader_cache: Path | None = None,
        meter: Metrics | None = None,
        posters: Mapping[str, Poster] | None = None,
    ) -> None:
        """Whoever hosts the coach hands it ``meter`` (the server's metrics) and ``posters`` (the platforms it can post
        the weekly tip to)."""
        self.knowledge = knowledge
        self.store = store
        self.clock = clock
        self.meter = meter
        self.dialog_ttl = dialog_ttl
        self.classifier = Classifier(knowledge, cache=reader_cache)
        self.replies = Replies(knowledge)
        # ``tip ...``: the manager check, the queue, schedules and subscriptions (bot/tips.py).
        self.tips = TipDesk(
            knowledge=knowledge,
            store=store,
            clock=lambda: self.clock(),
            managers=managers or Managers(),
            timezone=timezone,
            tip_of_week=self.tip_of_week_reply,
            posters=posters,
        )
        self._option_matchers = {
            q.id: PhraseMatcher(
                self.classifier.reader, {o.id: (o.label, o.id.replace("-", " "), *o.synonyms) for o in q.options}
            )
            for q in knowledge.questions.values()
        }

    # ------------------------------------------------------------------ the one entry point

    async def handle(
        self, incoming: Incoming, *, outbox: Outbox | None = None, claims: Sequence[tuple[str, str]] = ()
    ) -> list[Reply]:
        """One turn. A store that cannot be reached gets the person a short apology, not an exception.

        ``outbox`` (from an adapter that sends after acknowledging) turns the replies into items to
        deliver; they are stored in the same transaction as the dialog the turn changed, so what was
        acknowledged is never lost (bot/store/__init__.py, the outbox). ``claims`` (scope, key), such as
        the platform's delivery id, are made in that same transaction: a delivery seen before gets no
        replies at all (an empty list), and one is claimed only if its turn was stored.
        """
        meter = self.meter
        started = meter.turn_started() if meter is not None else 0.0
        replies: list[Reply] = []
        error: str | None = None
        duplicate = False
        try:
            replies = await self._handle(incoming, outbox, claims)
        except AlreadyClaimed as seen:
            _LOGGER.info("a %s delivery seen before: not handled again", incoming.platform)
            if meter is not None:
                meter.dedupe_hits.labels(seen.scope).inc()
            replies, duplicate = [], True
        except StoreUnavailable:
            error = StoreUnavailable.__name__
            _LOGGER.warning("turn on %s: storage unavailable, answered with an apology", incoming.platform)
            replies = [STORE_APOLOGY]
        except BaseException as exc:
            error = type(exc).__name__
            raise
        finally:
            if meter is not None:
                meter.turn_finished(incoming.platform, started, replies, error=error, duplicate=duplicate)
        return replies

    async def _handle(
        self, incoming: Incoming, outbox: Outbox | None, claims: Sequence[tuple[str, str]] = ()
    ) -> list[Reply]:
        """Run the turn, then save what it changed compare-and-set, with what it sends.

        A turn that loses the race (another copy or request saved this dialog since it loaded) is run
        once more on what is there now; if it was answering a question that is no longer pending, it
        changes nothing and the person hears that the question is answered already.
        """
        aimed_at: tuple[str, str] | None = None
        for _ in range(2):
            turn = _Turn(incoming=incoming, now=self.clock())
            dialog = await self._load(turn)
            if aimed_at is not None and (dialog is None or (dialog.id, dialog.pending) != aimed_at):
                replies = [self.replies.answered_already()]
                await self._send_later(replies, outbox, turn.now, claims=claims)
                return replies
            waiting_on = (
                (dialog.id, dialog.pending) if dialog is not None and dialog.pending and not dialog.done else None
            )
            replies = await self._respond(turn, dialog)  # may change ``dialog`` in place
            items = outbox(replies) if outbox is not None else ()
            if turn.changed is None:
                await self._send_later(replies, outbox, turn.now, items, claims=claims)
                return replies
            counts = self._counts(turn)
            saved = await self.store.save_dialog(
                incoming.dialog_key,
                turn.changed.to_dict(),
                turn.now,
                version=turn.version,
                outbox=items,
                claims=claims,
                counts=counts,
            )
            if saved:
                if turn.answered is not None:
                    await self.store.count_identified(
                        period_at(turn.now), turn.answered.interaction or ANY, turn.answered.customer or ANY
                    )
                return replies
            _LOGGER.info("dialog changed by another turn meanwhile: read again")
            aimed_at = waiting_on
        replies = [self.replies.answered_already()]
        await self._send_later(replies, outbox, self.clock(), claims=claims)
        return replies

    async def _send_later(
        self,
        replies: list[Reply],
        outbox: Outbox | None,
        now: float,
        items: Sequence[dict[str, Any]] | None = None,
        *,
        claims: Sequence[tuple[str, str]] = (),
    ) -> None:
        """What a turn that saved no dialog sends, stored with its claims (bot/store/__init__.py, the outbox)."""
        items = (outbox(replies) if outbox is not None else ()) if items is None else items
        if items or claims:
            await self.store.put_outbox(items, now, claims=claims)

    async def _respond(self, turn: _Turn, dialog: Dialog | None) -> list[Reply]:
        """The turn itself: what to answer, with any change to the dialog left in ``turn`` to save."""
        incoming, now = turn.incoming, turn.now
        if incoming.choice is not None:
            return await self._on_choice(turn, dialog)
        text = incoming.text.strip()
        command = parse_command(text)
        if command is not None:
            return await self._on_command(command, turn, dialog)
        if not self.classifier.reader.says_anything(text):  # an image, a sticker: nothing to read
            if dialog is not None and dialog.pending in self.knowledge.questions and not dialog.done:
                return [self._ask(dialog, self.knowledge.questions[dialog.pending])]
            return [self.replies.prompt()]
        notes = [self.replies.truncated_note(MAX_CHARS)] if len(text) > MAX_CHARS else []
        if dialog is not None and dialog.pending and not dialog.done:
            question = self.knowledge.questions.get(dialog.pending)
            option = self.match_option(question, text) if question else None
            if question and option:
                # The rest of a typed answer still counts ("fuming, and a regular for years"): its cues join in.
                said = self.classifier.read(text)
                dialog.evidence = dialog.evidence.plus(Evidence(cue_weights=said.cue_weights, quoted=said.quoted))
                return notes + await self._answer(turn, dialog, question, option)
            evidence = self.classifier.read(text)
            if question and not evidence.cue_weights and len(text.split()) < DETAIL_WORDS:
                # Too little to go on ("hmm", an emoji): ask again and change nothing.
                return notes + [self._ask(dialog, question, again=DIDNT_CATCH)]
            if not self._reads_as_new_situation(text, evidence):
                dialog.evidence = dialog.evidence.plus(evidence)
                if (
                    question
                    and question.id not in dialog.reasked
                    and self.classifier.decide(dialog.evidence).unsure(question.asks)
                ):
                    # More detail, but still no answer to what was asked: the same question once more, never
                    # another. A second miss moves on, so an agent who can't say is never stuck on one question.
                    dialog.reasked.append(question.id)
                    self._save(turn, dialog)
                    return notes + [self._ask(dialog, question, again=DIDNT_CATCH)]
                return notes + await self._advance(turn, dialog)
        dialog = Dialog.start(now)
        dialog.evidence = self.classifier.read(text)
        _LOGGER.info("dialog %s started on %s", dialog.id, incoming.platform)
        return notes + await self._advance(turn, dialog)

    # ------------------------------------------------------------------ sync helpers for adapters

    def help(self) -> Reply:
        return self.replies.help()

    def welcome(self) -> Reply:
        return self.replies.welcome()

    def checklist(self, department: str | None = None) -> Reply:
        return self.replies.checklist(department or "")

    def tip_of_week_reply(self) -> Reply:
        """This week's library tip as the reply everyone gets for ``tip``."""
        return self.replies.tip(self.tip_of_week())

    def tip_of_week(self) -> Tip:
        """The same library tip for everyone during one ISO week, a different one the next week."""
        year, week = iso_week(utc(self.clock()))
        tips = self.knowledge.tips
        return tips[(year * 53 + week) % len(tips)]

    def classify(self, text: str) -> dict:
        """How the coach reads ``text`` on its own: the types, confidence, cues, the questions it would ask, and the
        situation (knowledge/situations.yaml) whose lines the answer would lead with."""
        said = self.classifier.read(text)
        first = self.classifier.decide(said)
        evidence, decision = said, first
        missing: list[str] = []
        while (question := next_question(self.knowledge, decision, missing)) is not None:
            missing.append(question.id)
            # Suppose the answer settles that dimension, to list what would be asked after it.
            settled = decision.type_of(question.asks) or decision.top_two(question.asks)[0]
            evidence = evidence.plus(Evidence(answer={settled: SETTLED}))
            decision = self.classifier.decide(evidence)
        return {
            "interaction": first.interaction,
            "customer": first.customer,
            "secondary_customer": first.secondary,
            "confidence": first.confidence,
            "interaction_confidence": round(first.confidence_of("interaction"), 2),
            "customer_confidence": round(first.confidence_of("customer"), 2),
            "cues": list(said.quoted),
            "missing": missing,
            "situation": situation.id if (situation := self.classifier.situation(said, first)) else None,
        }

    def match_option(self, question: Question, text: str) -> Option | None:
        """The option a typed answer means: its number, its words, or the type its words point to."""
        plain = text.strip().lower().rstrip(".!")
        if plain.isdigit() and 1 <= int(plain) <= len(question.options):
            return question.options[int(plain) - 1]
        tokens = self.classifier.reader.tokens(text)
        found = [o for key, _ in self._option_matchers[question.id].find(tokens) if (o := question.option(key))]
        naming = [o for o in found if not o.shows_nothing]
        if naming:
            return naming[0]
        # "calm, very technical": a type the answer's words point to beats "nothing stands out".
        cue = self.classifier.read(text).cue_weights
        relevant = {t: w for t, w in cue.items() if any(t in o.signals for o in question.options) and w > 0}
        if relevant:
            best_type = max(relevant, key=relevant.__getitem__)
            return max(question.options, key=lambda o: o.signals.get(best_type, 0.0))
        if found:
            return found[0]
        labels = {o.label.lower(): o for o in question.options}
        match = process.extractOne(plain, list(labels), scorer=fuzz.token_set_ratio, score_cutoff=80)
        return labels[match[0]] if match else None

    # ------------------------------------------------------------------ turns

    async def _advance(self, turn: _Turn, dialog: Dialog, *, skip: bool = False) -> list[Reply]:
        if skip and dialog.evidence.empty and dialog.pending in self.knowledge.questions:
            # "help pls", then "skip": any guess would be the order types are listed in, told as if it meant something.
            return [self._ask(dialog, self.knowledge.questions[dialog.pending], again=NOTHING_TO_GUESS_FROM)]
        reading = self.classifier.decide(dialog.evidence)
        question = None if skip else next_question(self.knowledge, reading, dialog.asked)
        if question is not None:
            dialog.pending = question.id
            dialog.asked.append(question.id)
            self._save(turn, dialog)
            return [self._ask(dialog, question)]
        dialog.pending = None
        dialog.done = True
        self._save(turn, dialog)
        decision, situation = self.classifier.answer(dialog.evidence)
        turn.answered = decision
        _LOGGER.info(
            "dialog %s answered: %s/%s after %d question(s)",
            dialog.id,
            decision.interaction,
            decision.customer,
            len(dialog.asked),
        )
        return [
            self.replies.answer(
                decision,
                dialog.evidence,
                dialog.answers,
                dialog_id=dialog.id,
                situation=situation,
                feedback=dialog.feedback,
            )
        ]

    async def _answer(self, turn: _Turn, dialog: Dialog, question: Question, option: Option) -> list[Reply]:
        dialog.answers[question.id] = option.id
        unshown = (question.asks,) if option.shows_nothing else ()
        dialog.evidence = dialog.evidence.plus(Evidence(answer=option.signals, unshown=unshown))
        dialog.pending = None
        return await self._advance(turn, dialog)

    async def _on_choice(self, turn: _Turn, dialog: Dialog | None) -> list[Reply]:
        """A button, or a choice value typed back: ``d|<dialog>|more``, ``d|<dialog>|<question>|<option>``,
        ``d|<dialog>|<question>|skip``, or ``c|<command>|...``. What names a question acts only while that
        question is pending: a late Skip or option from an earlier card changes nothing."""
        pressed = choice_values.read(turn.incoming.choice or "")
        if pressed is None:
            return [self.replies.not_mine()]  # another app's card, or a value nobody made
        if pressed.command:  # commands valid at any time; "c|start-over" is an older card's, bound to no dialog
            return (
                [self.replies.stale()]
                if pressed.target == START_OVER
                else await self._on_command(Command(pressed.target, " ".join(pressed.rest)), turn, dialog)
            )
        if not pressed.rest or dialog is None or dialog.id != pressed.target:
            return [self.replies.stale()]
        action = list(pressed.rest)
        if action == [MORE]:
            return [self._expanded(dialog)]
        if action == [START_OVER]:
            await self.store.delete_dialog(turn.incoming.dialog_key)
            return [self.replies.cleared()]
        if action[0] in (RIGHT, FIX, HELPED, UNHELPFUL):
            return await self._on_feedback(turn, dialog, action)
        question = self.knowledge.questions.get(action[0])
        skip = len(action) == 2 and action[1] == SKIP
        option = question.option(action[1]) if question and len(action) == 2 and not skip else None
        if question is None or (option is None and not skip):
            return [self.replies.stale()]
        if dialog.done or dialog.pending != question.id:
            return [self.replies.answered_already()]
        if skip:
            return await self._advance(turn, dialog, skip=True)
        assert option is not None  # not skipped, so an option was picked (else the stale reply above)
        return await self._answer(turn, dialog, question, option)

    async def _on_feedback(self, turn: _Turn, dialog: Dialog, action: list[str]) -> list[Reply]:
        """The quiet row under an answer. Each tap counts once per dialog (the dialog remembers it, and is
        saved compare-and-set, so a double tap on two copies counts once); the card is redrawn without it."""
        if not dialog.done:
            return [self.replies.answered_already()]
        given = dialog.feedback
        decision, situation = self.classifier.answer(dialog.evidence)
        if action == [RIGHT]:
            if "answer" in given:
                return [self._answered(dialog, note="Noted already, thanks.")]
            given["answer"] = "right"
            turn.tallies.append(("confirmed", "all"))
            self._save(turn, dialog)
            return [self._answered(dialog, note="Noted as right, thanks.")]
        if action[0] in (HELPED, UNHELPFUL) and len(action) == 1:
            if "script" in given:
                return [self._expanded(dialog, note="Noted already, thanks.")]
            given["script"] = action[0]
            which = situation.id if situation else f"{decision.interaction or ANY}/{decision.customer or ANY}"
            turn.tallies.append(("script", f"{action[0]}:{which}"))
            self._save(turn, dialog)
            return [self._expanded(dialog, note="Noted, thanks.")]
        corrected = given.setdefault("corrected", [])
        if action == [FIX]:
            return [self.replies.correction(decision, dialog_id=dialog.id, corrected=corrected)]
        dimension, picked = (action[1], action[2]) if len(action) == 3 else ("", "")
        if picked not in DIMENSION_TYPES.get(dimension, ()):
            return [self.replies.stale()]
        if dimension in corrected:
            return [self._answered(dialog, note="Corrected already.")]
        read = decision.type_of(dimension)
        corrected.append(dimension)
        given["answer"] = "corrected"
        turn.tallies.append(("corrected", f"{dimension}:{read or ANY}>{picked}"))
        dialog.evidence = dialog.evidence.plus(Evidence(answer={picked: SETTLED}))
        self._save(turn, dialog)
        return [self._answered(dialog, note="Redone with your correction.")]

    async def _on_command(self, command: Command, turn: _Turn, dialog: Dialog | None) -> list[Reply]:
        incoming = turn.incoming
        if command.name == "help":
            return [self.replies.help()]
        if command.name == "checklist":
            return [self.replies.checklist(command.argument)]
        if command.name == "tip":
            return await self.tips.handle(command.argument, incoming)
        if command.name == "report":
            return [await self._report(command.argument, incoming)]
        if command.name == "start-over":
            await self.store.delete_dialog(incoming.dialog_key)
            return [self.replies.cleared()]
        if command.name == "skip":
            if dialog is None:
                return [self.replies.nothing_yet()]
            if dialog.done:
                return [self._expanded(dialog)]
            return await self._advance(turn, dialog, skip=True)
        if command.name == "more":
            if dialog is not None and dialog.done:
                return [self._expanded(dialog)]
            if dialog is not None and dialog.pending in self.knowledge.questions:
                return [
                    self._ask(dialog, self.knowledge.questions[dialog.pending])
                ]  # nothing more yet: what it waits for
            return [self.replies.nothing_yet()]
        return [self.replies.unknown_command(command.argument or command.name)]

    async def _report(self, argument: str, incoming: Incoming) -> Reply:
        """``report [weeks]``: how the coach did for this team, managers only (bot/report.py)."""
        word = argument.strip().split(" ")[0]
        found = await self.report_for(incoming, weeks=int(word) if word.isdigit() else 1)
        if found is None:
            _LOGGER.info("report refused on %s: not a manager", incoming.platform)
            return Reply(
                kind="error",
                title="Sorry, the report is for managers.",
                text="Ask your manager if you'd like to see it.",
                private=True,
            )
        return found

    async def report_for(self, incoming: Incoming, *, weeks: int = 1) -> Reply | None:
        """The manager's report for ``incoming``'s team over the last ``weeks`` ISO weeks; None for anyone else.
        Adapters also show it where a manager looks anyway (Slack's App Home)."""
        if not self.tips.managers.allows(incoming):
            return None
        periods = report.weeks_back(self.clock(), min(max(weeks, 1), report.MAX_WEEKS))
        rows = await self.store.tallies(periods, f"{incoming.platform}:{incoming.workspace}")
        return report.render(report.summarise(rows, periods), self.knowledge)

    # ------------------------------------------------------------------ helpers

    def _ask(self, dialog: Dialog, question: Question, *, again: str = "") -> Reply:
        """A question of this dialog. With nothing read or answered yet it offers no best guess: there is none."""
        nothing_read = dialog.evidence.empty
        if nothing_read and again:
            again = NOTHING_TO_GUESS_FROM
        return self.replies.question(
            question, dialog_id=dialog.id, number=len(dialog.asked), again=again, can_guess=not nothing_read
        )

    def _expanded(self, dialog: Dialog, *, note: str = "") -> Reply:
        return self._answered(dialog, expanded=True, note=note)

    def _answered(self, dialog: Dialog, *, expanded: bool = False, note: str = "") -> Reply:
        """A finished dialog's answer drawn again, as it stands now (corrections in), with the feedback still open."""
        decision, situation = self.classifier.answer(dialog.evidence)
        return self.replies.answer(
            decision,
            dialog.evidence,
            dialog.answers,
            dialog_id=dialog.id,
            situation=situation,
            expanded=expanded,
            feedback=dialog.feedback,
            note=note,
        )

    def _reads_as_new_situation(self, text: str, evidence: Evidence) -> bool:
        if len(text.split()) < NEW_SITUATION_WORDS:
            return False
        decision = self.classifier.decide(evidence)
        return (
            not decision.unsure("interaction")
            and sum(abs(w) for w in evidence.cue_weights.values()) >= NEW_SITUATION_EVIDENCE
        )

    async def _load(self, turn: _Turn) -> Dialog | None:
        """The person's dialog, with its version noted in ``turn``. One that expired or can't be read counts as
        none; its row stays until a new dialog replaces it (compare-and-set, at that version) or the purge."""
        loaded = await self.store.load_dialog(turn.incoming.dialog_key)
        if loaded is None:
            return None
        saved, turn.version = loaded
        try:
            dialog = Dialog.from_dict(saved)
        except (KeyError, TypeError, ValueError):
            _LOGGER.warning("unreadable dialog state: a new dialog will replace it")
            return None
        return None if turn.now - dialog.touched > self.dialog_ttl else dialog

    @staticmethod
    def _save(turn: _Turn, dialog: Dialog) -> None:
        """Mark ``dialog`` to be saved when the turn ends (``_handle``), compare-and-set, with what the turn sends."""
        dialog.touched = turn.now
        turn.changed = dialog

    @staticmethod
    def _counts(turn: _Turn) -> list[tuple[str, str, str, str]]:
        """What a turn counts when its save lands (in the same transaction): the answer reached and the agent's
        feedback, as (week, team, metric, key), never who."""
        period, team = period_at(turn.now), f"{turn.incoming.platform}:{turn.incoming.workspace}"
        decided, tallies = turn.answered, list(turn.tallies)
        if decided is not None and turn.changed is not None:
            tallies[:0] = [
                ("answered", "all"),
                ("identified", f"{decided.interaction or ANY}/{decided.customer or ANY}"),
                ("questions", str(len(turn.changed.asked))),
            ]
        return [(period, team, metric, key) for metric, key in tallies]

    async def expire(self) -> int:
        """Delete abandoned dialogs; run now and then by whoever hosts the coach."""
        return await self.store.purge_dialogs(self.clock() - self.dialog_ttl)


# build_coach's default reader cache: where the XDG cache is when this module is first imported.
_READER_CACHE = disk_cache.default_directory()


def build_coach(
    *,
    knowledge_dir: str | Path | None = None,
    overlay: str | Path | None = None,
    store: Store,
    clock: Callable[[], float] = time.time,
    dialog_ttl: float = DIALOG_TTL,
    managers: Managers | None = None,
    timezone: str = "UTC",
    reader_cache: Path | None = _READER_CACHE,
    meter: Metrics | None = None,
    posters: Mapping[str, Poster] | None = None,
) -> Coach:
    """Load and check knowledge, train the reader, and return a ready Coach.

    The checked examples and the fitted reader are kept in ``reader_cache`` between starts (bot/disk_cache.py);
    None reads and fits them at every start.

    The cyclic garbage collector waits meanwhile: start-up makes hundreds of thousands of objects
    (examples, tokens, model tables) that all live on, and each collection pass over them finds
    nothing; pausing it takes about a tenth off start-up.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        return Coach(
            knowledge=load_knowledge(knowledge_dir, overlay=overlay, cache=reader_cache),
            store=store,
            clock=clock,
            dialog_ttl=dialog_ttl,
            managers=managers,
            timezone=timezone,
            reader_cache=reader_cache,
            meter=meter,
            posters=posters,
        )
    finally:
        if collecting:
            gc.enable()


def freeze_startup_objects() -> None:
    """Move everything built at start-up (knowledge, the reader's tables) out of the collector's reach.

    They live as long as the process; without this, each full collection walks them again and a
    turn that triggers one takes milliseconds instead of a tenth of one.
    """
    gc.collect()
    gc.freeze()
