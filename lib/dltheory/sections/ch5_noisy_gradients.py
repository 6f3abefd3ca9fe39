"""The glue of ``book/5-theory-to-algorithm/noisy-gradients.ipynb``: SGLD on a quadratic, the PAC-Bayes term, SGD divergence.

* :func:`quadratic_chains`: many independent 1-D SGLD chains (one tensor, one
  :class:`dltheory.train.SGLD`) on :math:`V(w) = \\frac h2 w^2`, at several step
  sizes; their stationary variance against the exact discrete
  :math:`T/(h(1 - \\eta h/2))` and the Gibbs :math:`T/h`;
* :func:`digits_task`: a seeded train/test split of scikit-learn's digits, centred;
* :func:`pac_bayes_run`: SGLD with weight decay on a ReLU network, recording the
  per-step gradient norms (:class:`dltheory.train.GradientNorms`), the running
  PAC-Bayes term (:func:`dltheory.bounds.sgld_pac_bayes_term`) and the
  generalisation gap at the record points;
* :func:`divergence_run`: Hardt, Recht and Singer's experiment: two SGD runs
  with the same initialisation and the same batches on training sets that differ
  in one example, and the distance between their parameters over time
  (:class:`dltheory.train.ParameterSnapshots`).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
import torch

from .. import bounds, data, models, train
from .._checks import check_int, check_real, check_seed

__all__ = ["quadratic_chains", "digits_task", "pac_bayes_run", "divergence_run"]


def quadratic_chains(curvature: float, temperature: float, step_sizes: Sequence[float], *, chains: int,
                     time: float, seed: int, dtype: torch.dtype = torch.float64) -> dict[str, np.ndarray]:
    """The stationary variance of SGLD on :math:`V(w) = \\frac h2 w^2`, by ``chains`` independent chains per step size.

    The chains are the entries of one tensor ``w`` of shape ``(chains,)``,
    started at 0 and trained by :class:`dltheory.train.SGLD` on
    :math:`\\sum_i V(w_i)`, whose gradient in :math:`w_i` is :math:`h w_i`: each
    entry is the chain :math:`w' = (1 - \\eta h) w + \\sqrt{2\\eta T}\\,\\xi`. Each
    step size runs for ``ceil(time / eta)`` steps (the same time :math:`\\eta k`);
    the first half is burn-in, and the variance is :math:`\\overline{w^2}` averaged
    over the chains and over every step of the second half.

    Returns arrays over the step sizes: ``eta_h`` (:math:`\\eta h`),
    ``variance`` (measured), ``exact`` (:math:`T/(h(1-\\eta h/2))`), ``gibbs``
    (:math:`T/h`), ``rel_error`` (measured / exact - 1) and ``bias`` (measured
    / gibbs - 1).
    """
    h = check_real(curvature, "curvature", min=0.0, min_open=True)
    T = check_real(temperature, "temperature", min=0.0, min_open=True)
    chains = check_int(chains, "chains", min=2)
    time = check_real(time, "time", min=0.0, min_open=True)
    seed = check_seed(seed)
    etas = [check_real(e, "step size", min=0.0, min_open=True) for e in step_sizes]
    if any(e * h >= 2 for e in etas):
        raise ValueError("every step size needs eta * h < 2, else the chain diverges")
    variances = []
    for i, eta in enumerate(etas):
        w = torch.zeros(chains, dtype=dtype, requires_grad=True)
        opt = train.SGLD([w], lr=eta, temperature=T, seed=seed + i)
        steps = int(np.ceil(time / eta))
        burn, total, count = steps // 2, 0.0, 0
        for k in range(1, steps + 1):
            opt.zero_grad(set_to_none=True)
            (0.5 * h * w.pow(2).sum()).backward()
            opt.step()
            if k > burn:
                total += float(w.detach().pow(2).mean())
                count += 1
        variances.append(total / count)
    eta_h = np.asarray(etas) * h
    variance = np.asarray(variances)
    exact = T / (h * (1.0 - eta_h / 2.0))
    gibbs = np.full_like(eta_h, T / h)
    return {"eta_h": eta_h, "variance": variance, "exact": exact, "gibbs": gibbs,
            "rel_error": variance / exact - 1.0, "bias": variance / gibbs - 1.0}


def digits_task(n_train: int, n_test: int, *, seed: int, device="cpu") -> tuple[torch.Tensor, ...]:
    """``(X, y, X_test, y_test)``: disjoint random subsets of scikit-learn's digits, centred by the training mean."""
    X, y = data.digits(device=device)
    n_train = check_int(n_train, "n_train", min=1)
    n_test = check_int(n_test, "n_test", min=1, max=X.shape[0] - n_train)
    order = torch.randperm(X.shape[0], generator=torch.Generator().manual_seed(check_seed(seed))).to(X.device)
    train_idx, test_idx = order[:n_train], order[n_train:n_train + n_test]
    mean = X[train_idx].mean(dim=0)
    return X[train_idx] - mean, y[train_idx], X[test_idx] - mean, y[test_idx]


def _network(d: int, width: int, k: int, seed: int, like: torch.Tensor) -> torch.nn.Module:
    return models.mlp([d, width, k], seed=seed, dtype=like.dtype, device=like.device)


