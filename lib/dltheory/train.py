"""Training loops of the book: GD, SGD, Adam, Gram-Gauss-Newton, SGLD and normalised GD.

:func:`fit` trains a model in place on a fixed training set ``(X, y)`` and
returns a :class:`History`: one row per record point with the training loss,
the accuracy, per-layer norms, margins, the distance travelled from the
initialisation and any metric the caller asks for. Long runs write checkpoints
and resume from them bit for bit.

Write :math:`w` for the trainable parameters, flattened in
``parameters_to_vector`` order (parameters with ``requires_grad=False`` are
never changed), :math:`L(w) = \\frac1n\\sum_i \\ell(f(x_i; w), y_i)` for the
training loss (a mean over examples, :mod:`dltheory.losses`), :math:`L_B` for
the same mean over a mini-batch :math:`B`, :math:`\\eta` for ``lr`` and
:math:`\\lambda_{wd}` for ``weight_decay``. Weight decay adds
:math:`\\frac{\\lambda_{wd}}2\\lVert w\\rVert^2` to the objective of every
optimizer that follows a gradient. One *step* is one parameter update.

``gd``
    Full-batch gradient descent,
    :math:`w \\leftarrow w - \\eta\\,(\\nabla L(w) + \\lambda_{wd} w)`.
``sgd``
    Mini-batch stochastic gradient descent (Robbins & Monro 1951),
    :math:`w \\leftarrow w - \\eta\\,(\\nabla L_B(w) + \\lambda_{wd} w)`. Each
    epoch draws a permutation of the examples with ``torch.randperm`` from a CPU
    ``torch.Generator`` seeded with ``seed`` and cuts it into consecutive batches
    of ``batch_size`` (the last one smaller when ``batch_size`` does not divide
    ``n``), so an epoch is ``ceil(n / batch_size)`` steps.
``adam``
    Adam (Kingma & Ba 2015, *Adam: a method for stochastic optimization*), full
    batch without ``batch_size`` and on mini-batches drawn as for ``sgd`` with
    one. With :math:`g_t = \\nabla L_B(w_{t-1}) + \\lambda_{wd} w_{t-1}` at update
    :math:`t = 1, 2, \\dots` and moment estimates :math:`m_0 = v_0 = 0`,

    .. math::  m_t = \\beta_1 m_{t-1} + (1 - \\beta_1)\\, g_t, \\qquad
               v_t = \\beta_2 v_{t-1} + (1 - \\beta_2)\\, g_t^2, \\qquad
               w_t = w_{t-1} - \\frac{\\eta}{1 - \\beta_1^t}\\,
                     \\frac{m_t}{\\sqrt{v_t / (1 - \\beta_2^t)} + \\epsilon},

    coordinate by coordinate, with :math:`(\\beta_1, \\beta_2)` = option
    ``adam_betas`` (default ``(0.9, 0.999)``) and :math:`\\epsilon` = option
    ``adam_eps`` (default ``1e-8``): the update of ``torch.optim.Adam``. Weight
    decay enters the gradient, as for the other methods (it is the gradient of
    :math:`\\frac{\\lambda_{wd}}2\\lVert w\\rVert^2`), and is then rescaled
    coordinate by coordinate like the rest of :math:`g_t`: this is L2
    regularisation as in ``torch.optim.Adam``, not the decoupled decay of AdamW.
    The moments :math:`m, v` are saved in the checkpoint, so a resumed run is
    bit-identical to an uninterrupted one.
``ggn``
    Gram-Gauss-Newton (Cai, Gao, Hou, Chen, Wang, He, Zhang, Wang 2019,
    *Gram-Gauss-Newton method: learning overparameterized neural networks for
    regression problems*), for the square loss only:

    .. math::  w \\leftarrow w - \\eta\\, J_B^\\top \\bigl(\\lambda J_B J_B^\\top
               + \\alpha I\\bigr)^{-1} \\bigl(f_B(w) - y_B\\bigr),

    with :math:`J_B` the ``(b k) x P`` Jacobian of the batch outputs
    (:func:`dltheory.ntk.jacobian`, rows example-major), :math:`\\lambda` =
    option ``ggn_lambda`` (default 1) and :math:`\\alpha` = option ``ggn_alpha``.
    Its default, ``None``, is :math:`10^{-6}` times the mean eigenvalue of
    :math:`\\lambda J_B J_B^\\top` (its trace over :math:`bk`; :math:`10^{-6}` if
    that trace is zero): small enough that a step is the Gauss-Newton step to
    about six digits, large enough that the solve never meets a singular
    matrix. ``ggn_alpha=0`` gives the undamped method. ``lr = 1`` is the method
    of the paper; for a linear model with :math:`\\lambda=1, \\alpha=0` one step
    lands on the interpolating solution nearest to :math:`w` (from zero, the
    minimum-norm least-squares solution). Without ``batch_size`` the batch is the
    whole training set; with one, batches are drawn as for ``sgd``. The system
    is solved with ``torch.linalg.solve`` and written back with
    ``torch.nn.utils.vector_to_parameters``. ``weight_decay`` is refused: the
    step follows no gradient (damp with ``ggn_alpha`` instead).
``sgld``
    Stochastic gradient Langevin dynamics (Welling & Teh 2011, *Bayesian
    learning via stochastic gradient Langevin dynamics*),

    .. math::  w \\leftarrow w - \\eta\\,(\\nabla L_B(w) + \\lambda_{wd} w)
               + \\sqrt{2\\eta T}\\,\\xi, \\qquad \\xi \\sim N(0, I_P),

    with :math:`T = 1/\\beta` = option ``temperature`` (default ``1e-4``). For
    small :math:`\\eta` the iterates sample the Gibbs density
    :math:`\\propto e^{-(L(w) + \\frac{\\lambda_{wd}}2\\lVert w\\rVert^2)/T}`;
    :math:`T = 1/n` is the Bayesian posterior when :math:`n L` is a negative
    log-likelihood. Batches are drawn as for ``sgd`` (without ``batch_size``: full
    batch, no shuffling), and :math:`\\xi` comes from a second CPU generator,
    seeded from ``seed``, so the batches are those of ``sgd`` with the same seed.
    With ``temperature=0`` no noise is drawn and the run *is* ``sgd``.
``normalized_gd``
    Gradient descent with the step divided by the loss (Nacson, Lee, Gunasekar,
    Savarese, Srebro, Soudry 2019, *Convergence of gradient descent on separable
    data*), for the ``exp`` and ``logistic`` losses, full batch:

    .. math::  w \\leftarrow w - \\eta\\,\\frac{\\nabla L(w)}{L(w)} = w - \\eta\\,\\nabla\\log L(w).

    On separable data plain GD's direction approaches the hard-margin SVM
    direction only at rate :math:`1/\\log t` (Soudry et al. 2018); the normalised
    step keeps a constant length in the gradient's direction and converges
    polynomially fast. :math:`L` underflows to zero once the margins are large,
    so the quotient is never formed: with margins :math:`m_i = y_i f(x_i)` and
    :math:`\\ell(m) = e^{-m}` or :math:`\\log(1+e^{-m})`,

    .. math::  \\frac{\\nabla L}{L} = \\sum_i \\frac{\\ell'(m_i)}{\\sum_j \\ell(m_j)}\\,\\nabla m_i ,
               \\qquad \\frac{|\\ell'(m_i)|}{\\sum_j \\ell(m_j)}
               = \\exp\\Bigl(\\log|\\ell'(m_i)| - \\operatorname{logsumexp}_j \\log \\ell(m_j)\\Bigr),

    with :math:`\\log|\\ell'(m)| = -m` and :math:`\\log\\ell(m) = -m` for ``exp``
    (the weights are a softmax of :math:`-m`) and :math:`\\log\\sigma(-m)`,
    :math:`\\log\\log(1+e^{-m})` (evaluated stably) for ``logistic``. The weights
    are computed without gradients and the step is the gradient of
    :math:`-\\sum_i \\text{weight}_i\\, m_i`. With weight decay the step is
    :math:`\\nabla F / F` for the objective :math:`F = L + \\frac{\\lambda_{wd}}2\\lVert w\\rVert^2`.

Exponential and logistic losses on separable data: the logistic loss is evaluated
as ``-logsigmoid`` and never overflows; the exponential loss and both losses'
recorded values may underflow to ``0.0`` at large margins, which is reported as is.
A training step stays finite (for ``gd`` the gradient becomes tiny; for
``normalized_gd`` the log-sum-exp route above keeps it of order one).

If the loss or a parameter stops being finite, :func:`fit` raises
``FloatingPointError`` naming the step and the step size; it never returns a
diverged model silently.

Checkpoints: see :func:`fit`. The recorded quantities: see :class:`History`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import bounds, functional, losses, ntk

__all__ = ["fit", "History", "OPTIMIZERS", "DEFAULT_TEMPERATURE", "GGN_RELATIVE_DAMPING", "ADAM_BETAS", "ADAM_EPS"]

#: The optimizers :func:`fit` knows.
OPTIMIZERS = ("gd", "sgd", "adam", "ggn", "sgld", "normalized_gd")
#: SGLD's default temperature :math:`T = 1/\beta`.
DEFAULT_TEMPERATURE = 1e-4
#: GGN's default damping, relative to the mean eigenvalue of :math:`\lambda J J^\top`.
GGN_RELATIVE_DAMPING = 1e-6
#: Adam's default moment decay rates :math:`(\beta_1, \beta_2)` and :math:`\epsilon`.
ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8

_OPTIONS = {"ggn": ("ggn_lambda", "ggn_alpha"), "sgld": ("temperature",), "adam": ("adam_betas", "adam_eps")}
_TEST_OPTIONS = ("_stop_after",)
_FORMAT = "dltheory.train.fit/1"
# The noise generator's seed is the shuffling seed shifted by this odd constant (mod 2**64),
# so that shuffling and noise are different streams for every seed.
_NOISE_SEED_SHIFT = 0x9E3779B97F4A7C15
# Above this margin log(log(1 + e^-m)) = -m - e^-m / 2 to far below rounding.
_LOG_LOGISTIC_SWITCH = 20.0


# --------------------------------------------------------------------------- History


class History:
    """The record of a run: a tidy table with one row per record point.

    Rows are plain dicts (``history.rows``); every row of a run has the same keys.
    The columns written by :func:`fit`, in order:

    ``step``
        Updates made before the row was recorded (0 is the initialisation).
    ``loss``
        The training loss on the whole training set (without weight decay).
    ``objective``
        ``loss + weight_decay / 2 * ||w||^2`` (trainable parameters); only when
        ``weight_decay > 0``.
    ``train_accuracy``
        Fraction classified correctly when the targets are labels, whatever the
        loss: for one output and labels in {-1, +1}, ``sign(f) == y``; for
        ``k > 1`` outputs and integer class indices, ``argmax f == y``; for
        ``k > 1`` outputs and one-hot float targets, ``argmax f == argmax y``.
        Ties (an output of exactly 0, two largest outputs equal) count as
        errors, as a margin of 0 does in :func:`dltheory.bounds.margins`. NaN
        for any other targets (regression, e.g. float targets with the square
        loss).
    ``frob_1, spec_1, ..., frob_L, spec_L, rho, rho_spectral``
        Frobenius and spectral norms of the linear layers, numbered from 1 in
        module order, and their products (:func:`dltheory.bounds.layer_norms`);
        absent when the model has no ``nn.Linear`` layer.
    ``margin_min, normalized_margin_min``
        The smallest :func:`dltheory.bounds.margins` on the training set and that
        divided by ``rho``; only when the targets are labels.
    ``distance_from_init``
        :math:`\\lVert w - w_0\\rVert_2` over all parameters.
    ``eval_loss, eval_accuracy``
        The same loss and accuracy on ``eval_data``; only when it is given.
    user metrics
        One column per metric, under its name.

    ``history["loss"]`` is a NumPy array of a column (integers for ``step``),
    :meth:`to_frame` a ``pandas.DataFrame``; :meth:`to_json` and
    :meth:`from_json` round-trip the rows exactly (Python's JSON, which writes
    NaN and infinities as ``NaN``/``Infinity``).
    """

    def __init__(self, rows: Sequence[Mapping[str, Any]] = ()) -> None:
        self.rows: list[dict[str, Any]] = [dict(row) for row in rows]

    def append(self, row: Mapping[str, Any]) -> None:
        """Add one record."""
        self.rows.append(dict(row))

    @property
    def columns(self) -> list[str]:
        """Column names in order of first appearance."""
        seen: dict[str, None] = {}
        for row in self.rows:
            for key in row:
                seen.setdefault(key, None)
        return list(seen)

    def __contains__(self, column: object) -> bool:
        return column in self.columns

    def __getitem__(self, column: str) -> np.ndarray:
        if column not in self.columns:
            raise KeyError(f"no column {column!r} in this History; its columns are {self.columns}")
        values = [row.get(column, math.nan) for row in self.rows]
        if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values):
            return np.asarray(values, dtype=np.int64)
        return np.asarray(values, dtype=np.float64)

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def last(self) -> dict[str, Any]:
        """The last row (a copy); a ``ValueError`` if nothing was recorded."""
        if not self.rows:
            raise ValueError("this History has no records")
        return dict(self.rows[-1])

    def to_frame(self):
        """The table as a ``pandas.DataFrame``, one row per record."""
        import pandas as pd

        return pd.DataFrame(self.rows, columns=self.columns)

    def to_json(self) -> str:
        """The rows as a JSON string (floats round-trip exactly)."""
        return json.dumps({"rows": self.rows})

    @classmethod
    def from_json(cls, text: str) -> History:
        """The History written by :meth:`to_json`."""
        data = json.loads(text)
        if not isinstance(data, dict) or not isinstance(data.get("rows"), list):
            raise ValueError("not a History: expected a JSON object with a list of rows")
        return cls(data["rows"])

    def __eq__(self, other: object) -> bool:
        # through JSON, so that NaN equals NaN
        return isinstance(other, History) and self.to_json() == other.to_json()

    def __repr__(self) -> str:
        if not self.rows:
            return "History(0 records)"
        last = self.rows[-1]
        loss = last.get("loss")
        loss_text = f", last loss {loss:.4g}" if isinstance(loss, float) else ""
        return (f"History({len(self)} records, steps {self.rows[0].get('step')}..{last.get('step')}"
                f"{loss_text}; columns: {', '.join(self.columns)})")


# --------------------------------------------------------------------------- validation


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _as_tensor(a, name: str) -> torch.Tensor:
    if isinstance(a, torch.Tensor):
        return a.detach()
    try:
        return torch.as_tensor(np.asarray(a))
    except (TypeError, ValueError, RuntimeError) as err:
        raise ValueError(f"{name} must be a tensor or an array, got {type(a).__name__}") from err


def _prepare_data(X, y, dtype: torch.dtype, device: torch.device, names=("X", "y")):
    """Validate and move a data set to the model's device; floating tensors take its dtype."""
    xn, yn = names
    X, y = _as_tensor(X, xn), _as_tensor(y, yn)
    if X.ndim < 1 or X.shape[0] < 1:
        raise ValueError(f"{xn} must hold at least one example along its first dimension, got shape {tuple(X.shape)}")
    if y.ndim < 1:
        raise ValueError(f"{yn} must have one entry (or row) per example, got a scalar")
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"{xn} has {X.shape[0]} examples but {yn} has {y.shape[0]}")
    if (X.is_floating_point() or X.is_complex()) and not torch.isfinite(X).all():
        raise ValueError(f"{xn} contains NaN or inf")
    if y.is_floating_point() and not torch.isfinite(y).all():
        raise ValueError(f"{yn} contains NaN or inf")
    X = X.to(device=device, dtype=dtype if X.is_floating_point() else None)
    y = y.to(device=device, dtype=dtype if y.is_floating_point() else None)
    return X, y


