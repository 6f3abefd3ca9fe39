"""The training loop of the book: :func:`fit`, a thin loop over a ``torch.optim`` optimizer."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .. import losses
from .._checks import check_int, check_real, check_seed, check_Xy, named_parameters, probe
from .._progress import progress_bar
from .checkpoint import Checkpoint, describe, digest, plain
from .history import History, record_points
from .optim import PRESETS, BatchOptimizer, make_optimizer
from .record import Recorder, metric_list, task_of

__all__ = ["fit", "Callback", "StepInfo"]

Optimizer = torch.optim.Optimizer | BatchOptimizer


@dataclass
class StepInfo:
    """What a :class:`Callback` sees after an update (or at a record point).

    ``step`` counts the updates made so far (0 at the initial record). ``inputs``,
    ``targets`` and ``loss`` are the batch of the last update and its objective
    before the update, a 0-dim tensor on the model's device (``.item()`` waits
    for the device); all three are ``None`` at step 0. After a ``torch.optim``
    step each trainable parameter's ``.grad`` holds the batch gradient the
    update used.
    """

    step: int
    model: nn.Module
    optimizer: Optimizer
    inputs: torch.Tensor | None
    targets: torch.Tensor | None
    loss: torch.Tensor | None
    history: History


class Callback:
    """Hooks into :func:`fit`; override the ones you need.

    :meth:`on_step` runs after every update, :meth:`on_record` after each row
    is recorded (it may add columns to ``row``). A callback that keeps state
    returns it from :meth:`state_dict` and takes it back in
    :meth:`load_state_dict`, so that checkpoints carry it. A plain function
    ``fn(info)`` passed as a callback is called after every update.
    """

    def on_step(self, info: StepInfo) -> None:
        """After update number ``info.step``."""

    def on_record(self, info: StepInfo, row: dict[str, Any]) -> None:
        """After the row of step ``info.step`` is recorded; may add entries to ``row``."""

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Restore what :meth:`state_dict` returned."""


class _OnStep(Callback):
    def __init__(self, fn: Callable[[StepInfo], Any]) -> None:
        self.fn = fn

    def on_step(self, info: StepInfo) -> None:
        self.fn(info)


