"""Matrix sensing: a low-rank PSD matrix seen through random linear measurements.

The problem of Gunasekar, Woodworth, Bhojanapalli, Neyshabur and Srebro (2017,
"Implicit regularization in matrix factorization"): recover
:math:`M^* \\in \\mathbb{R}^{d\\times d}`, symmetric positive semidefinite of rank
:math:`r`, from :math:`n < d(d+1)/2` measurements

.. math::  y_i = \\langle A_i, M^*\\rangle = \\operatorname{tr}(A_i M^*), \\qquad i = 1, \\dots, n,

with symmetric Gaussian :math:`A_i`. The linear system has a whole affine space
of symmetric solutions; which one a method returns is its implicit bias. Above
about :math:`c\\,rd` measurements the minimum-nuclear-norm solution is
:math:`M^*` itself (Recht, Fazel, Parrilo 2010), while the minimum-Frobenius-norm
solution is the orthogonal projection of :math:`M^*` onto the span of the
:math:`A_i`, which keeps only about :math:`n / (d(d+1)/2)` of its squared norm.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .._checks import check_dtype, check_int, check_seed
from ._sampling import Device

__all__ = ["matrix_sensing"]


def matrix_sensing(d: int, r: int, n: int, *, seed: int = 0, device: Device = "cpu",
                   dtype: torch.dtype = torch.float32) -> tuple[Tensor, Tensor, Tensor]:
    """Gaussian measurements of a random rank-``r`` PSD matrix (Gunasekar et al. 2017).

    :math:`M^* = VV^\\top / \\lVert VV^\\top\\rVert_F` with :math:`V \\in \\mathbb{R}^{d\\times r}`
    i.i.d. standard normal, so :math:`\\lVert M^*\\rVert_F = 1`; each
    :math:`A_i = (G_i + G_i^\\top)/2` with :math:`G_i` i.i.d. standard normal
    (the symmetric part of a Gaussian matrix: diagonal entries :math:`N(0, 1)`,
    off-diagonal ones :math:`N(0, 1/2)`); :math:`y_i = \\langle A_i, M^*\\rangle`,
    so :math:`y_i \\sim N(0, 1)`. Sampled in float64 on the CPU from ``seed``
    (first :math:`V`, then the :math:`G_i`), then cast and moved.

    Returns
    -------
    A, y, M_star
        ``(n, d, d)`` symmetric measurement matrices, ``(n,)`` measurements,
        ``(d, d)`` the matrix to recover.
    """
    d = check_int(d, "d", min=1)
    r = check_int(r, "r", min=1, max=d)
    n = check_int(n, "n", min=1)
    dtype = check_dtype(dtype)
    g = torch.Generator().manual_seed(check_seed(seed))
    V = torch.randn(d, r, generator=g, dtype=torch.float64)
    M = V @ V.T
    M = M / torch.linalg.matrix_norm(M)
    G = torch.randn(n, d, d, generator=g, dtype=torch.float64)
    A = (G + G.transpose(1, 2)) / 2
    y = torch.einsum("nij,ij->n", A, M)
    return A.to(device=device, dtype=dtype), y.to(device=device, dtype=dtype), M.to(device=device, dtype=dtype)