def _forward_checked(model: nn.Module, X: torch.Tensor, name: str) -> torch.Tensor:
    try:
        with torch.no_grad():
            out = model(X)
    except (RuntimeError, ValueError, IndexError, TypeError) as err:
        raise ValueError(f"the model cannot be applied to {name} of shape {tuple(X.shape)}: {err}") from err
    if not isinstance(out, torch.Tensor) or out.ndim < 1 or out.shape[0] != X.shape[0]:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(f"the model must return one output row per example; on {name} it returned {shape}")
    return out


def _loss_name(loss) -> str | None:
    """The name of a built-in loss (given by name or as the function), else None."""
    if isinstance(loss, str):
        return loss
    for name, fn in losses.LOSSES.items():
        if loss is fn:
            return name
    return None


def _loss_label(loss) -> str:
    name = _loss_name(loss)
    if name is not None:
        return name
    return f"{getattr(loss, '__module__', '?')}.{getattr(loss, '__qualname__', type(loss).__name__)}"


def _task(out: torch.Tensor, y: torch.Tensor) -> str:
    """'binary', 'multiclass', 'onehot' or 'regression': what the targets are."""
    n = out.shape[0]
    k = out.reshape(n, -1).shape[1]
    if k == 1 and y.numel() == n and y.dtype != torch.bool and bool(((y == 1) | (y == -1)).all()):
        return "binary"
    if k > 1 and y.ndim == 1 and not y.is_floating_point() and y.dtype != torch.bool:
        if bool((y >= 0).all()) and bool((y < k).all()):
            return "multiclass"
    if k > 1 and y.is_floating_point() and y.numel() == n * k:
        Y = y.reshape(n, k)
        if bool((((Y == 0) | (Y == 1)).all())) and bool((Y.sum(dim=1) == 1).all()):
            return "onehot"
    return "regression"


