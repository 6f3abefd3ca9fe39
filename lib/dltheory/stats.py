"""Statistics of the book's checks: fitted power-law exponents, and for the randomisation tests (Zhang et al. 2017) time to fit and whether an accuracy beats chance.

Zhang, Bengio, Hardt, Recht and Vinyals, *Understanding deep learning requires
rethinking generalization* (ICLR 2017), train the same network on true and on
randomly replaced labels and compare. Two questions recur, and this module
answers them:

* **How long did fitting take?** :func:`time_to_fit` reads the first recorded
  step at which the training accuracy of a :class:`dltheory.train.History`
  reaches a threshold (100% by default).
* **Is a test accuracy at chance?** Two null hypotheses, two intervals:

  - :func:`chance_interval`: the classifier guesses *independently for every
    test example* and is right with probability :math:`p`. The number of correct
    answers is then :math:`\\operatorname{Binomial}(n, p)`; the interval is its
    exact central one.
  - :func:`relabeling_interval`: the classifier knows nothing about *which name*
    each class carries. Renaming its predicted classes by a uniformly random
    permutation :math:`\\sigma` of :math:`\\{0,\\dots,K-1\\}` is then as likely to
    give the observed predictions as not renaming them, and the observed number
    of correct answers is a uniform draw from the :math:`K!` renamed counts
    :math:`\\sum_j N_{\\sigma(j), j}` (:math:`N` the confusion matrix, rows true,
    columns predicted). :func:`relabeling_distribution` computes their exact
    distribution. Its mean is exactly :math:`n/K`, and it is wider than the
    binomial one when the classifier gives look-alike examples the same guess.

For a network trained on labels drawn uniformly at random, the second null holds
exactly by symmetry (renaming the random labels gives an equally likely training
set and, with an exchangeable initialisation of the last layer, the renamed
network), while the first one holds only approximately.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from ._checks import as_tensor, check_int, check_probability, check_real

__all__ = [
    "loglog_slope",
    "time_to_fit",
    "confusion_matrix",
    "chance_interval",
    "relabeling_distribution",
    "relabeling_interval",
    "MAX_RELABELING_CLASSES",
]

#: The largest number of classes :func:`relabeling_distribution` enumerates exactly
#: (the work grows like :math:`K 2^{K-1} n`).
MAX_RELABELING_CLASSES = 12


def loglog_slope(x, y) -> float:
    """The least-squares slope :math:`b` of :math:`\\log y = a + b \\log x`: the exponent of a power law.

    The book's rate checks read exponents this way: an error against parameter
    counts (:math:`\\varepsilon \\propto P^{b}`), a distance against a scale or a
    regularisation strength, an angle against steps. Raises ``ValueError`` unless
    ``x`` and ``y`` are positive 1-d sequences of one length, at least two, with
    ``x`` not constant.
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim != 1 or x.size < 2:
        raise ValueError("x and y must be two 1-d sequences of the same length >= 2")
    if (x <= 0).any() or (y <= 0).any() or np.ptp(x) == 0:
        raise ValueError("x and y must be positive, and x not constant")
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def time_to_fit(history, threshold: float = 1.0, column: str = "train_accuracy") -> int | None:
    """The first recorded step at which ``history[column]`` reaches ``threshold``.

    Parameters
    ----------
    history
        A :class:`dltheory.train.History` (anything with ``history["step"]`` and
        ``history[column]``).
    threshold
        The accuracy that counts as fitted; 1.0 means every training example is
        classified correctly.
    column
        The recorded column to read (``"train_accuracy"`` by default).

    Returns
    -------
    The step (an ``int``), or ``None`` if the threshold is never reached. Its
    resolution is the run's ``record_every``.
    """
    threshold = check_real(threshold, "threshold")
    steps = np.asarray(history["step"])
    values = np.asarray(history[column], dtype=np.float64)
    reached = np.flatnonzero(values >= threshold)
    return None if reached.size == 0 else int(steps[reached[0]])


def confusion_matrix(labels, predictions, num_classes: int) -> np.ndarray:
    """The ``K x K`` matrix of counts ``N[true, predicted]`` (int64).

    ``labels`` and ``predictions`` are 1-d integer tensors or arrays of the same
    length with values in ``0 .. num_classes - 1``.
    """
    true = as_tensor(labels, "labels").cpu().numpy()
    pred = as_tensor(predictions, "predictions").cpu().numpy()
    if true.ndim != 1 or true.shape != pred.shape:
        raise ValueError(f"labels and predictions must be 1-d of equal length, got {true.shape} and {pred.shape}")
    K = check_int(num_classes, "num_classes", min=1)
    for name, a in (("labels", true), ("predictions", pred)):
        if a.size and (a.dtype.kind not in "iu" or a.min() < 0 or a.max() >= K):
            raise ValueError(f"{name} must be integers in [0, {K - 1}]")
    flat = np.bincount(K * true.astype(np.int64) + pred.astype(np.int64), minlength=K * K)
    return flat.reshape(K, K)


