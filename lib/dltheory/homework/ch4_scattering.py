"""Checker of chapter 4's exercise: one layer of a 1-D scattering network on a tight frame preserves energy."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..scattering import filter_bank
from .core import Feedback, check_function

__all__ = ["check_scattering_layer"]

HINT = ("filter in the Fourier domain: x_hat = torch.fft.fft(x); row 0 is torch.fft.ifft(x_hat * phi_hat).real, "
        "row k + 1 is torch.fft.ifft(x_hat * psi_hat[k]).abs(); stack them into a (K + 1, N) tensor.")


def _cases() -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Signals of three lengths with the multipliers of :func:`dltheory.scattering.filter_bank` (both halves of each band).

    The signals have power at every frequency, and their low-pass part
    changes sign, so that a modulus on it, a missing modulus on the bands or a
    lost band changes the answer.
    """
    g = torch.Generator().manual_seed(1936)
    cases = []
    for n, J in [(16, 2), (33, 3), (64, 4)]:
        bank = filter_bank(n, J)
        x = torch.randn(n, generator=g, dtype=torch.float64) - 0.1
        cases.append((x, bank.phi.clone(), bank.psi.flatten(0, 1).clone()))
    return cases


def _reference(x: torch.Tensor, phi_hat: torch.Tensor, psi_hat: torch.Tensor) -> torch.Tensor:
    """``[x * phi, |x * psi_1|, ..., |x * psi_K|]`` by FFT."""
    x_hat = torch.fft.fft(x)
    low = torch.fft.ifft(x_hat * phi_hat).real
    return torch.cat([low[None], torch.fft.ifft(x_hat * psi_hat).abs()])


def _mistakes(x: torch.Tensor, phi_hat: torch.Tensor, psi_hat: torch.Tensor) -> dict[str, torch.Tensor]:
    """The typical wrong answers, each with what to say."""
    x_hat = torch.fft.fft(x)
    low = torch.fft.ifft(x_hat * phi_hat).real
    bands = torch.fft.ifft(x_hat * psi_hat)
    return {
        "the real part of x * psi_k instead of its modulus |x * psi_k|: the modulus is the non-linearity, and "
        "it is what keeps the energy (the real part loses the imaginary part's)":
            torch.cat([low[None], bands.real]),
        "the squared modulus |x * psi_k|^2: the modulus itself has the same norm as x * psi_k, its square does not":
            torch.cat([low[None], bands.abs() ** 2]),
        "the modulus of x * phi in row 0: the averaging is linear, x * phi is real and may be negative":
            torch.cat([low.abs()[None], bands.abs()]),
        "multipliers squared (x_hat * psi_hat ** 2): the frame condition is on |psi_hat|^2, the filter is psi_hat":
            torch.cat([torch.fft.ifft(x_hat * phi_hat**2).real[None], torch.fft.ifft(x_hat * psi_hat**2).abs()]),
        "the modulus taken before filtering (|x| * psi_k): filter first, then take the modulus":
            torch.cat([low[None], torch.fft.ifft(torch.fft.fft(x.abs()) * psi_hat).abs()]),
    }


def _diagnose(answer, x: torch.Tensor, phi_hat: torch.Tensor, psi_hat: torch.Tensor) -> str | None:
    """Say whether the answer at least preserves the energy, the point of the exercise."""
    try:
        out = torch.as_tensor(answer, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError):
        return None
    if out.is_complex() or out.numel() != (psi_hat.shape[0] + 1) * x.numel():
        return None
    ratio = float(out.pow(2).sum() / x.pow(2).sum())
    return (f"The energy of your output is {ratio:.4f} times that of x; a tight frame (|phi_hat|^2 + "
            f"sum_k |psi_hat_k|^2 = 1) followed by a modulus must give exactly 1.")


def check_scattering_layer(fn: Callable[..., torch.Tensor]) -> Feedback:
    """Check ``scattering_layer(x, phi_hat, psi_hat)``: one layer of a 1-D scattering network.

    ``x`` ``(N,)`` is a real signal, ``phi_hat`` ``(N,)`` and ``psi_hat``
    ``(K, N)`` are Fourier multipliers (in ``torch.fft.fft`` order) with
    :math:`\\lvert\\hat\\phi\\rvert^2 + \\sum_k \\lvert\\hat\\psi_k\\rvert^2 = 1` at every
    frequency. The answer is the ``(K + 1, N)`` tensor whose row 0 is
    :math:`x \\star \\phi` and whose row :math:`k + 1` is :math:`\\lvert x \\star \\psi_k\\rvert`
    (circular convolutions). By Parseval its squared norm is
    :math:`\\lVert x\\rVert^2`: the feedback says how far a wrong answer is from
    preserving the energy, and names the typical mistakes (real part or squared
    modulus instead of the modulus, a modulus on the low-pass, squared
    multipliers, the modulus before the filter).
    """
    return check_function(fn, _reference, _cases(), name=getattr(fn, "__name__", "scattering_layer"),
                          hint=HINT, rtol=1e-8, diagnose=_diagnose, mistakes=_mistakes)