def _class_labels(y: torch.Tensor, task: str) -> torch.Tensor:
    """Targets in the form :func:`dltheory.bounds.margins` takes."""
    if task == "onehot":
        return y.reshape(y.shape[0], -1).argmax(dim=1)
    if task == "multiclass":
        return y.long()
    return y


def _accuracy(out: torch.Tensor, y: torch.Tensor, task: str) -> float:
    """Fraction of positive margins (the convention of :func:`dltheory.bounds.margins`: ties are errors)."""
    n = out.shape[0]
    if task == "binary":
        margins = y.reshape(-1).to(out.dtype) * out.reshape(-1)
    elif task in ("multiclass", "onehot"):
        out = out.reshape(n, -1)
        index = _class_labels(y, task).unsqueeze(1)
        margins = out.gather(1, index).squeeze(1) - out.scatter(1, index, float("-inf")).max(dim=1).values
    else:
        return math.nan
    return (margins > 0).double().mean().item()


def _metric_list(metrics) -> list[tuple[str, Callable[[nn.Module], float]]]:
    if metrics is None:
        return []
    if isinstance(metrics, Mapping):
        items = [(str(k), v) for k, v in metrics.items()]
    elif callable(metrics):
        raise ValueError("metrics must be a sequence of callables or a dict name -> callable, not one callable; "
                         "wrap it in a list")
    else:
        items = []
        for i, fn in enumerate(metrics):
            name = getattr(fn, "__name__", None)
            if not name or name == "<lambda>":
                name = f"metric_{i}"
            items.append((name, fn))
    names = [name for name, _ in items]
    for name, fn in items:
        if not callable(fn):
            raise ValueError(f"metric {name!r} is not callable: metrics are functions metric(model) -> float")
    if len(set(names)) != len(names):
        raise ValueError(f"metric names must be distinct, got {names}; pass a dict name -> callable")
    return items