class _Sampler:
    """Mini-batches: consecutive slices of a permutation drawn afresh every epoch.

    The permutation comes from a CPU generator (the same batches on every
    device) and is moved to the device once per epoch.
    """

    def __init__(self, n: int, batch_size: int | None, generator: torch.Generator, device: torch.device) -> None:
        self.n, self.batch_size, self.generator, self.device = n, batch_size, generator, device
        self.order: torch.Tensor | None = None
        self.position = 0

    def next(self) -> torch.Tensor | None:
        """Indices of the next batch on the device, or None for the full batch."""
        if self.batch_size is None:
            return None
        if self.order is None or self.position >= self.n:
            self.order = torch.randperm(self.n, generator=self.generator).to(self.device)
            self.position = 0
        idx = self.order[self.position : self.position + self.batch_size]
        self.position += self.batch_size
        return idx

    def state_dict(self) -> dict:
        return {"order": None if self.order is None else self.order.cpu(), "position": self.position,
                "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.order = None if state["order"] is None else state["order"].to(self.device)
        self.position = int(state["position"])
        self.generator.set_state(state["generator"])


class _Callbacks:
    """The run's callbacks, called in order, with their states saved together."""

    def __init__(self, callbacks: Iterable) -> None:
        self.items: list[Callback] = []
        for cb in callbacks or ():
            if isinstance(cb, Callback):
                self.items.append(cb)
            elif callable(cb):
                self.items.append(_OnStep(cb))
            else:
                raise TypeError(f"a callback must be a dltheory.train.Callback or a function of StepInfo, got "
                                f"{type(cb).__name__}")

    def names(self) -> list[str]:
        return [type(cb).__qualname__ for cb in self.items]

    def on_step(self, info: StepInfo) -> None:
        for cb in self.items:
            cb.on_step(info)

    def on_record(self, info: StepInfo, row: dict[str, Any]) -> None:
        for cb in self.items:
            cb.on_record(info, row)

    def state_dict(self) -> list:
        return [cb.state_dict() for cb in self.items]

    def load_state_dict(self, states: list) -> None:
        for cb, state in zip(self.items, states, strict=True):
            cb.load_state_dict(state)


def _batch_size(name: str, batch_size: int | None, n: int) -> int | None:
    """The batch size of the run, ``None`` for the full batch; the presets' rules checked."""
    batch_size = check_int(batch_size, "batch_size", min=1, max=n, allow_none=True)
    if name in ("gd", "normalized_gd"):
        if batch_size not in (None, n):
            raise ValueError(f"{name} is full batch: batch_size must be None or n={n}, got {batch_size} "
                             "(use optimizer='sgd' for mini-batches)")
        return None
    if name == "sgd" and batch_size is None:
        raise ValueError("sgd needs a batch_size (for full-batch training use optimizer='gd')")
    return batch_size


def _eval_data(eval_data, model: nn.Module, loss) -> tuple[torch.Tensor, torch.Tensor] | None:
    if eval_data is None:
        return None
    if not isinstance(eval_data, (tuple, list)) or len(eval_data) != 2:
        raise ValueError("eval_data must be a pair (X_eval, y_eval)")
    X_eval, y_eval = check_Xy(*eval_data, like=model, names=("X_eval", "y_eval"))
    losses.check_targets(losses.name_of(loss) or losses.resolve(loss), probe(model, X_eval, "X_eval"), y_eval)
    return X_eval, y_eval


def _optimizer(optimizer, model: nn.Module, lr, weight_decay: float, seed: int) -> tuple[Optimizer, str]:
    """The optimizer object and its name, from a preset name, an instance or a factory."""
    if isinstance(optimizer, str):
        if lr is None:
            raise ValueError(f"the preset {optimizer!r} needs a step size: pass lr=")
        return make_optimizer(optimizer, model, lr=lr, weight_decay=weight_decay, seed=seed), optimizer
    built = isinstance(optimizer, (torch.optim.Optimizer, BatchOptimizer))
    if not built and not callable(optimizer):
        raise TypeError(f"optimizer must be one of {list(PRESETS)}, a torch.optim.Optimizer or a factory "
                        f"params -> Optimizer, got {type(optimizer).__name__}")
    if lr is not None or weight_decay:
        raise ValueError("lr and weight_decay go with a preset name; set them on the optimizer you pass "
                         "(e.g. functools.partial(torch.optim.SGD, lr=0.1, weight_decay=1e-4))")
    if not built:
        optimizer = optimizer([p for p in model.parameters() if p.requires_grad])
        if not isinstance(optimizer, (torch.optim.Optimizer, BatchOptimizer)):
            raise TypeError(f"the optimizer factory returned a {type(optimizer).__name__}, not an optimizer")
    params = (optimizer.params if isinstance(optimizer, BatchOptimizer)
              else [p for group in optimizer.param_groups for p in group["params"]])
    if not {id(p) for p in params} <= {id(p) for p in model.parameters()}:
        raise ValueError("the optimizer holds tensors that are not parameters of the model")
    return optimizer, type(optimizer).__name__


def _scheduler(scheduler, optimizer: Optimizer):
    if scheduler is None:
        return None
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise ValueError(f"a learning-rate scheduler needs a torch.optim.Optimizer, not {type(optimizer).__name__}")
    if not isinstance(scheduler, torch.optim.lr_scheduler.LRScheduler):
        if not callable(scheduler):
            raise TypeError(f"scheduler must be a torch.optim.lr_scheduler.LRScheduler or a factory "
                            f"optimizer -> scheduler, got {type(scheduler).__name__}")
        scheduler = scheduler(optimizer)
    if getattr(scheduler, "optimizer", None) is not optimizer:
        raise ValueError("the scheduler does not drive this run's optimizer")
    return scheduler


def _objective(name: str, loss, weight_decay: float, params: Sequence[torch.Tensor]) -> Callable:
    """The function of (outputs, targets) that the optimizer minimises (log L for normalised GD)."""
    if name != "normalized_gd":
        return losses.resolve(loss)
    base = losses.name_of(loss)
    if base not in ("exp", "logistic"):
        raise ValueError(f"normalized_gd needs the 'exp' or 'logistic' loss, got {base or loss!r}")
    log_loss = losses.log_loss(base)
    if weight_decay == 0:
        return log_loss

    def log_objective(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        penalty = 0.5 * weight_decay * sum(p.pow(2).sum() for p in params)
        return torch.logaddexp(log_loss(outputs, targets), torch.log(penalty))

    return log_objective


def _loss_label(loss) -> str:
    name = losses.name_of(loss)
    return name if name is not None else f"{getattr(loss, '__module__', '?')}.{getattr(loss, '__qualname__', '?')}"


def _check_finite(ok: torch.Tensor, opt: Optimizer, params: Sequence[torch.Tensor], since: int, step: int,
                  name: str) -> None:
    """Raise ``FloatingPointError`` if a step's objective or a parameter stopped being finite."""
    ok = ok & torch.stack([torch.isfinite(p).all() for p in params]).all()
    if not bool(ok):
        where = f"at step {step}" if step - since <= 1 else f"between step {since} and step {step}"
        lr = opt.defaults["lr"] if isinstance(opt, BatchOptimizer) else opt.param_groups[0]["lr"]
        rate = f" with lr={float(lr):g}"
        raise FloatingPointError(f"{name} diverged {where}{rate}: the objective or the parameters are no longer "
                                 "finite; try a smaller step size")


def fit(
    model: nn.Module,
    X,
    y,
    *,
    loss,
    optimizer: str | Optimizer | Callable[[list[torch.Tensor]], Optimizer] = "gd",
    lr: float | None = None,
    steps: int,
    batch_size: int | None = None,
    weight_decay: float = 0.0,
    seed: int = 0,
    scheduler=None,
    callbacks: Sequence[Callback | Callable[[StepInfo], Any]] = (),
    record_every: int | None = None,
    record_at: Iterable[int] | None = None,
    metrics: Sequence[Callable[[nn.Module], float]] | Mapping[str, Callable[[nn.Module], float]] = (),
    eval_data: tuple | None = None,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: int | None = None,
    stop_when: Callable[[dict[str, Any]], bool] | None = None,
    progress: bool | None = None,
) -> History:
    """Train ``model`` in place for ``steps`` updates and return its :class:`History`.

    Each update draws a batch, hands ``optimizer.step`` a closure that clears
    the gradients, evaluates the objective on the batch and back-propagates (the
    convention of ``torch.optim``), steps the scheduler, and calls the callbacks.
    At record points one forward pass of the training set gives a row of the
    History; at checkpoint points the whole state is written.

    Parameters
    ----------
    model
        Any module mapping a batch ``(n, ...)`` to outputs ``(n, ...)``.
        Everything follows the device and dtype of its first parameter.
    X, y
        The training set (tensors or arrays). Moved to the model's device;
        floating data take its dtype, integer targets (class indices) stay integers.
    loss
        A name of :mod:`dltheory.losses` (``square``, ``logistic``, ``exp``,
        ``hinge``, ``ce``) or a callable ``loss(outputs, targets) -> scalar``, a
        mean over examples. Targets are checked once with
        :func:`dltheory.losses.check_targets`.
    optimizer
        A preset of :data:`dltheory.train.PRESETS` (``"gd"``, ``"sgd"``,
        ``"adam"``, ``"sgld"``, ``"ggn"``, ``"normalized_gd"``; see
        :mod:`dltheory.train.optim` for their updates), a ``torch.optim.Optimizer``
        or :class:`~dltheory.train.BatchOptimizer` built on the model's
        parameters, or a factory ``params -> Optimizer`` (e.g.
        ``functools.partial(torch.optim.SGD, lr=0.1, momentum=0.9)``) called
        with the trainable parameters.
    lr, weight_decay
        :math:`\\eta > 0` and :math:`\\lambda_{wd} \\ge 0` of a preset (``lr`` is
        then required); an optimizer passed as an object or a factory carries its own.
    steps
        Number of updates.
    batch_size
        ``None`` (full batch) or an integer in ``[1, n]``. ``gd`` and
        ``normalized_gd`` are full batch; ``sgd`` needs one. Each epoch draws a
        permutation of the examples with ``torch.randperm`` from a CPU generator
        seeded with ``seed`` and cuts it into consecutive batches (the last one
        smaller when ``batch_size`` does not divide ``n``).
    seed
        Seeds the shuffling (and, for the ``sgld`` preset, the noise). The
        global generators are never used, except by a model that draws random
        numbers itself (dropout), which then escapes bit-exact resumption.
    scheduler
        A ``torch.optim.lr_scheduler.LRScheduler`` on the optimizer, or a factory
        ``optimizer -> scheduler`` (needed with a preset). Stepped after every
        update, so its epochs count updates.
    callbacks
        :class:`Callback` objects, or functions ``fn(info: StepInfo)`` called
        after every update.
    record_every, record_at
        Record at step 0, every ``record_every`` steps (default
        ``max(1, steps // 100)``) and at the last step; or at the steps listed in
        ``record_at`` (e.g. :func:`~dltheory.train.log_spaced_steps`), plus 0 and the last.
    metrics
        Functions ``metric(model) -> float`` (column named after the function,
        ``metric_i`` for lambdas) or a dict ``name -> function``, called at every
        record point with the model in eval mode and gradients enabled.
    eval_data
        ``(X_eval, y_eval)``: adds ``eval_loss`` and ``eval_accuracy`` columns.
    checkpoint, checkpoint_every
        A file path, and how often to write it (default ``max(1, min(1000,
        ceil(steps / 10)))`` steps, and at the end). If the file exists, the run
        resumes from it (see Notes).
    stop_when
        A function ``stop_when(row) -> bool`` of each recorded row (a dict of the
        History's columns): training stops after the first record point at which
        it is true, and the History ends with that row; e.g.
        ``lambda row: row["train_accuracy"] == 1`` trains until the training set
        is fitted, checked every ``record_every`` steps. ``steps`` is then a
        budget. A checkpoint of a run that stopped is a finished run's.
    progress
        Show a ``tqdm.auto`` bar (default: at full scale; :mod:`dltheory._progress`).

    Returns
    -------
    History
        One row per record point; see :class:`History` for the columns.

    Raises
    ------
    TypeError, ValueError
        Bad input: data of different lengths, NaN in the data, targets that do not
        fit the loss, an unknown optimizer, ``batch_size`` out of range, a preset
        that does not fit the loss or the batches, a checkpoint of another run.
    FloatingPointError
        The objective or the parameters stopped being finite (checked at record and
        checkpoint points, without synchronising the device at every step; the
        message names the steps in between).

    Notes
    -----
    A checkpoint holds a *fingerprint* of the call (optimizer class and
    hyperparameters, scheduler and its initial state, steps, batch size, seed,
    loss, a digest of the data, the parameter names and shapes, dtype, record
    points, metric and callback names), the step reached, the model's and the
    optimizer's ``state_dict``, the scheduler's, the callbacks', the shuffling
    state, the History and the initial parameters. When ``checkpoint`` exists its
    fingerprint must equal this call's, else ``ValueError`` lists the
    differences. Everything is then restored and training continues from the
    saved step; every source of randomness being restored, the run ends
    bit-identical to an uninterrupted one (same device and library versions). A
    finished run's checkpoint loads its final state and returns its History.
    """
    named = named_parameters(model)
    steps = check_int(steps, "steps", min=0)
    weight_decay = check_real(weight_decay, "weight_decay", min=0.0)
    seed = check_seed(seed)
    opt, name = _optimizer(optimizer, model, lr, weight_decay, seed)
    sched = _scheduler(scheduler, opt)
    params = opt.params if isinstance(opt, BatchOptimizer) else [p for g in opt.param_groups for p in g["params"]]
    hooks = _Callbacks(callbacks)
    if stop_when is not None and not callable(stop_when):
        raise TypeError(f"stop_when must be a function of a recorded row returning a bool, got "
                        f"{type(stop_when).__name__}")

    # ---- the data, the loss and the batches
    loss_fn = losses.resolve(loss)
    X, y = check_Xy(X, y, like=model)
    out0 = probe(model, X)
    losses.check_targets(losses.name_of(loss) or loss_fn, out0, y)
    if name == "ggn" and losses.name_of(loss) != "square":
        raise ValueError(f"ggn (Gram-Gauss-Newton) needs the square loss, got {_loss_label(loss)!r}")
    objective = _objective(name, loss, weight_decay, params)
    eval_data = _eval_data(eval_data, model, loss)
    sampler = _Sampler(X.shape[0], _batch_size(name, batch_size, X.shape[0]), torch.Generator().manual_seed(seed),
                       named[0][1].device)

    # ---- records and checkpoints
    record_at = set(record_points(steps, record_every, record_at))
    metric_items = metric_list(metrics)
    theta0 = torch.nn.utils.parameters_to_vector(model.parameters()).detach().clone()
    history, start, store, save_at = History(), 0, None, set()
    if checkpoint is not None:
        fingerprint = plain({
            **describe(opt, sched), "preset": name if isinstance(optimizer, str) else None, "steps": steps,
            "batch_size": sampler.batch_size, "seed": seed, "loss": _loss_label(loss), "weight_decay": weight_decay,
            "n": X.shape[0], "data": digest(X, y), "eval_data": None if eval_data is None else digest(*eval_data),
            "parameters": [[pname, list(p.shape)] for pname, p in named], "dtype": str(named[0][1].dtype),
            "record_at": sorted(record_at), "metrics": [m for m, _ in metric_items], "callbacks": hooks.names(),
            "stop_when": None if stop_when is None else getattr(stop_when, "__qualname__", type(stop_when).__name__),
        })
        store = Checkpoint(Path(checkpoint).expanduser(), fingerprint, {
            "model": model, "optimizer": opt, "scheduler": sched, "sampler": sampler, "callbacks": hooks}, steps)
        every = check_int(checkpoint_every, "checkpoint_every", min=1, allow_none=True)
        save_at = set(record_points(steps, every or max(1, min(1000, math.ceil(steps / 10))))) - {0} | {steps}
        saved = store.restore()
        if saved is not None:
            history, start = History.from_json(saved["history"]), int(saved["step"])
            theta0 = saved["init"].to(theta0)
            if saved["finished"]:
                return history
    elif checkpoint_every is not None:
        raise ValueError("checkpoint_every was given without a checkpoint path")
    recorder = Recorder(model, loss_fn, X, y, task_of(out0, y), params=params, theta0=theta0,
                        weight_decay=weight_decay if isinstance(optimizer, str) else 0.0,
                        metrics=metric_items, eval_data=eval_data)

    def record(info: StepInfo) -> bool:
        """Append the row of ``info.step``; whether ``stop_when`` says to stop there."""
        row = recorder.row(info.step)
        hooks.on_record(info, row)
        history.append(row)
        bar.set_postfix(loss=f"{row['loss']:.4g}")
        return stop_when is not None and bool(stop_when(row))

    def closure() -> torch.Tensor:
        opt.zero_grad(set_to_none=True)
        value = objective(model(Xb), yb)
        value.backward()
        return value

    # ---- the loop
    finite, checked = torch.ones((), dtype=torch.bool, device=named[0][1].device), start
    with progress_bar(total=steps, initial=start, desc=f"fit[{name}]", progress=progress) as bar:
        stopped = False
        if start == 0:
            stopped = record(StepInfo(0, model, opt, None, None, None, history))
            if 0 in save_at or (stopped and store is not None):
                store.save(0, history.to_json(), theta0, finished=stopped)
        for t in range(start + 1, start + 1 if stopped else steps + 1):  # none if row 0 already stops
            idx = sampler.next()
            Xb, yb = (X, y) if idx is None else (X[idx], y[idx])
            if isinstance(opt, BatchOptimizer):
                try:
                    value = opt.step(Xb, yb).detach()
                except FloatingPointError as err:
                    raise FloatingPointError(f"step {t}: {err}") from err
            else:
                value = opt.step(closure).detach()
            finite &= torch.isfinite(value)
            if sched is not None:
                sched.step()
            info = StepInfo(t, model, opt, Xb, yb, value, history)
            hooks.on_step(info)
            if t in record_at or t in save_at:
                _check_finite(finite, opt, params, checked, t, name)
                checked = t
            if t in record_at:
                stopped = record(info)
            if t in save_at or (stopped and store is not None):
                store.save(t, history.to_json(), theta0, finished=stopped)
            bar.update(1)
            if stopped:
                break
    if isinstance(opt, torch.optim.Optimizer):
        opt.zero_grad(set_to_none=True)  # the model leaves as it came, without gradients
    return history
