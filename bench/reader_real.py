"""How the coach reads situations from real front-line work, with no question answered.

Run:  python bench/reader_real.py [--misses] [FILE ...]   (default: tests/data/real_dev.yaml)
      python bench/reader_real.py --fit   (temperatures and ask thresholds from the real-work examples)

For each labelled set it prints what the reader issue measures:
- interaction and customer accuracy on the lines whose label names a type;
- on the lines that show no customer type (label null), how often the coach asks about the customer
  (names none, or lists a customer question in ``missing``);
- how many lines are answered at once (nothing left to ask) with a wrong type, and how often
  answers given at once are right;
- a reliability table per dimension (accuracy per confidence bin) and the expected calibration error, beside
  the range a perfectly calibrated reader would show on as many readings;
- where lines carry a `situation` label (the situation in knowledge/situations.yaml whose first step fits, or null
  for none), how often the situation the answer leads with is the labelled one, and how many labelled ones it finds.
"""

from __future__ import annotations

import dataclasses
import math
import random
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import bot.classify as classify  # noqa: E402
from bot.coach import Coach  # noqa: E402
from bot.knowledge import load_knowledge  # noqa: E402
from bot.store.memory import MemoryStore  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BINS = (0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 1.01)


def measure(coach: Coach, items: list[dict]) -> dict:
    """The issue's figures for one labelled set, as numbers; ``report`` prints them."""
    customer_questions = {q.id for q in coach.knowledge.questions.values() if q.asks == "customer"}
    # Two situations with the same steps are one answer under two readings (offer-turned-complaint when the contact
    # reads critical, complaint-during-offer when it reads planned): leading with either is leading with the lines.
    steps = {s.id: s.steps for s in coach.knowledge.situations}
    counts = {
        "interaction": [0, 0],
        "customer": [0, 0],
        "asks": [0, 0],
        "at_once": [0, 0],
        "situation_named": [0, 0],
        "situation_found": [0, 0],
    }
    pairs: dict[str, list[tuple[float, bool]]] = {"interaction": [], "customer": []}
    misses = []
    for item in items:
        result = coach.classify(item["text"])
        wrong = False
        for dimension in ("interaction", "customer"):
            truth = item.get(dimension)
            if truth is None:
                continue
            right = result[dimension] == truth
            counts[dimension][0] += right
            counts[dimension][1] += 1
            wrong |= not right
            if result[dimension] is not None:
                pairs[dimension].append((result[f"{dimension}_confidence"], right))
        if item.get("customer") is None:
            counts["asks"][0] += result["customer"] is None or bool(customer_questions & set(result["missing"]))
            counts["asks"][1] += 1
            wrong |= result["customer"] is not None and not result["missing"]
        if item.get("interaction") is None:
            wrong |= result["interaction"] is not None and not result["missing"]
        if "situation" in item:  # labelled (null where the readers agreed that none fits)
            found = result["situation"]
            right = found == item["situation"] or (
                found is not None and steps.get(found) == steps.get(item["situation"])
            )
            if found is not None:
                counts["situation_found"][0] += right
                counts["situation_found"][1] += 1
            if item["situation"] is not None:
                counts["situation_named"][0] += right
                counts["situation_named"][1] += 1
        if not result["missing"]:
            counts["at_once"][0] += not wrong
            counts["at_once"][1] += 1
        if wrong:
            misses.append(
                f"{item.get('interaction')}/{item.get('customer')} read as {result['interaction']}/{result['customer']}"
                f" missing={result['missing']}: {item['text']}"
            )
    return {"counts": counts, "pairs": pairs, "misses": misses, "total": len(items)}


def reliability(pairs: list[tuple[float, bool]]) -> tuple[list[str], float]:
    """Rows of (bin, count, mean confidence, accuracy) and the expected calibration error."""
    rows, ece = [], 0.0
    for low, high in zip(BINS, BINS[1:], strict=False):
        inside = [(c, r) for c, r in pairs if low <= c < high]
        if not inside:
            continue
        confidence = sum(c for c, _ in inside) / len(inside)
        accuracy = sum(r for _, r in inside) / len(inside)
        ece += len(inside) / len(pairs) * abs(confidence - accuracy)
        rows.append(
            f"    {low:.1f}-{min(high, 1.0):.1f}  n={len(inside):3d}  confidence {confidence:.2f}  accuracy "
            f"{accuracy:.2f}"
        )
    return rows, ece


