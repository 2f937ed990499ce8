"""How much each kind of evidence about the contact counts: a multinomial logistic regression over the numbers
a text gives (what the learned model reads, what the lexicon's cues say), fitted on the examples.

Why: the contact's kind was read as a fixed sum, cues plus the model times a hand-set weight, with DOMAIN.md's
precedence added as a margin. A sum with one weight cannot learn that a complaint cue outweighs the words of an
offer (rule 3), or that the model's "stabilizing" is worth more than its "surprise" on a story with no signal
word. Fitted on what the model reads of examples it never saw (bot/model.py, ``held_out_log_posteriors``), the
combination learns both, and real situations with few signal words read far better (bench/reader_real.py).

numpy fits it (Newton's method on 36 numbers over some ten thousand examples, in hundredths of a second, where
plain Python takes tens of seconds) and is imported only then: the fit is stored with the reader's
(bot/fitted_reader.py), and reading a text is a few dozen multiplications in plain Python.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

L2 = 1.0  # the penalty on the squared weights (not the biases); keeps them finite where a class is separable
ITERATIONS = 50


@dataclass(frozen=True)
class LinearCombiner:
    """Scores per type from a row of evidence numbers: ``bias[t] + sum(weights[t][j] * row[j])``."""

    types: tuple[str, ...]
    weights: tuple[tuple[float, ...], ...]
    bias: tuple[float, ...]

    def scores(self, row: Sequence[float]) -> dict[str, float]:
        return {
            t: b + math.fsum(w * x for w, x in zip(ws, row, strict=True))
            for t, ws, b in zip(self.types, self.weights, self.bias, strict=True)
        }

    @classmethod
    def fit(
        cls,
        rows: Sequence[Sequence[float]],
        labels: Sequence[str],
        types: tuple[str, ...],
        sample_weights: Sequence[float],
    ) -> LinearCombiner | None:
        """Weights that maximise the weighted likelihood of ``labels`` less ``L2`` times half the squared weights.

        Each type weighs as much in total as any other, whatever its number of examples (as the naive Bayes model
        does), so a type with fewer examples is not read less often for that alone. None where fewer than two
        types have examples: there is nothing to tell apart.
        """
        import numpy as np  # only here: a fit, then stored

        counts = Counter(labels)
        present = [t for t in types if counts[t]]
        if len(present) < 2:
            return None
        x = np.asarray(rows, dtype=float)
        n, d = x.shape
        x = np.hstack([x, np.ones((n, 1))])  # the bias as a last column
        y = np.zeros((n, len(types)))
        y[np.arange(n), [types.index(label) for label in labels]] = 1.0
        balance = np.array([n / (len(present) * counts[label]) for label in labels])
        w_i = np.asarray(sample_weights, dtype=float) * balance
        penalty = np.full(d + 1, L2)
        penalty[-1] = 1e-6  # the bias is barely held back: enough to make the solution unique
        k = len(types)
        theta = np.zeros((k, d + 1))
        for _ in range(ITERATIONS):
            z = x @ theta.T
            z -= z.max(axis=1, keepdims=True)
            p = np.exp(z)
            p /= p.sum(axis=1, keepdims=True)
            gradient = ((p - y) * w_i[:, None]).T @ x + theta * penalty
            # The Hessian of the softmax loss: block (a, b) is the sum over i of w_i p_ia (delta_ab - p_ib) x_i x_i^T.
            hessian = np.zeros((k * (d + 1), k * (d + 1)))
            for a in range(k):
                for b in range(a, k):
                    mixing = w_i * p[:, a] * ((a == b) - p[:, b])
                    block = (x * mixing[:, None]).T @ x
                    hessian[a * (d + 1) : (a + 1) * (d + 1), b * (d + 1) : (b + 1) * (d + 1)] = block
                    hessian[b * (d + 1) : (b + 1) * (d + 1), a * (d + 1) : (a + 1) * (d + 1)] = block.T
            hessian += np.diag(np.tile(penalty, k))
            step = np.linalg.solve(hessian, gradient.reshape(-1)).reshape(k, d + 1)
            theta -= step
            if float(np.abs(step).max()) < 1e-8:
                break
        theta -= theta.mean(axis=0)  # softmax is unchanged by a shift shared by all types; centred, it is unique
        return cls(
            types=types,
            weights=tuple(tuple(round(float(v), 6) for v in row[:-1]) for row in theta),
            bias=tuple(round(float(row[-1]), 6) for row in theta),
        )
