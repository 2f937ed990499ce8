"""Cross-validation of the situation reader on knowledge/examples only (tests/data stays held out).

Run:  python bench/reader_cv.py [--folds 5] [--grid]
Prints interaction and customer accuracy when each fold is read by a reader trained on the
others; --grid also tries the reader's tuning constants, to choose them without the test sets.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import bot.classify as classify  # noqa: E402
from bot.knowledge import load_knowledge  # noqa: E402


def cross_validate(folds: int, seed: int = 3) -> tuple[float, float]:
    knowledge = load_knowledge()
    examples = list(knowledge.examples)
    random.Random(seed).shuffle(examples)
    right_i = right_c = total_c = 0
    for fold in range(folds):
        held = examples[fold::folds]
        train = [e for i, e in enumerate(examples) if i % folds != fold]
        reader = classify.Classifier(dataclasses.replace(knowledge, examples=tuple(train)))
        for example in held:
            decision = reader.decide(reader.read(example.text))
            right_i += decision.interaction == example.interaction
            if example.customer:
                total_c += 1
                right_c += decision.customer == example.customer
    return right_i / len(examples), right_c / max(total_c, 1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--grid", action="store_true")
    args = parser.parse_args()
    interaction, customer = cross_validate(args.folds)
    print(
        f"{args.folds}-fold on {len(load_knowledge().examples)} examples: interaction {interaction:.1%}, customer "
        f"{customer:.1%}"
    )
    if args.grid:
        for cue, weight in itertools.product((0.5, 0.75, 1.0), (0.2, 0.35, 0.6)):
            classify.CUE_WEIGHT = cue
            classify.MODEL_WEIGHT = {"interaction": weight, "customer": weight}
            interaction, customer = cross_validate(args.folds)
            print(f"cue {cue} model {weight}: interaction {interaction:.1%}, customer {customer:.1%}")


if __name__ == "__main__":
    main()
