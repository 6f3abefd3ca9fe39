"""Linear networks whose parametrisation, not their function class, decides what gradient descent finds.

Every model here computes a linear function of its input (a linear predictor,
or a linear function of a measurement matrix), so the function class is the
same as that of a single linear layer. What differs is the map from parameters
to the end-to-end predictor, and with it the implicit bias of gradient descent
(Gunasekar, Lee, Soudry, Srebro 2018, "Implicit bias of gradient descent on
linear convolutional networks"; Gunasekar, Woodworth, Bhojanapalli, Neyshabur,
Srebro 2017, "Implicit regularization in matrix factorization"):

===============================  ================================================  =============================
model                            end-to-end map                                    bias of gradient descent
===============================  ================================================  =============================
:class:`FullyConnectedLinear`    :math:`\\beta = W_1^\\top \\cdots W_{L-1}^\\top w_L`     :math:`\\ell_2` max margin
:class:`CircularConvLinear`      :math:`\\hat\\beta = \\hat w_1 \\odot \\cdots \\odot \\hat w_L` (DFT)   :math:`\\lVert\\hat\\beta\\rVert_{2/L}` in Fourier
:class:`SymmetricFactorization`  :math:`M = UU^\\top`                                  nuclear norm (small init)
===============================  ================================================  =============================

Each constructor draws its parameters on the CPU in float64 from ``seed``
(without touching the global generators) and casts and moves them at the end,
as the other constructors of :mod:`dltheory.models` do.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .._checks import check_device, check_dtype, check_int, check_real, check_seed, check_tensor

__all__ = ["CircularConvLinear", "FullyConnectedLinear", "SymmetricFactorization", "fourier_concentration"]


def _generator(seed: int | None) -> torch.Generator:
    g = torch.Generator()
    g.manual_seed(0 if seed is None else check_seed(seed))
    return g


def _place(t: torch.Tensor, dtype, device) -> nn.Parameter:
    dtype = torch.get_default_dtype() if dtype is None else check_dtype(dtype)
    device = torch.device("cpu") if device is None else check_device(device)
    return nn.Parameter(t.to(dtype=dtype, device=device))


class CircularConvLinear(nn.Module):
    """A linear circular convolutional network of depth :math:`L` (Gunasekar et al. 2018, sec. 4).

    With filters :math:`w_1, \\dots, w_L \\in \\mathbb{R}^d`, the hidden layers are
    full-width circular cross-correlations and the last layer reads out linearly:

    .. math::  h_0 = x, \\qquad h_l[i] = \\sum_{k=0}^{d-1} w_l[k]\\, h_{l-1}[(i + k) \\bmod d]
               \\quad (l < L), \\qquad f(x) = \\langle w_L, h_{L-1}\\rangle .

    The network is linear, :math:`f(x) = \\langle\\beta, x\\rangle`, and in the
    discrete Fourier basis (:math:`\\hat v = Fv`, ``numpy.fft.fft``) the
    end-to-end predictor is the entry-wise product of the filters' transforms,

    .. math::  \\hat\\beta = \\hat w_1 \\odot \\hat w_2 \\odot \\cdots \\odot \\hat w_L ,

    since cross-correlation with a real filter multiplies by
    :math:`\\overline{\\hat w}` and :math:`\\langle a, b\\rangle =
    \\frac1d\\sum_k \\overline{\\hat a_k}\\hat b_k`. Gunasekar et al. (Theorem 2)
    prove that gradient descent on a separable problem with the exponential or
    logistic loss sends :math:`\\beta` in the direction of a first-order
    stationary point of :math:`\\min \\lVert\\hat\\beta\\rVert_{2/L}` subject to
    :math:`y_i\\langle\\beta, x_i\\rangle \\ge 1`: for :math:`L = 2` an
    :math:`\\ell_1` norm in the Fourier domain, which favours few frequencies.
    (They scale the layers by :math:`1/\\sqrt d`; that constant only rescales time.)

    Parameters
    ----------
    d, depth
        Signal length :math:`d` and number of layers :math:`L \\ge 1` (``depth = 1``
        is a linear model).
    init_scale
        Each filter has i.i.d. :math:`N(0, s^2/d)` entries, so its norm is about :math:`s`.
    seed, dtype, device
        As for the other constructors of :mod:`dltheory.models`.

    Attributes
    ----------
    filters : nn.Parameter
        ``(depth, d)``: row ``l`` is :math:`w_{l+1}`.
    """

    def __init__(self, d: int, depth: int, *, init_scale: float = 1.0, seed: int | None = None,
                 dtype: torch.dtype | None = None, device: torch.device | str | None = None) -> None:
        super().__init__()
        self.d = check_int(d, "d", min=1)
        self.depth = check_int(depth, "depth", min=1)
        s = check_real(init_scale, "init_scale", min=0.0)
        w = torch.randn(self.depth, self.d, generator=_generator(seed), dtype=torch.float64) * (s / math.sqrt(self.d))
        self.filters = _place(w, dtype, device)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        """Outputs ``(n, 1)`` for inputs ``(n, d)``."""
        if X.ndim != 2 or X.shape[1] != self.d:
            raise ValueError(f"X must have shape (n, {self.d}), got {tuple(X.shape)}")
        h = X
        for w in self.filters[:-1]:
            # cross-correlation with a real filter: multiply the transform by conj(w_hat)
            h = torch.fft.irfft(torch.fft.rfft(h, dim=1) * torch.fft.rfft(w).conj(), n=self.d, dim=1)
        return (h @ self.filters[-1])[:, None]

    def predictor(self) -> torch.Tensor:
        """The end-to-end linear predictor :math:`\\beta = F^{-1}(\\hat w_1 \\odot \\cdots \\odot \\hat w_L)`, ``(d,)``."""
        w = self.filters.detach()
        return torch.fft.irfft(torch.fft.rfft(w, dim=1).prod(dim=0), n=self.d)


class FullyConnectedLinear(nn.Module):
    """A deep linear fully connected network :math:`f(x) = w_L^\\top W_{L-1} \\cdots W_1 x`, width :math:`d`.

    The baseline of Gunasekar et al. (2018, Theorem 1): for every depth, gradient
    descent with the exponential or logistic loss on separable data sends
    :math:`\\beta = W_1^\\top \\cdots W_{L-1}^\\top w_L` in the direction of the
    :math:`\\ell_2` max-margin (hard-margin SVM) predictor, as for a linear model.
    Entries of every layer are i.i.d. :math:`N(0, s^2/d)` (``init_scale`` :math:`= s`).
    ``depth = 1`` is a linear model.

    Attributes
    ----------
    hidden : nn.ParameterList
        The ``depth - 1`` square matrices :math:`W_1, \\dots, W_{L-1}`, ``(d, d)`` each.
    readout : nn.Parameter
        :math:`w_L`, ``(d,)``.
    """

    def __init__(self, d: int, depth: int, *, init_scale: float = 1.0, seed: int | None = None,
                 dtype: torch.dtype | None = None, device: torch.device | str | None = None) -> None:
        super().__init__()
        self.d = check_int(d, "d", min=1)
        self.depth = check_int(depth, "depth", min=1)
        s = check_real(init_scale, "init_scale", min=0.0) / math.sqrt(self.d)
        g = _generator(seed)
        mats = [torch.randn(self.d, self.d, generator=g, dtype=torch.float64) * s for _ in range(self.depth - 1)]
        self.hidden = nn.ParameterList([_place(m, dtype, device) for m in mats])
        self.readout = _place(torch.randn(self.d, generator=g, dtype=torch.float64) * s, dtype, device)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        """Outputs ``(n, 1)`` for inputs ``(n, d)``."""
        if X.ndim != 2 or X.shape[1] != self.d:
            raise ValueError(f"X must have shape (n, {self.d}), got {tuple(X.shape)}")
        h = X
        for W in self.hidden:
            h = h @ W.T
        return (h @ self.readout)[:, None]

    def predictor(self) -> torch.Tensor:
        """:math:`\\beta = W_1^\\top \\cdots W_{L-1}^\\top w_L`, ``(d,)``."""
        beta = self.readout.detach()
        for W in reversed(list(self.hidden)):
            beta = W.detach().T @ beta
        return beta


class SymmetricFactorization(nn.Module):
    """The factorised model :math:`M = UU^\\top` for matrix sensing (Gunasekar et al. 2017).

    On measurement matrices :math:`A_i` the model predicts
    :math:`\\langle A_i, UU^\\top\\rangle = \\operatorname{tr}(A_i UU^\\top)`. It is a
    two-layer network with quadratic activation and tied weights:
    :math:`\\langle A, UU^\\top\\rangle = \\sum_j u_j^\\top A u_j`. With
    :math:`U \\in \\mathbb{R}^{d\\times d}` every PSD matrix is reachable, so the
    factorisation adds no constraint; started from :math:`U_0 = \\alpha Q` with
    :math:`\\alpha \\to 0`, gradient descent (small steps) on the square loss
    is conjectured, and proven for commuting measurements, to reach the
    minimum-nuclear-norm PSD interpolant (Gunasekar et al. 2017, Conjecture and
    Theorem 1; Li, Ma, Zhang 2018 prove recovery for RIP measurements).

    Parameters
    ----------
    d
        Matrix size.
    rank
        Columns :math:`r` of :math:`U` (default :math:`d`: no rank constraint).
    init_scale
        :math:`\\alpha \\ge 0`: :math:`U_0 = \\alpha Q` with :math:`Q` a random
        :math:`d \\times r` matrix with orthonormal columns, so
        :math:`U_0U_0^\\top` has :math:`r` eigenvalues :math:`\\alpha^2`.
    """

    def __init__(self, d: int, rank: int | None = None, *, init_scale: float = 1e-3, seed: int | None = None,
                 dtype: torch.dtype | None = None, device: torch.device | str | None = None) -> None:
        super().__init__()
        self.d = check_int(d, "d", min=1)
        self.rank = self.d if rank is None else check_int(rank, "rank", min=1, max=self.d)
        alpha = check_real(init_scale, "init_scale", min=0.0)
        Q, _ = torch.linalg.qr(torch.randn(self.d, self.rank, generator=_generator(seed), dtype=torch.float64))
        self.U = _place(alpha * Q, dtype, device)

    def matrix(self) -> torch.Tensor:
        """:math:`UU^\\top`, ``(d, d)``, detached."""
        U = self.U.detach()
        return U @ U.T

    def forward(self, A: torch.Tensor) -> torch.Tensor:
        """:math:`\\langle A_i, UU^\\top\\rangle` for measurements ``A`` of shape ``(n, d, d)``; outputs ``(n, 1)``."""
        if A.ndim != 3 or A.shape[1:] != (self.d, self.d):
            raise ValueError(f"A must have shape (n, {self.d}, {self.d}), got {tuple(A.shape)}")
        # one (n, d^2) x (d^2,) product: cheaper than n products A_i U when n is large
        return (A.reshape(A.shape[0], -1) @ (self.U @ self.U.T).reshape(-1))[:, None]


def fourier_concentration(beta, k: int) -> float:
    """The fraction of :math:`\\lVert\\hat\\beta\\rVert^2` in the ``k`` largest DFT coefficients.

    .. math::  \\frac{\\sum_{j \\in \\text{top } k} |\\hat\\beta_j|^2}{\\sum_{j=0}^{d-1} |\\hat\\beta_j|^2},
               \\qquad \\hat\\beta = F\\beta \\ (\\text{all } d \\text{ coefficients}).

    For a real :math:`\\beta` the coefficients come in conjugate pairs
    :math:`\\hat\\beta_{d-j} = \\overline{\\hat\\beta_j}`, so ``k = 4`` counts two
    frequencies with their mirror images. A vector with i.i.d. entries
    spreads its energy evenly, about :math:`k/d`; a single cosine has 1 for
    ``k >= 2``. This is the sparsity measure of Gunasekar et al. (2018, sec. 4)
    made into one number.
    """
    b = check_tensor(beta, "beta", ndim=1).detach().to("cpu", torch.float64)
    k = check_int(k, "k", min=1, max=b.shape[0])
    power = torch.fft.fft(b).abs().square()
    total = power.sum()
    if total == 0:
        raise ValueError("beta is zero: its Fourier concentration is undefined")
    return (power.sort(descending=True).values[:k].sum() / total).item()
