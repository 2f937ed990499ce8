"""A naive Bayes model over word features, trained at start-up on knowledge/examples.

Why not scikit-learn: importing it costs about a second and 85 MB here, against a start-up
budget of 1.5 s and a memory budget of 150 MB for the whole bot; the model we need (a few
thousand short examples, two label sets) trains in a fraction of a second as plain counting, and
predicting is one dictionary look-up per feature, well inside the 2 ms turn budget.

Nor would a stronger learner help much here. Measured on 2026-11-23 with the same features:
scikit-learn's logistic regression, alone or in place of this model beside the cues, and a
cascade of two-way models in DOMAIN.md's precedence order each read within one point of this
model on three held-out sets, some better on one set and worse on another. What moved accuracy
was examples written the way agents type, and reading their words right (bot/text.py).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from itertools import chain
from typing import TYPE_CHECKING

from bot.text import Token

if TYPE_CHECKING:
    import numpy as np

# Words that carry no signal about either type; dropping them keeps short texts from being
# decided by filler.
_FILLER = frozenset(
    "a an the and or of to in on at for with is are was were be been it its this that i im i'm "
    "my we our you your he she they his her their them him me us so as by from up".split()
)


SMOOTHING = 1.0  # add-one: a feature never seen with a label counts as seen once


def features(tokens: Sequence[Token]) -> set[str]:
    """Word and word-pair features; a negated word is a different feature from the plain one."""
    words = [("not_" + t.word) if t.negated else t.word for t in tokens]
    found = {w for w in words if w not in _FILLER}
    found.update(f"{a}_{b}" for a, b in zip(words, words[1:], strict=False) if not (a in _FILLER and b in _FILLER))
    return found


class NaiveBayes:
    """Multinomial naive Bayes on binary features, with add-``smoothing`` counts."""

    def __init__(self, *, smoothing: float = SMOOTHING) -> None:
        self.smoothing = smoothing
        self.labels: tuple[str, ...] = ()
        self._log_prior: dict[str, float] = {}
        self._log_likelihood: dict[str, dict[str, float]] = {}
        self._log_unseen: dict[str, float] = {}
        self._vocabulary: frozenset[str] = frozenset()

    def fit(self, samples: Iterable[tuple[set[str], str]], labels: Sequence[str]) -> NaiveBayes:
        samples = list(samples)
        return self.fit_counts(FeatureCounts([feats for feats, _ in samples]), [label for _, label in samples], labels)

    def fit_counts(
        self, counts: FeatureCounts, sample_labels: Sequence[str | None], labels: Sequence[str]
    ) -> NaiveBayes:
        """The model of the samples ``counts`` numbered, each labelled as ``sample_labels`` says (None: left out)."""
        import numpy as np  # only here: a fit, then stored

        label_of = np.array([-1 if label is None else labels.index(label) for label in sample_labels], dtype=np.intp)
        docs_by_label, raw = counts.count(label_of, len(labels))
        self.labels = tuple(labels)
        seen = np.flatnonzero(raw.sum(axis=0)).tolist()
        self._vocabulary = frozenset(counts.names[i] for i in seen)
        size = len(self._vocabulary) or 1
        weight, log_prior, log_total = _label_terms(
            docs_by_label.tolist(), raw.sum(axis=1).tolist(), size, self.smoothing
        )
        for k, label in enumerate(labels):
            ids = np.flatnonzero(raw[k])
            self._log_prior[label] = log_prior[k]
            self._log_likelihood[label] = {
                counts.names[i]: math.log(n * weight[k] + self.smoothing) - log_total[k]
                for i, n in zip(ids.tolist(), raw[k, ids].tolist(), strict=True)
            }
            self._log_unseen[label] = math.log(self.smoothing) - log_total[k]
        return self

    def knows(self, feats: set[str]) -> bool:
        """Whether any of ``feats`` was seen in training; if none was, the model has nothing to say."""
        return not self._vocabulary.isdisjoint(feats)

    def log_posterior(self, feats: set[str]) -> dict[str, float]:
        """Log-probabilities of each label, normalised to sum to one; features never seen in training are ignored.

        Sums are ``math.fsum``: a set's order changes with PYTHONHASHSEED, and a plain float sum with
        it, so two copies of the bot could otherwise read one text differently at a boundary.
        """
        known = [f for f in feats if f in self._vocabulary]
        scores = {}
        for label in self.labels:
            table, unseen = self._log_likelihood[label], self._log_unseen[label]
            scores[label] = self._log_prior[label] + math.fsum(table.get(f, unseen) for f in known)
        top = max(scores.values())
        norm = top + math.log(sum(math.exp(s - top) for s in scores.values()))
        return {label: s - norm for label, s in scores.items()}


def _label_terms(
    docs: Sequence[int], totals: Sequence[int], size: int, smoothing: float
) -> tuple[list[float], list[float], list[float]]:
    """Each label's weight, log prior and log total count, from its samples (``docs``), its feature counts in all
    (``totals``) and how many features there are (``size``). Shared by a fit and each fold of the cross-fit, so the
    two weigh alike.

    Every label present weighs as much as an average label, however many examples it has: a folder with more surprise
    examples than stabilizing ones must not make surprise likelier everywhere. An absent label counts 1.
    """
    present = [n for n in docs if n]
    weight = [sum(present) / (len(present) * n) if n else 1.0 for n in docs]
    weighted = [n * w for n, w in zip(docs, weight, strict=True)]
    total_docs = math.fsum(weighted)
    log_prior = [math.log((w + 1) / (total_docs + len(docs))) for w in weighted]
    # Counts are whole numbers, so their plain sum is exact in any order; scaled once, after.
    log_total = [math.log(w * t + smoothing * size) for w, t in zip(weight, totals, strict=True)]
    return weight, log_prior, log_total


class FeatureCounts:
    """Every sample's features as numbers, given once in sorted order of the features' names.

    Why: a start-up fits two models and a cross-fit on the same ten thousand examples (1.5 s budget); numbering their
    features once lets each fit count with numpy instead of hashing every feature again. Within a sample the numbers
    are sorted, so sums over them come in one order whatever the hash seed, and every copy learns the same numbers.
    """

    def __init__(self, feature_sets: Sequence[set[str]]) -> None:
        import numpy as np  # only here: a fit, then stored

        self.names = sorted(set().union(*feature_sets))
        index = {f: i for i, f in enumerate(self.names)}
        self.sizes = np.array([len(feats) for feats in feature_sets], dtype=np.intp)
        self.owner = np.repeat(np.arange(len(feature_sets)), self.sizes)  # the sample each number belongs to
        flat = np.fromiter(
            chain.from_iterable(map(index.__getitem__, feats) for feats in feature_sets), np.intp, int(self.sizes.sum())
        )
        self.flat = flat[np.lexsort((flat, self.owner))]

    def count(self, label_of: np.ndarray, n_labels: int) -> tuple[np.ndarray, np.ndarray]:
        """Samples per label, and each feature's count per label (labels by features); a label of -1 is left out."""
        import numpy as np

        docs = np.bincount(label_of[label_of >= 0], minlength=n_labels)
        per_feature = label_of[self.owner]
        by_label = [np.bincount(self.flat[per_feature == k], minlength=len(self.names)) for k in range(n_labels)]
        return docs, np.stack(by_label) if by_label else np.zeros((0, len(self.names)), dtype=np.intp)


