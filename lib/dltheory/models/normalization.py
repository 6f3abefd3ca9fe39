"""Batch normalisation with batch statistics everywhere, and "noisy" batch normalisation.

Batch normalisation (Ioffe & Szegedy 2015) standardises every unit :math:`j`
of a layer over the batch :math:`B` and then applies a learned affine map,

.. math::  \\mathrm{BN}(z)_{ij} = \\gamma_j \\frac{z_{ij} - \\mu_j}{\\sqrt{\\sigma_j^2 + \\epsilon}} + \\beta_j,
           \\qquad \\mu_j = \\frac1{|B|}\\sum_{i\\in B} z_{ij}, \\quad
           \\sigma_j^2 = \\frac1{|B|}\\sum_{i\\in B} (z_{ij} - \\mu_j)^2 ,

(the biased variance; for an image batch :math:`(n, C, H, W)` a unit is a
channel, averaged over :math:`n H W` numbers). The book builds it as
``BatchNorm1d(track_running_stats=False)``: with no running averages the
layer normalises by the statistics of whatever batch it is given, in training
*and* evaluation mode, so a record of the whole training set
(:func:`dltheory.train.fit` records in evaluation mode) normalises by the
statistics of the whole training set, and the loss that is probed is the loss
that is trained.

:class:`NoisyBatchNorm` is the control experiment of Santurkar, Tsipras, Ilyas,
Madry (2018, Sec. 2.1 and Fig. 2): after the normalisation, every unit is
shifted and scaled by random amounts that are redrawn at every training step,

.. math::  \\mathrm{NBN}(z)_{ij} = s_j^{(t)}\\, \\mathrm{BN}(z)_{ij} + m_j^{(t)}, \\qquad
           m_j^{(t)} \\sim U(-a, a), \\quad s_j^{(t)} \\sim U(s_{\\min}, s_{\\max}),

so that the distribution each later layer receives changes from step to step
by far more than in a network without normalisation: batch normalisation
without its "stable input distributions". (Santurkar et al. perturb every
activation of every example with noise whose mean and variance are redrawn at
each step; the per-unit random shift and scale kept here is that noise's
change of distribution, without the extra per-example jitter.) Each layer
draws from a CPU generator of its own, seeded at construction, so a run
repeats exactly and is the same on every device; the generator's state is part
of the module's ``state_dict``.

Per-example quantities (the empirical NTK, per-example Jacobians) are
undefined for these layers, since one example's output depends on the rest of
the batch: :mod:`dltheory.ntk` refuses them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch import nn

from .._checks import check_bool, check_int, check_module, check_real, check_seed

__all__ = ["NoisyBatchNorm", "batch_norm", "frozen_noise", "noisy_modules", "layer_seed"]


def layer_seed(seed: int, index: int) -> int:
    """A seed for the ``index``-th noisy layer of a network built under ``seed`` (NumPy's ``SeedSequence``).

    Distinct, well-mixed streams for every (seed, layer) pair, none of which
    touches the global generators.
    """
    seed, index = check_seed(seed), check_int(index, "index", min=0)
    words = np.random.SeedSequence([seed, index]).generate_state(2, dtype=np.uint32)
    return int(words[0]) << 31 | int(words[1]) >> 1  # 62 bits: below 2**63 as check_seed requires


def batch_norm(num_features: int, *, dtype: torch.dtype | None = None) -> nn.BatchNorm1d:
    """``BatchNorm1d(num_features, track_running_stats=False)``: batch statistics in every mode."""
    num_features = check_int(num_features, "num_features", min=1)
    return nn.BatchNorm1d(num_features, track_running_stats=False, dtype=dtype)


class NoisyBatchNorm(nn.Module):
    """Batch normalisation (batch statistics) followed by a per-unit random shift and scale, redrawn every step.

    In training mode every forward pass first draws new amounts, unless
    :attr:`resample` is ``False`` (see :func:`frozen_noise`), and returns
    ``scale * BN(z) + shift`` with ``shift`` and ``scale`` of shape
    ``(num_features,)`` broadcast over the batch (and over the positions of an
    image). In evaluation mode it is plain batch normalisation, without noise.

    Parameters
    ----------
    num_features
        Units (features of an ``(n, C)`` batch, channels of ``(n, C, ...)``).
    shift
        :math:`a`: the shifts are uniform on :math:`[-a, a]` (``0`` for none).
    scale
        :math:`(s_{\\min}, s_{\\max})`, ``0 < s_min <= s_max``: the scales are uniform on it.
    seed
        Seeds this layer's own CPU generator. ``None`` takes a seed from
        torch's global generator (one draw).
    affine, eps
        As in ``torch.nn.BatchNorm1d``.

    Attributes
    ----------
    norm
        The ``BatchNorm1d(track_running_stats=False)`` that normalises.
    noise_shift, noise_scale
        Buffers holding the amounts of the last draw (zeros and ones before the first).
    resample
        Whether a training-mode forward pass draws new amounts (default ``True``).
    """

    def __init__(self, num_features: int, *, shift: float = 0.5, scale: Sequence[float] = (1.0, 1.5),
                 seed: int | None = None, affine: bool = True, eps: float = 1e-5,
                 device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> None:
        super().__init__()
        num_features = check_int(num_features, "num_features", min=1)
        self.shift = check_real(shift, "shift", min=0.0)
        if isinstance(scale, (str, bytes)) or not isinstance(scale, Sequence) or len(scale) != 2:
            raise TypeError(f"scale must be a pair (low, high), got {scale!r}")
        low = check_real(scale[0], "scale[0]", min=0.0, min_open=True)
        high = check_real(scale[1], "scale[1]", min=low)
        self.scale = (low, high)
        if seed is None:
            seed = int(torch.randint(0, 2**62, ()).item())
        self.seed = check_seed(seed)
        self.generator = torch.Generator().manual_seed(self.seed)
        self.resample = True
        self.norm = nn.BatchNorm1d(num_features, eps=check_real(eps, "eps", min=0.0, min_open=True),
                                   affine=check_bool(affine, "affine"), track_running_stats=False,
                                   device=device, dtype=dtype)
        self.register_buffer("noise_shift", torch.zeros(num_features, device=device, dtype=dtype))
        self.register_buffer("noise_scale", torch.ones(num_features, device=device, dtype=dtype))

    @property
    def num_features(self) -> int:
        return self.norm.num_features

    def draw(self) -> None:
        """Draw new amounts (on the CPU in float64, then cast and moved: the same on every device)."""
        u = torch.rand(2, self.num_features, generator=self.generator, dtype=torch.float64)
        low, high = self.scale
        with torch.no_grad():
            self.noise_shift.copy_(self.shift * (2.0 * u[0] - 1.0))
            self.noise_scale.copy_(low + (high - low) * u[1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim < 2 or x.shape[1] != self.num_features:
            raise ValueError(f"NoisyBatchNorm({self.num_features}) needs inputs (n, {self.num_features}, ...), "
                             f"got shape {tuple(x.shape)}")
        z = self.norm(x.flatten(2) if x.ndim > 3 else x).reshape(x.shape)
        if not self.training:
            return z
        if self.resample:
            self.draw()
        view = (1, -1) + (1,) * (x.ndim - 2)
        return self.noise_scale.view(view) * z + self.noise_shift.view(view)

    def get_extra_state(self) -> torch.Tensor:
        """The seed (8 bytes) and the generator's state as one ``uint8`` tensor: ``state_dict`` holds tensors only."""
        seed = torch.tensor([self.seed], dtype=torch.int64).view(torch.uint8)
        return torch.cat([seed, self.generator.get_state()])

    def set_extra_state(self, state: torch.Tensor) -> None:
        state = state.to(device="cpu", dtype=torch.uint8)
        self.seed = int(state[:8].clone().view(torch.int64).item())
        self.generator.set_state(state[8:].clone())

    def extra_repr(self) -> str:
        return f"{self.num_features}, shift={self.shift:g}, scale={self.scale}, seed={self.seed}"


def noisy_modules(model: nn.Module) -> list[NoisyBatchNorm]:
    """The :class:`NoisyBatchNorm` layers of ``model``, in registration order."""
    return [m for m in check_module(model).modules() if isinstance(m, NoisyBatchNorm)]


@contextlib.contextmanager
def frozen_noise(model: nn.Module) -> Iterator[nn.Module]:
    """Within the block, the model's noisy layers reuse their last draw instead of drawing.

    What a measurement needs: several forward passes of the same network (the
    loss along a direction, a gradient before and after a change of weights)
    must see the same noise, and must not advance the generators that training
    uses. Restores each layer's :attr:`~NoisyBatchNorm.resample` on exit.
    """
    layers = noisy_modules(model)
    before = [layer.resample for layer in layers]
    for layer in layers:
        layer.resample = False
    try:
        yield model
    finally:
        for layer, value in zip(layers, before):
            layer.resample = value
