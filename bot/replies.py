"""Builds the coach's replies from knowledge: the answer card, questions, help, checklists, tips.

Replies are short on purpose: the agent reads them while the customer is talking. The full
script and the reasoning sit behind a "more" choice.
"""

from __future__ import annotations

from rapidfuzz import fuzz, process

from bot.choice_values import FIX, HELPED, MORE, RIGHT, SKIP, START_OVER, UNHELPFUL, for_command, for_dialog
from bot.classify import DIMENSIONS, Decision, Evidence
from bot.knowledge import ANY, Department, Knowledge, Question, Script, Situation, Step, Tip
from bot.messages import Choice, Reply, Section

# Sentences to say in the short answer; the rest is behind "More". Two, not three: on 42 fresh answers read
# blind by agents in ten trades (2026-12-06), the first line was said as is 38% of the time, the second 19%,
# the third 8% (and wrong 29%). A line that doesn't fit makes an agent distrust the rest, and mid-call every
# line read is a line not heard.
SHORT_LINES = 2
PERCENT = "{:.0%}"
REAL_SHARE = 0.1  # a type below this share is left out of "how I read it"
# How sure the coach is, in the words an agent reads at a glance, from the lower of the two confidences.
SURENESS = ((0.8, "Sure."), (0.6, "Fairly sure."), (0.0, "Best guess."))
# What a question says when it is asked again instead of taking the agent's turn as an answer.
DIDNT_CATCH = "I didn't catch that. Pick one, tell me a bit more, or say “skip” for my best guess."
NOTHING_TO_GUESS_FROM = (
    "I have nothing to guess from yet: pick one, or tell me one thing about the customer or what happened."
)

USAGE_LINES = (
    "Describe what is going on in your own words, e.g. “cx furious, blender smoked on day 2”.",
    "I may ask up to three quick questions; pick a button or type an answer, or say “skip” for my best guess.",
    "“more” shows the full script, “start over” clears the situation; a new description starts a new one.",
    "“checklist [department]” shows a department's checklist; “tip” shows this week's tip.",
    "Under an answer, “Right” or “Not quite” tells me how I did (only counts are kept); managers can say “report”.",
)