def held_out_log_posteriors(
    samples: Sequence[tuple[set[str], str]],
    labels: Sequence[str],
    folds: Sequence[int],
    counts: FeatureCounts | None = None,
) -> list[dict[str, float] | None]:
    """Each sample's log posterior from a model fitted without the samples of its fold; None where that model
    knows none of its features (as a reading of new text would have no model evidence).

    Why: what a model reads of its own training examples is surer than what it reads of new text, so anything
    learned on top of it (bot/combiner.py) must learn from readings of examples the model never saw.

    The numbers are those of ``NaiveBayes().fit`` on the other folds (to rounding: tests/test_combiner.py), counted
    once in numpy rather than fitted fold by fold: feature by feature in Python, the folds were a third of a first
    start-up. ``counts``: the samples' features, where already numbered.
    """
    import numpy as np  # only here: a fit, then stored

    counts = counts if counts is not None else FeatureCounts([feats for feats, _ in samples])
    label_of = np.array([labels.index(label) for _, label in samples], dtype=np.intp)
    fold_of = np.array(folds)
    n_labels = len(labels)
    whole_docs, whole = counts.count(label_of, n_labels)
    found: list[dict[str, float] | None] = [None] * len(samples)
    for fold in sorted(set(folds)):
        held_docs, held = counts.count(np.where(fold_of == fold, label_of, -1), n_labels)
        raw = whole - held
        known = raw.sum(axis=0) > 0
        terms = _label_terms(
            (whole_docs - held_docs).tolist(), raw.sum(axis=1).tolist(), max(int(known.sum()), 1), SMOOTHING
        )
        weight, log_prior, log_total = (np.array(values) for values in terms)
        table = (np.log(raw * weight[:, None] + SMOOTHING) - log_total[:, None]).T  # a feature's row, seen or not
        table[~known] = 0.0  # a feature this fold's model never saw says nothing
        chosen = np.flatnonzero((fold_of == fold) & (counts.sizes > 0))
        if chosen.size == 0:
            continue
        rows = counts.flat[fold_of[counts.owner] == fold]  # the chosen samples' numbers, sample by sample
        at = np.concatenate(([0], np.cumsum(counts.sizes[chosen])[:-1])).astype(np.intp)
        seen = np.add.reduceat(known[rows].astype(np.intp), at)
        scores = np.add.reduceat(table[rows], at, axis=0) + log_prior
        scores -= scores.max(axis=1, keepdims=True)
        scores -= np.log(np.exp(scores).sum(axis=1, keepdims=True))
        for i, any_seen, row in zip(chosen.tolist(), seen.tolist(), scores.tolist(), strict=True):
            if any_seen:
                found[i] = dict(zip(labels, row, strict=True))
    return found
