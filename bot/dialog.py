"""A dialog's saved state and the choice of the next question.

What is saved is evidence as numbers, the questions asked and the options picked: never what
the agent typed, which is read once and dropped.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from bot.classify import Decision, Evidence
from bot.knowledge import Knowledge, Question

MAX_QUESTIONS = 3
# Ask the question made for the two leading types when they hold this much of the probability
# between them; otherwise the doubt is wider and the general question serves better.
FOCUSED_SHARE = 0.75


@dataclass
class Dialog:
    id: str
    started: float
    touched: float = 0.0
    evidence: Evidence = field(default_factory=Evidence)
    asked: list[str] = field(default_factory=list)
    answers: dict[str, str] = field(default_factory=dict)
    pending: str | None = None
    done: bool = False
    reasked: list[str] = field(default_factory=list)  # questions asked once more after a typed miss
    # The agent's one-tap feedback, each given once: "answer" ("right" or "corrected"), "script" ("helped",
    # "unhelpful"), and the dimensions corrected. Kept so that a second tap, on any copy, counts nothing.
    feedback: dict = field(default_factory=dict)

    @classmethod
    def start(cls, now: float) -> Dialog:
        return cls(id=secrets.token_hex(4), started=now, touched=now)

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "started": self.started,
            "touched": self.touched,
            "evidence": self.evidence.to_dict(),
            "asked": self.asked,
            "answers": self.answers,
            "pending": self.pending,
            "done": self.done,
            "reasked": self.reasked,
            "feedback": self.feedback,
        }

    @classmethod
    def from_dict(cls, data: dict) -> Dialog:
        return cls(
            id=str(data["id"]),
            started=float(data["started"]),
            touched=float(data.get("touched", data["started"])),
            evidence=Evidence.from_dict(data.get("evidence", {})),
            asked=list(data.get("asked", [])),
            answers=dict(data.get("answers", {})),
            pending=data.get("pending"),
            done=bool(data.get("done", False)),
            reasked=list(data.get("reasked", [])),
            feedback=dict(data.get("feedback", {})),
        )


def next_question(knowledge: Knowledge, decision: Decision, asked: list[str]) -> Question | None:
    """The most useful question still to ask, or None when the types are clear or the budget is spent."""
    if len(asked) >= MAX_QUESTIONS:
        return None
    for dimension in ("interaction", "customer"):
        if decision.unsure(dimension):
            question = _pick(knowledge, decision, dimension, asked)
            if question is not None:
                return question
    return None


def _pick(knowledge: Knowledge, decision: Decision, dimension: str, asked: list[str]) -> Question | None:
    first, second = decision.top_two(dimension)
    probs = decision.interaction_probs if dimension == "interaction" else decision.customer_probs
    open_questions = [q for q in knowledge.questions.values() if q.asks == dimension and q.id not in asked]
    focused = [q for q in open_questions if q.when and set(q.when) == {first, second}]
    general = [q for q in open_questions if not q.when]
    nearby = [q for q in open_questions if q.when and first in q.when]
    if focused and probs[first] + probs[second] >= FOCUSED_SHARE:
        return focused[0]
    candidates = general or focused or nearby
    return candidates[0] if candidates else None
