"""Checker of chapter 4's exercise on counting the parameters of fully connected, local and convolutional layers."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .core import Feedback, check_function

__all__ = ["check_layer_parameters"]

HINT = ("the output has C_out channels of size H' = H - k + 1 by W' = W - k + 1. A dense layer joins every "
        "output unit to all C_in H W inputs; a locally connected one to its C_in k^2 window, with its own "
        "weights at every location; a convolution shares one set of C_in k^2 weights per output channel. "
        "Count one bias per output unit (dense, local) or per output channel (convolution).")

#: (C_in, C_out, H, W, k): channels, size and kernel differ in every case, and H != W in one
CASES = [(1, 4, 14, 14, 5), (3, 8, 32, 32, 3), (2, 5, 9, 7, 4), (16, 32, 7, 7, 1)]


def _counts(c_in: int, c_out: int, h: int, w: int, k: int) -> tuple[int, int, int]:
    locations = (h - k + 1) * (w - k + 1)
    return ((c_in * h * w + 1) * c_out * locations, (c_in * k * k + 1) * c_out * locations,
            (c_in * k * k + 1) * c_out)


def _reference(c_in: int, c_out: int, h: int, w: int, k: int) -> np.ndarray:
    return np.array(_counts(c_in, c_out, h, w, k), dtype=np.int64)


def _mistakes(c_in: int, c_out: int, h: int, w: int, k: int) -> dict[str, np.ndarray]:
    """What the typical wrong answers compute, with the explanation to give for each."""
    fc, local, conv = _counts(c_in, c_out, h, w, k)
    locations = (h - k + 1) * (w - k + 1)
    return {
        "no biases: every output unit of the dense and local layers, and every output channel of the "
        "convolution, has one": np.array([c_in * h * w * c_out * locations, c_in * k * k * c_out * locations,
                                          c_in * k * k * c_out]),
        "the output has the input's size H x W: without padding a k x k window fits in only "
        "(H - k + 1)(W - k + 1) places": np.array([(c_in * h * w + 1) * c_out * h * w,
                                                   (c_in * k * k + 1) * c_out * h * w, conv]),
        "k weights per window instead of k^2 (the window is k x k)": np.array(
            [fc, (c_in * k + 1) * c_out * locations, (c_in * k + 1) * c_out]),
        "the input channels are missing: a window spans all C_in channels": np.array(
            [(h * w + 1) * c_out * locations, (k * k + 1) * c_out * locations, (k * k + 1) * c_out]),
        "one bias per output channel in the locally connected layer: like its weights, its biases are not "
        "shared (one per channel and location)": np.array([fc, c_in * k * k * c_out * locations + c_out, conv]),
        "the dense layer counted with one output per channel, not one per output unit": np.array(
            [(c_in * h * w + 1) * c_out, local, conv]),
    }


def check_layer_parameters(fn: Callable[..., object]) -> Feedback:
    """Check an implementation of ``layer_parameters(c_in, c_out, h, w, k)``.

    The answer is the triple ``(dense, local, conv)`` of parameter counts of a
    layer from ``c_in`` channels of size ``h x w`` to ``c_out`` channels of size
    :math:`(h - k + 1) \\times (w - k + 1)` (stride 1, no padding, biases
    included): a dense layer with one output per output unit,
    :math:`(C_{in}HW + 1)\\,C_{out}H'W'`; a locally connected layer
    (:class:`dltheory.models.LocallyConnected2d`), :math:`(C_{in}k^2 + 1)\\,C_{out}H'W'`;
    a convolution, :math:`(C_{in}k^2 + 1)\\,C_{out}`. The reference counts
    the parameters of the three layers built in torch (see the tests). Typical
    mistakes are named: no biases, the output taken as large as the input,
    :math:`k` for :math:`k^2`, no input channels, a shared bias in the local
    layer, a dense layer with one output per channel.
    """
    return check_function(fn, _reference, CASES, name=getattr(fn, "__name__", "layer_parameters"), hint=HINT,
                          rtol=0.0, mistakes=_mistakes)