class Replies:
    def __init__(self, knowledge: Knowledge) -> None:
        self.k = knowledge

    # ------------------------------------------------------------------ the answer

    def answer(
        self,
        decision: Decision,
        evidence: Evidence,
        answers: dict[str, str],
        *,
        dialog_id: str,
        situation: Situation | None = None,
        expanded: bool = False,
        feedback: dict | None = None,
        note: str = "",
    ) -> Reply:
        """The answer: short enough to read while the customer talks, the rest one tap away behind "More".

        Short: the two types and how sure, the one thing to hold on to, and at most ``SHORT_LINES``
        sentences to say: the situation's own lines when it has two or more, else its step leading the
        script's. Expanded: what each type is, what this customer needs, the whole script with what to do
        at each step, what to do after the contact, and why the coach read it so.

        Each ends in one quiet row of feedback, never required: "Right" / "Not quite" on the short answer,
        "Helped" / "Didn't help" on the full one; a row already given (``feedback``) is not offered again.
        ``note`` follows the sureness line ("Noted, thanks.").
        """
        given = feedback or {}
        text = f"{_sureness(decision)} {note}".strip()
        script = self.k.scripts[(decision.interaction or ANY, decision.customer or ANY)]
        steps = _unique((*(situation.steps if situation else ()), *script.steps))
        point = self.k.key_points[script.hold_on.point]
        sections = [Section(title="Hold on to", lines=(f"{point.name}: {script.hold_on.line}",))]
        if not expanded:
            # A situation's own lines fit what is happening better than the pair's general ones, which
            # readers marked wrong more often than any others; they stand alone where there are two.
            # A step with nothing to say (a `do` alone) leaves its place empty: where no sentence fits most
            # contacts of a pair, the short answer has one line rather than a filler.
            # Where neither has a sentence (a routine request, a surprise with no customer type shown), the answer
            # has none: panels judged the one filler that fitted every such contact wrong a third of the time.
            own = tuple(s.say for s in situation.steps if s.say) if situation else ()
            says = own[:SHORT_LINES] if len(own) >= 2 else tuple(s.say for s in steps[:SHORT_LINES] if s.say)
            if says:
                sections.append(Section(title="Say", lines=says, numbered=True))
            choices = [Choice(label="More", value=for_dialog(dialog_id, MORE))]
            if "answer" not in given:
                choices.append(Choice(label="Right", value=for_dialog(dialog_id, RIGHT)))
            if set(DIMENSIONS) - set(given.get("corrected", ())):
                choices.append(Choice(label="Not quite", value=for_dialog(dialog_id, FIX)))
            choices.append(Choice(label="Start over", value=for_dialog(dialog_id, START_OVER)))
            return Reply(
                kind="answer",
                title=self._headline(decision),
                text=text,
                sections=tuple(sections),
                choices=tuple(choices),
            )
        sections[:0] = [Section(title="What this is", lines=self._summaries(decision, situation))]
        needs = self._needs(decision)
        if needs:
            sections.append(Section(title="What this customer needs", lines=needs))
        sections += [
            Section(
                title=self._script_title(decision),
                lines=tuple(f"{s.do} “{s.say}”" if s.say else s.do for s in steps),
                numbered=True,
            ),
            Section(title="After the contact", lines=(self._follow_up(decision, script),)),
            Section(title="Why", lines=(self._why(evidence, answers), *self._probabilities(decision))),
        ]
        choices = (
            []
            if "script" in given
            else [
                Choice(label="Helped", value=for_dialog(dialog_id, HELPED)),
                Choice(label="Didn't help", value=for_dialog(dialog_id, UNHELPFUL)),
            ]
        )
        choices.append(Choice(label="Start over", value=for_dialog(dialog_id, START_OVER)))
        return Reply(
            kind="answer", title=self._headline(decision), text=text, sections=tuple(sections), choices=tuple(choices)
        )

    def correction(self, decision: Decision, *, dialog_id: str, corrected: list[str]) -> Reply:
        """ "Not quite": the other types of each dimension not yet corrected, one tap each; the answer is redone."""
        choices = []
        for dimension, types in (("interaction", self.k.interactions), ("customer", self.k.customers)):
            if dimension in corrected:
                continue
            read = decision.type_of(dimension)
            choices += [
                Choice(label=f"{t.name} {dimension}", value=for_dialog(dialog_id, FIX, dimension, type_id))
                for type_id, t in types.items()
                if type_id != read
            ]
        choices.append(Choice(label="Start over", value=for_dialog(dialog_id, START_OVER)))
        return Reply(
            kind="question",
            title="What is it really?",
            text="Pick the type I got wrong; I'll redo the answer.",
            choices=tuple(choices),
        )

    def _headline(self, decision: Decision) -> str:
        interaction = (
            f"{self.k.interactions[decision.interaction].name} interaction"
            if decision.interaction
            else "Kind of contact not clear"
        )
        if decision.customer is None:
            # "customer" among the answered dimensions with no type named: the agent said nothing stands out.
            settled = "customer" in decision.answered
            return f"{interaction} · {'No customer type stands out' if settled else 'Customer type not clear'}"
        customer = f"{self.k.customers[decision.customer].name} customer"
        if decision.secondary:
            customer += f" (also {self.k.customers[decision.secondary].name.lower()})"
        return f"{interaction} · {customer}"

    def _summaries(self, decision: Decision, situation: Situation | None) -> tuple[str, ...]:
        lines = []
        if decision.interaction:
            lines.append(self.k.interactions[decision.interaction].summary)
        if decision.customer:
            lines.append(self.k.customers[decision.customer].summary)
        if situation is not None:
            lines.append(f"The situation: {situation.name[:1].lower()}{situation.name[1:]}.")
        return tuple(lines) or (
            "Not enough was said to tell the kind of contact or customer; the steps below fit any.",
        )

    def _needs(self, decision: Decision) -> tuple[str, ...]:
        if decision.customer is None:
            return ()
        needs = list(self.k.customers[decision.customer].needs)
        if decision.secondary:
            needs.append(self.k.customers[decision.secondary].as_secondary)
        return tuple(needs)

    def _script_title(self, decision: Decision) -> str:
        """Named for what it is (DOMAIN.md): de-escalation for angry customers and surprise or critical contacts."""
        kinds = [self.k.interactions[decision.interaction].script_kind] if decision.interaction else []
        if decision.customer:
            kinds.append(self.k.customers[decision.customer].script_kind or "")
        if "de-escalation" in kinds:
            return "Script (de-escalation)"
        return "Script (follow-up)" if decision.interaction else "Script"

    def _follow_up(self, decision: Decision, script: Script) -> str:
        if script.follow_up:
            return script.follow_up
        if decision.interaction:
            return self.k.interactions[decision.interaction].follow_up
        return "Note what happened and what you promised, and pass it on to whoever takes this up next."

    def _why(self, evidence: Evidence, answers: dict[str, str]) -> str:
        reasons = []
        if evidence.quoted:
            reasons.append("you wrote " + ", ".join(f"“{c}”" for c in evidence.quoted[:5]))
        picked = [self.k.questions[q].option(o) for q, o in answers.items() if q in self.k.questions]
        if picked:
            reasons.append("you answered " + ", ".join(f"“{o.label}”" for o in picked if o))
        if not reasons:
            reasons.append("the way the situation reads overall")
        return "I went by: " + "; ".join(reasons) + "."

    def _probabilities(self, decision: Decision) -> tuple[str, ...]:
        """How likely each type is, only those with a real share: a list of 2% types reads as doubt that isn't there."""

        def line(probs: dict[str, float], names: dict) -> str:
            ranked = [t for t in sorted(probs, key=probs.__getitem__, reverse=True) if probs[t] >= REAL_SHARE]
            return ", ".join(f"{names[t].name} {PERCENT.format(probs[t])}" for t in ranked)

        lines = []
        if decision.interaction:
            lines.append("Interaction: " + line(decision.interaction_probs, self.k.interactions))
        if decision.customer:
            lines.append("Customer: " + line(decision.customer_probs, self.k.customers))
        return tuple(lines)

    # ------------------------------------------------------------------ questions

    def question(
        self, question: Question, *, dialog_id: str, number: int, again: str = "", can_guess: bool = True
    ) -> Reply:
        """The question with its choices; ``again`` says why it is asked once more, if it is.

        With nothing read yet there is no best guess to skip to, so ``can_guess`` False drops that choice.
        """
        choices = [Choice(label=o.label, value=for_dialog(dialog_id, question.id, o.id)) for o in question.options]
        if can_guess:
            choices.append(Choice(label="Skip, best guess", value=for_dialog(dialog_id, question.id, SKIP)))
        return Reply(
            kind="question",
            title=question.text,
            text=again or f"Quick question {number} of up to 3. Pick one or type your answer.",
            choices=tuple(choices),
        )

    # ------------------------------------------------------------------ everything else

    def help(self) -> Reply:
        departments = ", ".join(d.id for d in self.k.departments.values())
        return Reply(
            kind="info",
            title="Frontline Coach: how to use me",
            text="Tell me what is happening with a customer and I tell you what kind of interaction and customer it "
            "is, what to hold on to, and what to say.",
            sections=(Section(title="How", lines=USAGE_LINES), Section(title="Checklists", lines=(departments,))),
            choices=(
                Choice(label="This week's tip", value=for_command("tip")),
                Choice(label="Checklists", value=for_command("checklist")),
            ),
        )

    def welcome(self) -> Reply:
        return Reply(
            kind="info",
            title="Hi! I'm Frontline Coach.",
            text="Mid-call or mid-shift, tell me what is going on (“cx furious, blender smoked on day 2”) and I'll "
            "give you a short script to read from.",
            sections=(Section(title="How", lines=USAGE_LINES),),
        )

    def prompt(self) -> Reply:
        return Reply(
            kind="info",
            title="What's going on with the customer?",
            text="Describe the situation in a few words, or say “help”.",
        )

    def stale(self) -> Reply:
        return Reply(
            kind="error",
            title="That button belongs to a situation that has ended.",
            text="Nothing changed. Describe the situation again, or carry on with the current one.",
            private=True,
        )

    def not_mine(self) -> Reply:
        return Reply(
            kind="error",
            title="That button isn't one of mine.",
            text="Nothing changed. Describe the situation, or say “help”.",
            private=True,
        )

    def answered_already(self) -> Reply:
        return Reply(
            kind="info",
            title="That question is answered already.",
            text="Carry on with the latest question, or say “start over”.",
            private=True,
        )

    def nothing_yet(self) -> Reply:
        return Reply(
            kind="info", title="There is no situation yet.", text="Describe what is happening with the customer first."
        )

    def cleared(self) -> Reply:
        return Reply(kind="info", title="Cleared.", text="Describe the next situation whenever you are ready.")

    def unknown_command(self, word: str) -> Reply:
        return Reply(
            kind="error",
            title=f"I don't know the command “{word[:40]}”.",
            text="I understand: help, checklist [department], tip. Anything else, just describe the situation.",
            private=True,
        )

    def truncated_note(self, limit: int) -> Reply:
        return Reply(
            kind="info",
            title="That was long: I read the first part only.",
            text=f"I went by the first {limit:,} characters.",
            private=True,
        )

    def tip(self, tip: Tip) -> Reply:
        return Reply(kind="info", title="Tip of the week", text=tip.text)

    def checklist(self, argument: str) -> Reply:
        if not argument.strip():
            return self.departments()
        department = self.find_department(argument)
        if department is None:
            return self._unknown_department(argument)
        return Reply(
            kind="info",
            title=f"Checklist: {department.name}",
            sections=(Section(title="", lines=department.items, numbered=True),),
            private=True,
        )

    def departments(self) -> Reply:
        return Reply(
            kind="info",
            title="Which department?",
            text="Type “checklist” and a department, or pick one.",
            sections=(
                Section(title="Departments", lines=tuple(f"{d.id}: {d.name}" for d in self.k.departments.values())),
            ),
            choices=tuple(
                Choice(label=d.name[:40], value=for_command("checklist", d.id)) for d in self.k.departments.values()
            ),
            private=True,
        )

    def find_department(self, argument: str) -> Department | None:
        wanted = argument.strip().lower()
        names = self._department_names()
        if wanted in names:
            return self.k.departments[names[wanted]]
        match = process.extractOne(wanted, list(names), scorer=fuzz.WRatio, score_cutoff=88)
        return self.k.departments[names[match[0]]] if match else None

    def _department_names(self) -> dict[str, str]:
        names = {}
        for d in self.k.departments.values():
            for name in (d.id, d.name.lower(), *d.aliases):
                names[name] = d.id
        return names

    def _unknown_department(self, argument: str) -> Reply:
        names = self._department_names()
        close = process.extract(argument.strip().lower(), list(names), scorer=fuzz.WRatio, limit=6)
        suggested: list[str] = []
        for name, score, _ in close:
            if score >= 50 and names[name] not in suggested:
                suggested.append(names[name])
        suggested = suggested[:3] or list(self.k.departments)
        return Reply(
            kind="error",
            title=f"I have no checklist for “{argument.strip()[:40]}”.",
            text="Did you mean one of these?",
            choices=tuple(
                Choice(label=self.k.departments[d].name[:40], value=for_command("checklist", d)) for d in suggested
            ),
            private=True,
        )


def _sureness(decision: Decision) -> str:
    known = [decision.confidence_of(d) for d in ("interaction", "customer") if decision.type_of(d)]
    confidence = min(known, default=0.0)
    return next(words for floor, words in SURENESS if confidence >= floor)


def _unique(steps: tuple[Step, ...]) -> tuple[Step, ...]:
    """Steps in order, each once: a situation's first step may also be in the pair's script."""
    seen: list[Step] = []
    for step in steps:
        if step not in seen:
            seen.append(step)
    return tuple(seen)