_RESERVED = {"step", "loss", "objective", "train_accuracy", "rho", "rho_spectral", "margin_min",
             "normalized_margin_min", "distance_from_init", "eval_loss", "eval_accuracy"}


def _check_positive_int(value, name: str, allow_none: bool = True) -> int | None:
    if value is None and allow_none:
        return None
    if not _is_int(value) or value < 1:
        raise ValueError(f"{name} must be a positive integer{' or None' if allow_none else ''}, got {value!r}")
    return int(value)


def _check_options(optimizer: str, options: dict) -> dict:
    allowed = _OPTIONS.get(optimizer, ())
    for key in options:
        if key in _TEST_OPTIONS:
            continue
        if key not in allowed:
            owners = [opt for opt, keys in _OPTIONS.items() if key in keys]
            if owners:
                raise ValueError(f"option {key!r} belongs to optimizer {owners[0]!r}, not {optimizer!r}")
            known = sorted({k for keys in _OPTIONS.values() for k in keys})
            raise ValueError(f"unknown option {key!r} for fit; the options are {known}")
    resolved: dict[str, Any] = {}
    if optimizer == "ggn":
        lam = options.get("ggn_lambda", 1.0)
        if not isinstance(lam, (int, float)) or isinstance(lam, bool) or not (math.isfinite(lam) and lam > 0):
            raise ValueError(f"ggn_lambda must be a positive number, got {lam!r}")
        alpha = options.get("ggn_alpha", None)
        if alpha is not None and (not isinstance(alpha, (int, float)) or isinstance(alpha, bool)
                                  or not (math.isfinite(alpha) and alpha >= 0)):
            raise ValueError(f"ggn_alpha must be a non-negative number or None (relative default), got {alpha!r}")
        resolved = {"ggn_lambda": float(lam), "ggn_alpha": None if alpha is None else float(alpha)}
    if optimizer == "sgld":
        temp = options.get("temperature", DEFAULT_TEMPERATURE)
        if not isinstance(temp, (int, float)) or isinstance(temp, bool) or not (math.isfinite(temp) and temp >= 0):
            raise ValueError(f"temperature must be a non-negative number, got {temp!r}")
        resolved = {"temperature": float(temp)}
    if optimizer == "adam":
        betas = options.get("adam_betas", ADAM_BETAS)
        if (not isinstance(betas, (tuple, list)) or len(betas) != 2
                or any(not isinstance(b, (int, float)) or isinstance(b, bool) or not 0 <= b < 1 for b in betas)):
            raise ValueError(f"adam_betas must be a pair of numbers in [0, 1), got {betas!r}")
        eps = options.get("adam_eps", ADAM_EPS)
        if not isinstance(eps, (int, float)) or isinstance(eps, bool) or not (math.isfinite(eps) and eps > 0):
            raise ValueError(f"adam_eps must be a positive number, got {eps!r}")
        resolved = {"adam_betas": [float(betas[0]), float(betas[1])], "adam_eps": float(eps)}
    stop = options.get("_stop_after")
    if stop is not None and (not _is_int(stop) or stop < 0):
        raise ValueError(f"_stop_after must be a non-negative integer, got {stop!r}")
    return resolved