def pac_bayes_run(X, y, X_test, y_test, *, width: int, lr: float, temperature: float, weight_decay: float,
                  batch_size: int, steps: int, record_at: Sequence[int], seed: int) -> dict[str, np.ndarray]:
    """SGLD with weight decay on a one-hidden-layer ReLU network; the PAC-Bayes term and the gap along training.

    The network is ``models.mlp([d, width, classes], seed=seed)``, trained on the
    cross-entropy by :class:`dltheory.train.SGLD` (step ``lr``, ``temperature``,
    ``weight_decay`` :math:`= \\lambda`, noise seeded with ``seed``) on batches of
    ``batch_size`` (shuffled with ``seed``), recorded at step 0, the steps
    ``record_at`` and the last. Returns, at the record points ``step``: ``term``, the running :func:`dltheory.bounds.sgld_pac_bayes_term`
    with :math:`\\lambda` = ``weight_decay``; ``gap``, test minus training
    cross-entropy; ``error_gap``, test minus training error; the losses and
    accuracies. Also ``grad_sq`` and ``etas``, one entry per step.
    """
    seed = check_seed(seed)
    k = int(max(int(y.max()), int(y_test.max())) + 1)
    model = _network(X.shape[1], check_int(width, "width", min=1), k, seed, X)
    norms = train.GradientNorms()
    opt = functools.partial(train.SGLD, lr=lr, temperature=temperature, weight_decay=weight_decay, seed=seed)
    history = train.fit(model, X, y, loss="ce", optimizer=opt, steps=steps, batch_size=batch_size, seed=seed,
                        callbacks=[norms], record_at=record_at, eval_data=(X_test, y_test))
    step = history["step"]
    running = bounds.sgld_pac_bayes_term(norms.lrs, norms.sq_norms, weight_decay, cumulative=True)
    term = np.concatenate([[0.0], running])[step]
    return {"step": step, "term": term, "gap": history["eval_loss"] - history["loss"],
            "error_gap": history["train_accuracy"] - history["eval_accuracy"],
            "train_loss": history["loss"], "test_loss": history["eval_loss"],
            "train_accuracy": history["train_accuracy"], "test_accuracy": history["eval_accuracy"],
            "grad_sq": np.asarray(norms.sq_norms), "etas": np.asarray(norms.lrs)}


def _sgd_snapshots(X, y, *, width: int, k: int, lr: float, batch_size: int, at: list[int],
                   seed: int) -> dict[int, torch.Tensor]:
    model = _network(X.shape[1], width, k, seed, X)
    cb = train.ParameterSnapshots(at)
    train.fit(model, X, y, loss="ce", optimizer=functools.partial(torch.optim.SGD, lr=lr), steps=at[-1],
              batch_size=batch_size, seed=seed, callbacks=[cb], record_every=at[-1])
    return cb.snapshots


def divergence_run(X, y, X_new, y_new, *, width: int, lrs: Sequence[float], swaps: Sequence[int], batch_size: int,
                   at: Sequence[int], seed: int) -> dict[str, np.ndarray]:
    """Hardt et al.'s divergence :math:`\\delta_t = \\lVert w_t - w'_t\\rVert` of SGD on :math:`S` and :math:`S'`.

    For each step size in ``lrs`` and each index ``i`` in ``swaps``, :math:`S'`
    is :math:`S` with example ``i`` replaced by ``(X_new[j], y_new[j])``, ``j``
    the position of ``i`` in ``swaps``. All runs start from the same network
    (``models.mlp([d, width, classes], seed=seed)``) and draw the same batches
    (``fit``'s shuffling seeded with ``seed``): the only difference is the
    example. Plain SGD (``torch.optim.SGD``) on the cross-entropy; parameters
    are copied at the steps ``at``; the run on :math:`S` is shared by the swaps.

    Returns ``steps`` (``at`` with 0, sorted) and ``divergence`` of shape
    ``(len(lrs), len(swaps), len(steps))``.
    """
    seed = check_seed(seed)
    at = sorted({0} | {check_int(s, "step", min=0) for s in at})
    width = check_int(width, "width", min=1)
    swaps = [check_int(i, "swap index", min=0, max=X.shape[0] - 1) for i in swaps]
    if len(X_new) < len(swaps):
        raise ValueError(f"give one new example per swap: {len(swaps)} swaps, {len(X_new)} new examples")
    k = int(max(int(y.max()), int(y_new.max())) + 1)
    out = np.zeros((len(lrs), len(swaps), len(at)))
    for a, lr in enumerate(lrs):
        lr = check_real(lr, "lr", min=0.0, min_open=True)
        opts = {"width": width, "k": k, "lr": lr, "batch_size": batch_size, "at": at, "seed": seed}
        base = _sgd_snapshots(X, y, **opts)
        for b, i in enumerate(swaps):
            X2, y2 = X.clone(), y.clone()
            X2[i], y2[i] = X_new[b], y_new[b]
            other = _sgd_snapshots(X2, y2, **opts)
            out[a, b] = [float(torch.linalg.vector_norm(base[t] - other[t])) for t in at]
    return {"steps": np.asarray(at), "divergence": out}
