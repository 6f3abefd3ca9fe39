"""Input checks shared by every module: one message for one mistake.

The contract is that of ``sklearn.utils.check_scalar``: a value of the wrong
*type* raises ``TypeError``, a value of the right type out of its range raises
``ValueError``, and both read ``"<name> must be <what>, got <value>"``, so the
same mistake gets the same exception and the same words wherever it is made.
Booleans are never numbers here (``steps=True`` is a mistake, not 1); NumPy
integers and floats count as Python ones.

A few checks concern models and data rather than scalars:

* :func:`named_parameters` (a module with parameters),
* :func:`as_tensor` and :func:`check_Xy` (array-likes become tensors on the
  model's device, floating ones in its dtype; examples along dimension 0;
  no NaN or inf),
* :func:`probe` (the model's outputs on a batch, computed without touching its
  state: evaluation mode, copied buffers, no gradients).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Collection, Mapping
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.func import functional_call

SEED_LIMIT = 2**63


def _shown(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)}"
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    return repr(value)


def _number(x) -> str:
    return str(x) if isinstance(x, int) else f"{x:g}"


def _interval(low, high, low_open: bool, high_open: bool) -> str:
    if low is not None and high is not None:
        return f"in {'(' if low_open else '['}{_number(low)}, {_number(high)}{')' if high_open else ']'}"
    if low is not None:
        return f"{'>' if low_open else '>='} {_number(low)}"
    return f"{'<' if high_open else '<='} {_number(high)}"


def _int_kind(low, high) -> str:
    if high is None and low == 1:
        return "a positive integer"
    if high is None and low == 0:
        return "a non-negative integer"
    if low is None and high is None:
        return "an integer"
    return f"an integer {_interval(low, high, False, False)}"


def _real_kind(low, high, low_open: bool, high_open: bool) -> str:
    if high is None and low == 0:
        return "a positive number" if low_open else "a non-negative number"
    if low is None and high is None:
        return "a finite number"
    return f"a number {_interval(low, high, low_open, high_open)}"


def is_integer(value: Any) -> bool:
    """A Python or NumPy integer, not a bool."""
    return isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, (bool, np.bool_))


def is_real(value: Any) -> bool:
    """A Python or NumPy real number, not a bool."""
    return isinstance(value, (numbers.Real, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def check_int(value: Any, name: str, *, min: int | None = None, max: int | None = None,  # noqa: A002
              allow_none: bool = False, kind: str | None = None) -> int | None:
    """``value`` as an ``int`` within ``[min, max]``; ``None`` passes when ``allow_none``.

    ``kind`` replaces the generated description ("a positive integer") in the message.
    """
    if value is None and allow_none:
        return None
    kind = (kind or _int_kind(min, max)) + (" or None" if allow_none else "")
    if not is_integer(value):
        raise TypeError(f"{name} must be {kind}, got {_shown(value)}")
    if (min is not None and value < min) or (max is not None and value > max):
        raise ValueError(f"{name} must be {kind}, got {value!r}")
    return int(value)


def check_real(value: Any, name: str, *, min: float | None = None, max: float | None = None,  # noqa: A002
               min_open: bool = False, max_open: bool = False, allow_none: bool = False) -> float | None:
    """``value`` as a finite ``float`` within the given bounds (open or closed)."""
    if value is None and allow_none:
        return None
    kind = _real_kind(min, max, min_open, max_open) + (" or None" if allow_none else "")
    if not is_real(value):
        raise TypeError(f"{name} must be {kind}, got {_shown(value)}")
    try:
        x = float(value)
    except OverflowError:  # an integer beyond the floats
        x = math.inf
    below = min is not None and (x <= min if min_open else x < min)
    above = max is not None and (x >= max if max_open else x > max)
    if not math.isfinite(x) or below or above:
        raise ValueError(f"{name} must be {kind}, got {value!r}")
    return x


def check_probability(value: Any, name: str, *, open: bool = True) -> float:  # noqa: A002
    """A probability: in ``(0, 1)`` (``open``, e.g. a failure probability) or in ``[0, 1]``."""
    return check_real(value, name, min=0.0, max=1.0, min_open=open, max_open=open)


def check_interval(interval: Any, name: str = "interval") -> tuple[float, float]:
    """A pair ``(a, b)`` of finite reals with ``a < b``."""
    if not isinstance(interval, (tuple, list)) or len(interval) != 2:
        raise TypeError(f"{name} must be a pair (a, b), got {interval!r}")
    a, b = (check_real(v, f"{name}[{i}]") for i, v in enumerate(interval))
    if not a < b:
        raise ValueError(f"{name} must be (a, b) with a < b, got {tuple(interval)}")
    return a, b


def check_bool(value: Any, name: str) -> bool:
    """``True`` or ``False`` (NumPy's bool too), nothing else."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {_shown(value)}")
    return bool(value)


def check_choice(value: Any, name: str, choices: Collection) -> Any:
    """One of ``choices`` (the keys of a mapping), else ``ValueError`` listing them."""
    options = list(choices.keys() if isinstance(choices, Mapping) else choices)
    try:
        known = bool(value in options)
    except (TypeError, ValueError):  # unhashable, uncomparable, or an array's ambiguous truth value
        known = False
    if not known:
        raise ValueError(f"unknown {name} {value!r}; choose one of {options}")
    return value


def check_seed(value: Any, name: str = "seed") -> int:
    """A seed: an integer in ``[0, 2**63)``, which every torch generator accepts."""
    return check_int(value, name, min=0, max=SEED_LIMIT - 1, kind="a non-negative integer below 2**63")


def check_dtype(dtype: Any, name: str = "dtype") -> torch.dtype:
    """A floating-point ``torch.dtype``."""
    if not isinstance(dtype, torch.dtype):
        raise TypeError(f"{name} must be a floating-point torch dtype such as torch.float32, got {_shown(dtype)}")
    if not dtype.is_floating_point:
        raise ValueError(f"{name} must be a floating-point torch dtype such as torch.float32, got {dtype}")
    return dtype


def check_device(device: Any, name: str = "device") -> torch.device:
    """A ``torch.device`` from a device or its name (``'cpu'``, ``'cuda:0'``, ...)."""
    if not isinstance(device, (str, torch.device)):
        raise TypeError(f"{name} must be a torch.device or a name such as 'cpu' or 'cuda', got {_shown(device)}")
    try:
        return torch.device(device)
    except RuntimeError as err:
        raise ValueError(f"unknown {name} {device!r}; use 'cpu', 'cuda', 'cuda:N' or 'mps'") from err


def check_module(model: Any, name: str = "model") -> nn.Module:
    """A ``torch.nn.Module``."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"{name} must be a torch.nn.Module, got {type(model).__name__}")
    return model


def named_parameters(model: Any) -> list[tuple[str, torch.Tensor]]:
    """The model's named parameters, in ``parameters_to_vector`` order; ``ValueError`` if it has none."""
    named = list(check_module(model).named_parameters())
    if not named:
        raise ValueError(f"{type(model).__name__} has no parameters: there is nothing to differentiate")
    return named


def as_tensor(x: Any, name: str) -> torch.Tensor:
    """A detached tensor from a tensor, a NumPy array or a (nested) list of numbers."""
    if isinstance(x, torch.Tensor):
        return x.detach()
    if isinstance(x, (np.ndarray, list, tuple, numbers.Number)):
        try:
            return torch.as_tensor(np.asarray(x))
        except (TypeError, ValueError, RuntimeError) as err:
            raise TypeError(f"{name} must be a tensor or an array of numbers, got {type(x).__name__}") from err
    raise TypeError(f"{name} must be a tensor or an array of numbers, got {type(x).__name__}")


def check_tensor(x: Any, name: str, *, ndim: int | None = None, finite: bool = True) -> torch.Tensor:
    """A tensor (array-likes converted) with examples along dimension 0.

    At least one example, exactly ``ndim`` dimensions when given (at least one
    otherwise), and no NaN or inf in a floating tensor when ``finite``.
    """
    t = as_tensor(x, name)
    if ndim is not None and t.ndim != ndim:
        what = {1: "a vector (n,)", 2: "a matrix (n examples x d features)"}.get(ndim, f"a {ndim}-d tensor")
        raise ValueError(f"{name} must be {what}, got shape {tuple(t.shape)}")
    if t.ndim == 0 or t.shape[0] == 0:
        raise ValueError(f"{name} must hold at least one example along its first dimension, got shape {tuple(t.shape)}")
    if finite and (t.is_floating_point() or t.is_complex()) and not torch.isfinite(t).all():
        raise ValueError(f"{name} contains NaN or inf")
    return t


def _place(t: torch.Tensor, like: torch.Tensor | None) -> torch.Tensor:
    if like is None:
        return t
    return t.to(device=like.device, dtype=like.dtype if t.is_floating_point() else None)


def reference_tensor(model: nn.Module) -> torch.Tensor:
    """The model's first parameter (or buffer): where its inputs must go and in which dtype."""
    for t in model.parameters():
        return t
    for t in model.buffers():
        return t
    raise ValueError(f"{type(model).__name__} has no parameters or buffers to say its device and dtype")


def _reference(like: Any) -> torch.Tensor | None:
    if like is None or isinstance(like, torch.Tensor):
        return like
    if isinstance(like, nn.Module):
        return reference_tensor(like)
    raise TypeError(f"like must be a model or a tensor (what the data should be placed like), "
                    f"got {type(like).__name__}")


def check_Xy(X: Any, y: Any, *, like: nn.Module | torch.Tensor | None = None, X_ndim: int | None = None,
             names: tuple[str, str] = ("X", "y")) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs and targets with the same number of examples, finite, and placed like ``like``.

    ``like`` is a model (its first parameter) or a tensor: the data move to its
    device and floating data take its dtype; integer targets (class indices)
    stay integers.
    """
    xn, yn = names
    X = check_tensor(X, xn, ndim=X_ndim)
    y = check_tensor(y, yn)
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"{xn} has {X.shape[0]} examples but {yn} has {y.shape[0]}")
    return _place(X, _reference(like)), _place(y, _reference(like))


def check_X(X: Any, *, like: nn.Module | torch.Tensor | None = None, ndim: int | None = None,
            name: str = "X") -> torch.Tensor:
    """Inputs alone, checked and placed as by :func:`check_Xy`."""
    X = check_tensor(X, name, ndim=ndim)
    return _place(X, _reference(like))


def check_class_indices(y: torch.Tensor, num_classes: int, what: str) -> torch.Tensor:
    """Class indices: a 1-d integer tensor (any integer dtype, not bool) with values in ``[0, num_classes)``.

    ``what`` names who needs them in the message ("ce loss", "a 3-output model").
    """
    if y.ndim != 1 or y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
        raise ValueError(f"{what} needs integer class indices of shape (n,), got {y.dtype} of shape "
                         f"{tuple(y.shape)}")
    if y.numel() and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"{what}: class indices must lie in [0, {num_classes - 1}]")
    return y


def check_sign_labels(y: torch.Tensor, what: str) -> torch.Tensor:
    """Binary labels: every entry +1 or -1 (``what`` names who needs them in the message)."""
    if not ((y == 1) | (y == -1)).all():
        raise ValueError(f"{what} needs labels in {{-1, +1}} (for 0/1 labels use 2 * y - 1)")
    return y


def probe(model: nn.Module, X: torch.Tensor, name: str = "X") -> torch.Tensor:
    """The model's outputs on ``X``, computed without changing the model.

    The model runs in evaluation mode (dropout off, batch norm on its running
    statistics) on copies of its buffers and without gradients, and its mode is
    restored. A model that cannot take ``X``, or does not return one output row
    per example, is a ``ValueError`` that says so.
    """
    was_training = model.training
    state = {name_: p for name_, p in model.named_parameters()}
    state.update({name_: b.clone() for name_, b in model.named_buffers()})
    model.eval()
    try:
        with torch.no_grad():
            out = functional_call(model, state, (X,))
    except (RuntimeError, ValueError, IndexError, TypeError) as err:
        raise ValueError(f"the model cannot be applied to {name} of shape {tuple(X.shape)}: {err}") from err
    finally:
        model.train(was_training)
    if not isinstance(out, torch.Tensor) or out.ndim < 1 or out.shape[0] != X.shape[0]:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(f"the model must return one output row per example; on {name} of shape "
                         f"{tuple(X.shape)} it returned {shape}")
    return out
