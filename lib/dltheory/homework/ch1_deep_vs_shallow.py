"""Checker of chapter 1's exercise on locally connected layers (section "Deep versus shallow")."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from ..models import LocallyConnected2d
from .core import Feedback, _to_numpy, check_function

__all__ = ["check_locally_connected"]

# (n, in_channels, (H, W), out_channels, kernel, stride): the tree's first level (windows side by side),
# overlapping rectangular windows, unequal strides, and a case with tied weights (a convolution).
_SHAPES = [
    (3, 1, (1, 8), 4, (1, 2), (1, 2)),
    (2, 2, (5, 6), 3, (2, 3), (1, 1)),
    (2, 3, (6, 7), 2, (3, 2), (2, 1)),
]


def _cases() -> list[tuple]:
    g = torch.Generator().manual_seed(0)
    cases = []
    for n, c_in, (h, w), c_out, (kh, kw), (sh, sw) in _SHAPES:
        oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
        x = torch.randn(n, c_in, h, w, generator=g, dtype=torch.float64)
        weight = torch.randn(oh, ow, c_out, c_in, kh, kw, generator=g, dtype=torch.float64)
        bias = torch.randn(c_out, oh, ow, generator=g, dtype=torch.float64)
        cases.append((x, weight, bias, (sh, sw)))
    # tied: one filter and one bias for every location, so the answer must be F.conv2d's
    x, weight, bias, stride = cases[1]
    oh, ow = weight.shape[:2]
    tied_weight = weight[0, 0].expand(oh, ow, *weight.shape[2:]).clone()
    tied_bias = bias[:, :1, :1].expand_as(bias).clone()
    cases.append((x, tied_weight, tied_bias, stride))
    return cases


def _layer(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, stride) -> LocallyConnected2d:
    oh, ow, c_out, c_in, kh, kw = weight.shape
    layer = LocallyConnected2d(c_in, c_out, tuple(x.shape[2:]), (kh, kw), stride, bias=bias is not None,
                               dtype=weight.dtype)
    with torch.no_grad():
        layer.weight.copy_(weight)
        if bias is not None:
            layer.bias.copy_(bias)
    return layer


def _reference(x, weight, bias, stride) -> torch.Tensor:
    with torch.no_grad():
        return _layer(x, weight, bias, stride)(x)


def _same(answer, candidate: torch.Tensor) -> bool:
    ans = _to_numpy(answer)
    cand = candidate.detach().numpy()
    if ans is None or ans.shape != cand.shape:
        return False
    return bool(torch.allclose(torch.as_tensor(ans, dtype=torch.float64), candidate, rtol=1e-8, atol=1e-10))


def _diagnose(answer, x, weight, bias, stride) -> str | None:
    ans = _to_numpy(answer)
    if ans is None:
        return None
    oh, ow, c_out, c_in, kh, kw = weight.shape
    n = x.shape[0]
    if ans.shape == (n, c_out, oh * ow):
        return "reshape the (n, out_channels, H' W') result to (n, out_channels, H', W')."
    if ans.shape[:2] == (n, c_out) and ans.ndim == 4 and ans.shape[2:] != (oh, ow):
        full = ((x.shape[2] - kh) + 1, (x.shape[3] - kw) + 1)
        if ans.shape[2:] == full:
            return "the output has the size of a stride-1 layer: pass stride=stride to F.unfold."
        return None
    if ans.shape != (n, c_out, oh, ow):
        return None
    first_filter = F.conv2d(x, weight[0, 0], bias[:, 0, 0], stride=stride)
    if _same(answer, first_filter):
        return ("every location used the filter of the first one, weight[0, 0]: that is a convolution. "
                "A locally connected layer applies weight[i, j] at output location (i, j).")
    if _same(answer, _reference(x, weight, None, stride)):
        return "the bias is missing: add bias[o, i, j] at channel o, location (i, j)."
    if oh > 1 and ow > 1:
        column_major = weight.permute(1, 0, 2, 3, 4, 5).reshape(weight.shape)
        biases = (bias, bias.permute(0, 2, 1).reshape(bias.shape))
        if any(_same(answer, _reference(x, column_major, b, stride)) for b in biases):
            return ("the locations are matched to the wrong filters: F.unfold lists the H' W' locations row by "
                    "row (the column index j runs fastest), the order of weight.reshape(H' * W', ...).")
    if c_in > 1 and kh * kw > 1:
        kernel_first = weight.permute(0, 1, 2, 4, 5, 3).reshape(weight.shape)
        if _same(answer, _reference(x, kernel_first, bias, stride)):
            return ("the entries of a window are in the wrong order: a column of F.unfold runs over the channel "
                    "first, then the kernel row, then the kernel column, the order of weight[i, j, o].reshape(-1).")
    return None


def check_locally_connected(fn: Callable[..., torch.Tensor]) -> Feedback:
    """Check ``locally_connected(x, weight, bias, stride) -> y``, a locally connected layer.

    ``x`` is ``(n, C, H, W)``, ``weight`` ``(H', W', C_out, C, k_h, k_w)`` (one
    filter per output location), ``bias`` ``(C_out, H', W')`` and ``stride`` a
    pair; the result is ``(n, C_out, H', W')``, no padding. The reference is
    :class:`dltheory.models.LocallyConnected2d`; the last test case ties the
    weights, where the answer must equal ``F.conv2d``.
    """
    return check_function(
        fn,
        _reference,
        _cases(),
        name="locally_connected",
        hint=("F.unfold(x, (k_h, k_w), stride=stride) gives the windows as the columns of an (n, C k_h k_w, H' W') "
              "tensor, location by location, row by row. Column l needs the filter of location l, "
              "weight.reshape(H' * W', C_out, -1)[l]: apply all of them in one torch.einsum, add the bias and "
              "reshape the result to (n, C_out, H', W')."),
        rtol=1e-10,
        diagnose=_diagnose,
    )