def chance_interval(n: int, p: float, level: float = 0.99) -> tuple[float, float]:
    """Exact central interval of the accuracy of a classifier that is right with probability ``p``.

    The number of correct answers on ``n`` independent test examples is
    :math:`K \\sim \\operatorname{Binomial}(n, p)`. With :math:`\\alpha = 1 -`
    ``level``, the interval is :math:`[k_{lo}/n, k_{hi}/n]` with :math:`k_{lo}`
    the smallest :math:`k` such that :math:`P(K \\le k) \\ge \\alpha/2` and
    :math:`k_{hi}` the smallest :math:`k` such that :math:`P(K \\le k) \\ge
    1 - \\alpha/2` (``scipy.stats.binom.interval``). It holds :math:`K/n` with
    probability at least ``level``, whatever ``n``; the normal approximation
    :math:`p \\pm z\\sqrt{p(1-p)/n}` does not, for small ``n`` or ``p`` near 0 or 1.
    """
    n = check_int(n, "n", min=1)
    p = check_probability(p, "p", open=False)
    low, high = stats.binom.interval(check_probability(level, "level"), n, p)
    return float(low) / n, float(high) / n


def _check_confusion(confusion) -> np.ndarray:
    N = as_tensor(confusion, "confusion").cpu().numpy()
    if N.ndim != 2 or N.shape[0] != N.shape[1] or N.shape[0] < 1:
        raise ValueError(f"the confusion matrix must be square K x K, got shape {N.shape}")
    if N.dtype.kind == "f":
        if not np.all(np.isfinite(N)) or not np.all(N == np.round(N)):
            raise ValueError("the confusion matrix must hold counts (non-negative integers)")
        N = N.astype(np.int64)
    if N.dtype.kind not in "iu" or (N.size and N.min() < 0):
        raise ValueError("the confusion matrix must hold counts (non-negative integers)")
    if N.shape[0] > MAX_RELABELING_CLASSES:
        raise ValueError(f"exact enumeration handles at most {MAX_RELABELING_CLASSES} classes, got {N.shape[0]}")
    return N.astype(np.int64)


def _relabeling_counts(N: np.ndarray) -> np.ndarray:
    """How many of the K! renamings give 0, 1, ..., n correct answers (exact integers).

    Dynamic programming over subsets: predicted class j = 0, 1, ... is sent in
    turn to a true class c not used yet, adding N[c, j] correct answers. A layer
    holds, for every set S of used true classes, the counts of the partial sums.
    """
    K, n = N.shape[0], int(N.sum())
    start = np.zeros(n + 1, dtype=np.int64)
    start[0] = 1
    layer = {0: start}
    for j in range(K):
        nxt: dict[int, np.ndarray] = {}
        for used, counts in layer.items():
            for c in range(K):
                if used >> c & 1:
                    continue
                k = int(N[c, j])
                target = nxt.setdefault(used | 1 << c, np.zeros(n + 1, dtype=np.int64))
                target[k:] += counts[: n + 1 - k]
        layer = nxt
    return layer[(1 << K) - 1]


def relabeling_distribution(confusion) -> np.ndarray:
    """Distribution of the number of correct answers under a uniformly random renaming of the predictions.

    Parameters
    ----------
    confusion
        ``N[true, predicted]``, a ``K x K`` matrix of counts (:func:`confusion_matrix`)
        with :math:`K \\le` :data:`MAX_RELABELING_CLASSES`.

    Returns
    -------
    ``P`` of length :math:`n + 1` (:math:`n` = ``N.sum()``): ``P[k]`` is the
    fraction of the :math:`K!` permutations :math:`\\sigma` with
    :math:`\\sum_j N_{\\sigma(j), j} = k`. Computed exactly (integer counts over
    subsets, :math:`K 2^{K-1}` vector additions), without sampling. The mean is
    :math:`n/K` for every ``N``.
    """
    N = _check_confusion(confusion)
    return _relabeling_counts(N) / math.factorial(N.shape[0])


def relabeling_interval(confusion, level: float = 0.99) -> tuple[float, float]:
    """Central interval of the accuracy under a random renaming of the predicted classes.

    With :math:`\\alpha = 1 -` ``level`` the interval is :math:`[k_{lo}/n, k_{hi}/n]`,
    :math:`k_{lo}` the smallest :math:`k` whose cumulative probability under
    :func:`relabeling_distribution` is at least :math:`\\alpha/2` and :math:`k_{hi}`
    the smallest with at least :math:`1 - \\alpha/2` (the convention of
    :func:`chance_interval`). The comparison is done in exact integers.
    """
    level = check_probability(level, "level")
    N = _check_confusion(confusion)
    n = int(N.sum())
    if n == 0:
        raise ValueError("the confusion matrix is empty: no test examples")
    cumulative = np.cumsum(_relabeling_counts(N))
    total = math.factorial(N.shape[0])
    alpha = 1 - level
    low = int(np.searchsorted(cumulative, alpha / 2 * total, side="left"))
    high = int(np.searchsorted(cumulative, (1 - alpha / 2) * total, side="left"))
    return low / n, high / n
