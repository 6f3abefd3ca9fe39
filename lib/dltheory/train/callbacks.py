"""Callbacks for :func:`dltheory.train.fit` that record what the History does not.

* :class:`GradientNorms`: the squared norm :math:`\\lVert g_k\\rVert^2` of the
  batch gradient of every update, and its step size :math:`\\eta_k`: the inputs
  of the PAC-Bayes term of Mou, Wang, Zhai and Zheng (2018),
  :func:`dltheory.bounds.sgld_pac_bayes_term`;
* :class:`ParameterSnapshots`: copies of the flat parameter vector at chosen
  steps, e.g. to measure how far two runs drift apart (Hardt, Recht, Singer 2016).

Both keep their records in :meth:`~dltheory.train.Callback.state_dict`, so a
checkpointed run resumes with them.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch

from .._checks import check_int
from .fit import Callback, StepInfo

__all__ = ["GradientNorms", "ParameterSnapshots"]


class GradientNorms(Callback):
    """Record :math:`\\lVert g_k\\rVert^2` and :math:`\\eta_k` after every update of a ``torch.optim`` optimizer.

    After a ``torch.optim`` step each trainable parameter's ``.grad`` holds the
    gradient of the batch objective that the update used (:class:`StepInfo`), so

    .. math::  \\lVert g_k\\rVert^2 = \\sum_{p} \\lVert \\nabla_p L_{B_k}(w_{k-1})\\rVert_F^2 ,

    the stochastic gradient of the *loss* on batch :math:`B_k`: the weight decay of
    the ``gd``/``sgd``/``sgld`` presets is added by ``torch.optim.SGD`` inside the
    step and is not part of ``.grad`` (the SGLD noise is not either). The step
    size :math:`\\eta_k` is the first parameter group's ``lr`` that the update
    used: :func:`fit` steps a scheduler before the callbacks run, so the
    callback keeps the ``lr`` it saw at the previous step (at step 0, the
    initial record) and reads the new one for the next update.

    Attributes
    ----------
    sq_norms, lrs : list of float
        One entry per update, in order: :math:`\\lVert g_k\\rVert^2` and :math:`\\eta_k`.

    Notes
    -----
    Reading the norms synchronises the device once per step (``.item()``); on a
    GPU this costs a little speed, nothing on the CPU. A
    :class:`~dltheory.train.BatchOptimizer` (Gram-Gauss-Newton) uses no
    gradient, and is refused.
    """

    def __init__(self) -> None:
        self.sq_norms: list[float] = []
        self.lrs: list[float] = []
        self._next_lr: float | None = None  # the lr the next update will use

    def on_record(self, info: StepInfo, row: dict) -> None:
        if info.step == 0 and isinstance(info.optimizer, torch.optim.Optimizer):
            self._next_lr = float(info.optimizer.param_groups[0]["lr"])

    def on_step(self, info: StepInfo) -> None:
        opt = info.optimizer
        if not isinstance(opt, torch.optim.Optimizer):
            raise TypeError(f"GradientNorms reads .grad after a torch.optim step; {type(opt).__name__} "
                            "has no gradients to read")
        total = None
        for group in opt.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    sq = p.grad.detach().pow(2).sum()
                    total = sq if total is None else total + sq
        self.sq_norms.append(0.0 if total is None else float(total))
        current = float(opt.param_groups[0]["lr"])  # after the scheduler's step: the next update's
        self.lrs.append(current if self._next_lr is None else self._next_lr)
        self._next_lr = current

    @property
    def steps(self) -> np.ndarray:
        """The update numbers :math:`k = 1, \\dots, N` of the records."""
        return np.arange(1, len(self.sq_norms) + 1)

    def state_dict(self) -> dict:
        return {"sq_norms": list(self.sq_norms), "lrs": list(self.lrs), "next_lr": self._next_lr}

    def load_state_dict(self, state: dict) -> None:
        self.sq_norms = list(state["sq_norms"])
        self.lrs = list(state["lrs"])
        self._next_lr = state.get("next_lr")


class ParameterSnapshots(Callback):
    """Copies of the flat parameter vector (``parameters_to_vector``) at the steps ``at``.

    Step 0 (the initialisation) is taken at the first record of :func:`fit`,
    every other step right after its update. The copies are float64 tensors on
    the CPU, kept in :attr:`snapshots`, a dict ``step -> tensor``.

    Parameters
    ----------
    at
        The steps to copy, non-negative integers.
    """

    def __init__(self, at: Iterable[int]) -> None:
        self.at = sorted({check_int(s, "step", min=0) for s in at})
        self.snapshots: dict[int, torch.Tensor] = {}

    def _take(self, info: StepInfo) -> None:
        if info.step in self.at and info.step not in self.snapshots:
            vec = torch.nn.utils.parameters_to_vector(info.model.parameters())
            self.snapshots[info.step] = vec.detach().to("cpu", torch.float64).clone()

    def on_step(self, info: StepInfo) -> None:
        self._take(info)

    def on_record(self, info: StepInfo, row: dict) -> None:
        if info.step == 0:
            self._take(info)

    def state_dict(self) -> dict:
        return {"snapshots": dict(self.snapshots)}

    def load_state_dict(self, state: dict) -> None:
        self.snapshots = dict(state["snapshots"])
