"""Boolean data on the hypercube :math:`\\{\\pm 1\\}^d`: the sparse parity of Wei, Lee, Liu, Ma (2019).

Sampling follows the contract of :mod:`dltheory.data`: a local generator seeded
with ``seed`` on the CPU, then a cast to ``dtype`` and a move to ``device``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .._checks import check_device, check_dtype, check_int, check_seed
from ._sampling import Device

__all__ = ["sparse_parity"]


def sparse_parity(
    n: int,
    d: int,
    k: int = 2,
    *,
    seed: int = 0,
    device: Device = "cpu",
    dtype: torch.dtype = torch.float32,
) -> tuple[Tensor, Tensor]:
    """Uniform points of the hypercube labelled by the product of their first ``k`` coordinates.

    .. math::  x \\sim \\mathrm{Uniform}(\\{\\pm 1\\}^d), \\qquad y = \\prod_{j=1}^k x_j \\in \\{\\pm 1\\}.

    With ``k = 2`` this is :math:`y = x_1 x_2`, the distribution on which Wei,
    Lee, Liu, Ma (2019, Theorem 2.1) separate a regularised two-layer network,
    which learns it from :math:`O(d)` examples (up to logarithms), from the
    network's neural tangent kernel, which needs :math:`\\Omega(d^2)`. Half of
    the labels are :math:`+1` in expectation, and for ``k >= 2`` the label is
    uncorrelated with every single coordinate, so no linear classifier beats
    chance.

    Parameters
    ----------
    n, d
        Number of examples and dimension.
    k
        Number of relevant coordinates, :math:`1 \\le k \\le d`.

    Returns
    -------
    X, y
        ``(n, d)`` inputs with entries :math:`\\pm 1` and ``(n,)`` labels in
        :math:`\\{\\pm 1\\}`, both in ``dtype``.
    """
    n, d = check_int(n, "n", min=1), check_int(d, "d", min=1)
    k = check_int(k, "k", min=1, max=d)
    dtype, device = check_dtype(dtype), check_device(device)
    g = torch.Generator().manual_seed(check_seed(seed))
    X = 2.0 * torch.randint(0, 2, (n, d), generator=g).to(torch.float64) - 1.0
    y = X[:, :k].prod(dim=1)
    return X.to(dtype=dtype, device=device), y.to(dtype=dtype, device=device)
