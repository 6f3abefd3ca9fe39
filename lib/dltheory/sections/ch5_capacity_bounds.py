"""The glue of ``book/5-theory-to-algorithm/capacity-bounds.ipynb``: classical capacity bounds and the
spectral complexity of networks trained across widths, on true and on random labels.

* :func:`load_data`: the data set of the section (scikit-learn's digits at
  quick scale, MNIST at full scale), split and centred;
* :func:`width_sweep`: one-hidden-layer ReLU networks of several widths trained
  by chapters 1, 2 and 4's protocol (:func:`dltheory.train.train_mlp_classifier`),
  each evaluated by :func:`evaluate`;
* :func:`evaluate`: the measured gap and every bound of the lecture's table
  (VC, covering number, :math:`\\mu^L` Rademacher) beside the size-free ones
  (Golowich et al., Bartlett et al.) for one trained network;
* :func:`loglog_slope`, :func:`bound_table`: the slope of a quantity against
  the parameter count and the printed table.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from .. import bounds, data, train
from .._checks import check_choice, check_int, check_real

__all__ = ["load_data", "evaluate", "width_sweep", "covering_at_depth", "loglog_slope", "bound_table", "DATASETS"]

#: The data sets :func:`load_data` knows.
DATASETS = ("digits", "mnist")


def load_data(dataset: str, n_train: int, n_test: int | None, *, seed: int, device="cpu"):
    """``(X_train, y_train, X_test, y_test)``, inputs flattened and centred by the training mean.

    ``"digits"``: scikit-learn's 1797 digits (8 x 8, pixels in [0, 1]), split by a
    permutation drawn with ``seed``: ``n_train`` training examples and the next
    ``n_test`` (``None``: all the rest) as the test set. ``"mnist"``: the first
    ``n_train`` / ``n_test`` images of :func:`dltheory.data.mnist` (the shipped
    subset when torchvision cannot download), flattened to 784.
    """
    dataset = check_choice(dataset, "dataset", DATASETS)
    n_train = check_int(n_train, "n_train", min=1)
    n_test = check_int(n_test, "n_test", min=1, allow_none=True)
    if dataset == "digits":
        X, y = data.digits(device=device)
        if n_train >= len(y):
            raise ValueError(f"n_train = {n_train} leaves no test example of the {len(y)} digits")
        g = torch.Generator().manual_seed(int(seed))
        perm = torch.randperm(len(y), generator=g).to(X.device)
        rest = perm[n_train:] if n_test is None else perm[n_train:n_train + n_test]
        X_train, y_train, X_test, y_test = X[perm[:n_train]], y[perm[:n_train]], X[rest], y[rest]
    else:
        X_train, y_train, X_test, y_test = data.mnist(n_train=n_train, n_test=n_test, flatten=True,
                                                      device=device)
    mean = X_train.mean(0)
    return X_train - mean, y_train, X_test - mean, y_test


def evaluate(run: dict[str, Any], X, y, X_test, y_test, *, quantile: float = 0.1,
             delta: float = 0.05) -> dict[str, float]:
    """Every bound of the section for one trained network (a dict of :func:`~dltheory.train.train_mlp_classifier`).

    The margin-based bounds use one margin :math:`\\gamma`, the ``quantile`` of
    the training margins (so their margin loss is about ``quantile``), and
    :math:`\\delta` = ``delta``. Keys: ``params`` (:math:`W`), ``train_error``,
    ``test_error``, ``gap`` (their difference); ``vc_dimension`` and ``vc_bound``
    (:func:`dltheory.bounds.vc_bound`); ``covering_log2`` and ``covering_bound``
    (:func:`dltheory.bounds.covering_number_bound` with :math:`b` the largest
    absolute training output), ``covering_A`` (:math:`A`) and ``covering_b_over_eps``
    (:math:`b/\\epsilon`); ``rademacher_bound`` (:func:`dltheory.bounds.rademacher_norm_bound`),
    ``mu``; ``frobenius_bound`` (:func:`dltheory.bounds.frobenius_bound`);
    ``bartlett_bound`` (:func:`dltheory.bounds.bartlett_bound`, reference matrices
    the initialisation); ``R_A`` (:math:`M_i = 0`) and ``R_A_init``
    (:math:`M_i` = the initialisation); ``gamma``, ``margin_loss``. If the
    ``quantile`` margin is not positive (a network that fits too little), the
    margin-based entries are ``nan``.
    """
    quantile = check_real(quantile, "quantile", min=0.0, max=1.0, min_open=True, max_open=True)
    model, init = run["model"], run["init"]
    n = len(y)
    with torch.no_grad():
        out = model(X)
        train_error = (out.argmax(1) != y).double().mean().item()
        test_error = (model(X_test).argmax(1) != y_test).double().mean().item()
    row = {
        "params": sum(p.numel() for p in model.parameters()),
        "train_error": train_error,
        "test_error": test_error,
        "gap": test_error - train_error,
        "vc_dimension": bounds.vc_dimension(model),
        "vc_bound": bounds.vc_bound(model, n, delta=delta),
        "R_A": bounds.spectral_complexity(model),
        "R_A_init": bounds.spectral_complexity(model, init),
    }
    m = bounds.margins(model, X, y).double()
    gamma = torch.quantile(m, quantile).item()
    names = ("covering_log2", "covering_A", "covering_b_over_eps", "covering_bound", "rademacher_bound", "mu", "frobenius_bound", "bartlett_bound",
             "margin_loss")
    if gamma <= 0:
        return {**row, "gamma": gamma, **dict.fromkeys(names, float("nan"))}
    margin_loss = (m <= gamma).double().mean().item()
    cov = bounds.covering_number_bound(model, n, gamma=gamma, output_bound=out.abs().max().item(),
                                       delta=delta, margin_loss=margin_loss)
    rad = bounds.rademacher_norm_bound(model, X, y, gamma=gamma, delta=delta)
    return {
        **row,
        "gamma": gamma,
        "margin_loss": margin_loss,
        "covering_log2": cov["log2_covering"],
        "covering_A": cov["A"],
        "covering_b_over_eps": cov["output_bound"] / cov["eps"],
        "covering_bound": cov["bound"],
        "rademacher_bound": rad["bound"],
        "mu": rad["mu"],
        "frobenius_bound": bounds.frobenius_bound(model, X, y, gamma=gamma, delta=delta)["bound"],
        "bartlett_bound": bounds.bartlett_bound(model, X, y, gamma=gamma, delta=delta, reference=init)["bound"],
    }


def width_sweep(X, labels: dict[str, torch.Tensor], X_test, y_test, *, hidden_widths: Sequence[int],
                lr: float, batch_size: int, steps: int, seed: int, quantile: float = 0.1,
                delta: float = 0.05) -> dict[str, list[dict[str, float]]]:
    """Train ``[d, m, k]`` ReLU networks for every ``m`` in ``hidden_widths`` and every labeling; evaluate each.

    ``labels`` maps a name (e.g. ``"true"``, ``"random"``) to training labels;
    the test labels ``y_test`` are always the true ones. Every network is
    trained by :func:`dltheory.train.train_mlp_classifier` (bias-free, plain SGD
    on the cross-entropy, ``steps`` updates on batches of ``batch_size``) with the
    same ``seed``, so at each width the runs for the different labelings start
    from the same weights and see the same batches. Returns, per labeling, one
    row of :func:`evaluate` per width, with ``width`` added.
    """
    d, k = X.shape[1], int(y_test.max().item()) + 1
    result = {}
    for name, y in labels.items():
        k = max(k, int(y.max().item()) + 1)
    for name, y in labels.items():
        rows = []
        for m in hidden_widths:
            run = train.train_mlp_classifier(X, y, widths=[d, int(m), k], lr=lr, batch_size=batch_size,
                                             steps=steps, seed=seed)
            rows.append({"width": int(m), **evaluate(run, X, y, X_test, y_test, quantile=quantile, delta=delta)})
        result[name] = rows
    return result


def covering_at_depth(A: float, b_over_eps: float, depth: int, n: int, *, margin_loss: float = 0.1,
                      delta: float = 0.05) -> tuple[float, float]:
    """:math:`\\log_2 C` and the covering bound of :func:`dltheory.bounds.covering_number_bound` at another depth.

    A what-if: a network of ``depth`` layers with the same :math:`A` and the same
    :math:`b/\\epsilon` as a trained one, :math:`\\log_2 C = L(L+1)\\log_2 A + 2L\\log_2(b/\\epsilon)`,
    and the bound ``margin_loss`` :math:`+ \\sqrt{\\tfrac8n(\\ln 2\\,\\log_2 C + \\ln(2/\\delta))}`.
    """
    depth = check_int(depth, "depth", min=1)
    n = check_int(n, "n", min=1)
    A = check_real(A, "A", min=0.0, min_open=True)
    b_over_eps = check_real(b_over_eps, "b_over_eps", min=0.0, min_open=True)
    log2_c = depth * (depth + 1) * np.log2(A) + 2 * depth * np.log2(b_over_eps)
    ln_c = max(float(log2_c) * np.log(2.0), 0.0)
    return float(log2_c), float(margin_loss + np.sqrt(8.0 / n * (ln_c + np.log(2.0 / delta))))


def loglog_slope(x, y) -> float:
    """Least-squares slope of :math:`\\log y` against :math:`\\log x` (both positive)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim != 1 or len(x) < 2:
        raise ValueError(f"need two 1-D arrays of the same length >= 2, got shapes {x.shape} and {y.shape}")
    if (x <= 0).any() or (y <= 0).any():
        raise ValueError("loglog_slope needs positive values")
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def bound_table(rows: Sequence[dict[str, float]], n: int) -> str:
    """The rows of :func:`width_sweep` for one labeling as a table: one line per width.

    Columns: width, parameters :math:`W`, the VC dimension estimate over
    :math:`n`, :math:`\\log_2` of the covering number over :math:`n`, the bounds
    (VC, covering, :math:`\\mu^L` Rademacher, Golowich et al., Bartlett et al.)
    and the measured gap.
    """
    n = check_int(n, "n", min=1)
    head = (f"{'width':>6}{'W':>8}{'VCdim/n':>9}{'log2N/n':>9}{'VC':>7}{'cover':>7}"
            f"{'mu^L':>9}{'Frob':>8}{'spec':>9}{'gap':>7}")
    lines = [head]
    for r in rows:
        lines.append(f"{r['width']:>6d}{r['params']:>8d}{r['vc_dimension'] / n:>9.0f}"
                     f"{r['covering_log2'] / n:>9.3f}{r['vc_bound']:>7.2f}{r['covering_bound']:>7.2f}"
                     f"{r['rademacher_bound']:>9.0f}{r['frobenius_bound']:>8.0f}{r['bartlett_bound']:>9.0f}"
                     f"{r['gap']:>7.3f}")
    return "\n".join(lines)