def _digest(*tensors: torch.Tensor | None) -> str:
    h = hashlib.sha256()
    for t in tensors:
        if t is None:
            h.update(b"none")
            continue
        t = t.detach().cpu().contiguous()
        h.update(f"{t.dtype}{tuple(t.shape)}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()[:20]


# --------------------------------------------------------------------------- pieces of the loop


class _Sampler:
    """Mini-batches: consecutive slices of a permutation drawn afresh every epoch."""

    def __init__(self, n: int, batch_size: int | None, generator: torch.Generator, device: torch.device) -> None:
        self.n, self.batch_size, self.generator, self.device = n, batch_size, generator, device
        self.order: torch.Tensor | None = None
        self.position = 0

    def next(self) -> torch.Tensor | None:
        """Indices of the next batch on the device, or None for the full batch."""
        if self.batch_size is None:
            return None
        if self.order is None or self.position >= self.n:
            self.order = torch.randperm(self.n, generator=self.generator)
            self.position = 0
        idx = self.order[self.position : self.position + self.batch_size]
        self.position += self.batch_size
        return idx.to(self.device)

    def state(self) -> dict:
        return {"order": None if self.order is None else self.order.clone(), "position": self.position}

    def load(self, state: dict) -> None:
        self.order = state["order"]
        self.position = int(state["position"])


def _log_logistic(m: torch.Tensor) -> torch.Tensor:
    """:math:`\\log\\log(1 + e^{-m})` without underflow (no gradients needed)."""
    big = m > _LOG_LOGISTIC_SWITCH
    direct = torch.log(F.softplus(-torch.where(big, torch.zeros_like(m), m)))
    asymptotic = -m - 0.5 * torch.exp(-torch.where(big, m, torch.full_like(m, _LOG_LOGISTIC_SWITCH)))
    return torch.where(big, asymptotic, direct)


def _divide(a: float, b: float) -> float:
    """``a / b`` with IEEE semantics for ``b = 0`` (inf, or NaN for 0/0)."""
    if b != 0:
        return a / b
    return math.nan if a == 0 or math.isnan(a) else math.copysign(math.inf, a)


def _square_norm(params: Sequence[torch.Tensor]) -> torch.Tensor:
    return sum(p.detach().pow(2).sum() for p in params)


def _noise_generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed((seed + _NOISE_SEED_SHIFT) % 2**64)


def _record_points(steps: int, every: int) -> set[int]:
    return set(range(0, steps + 1, every)) | {steps}


def _atomic_save(obj: Any, path: Path) -> None:
    """``torch.save`` to a temporary file in the same folder, then ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(obj, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _fingerprint_mismatch(saved: dict, current: dict) -> list[str]:
    keys = sorted(set(saved) | set(current))
    return [f"{k}: checkpoint has {saved.get(k, '<missing>')!r}, this call has {current.get(k, '<missing>')!r}"
            for k in keys if saved.get(k) != current.get(k)]


# --------------------------------------------------------------------------- fit


def fit(
    model: nn.Module,
    X,
    y,
    *,
    loss,
    optimizer: str = "gd",
    lr: float,
    steps: int,
    batch_size: int | None = None,
    weight_decay: float = 0.0,
    seed: int = 0,
    record_every: int | None = None,
    metrics: Sequence[Callable[[nn.Module], float]] | Mapping[str, Callable[[nn.Module], float]] = (),
    eval_data: tuple | None = None,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: int | None = None,
    progress: bool = True,
    **options,
) -> History:
    """Train ``model`` in place for ``steps`` updates and return its :class:`History`.

    The optimizers and their exact updates are in the module docstring
    (:mod:`dltheory.train`).

    Parameters
    ----------
    model
        Any module mapping a batch ``(n, ...)`` to outputs ``(n, ...)``. Its
        parameters with ``requires_grad=True`` are trained; everything follows its
        device and dtype (that of its first parameter).
    X, y
        The training set. Moved to the model's device; floating tensors are cast to
        its dtype, integer targets (class indices) stay integers.
    loss
        A name of :mod:`dltheory.losses` (``square``, ``logistic``, ``exp``,
        ``hinge``, ``ce``) or a callable ``loss(outputs, targets) -> scalar``, a mean
        over examples. Targets are checked once with
        :func:`dltheory.losses.check_targets`.
    optimizer
        ``"gd"``, ``"sgd"``, ``"adam"``, ``"ggn"``, ``"sgld"`` or ``"normalized_gd"``.
    lr
        Step size :math:`\\eta > 0` (for ``ggn`` a multiple of the Gauss-Newton step).
    steps
        Number of updates (mini-batch updates for ``sgd``/``sgld``/``ggn``/``adam``).
    batch_size
        ``None`` (full batch) or an integer in ``[1, n]``. ``gd`` and
        ``normalized_gd`` are full batch (``None`` or ``n``); ``sgd`` needs one;
        ``adam``, ``ggn`` and ``sgld`` take either.
    weight_decay
        :math:`\\lambda_{wd} \\ge 0`: adds :math:`\\frac{\\lambda_{wd}}2\\lVert w\\rVert^2`
        to the objective (not for ``ggn``).
    seed
        Seeds the CPU generators of the shuffling and of the SGLD noise. The
        global torch RNG is never used (except by a model that draws random
        numbers itself, e.g. dropout, which then escapes bit-exact resumption).
    record_every
        Record at step 0, every ``record_every`` steps and at the last step.
        Default: ``max(1, steps // 100)``, about 100 records.
    metrics
        Callables ``metric(model) -> float`` (column named after the function,
        ``metric_i`` for lambdas) or a dict ``name -> callable``. They are called at
        every record point with the model in eval mode and gradients enabled (so
        that curvature metrics work); they must not change the parameters.
    eval_data
        ``(X_eval, y_eval)``: adds ``eval_loss`` and ``eval_accuracy`` columns.
    checkpoint
        A file path. Every ``checkpoint_every`` steps and at the end the state is
        written there atomically (a temporary file in the same folder, then
        ``os.replace``) with ``torch.save``. If the file exists when ``fit`` starts,
        the run resumes from it (see Notes).
    checkpoint_every
        Default: ``max(1, min(1000, ceil(steps / 10)))``, about ten checkpoints.
    progress
        Show a ``tqdm.auto`` progress bar (the loss at record points as postfix).
    **options
        ``ggn_lambda`` (default 1.0) and ``ggn_alpha`` (default ``None``: relative
        damping :data:`GGN_RELATIVE_DAMPING`) for ``ggn``; ``temperature`` (default
        :data:`DEFAULT_TEMPERATURE`) for ``sgld``; ``adam_betas`` (default
        :data:`ADAM_BETAS`) and ``adam_eps`` (default :data:`ADAM_EPS`) for
        ``adam``. For tests: ``_stop_after=S`` raises ``KeyboardInterrupt`` once
        step ``S`` is done (after its record and checkpoint, if any), exactly as
        if the user had interrupted the run there.

    Returns
    -------
    History
        One row per record point; see :class:`History` for the columns.

    Raises
    ------
    ValueError
        Bad input: ``X``/``y`` lengths differ, NaN or inf in ``X`` or a floating
        ``y``, targets that do not fit the loss, ``steps < 0``, ``lr <= 0``, an
        unknown optimizer or option, ``batch_size`` out of range, ``ggn`` with a
        loss other than ``square``, ``normalized_gd`` with a loss other than
        ``exp``/``logistic``, or a checkpoint written by a different run.
    FloatingPointError
        The loss or the parameters became NaN or inf (the message names the step
        and the step size).

    Notes
    -----
    A checkpoint holds: the format tag, a *fingerprint* of the call (optimizer,
    lr, steps, batch_size, seed, loss, weight_decay, the optimizer's options,
    n and a SHA-256 digest of ``X`` and ``y``, the names and shapes of the
    parameters, dtype, record_every, the metric names, a digest of
    ``eval_data``), the step reached, ``finished``, the model's ``state_dict``,
    the states of the shuffling and noise generators, the sampler's current
    permutation and position in it, ``optimizer_state`` (for ``adam`` the moment
    estimates ``exp_avg`` and ``exp_avg_sq``, lists of tensors in parameter order;
    empty for the other methods, which keep no state between steps beyond the
    sampler), the History rows as
    JSON and the initial parameters (for ``distance_from_init``).

    Resume rule: when ``checkpoint`` exists, its fingerprint must equal this
    call's, else ``ValueError`` lists the differences (delete the file or choose
    another path to start afresh). The model's weights, generators, sampler,
    History and initial parameters are then loaded (whatever weights the model
    had), and training continues from the saved step; because every source of
    randomness is restored, the run ends bit-identical to an uninterrupted one
    (same device and library versions). A finished run's checkpoint loads the
    final weights and returns its History without training. An interruption
    loses the steps since the last checkpoint, which are recomputed.
    """
    # ---- the model
    named = functional.check_model(model)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError(f"{type(model).__name__} has no trainable parameters (all have requires_grad=False)")
    dtype, device = named[0][1].dtype, named[0][1].device

    # ---- scalars
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; choose one of {list(OPTIMIZERS)}")
    if not _is_int(steps) or steps < 0:
        raise ValueError(f"steps must be a non-negative integer, got {steps!r}")
    steps = int(steps)
    if not isinstance(lr, (int, float, np.floating)) or isinstance(lr, bool) or not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a positive finite number, got {lr!r}")
    lr = float(lr)
    if (not isinstance(weight_decay, (int, float, np.floating)) or isinstance(weight_decay, bool)
            or not (math.isfinite(weight_decay) and weight_decay >= 0)):
        raise ValueError(f"weight_decay must be a non-negative number, got {weight_decay!r}")
    weight_decay = float(weight_decay)
    if not _is_int(seed) or not 0 <= seed < 2**63:
        raise ValueError(f"seed must be a non-negative integer below 2**63, got {seed!r}")
    seed = int(seed)
    record_every = _check_positive_int(record_every, "record_every")
    checkpoint_every = _check_positive_int(checkpoint_every, "checkpoint_every")
    if checkpoint_every is not None and checkpoint is None:
        raise ValueError("checkpoint_every was given without a checkpoint path")
    resolved = _check_options(optimizer, options)
    stop_after = options.get("_stop_after")

    # ---- the loss
    name = _loss_name(loss)
    if isinstance(loss, str) and name not in losses.LOSSES:
        raise ValueError(f"unknown loss {loss!r}; use one of {sorted(losses.LOSSES)} or a callable(outputs, targets)")
    if not isinstance(loss, str) and not callable(loss):
        raise ValueError(f"loss must be a name of dltheory.losses or a callable, got {type(loss).__name__}")
    loss_fn = losses.resolve(loss)
    if optimizer == "ggn" and name != "square":
        raise ValueError(f"ggn (Gram-Gauss-Newton) needs the square loss, got {_loss_label(loss)!r}")
    if optimizer == "normalized_gd" and name not in ("exp", "logistic"):
        raise ValueError(f"normalized_gd needs the 'exp' or 'logistic' loss, got {_loss_label(loss)!r}")
    if optimizer == "ggn" and weight_decay > 0:
        raise ValueError("ggn follows no gradient and does not take weight_decay; damp it with ggn_alpha instead")

    # ---- the data
    X, y = _prepare_data(X, y, dtype, device)
    n = X.shape[0]
    out0 = _forward_checked(model, X, "X")
    losses.check_targets(name if name is not None else loss_fn, out0, y)
    task = _task(out0, y)
    if eval_data is not None:
        if not isinstance(eval_data, (tuple, list)) or len(eval_data) != 2:
            raise ValueError("eval_data must be a pair (X_eval, y_eval)")
        X_eval, y_eval = _prepare_data(*eval_data, dtype, device, names=("X_eval", "y_eval"))
        losses.check_targets(name if name is not None else loss_fn, _forward_checked(model, X_eval, "X_eval"), y_eval)
    else:
        X_eval = y_eval = None

    # ---- the batches
    if batch_size is not None:
        if not _is_int(batch_size) or not 1 <= batch_size <= n:
            raise ValueError(f"batch_size must be an integer in [1, n={n}] or None, got {batch_size!r}")
        batch_size = int(batch_size)
    if optimizer in ("gd", "normalized_gd"):
        if batch_size not in (None, n):
            raise ValueError(f"{optimizer} is full batch: batch_size must be None or n={n}, got {batch_size} "
                             "(use optimizer='sgd' for mini-batches)")
        batch_size = None
    if optimizer == "sgd" and batch_size is None:
        raise ValueError("sgd needs a batch_size (for full-batch training use optimizer='gd')")

    # ---- records, metrics, checkpoints
    metric_items = _metric_list(metrics)
    try:
        n_layers = len(bounds.layer_norms(model)["frobenius"])
    except ValueError:
        n_layers = None
    reserved = set(_RESERVED) | {f"{kind}_{i}" for kind in ("frob", "spec") for i in range(1, (n_layers or 0) + 1)}
    for mname, _ in metric_items:
        if mname in reserved:
            raise ValueError(f"metric name {mname!r} clashes with a column fit records; give it another name")
    every = record_every or max(1, steps // 100)
    record_at = _record_points(steps, every)
    path = None if checkpoint is None else Path(checkpoint).expanduser()
    if path is not None:
        ck_every = checkpoint_every or max(1, min(1000, math.ceil(steps / 10)))
        save_at = _record_points(steps, ck_every) - {0} | {steps}
    else:
        save_at = set()

    fingerprint = {
        "optimizer": optimizer,
        "lr": lr,
        "steps": steps,
        "batch_size": batch_size,
        "seed": seed,
        "loss": _loss_label(loss),
        "weight_decay": weight_decay,
        "options": resolved,
        "n": n,
        "data": _digest(X, y),
        "parameters": [[pname, list(p.shape)] for pname, p in named],
        "dtype": str(dtype),
        "record_every": every,
        "metrics": [mname for mname, _ in metric_items],
        "eval_data": None if X_eval is None else _digest(X_eval, y_eval),
    }

    # ---- state
    shuffle_gen = torch.Generator().manual_seed(seed)
    noise_gen = _noise_generator(seed)
    sampler = _Sampler(n, batch_size, shuffle_gen, device)
    theta0 = functional.flat_parameters(model).clone()
    history = History()
    start = 0
    exp_avg = [torch.zeros_like(p) for p in params] if optimizer == "adam" else []
    exp_avg_sq = [torch.zeros_like(p) for p in params] if optimizer == "adam" else []

    if path is not None and path.exists():
        try:
            ck = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:  # noqa: BLE001 - any unreadable file is reported the same way
            raise ValueError(f"cannot read checkpoint {path}: {err}; delete it to start afresh") from err
        if not isinstance(ck, dict) or ck.get("format") != _FORMAT:
            raise ValueError(f"{path} is not a checkpoint written by dltheory.train.fit ({_FORMAT})")
        diffs = _fingerprint_mismatch(ck["fingerprint"], fingerprint)
        if diffs:
            raise ValueError(f"checkpoint {path} was written by a different run, refusing to resume it: "
                             + "; ".join(diffs) + ". Delete the file or pass another checkpoint path to start afresh.")
        model.load_state_dict(ck["model"])
        shuffle_gen.set_state(ck["generators"]["shuffle"])
        noise_gen.set_state(ck["generators"]["noise"])
        sampler.load(ck["sampler"])
        history = History.from_json(ck["history"])
        theta0 = ck["init"].to(device=device, dtype=theta0.dtype)
        if optimizer == "adam":
            exp_avg = [m.to(device=device, dtype=p.dtype) for m, p in zip(ck["optimizer_state"]["exp_avg"], params)]
            exp_avg_sq = [v.to(device=device, dtype=p.dtype)
                          for v, p in zip(ck["optimizer_state"]["exp_avg_sq"], params)]
        start = int(ck["step"])
        if ck["finished"]:
            return history

    # ---- recording
    def record(step: int) -> dict:
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                out = model(X)
                value = loss_fn(out, y).item()
                row: dict[str, Any] = {"step": step, "loss": value}
                if weight_decay > 0:
                    row["objective"] = value + 0.5 * weight_decay * _square_norm(params).item()
                row["train_accuracy"] = _accuracy(out, y, task)
                rho = math.nan
                if n_layers is not None:
                    norms = bounds.layer_norms(model)
                    for i, (fr, sp) in enumerate(zip(norms["frobenius"], norms["spectral"]), start=1):
                        row[f"frob_{i}"] = fr
                        row[f"spec_{i}"] = sp
                    rho = norms["rho"]
                    row["rho"] = rho
                    row["rho_spectral"] = norms["rho_spectral"]
                if task != "regression":
                    margin = bounds.margins(model, X, _class_labels(y, task)).min().item()
                    row["margin_min"] = margin
                    row["normalized_margin_min"] = _divide(margin, rho) if n_layers is not None else math.nan
                theta = functional.flat_parameters(model)
                row["distance_from_init"] = torch.linalg.vector_norm(theta - theta0).item()
                if X_eval is not None:
                    out_eval = model(X_eval)
                    row["eval_loss"] = loss_fn(out_eval, y_eval).item()
                    row["eval_accuracy"] = _accuracy(out_eval, y_eval, task)
            for mname, fn in metric_items:
                row[mname] = float(fn(model))
        finally:
            model.train(was_training)
        if not math.isfinite(value):
            raise FloatingPointError(f"{optimizer} diverged at step {step} (loss = {value}) with lr={lr:g}; "
                                     "try a smaller step size")
        return row

    def save(step: int) -> None:
        _atomic_save({
            "format": _FORMAT,
            "fingerprint": fingerprint,
            "step": step,
            "finished": step == steps,
            "model": {k: v.detach().clone().cpu() for k, v in model.state_dict().items()},
            "generators": {"shuffle": shuffle_gen.get_state(), "noise": noise_gen.get_state()},
            "sampler": sampler.state(),
            "optimizer_state": ({} if optimizer != "adam" else
                                {"exp_avg": [m.detach().clone().cpu() for m in exp_avg],
                                 "exp_avg_sq": [v.detach().clone().cpu() for v in exp_avg_sq]}),
            "history": history.to_json(),
            "init": theta0.detach().clone().cpu(),
            "torch_version": str(torch.__version__),
        }, path)

    # ---- one update
    noise_dtype = torch.float64 if dtype == torch.float64 else torch.float32
    temperature = resolved.get("temperature", 0.0)
    noise_scale = math.sqrt(2.0 * lr * temperature)

    def gradient_step(Xb, yb) -> torch.Tensor:
        value = loss_fn(model(Xb), yb)
        grads = torch.autograd.grad(value, params)
        with torch.no_grad():
            for p, g in zip(params, grads):
                if weight_decay > 0:
                    g = g.add(p, alpha=weight_decay)
                p.add_(g, alpha=-lr)
            if optimizer == "sgld" and temperature > 0:
                total = sum(p.numel() for p in params)
                xi = torch.randn(total, generator=noise_gen, dtype=noise_dtype).to(device=device, dtype=dtype)
                start_ = 0
                for p in params:
                    p.add_(xi[start_ : start_ + p.numel()].view_as(p), alpha=noise_scale)
                    start_ += p.numel()
        return value.detach()

    def normalized_step(Xb, yb) -> torch.Tensor:
        margins = yb.reshape(-1).to(dtype) * model(Xb).reshape(-1)
        with torch.no_grad():
            m = margins.detach()
            if name == "exp":
                log_abs_dl, log_l = -m, -m
            else:
                log_abs_dl, log_l = F.logsigmoid(-m), _log_logistic(m)
            log_sum = torch.logsumexp(log_l, dim=0)  # log(n L)
            weights = torch.exp(log_abs_dl - log_sum)  # |l'(m_i)| / sum_j l(m_j)
        grads = torch.autograd.grad(-(weights * margins).sum(), params)  # = grad L / L
        with torch.no_grad():
            if weight_decay > 0:
                L = torch.exp(log_sum - math.log(m.numel()))
                objective = L + 0.5 * weight_decay * _square_norm(params)
                grads = [(L * g + weight_decay * p) / objective for p, g in zip(params, grads)]
            for p, g in zip(params, grads):
                p.add_(g, alpha=-lr)
        return log_sum - math.log(m.numel())  # log L: finite even when L underflows

    beta1, beta2 = resolved.get("adam_betas", ADAM_BETAS)
    eps = resolved.get("adam_eps", ADAM_EPS)

    def adam_step(Xb, yb, step: int) -> torch.Tensor:
        value = loss_fn(model(Xb), yb)
        grads = torch.autograd.grad(value, params)
        correction1, correction2 = 1 - beta1**step, 1 - beta2**step
        with torch.no_grad():
            for p, g, m, v in zip(params, grads, exp_avg, exp_avg_sq):
                if weight_decay > 0:
                    g = g.add(p, alpha=weight_decay)
                m.lerp_(g, 1 - beta1)
                v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
                denominator = (v.sqrt() / math.sqrt(correction2)).add_(eps)
                p.addcdiv_(m, denominator, value=-lr / correction1)
        return value.detach()

    lam = resolved.get("ggn_lambda", 1.0)
    alpha_opt = resolved.get("ggn_alpha")
    trainable_ids = {id(p) for p in params}
    mask = None
    if len(params) != len(named):
        mask = torch.cat([torch.full((p.numel(),), id(p) in trainable_ids, dtype=torch.bool, device=device)
                          for _, p in named])

    def ggn_step(Xb, yb, step: int) -> torch.Tensor:
        J = ntk.jacobian(model, Xb)
        J = J.reshape(-1, J.shape[-1])
        if mask is not None:
            J = J[:, mask]
        with torch.no_grad():
            residual = model(Xb).reshape(-1) - yb.reshape(-1).to(dtype)
            gram = lam * (J @ J.T)
            size = gram.shape[0]
            if alpha_opt is None:
                mean_eig = (torch.trace(gram) / size).item()
                alpha = GGN_RELATIVE_DAMPING * mean_eig if mean_eig > 0 else GGN_RELATIVE_DAMPING
            else:
                alpha = alpha_opt
            gram.diagonal().add_(alpha)
            try:
                coef = torch.linalg.solve(gram, residual)
            except RuntimeError as err:  # torch.linalg.LinAlgError: singular system
                raise FloatingPointError(
                    f"ggn: the Gram matrix is singular at step {step} (ggn_alpha={alpha:g}); "
                    "use ggn_alpha > 0 (or the default relative damping)") from err
            w = torch.nn.utils.parameters_to_vector(params)
            torch.nn.utils.vector_to_parameters(w - lr * (J.T @ coef), params)
        return 0.5 * residual.pow(2).sum() / Xb.shape[0]

    def check(value: torch.Tensor, step: int) -> None:
        ok = torch.isfinite(value)
        for p in params:
            ok = ok & torch.isfinite(p).all()
        if not bool(ok):
            what = "loss" if optimizer != "normalized_gd" else "log loss"
            finite_params = all(bool(torch.isfinite(p).all()) for p in params)
            extra = "" if finite_params else ", parameters no longer finite"
            raise FloatingPointError(f"{optimizer} diverged at step {step} ({what} = {value.item():.6g}{extra}) "
                                     f"with lr={lr:g}; try a smaller step size")

    # ---- the loop
    from tqdm.auto import tqdm

    bar = tqdm(total=steps, initial=start, disable=not progress, desc=f"fit[{optimizer}]", leave=True)
    try:
        if start == 0:
            history.append(record(0))
            bar.set_postfix(loss=f"{history.rows[-1]['loss']:.4g}")
            if 0 in save_at:
                save(0)
        t = start
        while t < steps:
            idx = sampler.next()
            Xb, yb = (X, y) if idx is None else (X[idx], y[idx])
            if optimizer == "ggn":
                value = ggn_step(Xb, yb, t + 1)
            elif optimizer == "normalized_gd":
                value = normalized_step(Xb, yb)
            elif optimizer == "adam":
                value = adam_step(Xb, yb, t + 1)
            else:
                value = gradient_step(Xb, yb)
            t += 1
            check(value, t)
            if t in record_at:
                history.append(record(t))
                bar.set_postfix(loss=f"{history.rows[-1]['loss']:.4g}")
            if t in save_at:
                save(t)
            bar.update(1)
            if stop_after is not None and t == stop_after and t < steps:
                raise KeyboardInterrupt(f"_stop_after={stop_after}: simulated interruption after step {t}")
    finally:
        bar.close()
    return history
