"""The reader's combination of evidence (bot/combiner.py) and the held-out readings it learns from (bot/model.py)."""

from __future__ import annotations

import math
import random

from bot.combiner import LinearCombiner
from bot.model import NaiveBayes, held_out_log_posteriors

TYPES = ("a", "b", "c")


def test_it_learns_which_number_tells_each_type():
    rows = [[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.2, 0.8], [0.0, 0.0], [0.1, 0.1]] * 5
    labels = ["a", "a", "b", "b", "c", "c"] * 5
    combiner = LinearCombiner.fit(rows, labels, TYPES, [1.0] * len(rows))
    assert combiner is not None
    for row, label in zip(rows, labels, strict=True):
        scores = combiner.scores(row)
        assert max(scores, key=scores.__getitem__) == label
    assert abs(sum(combiner.bias)) < 1e-5  # centred: one answer, whatever the starting point


def test_a_type_with_few_examples_is_not_read_less_for_that_alone():
    """Balanced: one example of "b" against nine of "a" at the same place still splits the reading evenly."""
    rows = [[1.0]] * 10
    labels = ["a"] * 9 + ["b"]
    combiner = LinearCombiner.fit(rows, labels, ("a", "b"), [1.0] * 10)
    assert combiner is not None
    scores = combiner.scores([1.0])
    assert abs(scores["a"] - scores["b"]) < 1e-3


def test_nothing_to_tell_apart_gives_no_combiner():
    assert LinearCombiner.fit([[1.0], [2.0]], ["a", "a"], TYPES, [1.0, 1.0]) is None


def test_a_sample_is_read_by_a_model_that_never_saw_it():
    samples = [({"shared", "only-here"}, "a"), ({"shared", "other"}, "b"), ({"alone"}, "a"), ({"other"}, "b")]
    held_out = held_out_log_posteriors(samples, ("a", "b"), folds=[0, 1, 2, 3])
    assert held_out[2] is None  # "alone" appears nowhere else: a new text with no word the model knows
    first = held_out[0]
    assert first is not None and first["b"] > first["a"]  # "shared" was seen only with "b" once its own line left


def test_held_out_readings_are_those_of_a_model_fitted_on_the_other_folds():
    """The cross-fit counts once and subtracts each fold; it must read as a plain fit on the other folds would."""
    rng = random.Random(5)
    words = [f"w{i}" for i in range(40)]
    labels = ("a", "b", "c")
    samples = [(set(rng.sample(words, rng.randint(1, 6))), rng.choice(labels[:2])) for _ in range(120)]
    samples += [({"w1", "only-c"}, "c")]  # a label present in one fold only
    folds = [rng.randrange(4) for _ in samples]
    held_out = held_out_log_posteriors(samples, labels, folds)
    for i, ((feats, _), fold) in enumerate(zip(samples, folds, strict=True)):
        model = NaiveBayes().fit([s for s, f in zip(samples, folds, strict=True) if f != fold], labels)
        if not model.knows(feats):
            assert held_out[i] is None
            continue
        expected, found = model.log_posterior(feats), held_out[i]
        assert found is not None and found.keys() == expected.keys()
        assert all(math.isclose(found[k], expected[k], abs_tol=1e-9) for k in expected)


def test_naive_bayes_counts_as_the_formula_says():
    """Add-one counts per label over binary features: y is seen once with "a" (of 2 counts there, 2 features in
    all) and never with "b" (1 count there), and both labels weigh alike, so "y" reads a : b = 2/4 : 1/3."""
    model = NaiveBayes().fit([({"x", "y"}, "a"), ({"x"}, "b")], ("a", "b"))
    posterior = model.log_posterior({"y"})
    assert math.isclose(math.exp(posterior["a"]), 0.6) and math.isclose(math.exp(posterior["b"]), 0.4)
    assert model.log_posterior({"x"})["a"] < math.log(0.5)  # x is half of a's counts and all of b's
    assert not model.knows({"z"})
