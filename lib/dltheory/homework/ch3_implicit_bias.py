"""Checker of chapter 3's exercise on the end-to-end predictor of a linear circular convolutional network."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from .. import models
from .core import Feedback, check_function

__all__ = ["check_conv_predictor"]


HINT = ("go to the Fourier domain: cross-correlation with a real filter w multiplies the transform by conj(w_hat), "
        "and <a, b> = (1/d) sum_k conj(a_hat_k) b_hat_k; so beta_hat = w_hat_1 * ... * w_hat_L "
        "(torch.fft.fft, then torch.fft.ifft(...).real).")


def _cases() -> list[tuple[torch.Tensor]]:
    """Filters (L, d) for depths 2, 3 and 1, with even and odd d."""
    g = torch.Generator().manual_seed(2018)
    return [(torch.randn(L, d, generator=g, dtype=torch.float64),) for L, d in [(2, 8), (3, 7), (2, 5), (1, 6)]]


def _reference(filters: torch.Tensor) -> torch.Tensor:
    net = models.CircularConvLinear(filters.shape[1], filters.shape[0], dtype=torch.float64)
    with torch.no_grad():
        net.filters.copy_(filters)
    return net.predictor()


def _mistakes(filters: torch.Tensor) -> dict[str, torch.Tensor]:
    F = torch.fft.fft(filters, dim=1)
    L, d = filters.shape
    ifft = lambda z: torch.fft.ifft(z).real  # noqa: E731
    return {
        "the filters were multiplied entry by entry in the signal domain: layers compose by circular "
        "correlation, which is a product only after the DFT": filters.prod(dim=0),
        "the transforms were conjugated (beta comes out reversed in time): the conjugates from the "
        "correlations cancel those of the inner product, so beta_hat = w_hat_1 * ... * w_hat_L": ifft(F.conj().prod(0)),
        "the last layer is missing: it is a readout <w_L, h_{L-1}>, and it contributes its own factor w_hat_L":
            ifft(F[:-1].prod(0)),
        "the transforms were added, not multiplied: each layer multiplies the spectrum": ifft(F.sum(0)),
        "the scale is that of orthonormal DFTs (norm='ortho'): with numpy's or torch's default DFT "
        "beta_hat is exactly the product, with no powers of sqrt(d)": ifft(F.prod(0)) * d ** ((1 - L) / 2),
    }


def check_conv_predictor(fn: Callable[[torch.Tensor], torch.Tensor]) -> Feedback:
    """Check ``conv_predictor(filters)``: the end-to-end :math:`\\beta` of a linear circular conv net.

    ``filters`` is an ``(L, d)`` float64 tensor whose row ``l`` is :math:`w_{l+1}`; the
    answer is the ``(d,)`` vector :math:`\\beta` with :math:`f(x) = \\langle\\beta, x\\rangle`
    for :class:`dltheory.models.CircularConvLinear`. Typical mistakes (a product in the
    signal domain, conjugated transforms, a missing readout, a sum of spectra, orthonormal
    DFT scaling) are named.
    """
    return check_function(fn, _reference, _cases(), name="conv_predictor", hint=HINT, rtol=1e-8,
                          mistakes=_mistakes)