def calibrated_ece(pairs: list[tuple[float, bool]], samples: int = 2000) -> tuple[float, float]:
    """The median and 95th percentile of the ECE a perfectly calibrated reader would show with these confidences.

    Why: on a few hundred readings the ECE is noisy; a reader right exactly as often as it says still shows some.
    Each sample draws every reading right with its own confidence as the chance (a fixed seed: runs agree).
    """
    draw = random.Random(0)
    eces = sorted(reliability([(c, draw.random() < c) for c, _ in pairs])[1] for _ in range(samples))
    return eces[samples // 2], eces[samples * 95 // 100]


def report(name: str, figures: dict, *, show_misses: bool = False) -> None:
    c = figures["counts"]

    def pct(key: str) -> str:
        right, total = c[key]
        return f"{right / total:.1%} ({right}/{total})" if total else "n/a"

    wrong_at_once = c["at_once"][1] - c["at_once"][0]
    print(f"{name}: {figures['total']} lines")
    print(f"  interaction {pct('interaction')}, customer {pct('customer')} (lines whose label names a type)")
    print(f"  asks about the customer where none is shown: {pct('asks')}")
    print(f"  answered at once: {c['at_once'][1]}, of them wrong: {wrong_at_once} (right {pct('at_once')})")
    if c["situation_found"][1] or c["situation_named"][1]:
        print(
            f"  situations: the one the labels name, of those the answer leads with {pct('situation_found')};"
            f" found, of those the labels name {pct('situation_named')}"
        )
    for dimension, pairs in figures["pairs"].items():
        rows, ece = reliability(pairs)
        median, high = calibrated_ece(pairs)
        print(
            f"  {dimension} reliability (ECE {ece:.3f}; a perfectly calibrated reader would show {median:.3f}, at"
            f" most {high:.3f} in 95 of 100 samples, on these {len(pairs)} readings):"
        )
        print("\n".join(rows))
    if show_misses:
        print("\n".join("  - " + m for m in figures["misses"]))


def main() -> None:
    if "--fit" in sys.argv:
        fit()
        return
    args = [a for a in sys.argv[1:] if not a.startswith("-")]
    files = [Path(a) for a in args] or [ROOT / "tests/data/real_dev.yaml"]
    coach = Coach(knowledge=load_knowledge(), store=MemoryStore())
    for path in files:
        items = yaml.safe_load(path.read_text(encoding="utf-8"))
        items = items["examples"] if isinstance(items, dict) else items
        report(path.name, measure(coach, items), show_misses="--misses" in sys.argv)


def fit(folds: int = 5) -> None:
    """Temperatures and ask thresholds from the real-work examples, each read by a reader that never saw it.

    The examples are split into ``folds`` by source; for each fold a reader is trained without it. The
    temperature per dimension minimises the log-loss of those readings; the ask threshold is the lowest
    confidence at which readings given at once are still right 95% of the time.
    """
    knowledge = load_knowledge()
    real = [e for e in knowledge.examples if e.source]
    sources = sorted({e.source for e in real if e.source})  # one account's moments stay in one fold
    fold_of = {source: i % folds for i, source in enumerate(sources)}
    raw: dict[str, list[tuple[dict[str, float], str]]] = {"interaction": [], "customer": []}
    saved = dict(classify.TEMPERATURE)
    classify.TEMPERATURE.update({"interaction": 1.0, "customer": 1.0})
    try:
        for fold in range(folds):
            held = [e for e in real if fold_of[e.source or ""] == fold]
            train = tuple(e for e in knowledge.examples if not e.source or fold_of[e.source] != fold)
            reader = classify.Classifier(dataclasses.replace(knowledge, examples=train))
            for example in held:
                evidence = reader.read(example.text)
                decision = reader.decide(evidence)
                for dimension in ("interaction", "customer"):
                    truth = getattr(example, dimension)
                    if truth and decision.type_of(dimension):
                        raw[dimension].append((decision.probs(dimension), truth))
    finally:
        classify.TEMPERATURE.update(saved)
    for dimension, readings in raw.items():
        best = min((_log_loss(readings, t), t) for t in [x / 10 for x in range(5, 61)])[1]
        pairs = sorted(
            ((max(_tempered(p, best).values()), max(p, key=p.__getitem__) == truth) for p, truth in readings),
            reverse=True,
        )
        threshold = 1.0
        for i in range(len(pairs)):
            right = sum(r for _, r in pairs[: i + 1]) / (i + 1)
            if right >= 0.95:
                threshold = pairs[i][0]
        ece = reliability(pairs)[1]
        print(
            f"{dimension}: {len(readings)} held-out readings, temperature {best} (ECE {ece:.3f}), "
            f"ask below {threshold:.2f}"
        )


def _tempered(probs: dict[str, float], temperature: float) -> dict[str, float]:
    logs = {t: math.log(max(p, 1e-9)) / temperature for t, p in probs.items()}
    top = max(logs.values())
    total = sum(math.exp(v - top) for v in logs.values())
    return {t: math.exp(v - top) / total for t, v in logs.items()}


def _log_loss(readings: list[tuple[dict[str, float], str]], temperature: float) -> float:
    return -sum(math.log(max(_tempered(p, temperature)[truth], 1e-9)) for p, truth in readings) / len(readings)


if __name__ == "__main__":
    main()
