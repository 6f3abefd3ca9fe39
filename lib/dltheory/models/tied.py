"""Deep ReLU networks of width two, negatively tied or not, as seed ensembles; the hand-built square wave.

A **pair network** of depth :math:`L` has :math:`L` hidden layers of two ReLU
units and a linear readout,

.. math::  h_0 = x, \\qquad h_k = \\mathrm{relu}(W_k h_{k-1} + b_k) \\in \\mathbb{R}^2, \\qquad
           f(x) = v^\\top h_L + c .

**Negative tying** forces the two units of every hidden layer to receive
opposite incoming weights, bias included: :math:`W_k = [w_k^\\top; -w_k^\\top]`
and :math:`b_k = (\\beta_k, -\\beta_k)`. A tied layer computes one number
:math:`s_k = w_k^\\top h_{k-1} + \\beta_k` and outputs
:math:`(\\mathrm{relu}(s_k), \\mathrm{relu}(-s_k))`, whose sum is :math:`|s_k|`:
the layer *folds* the line at :math:`s_k = 0`, and the next layer can read the
fold. The readout is not tied (it has one unit). Tying halves the hidden
layers' parameters; it encodes the negation symmetry of the construction below
at every scale (deck 2, "square wave learning tricks").

**Seed ensembles.** A :class:`PairNetwork` holds :math:`S` independent
networks, one per seed, as one model: every parameter has a leading dimension
:math:`S`, the forward pass returns outputs of shape ``(S, n)``, and
:func:`dltheory.train.fit_ensemble` trains all members at once. Member
:math:`s` is initialised from ``seeds[s]`` alone, exactly as
``PairNetwork(depth, seeds=[seeds[s]])`` is, so a batch of networks is the
networks taken one at a time. Weights and biases are drawn like those of
``torch.nn.Linear``: uniform on :math:`\\pm 1/\\sqrt{\\text{fan-in}}`.

**The hand-built square wave** (:func:`square_wave_network`) uses the fold
:math:`s \\mapsto 2|s| - 1`, which maps :math:`[-1, 1]` onto itself twice.
With :math:`u = (x - a)/(b - a)` and :math:`t` the tent map
(:func:`dltheory.data.tent_map`), its pre-activations are
:math:`s_1 = 2u - 1` and :math:`s_{k+1} = 2|s_k| - 1 = 1 - 2t^{k}(u)`, and its
output is :math:`f = |s_L| - \\tfrac12 = \\tfrac12 - t^L(u)`. Since
:math:`t^L` is a sawtooth with :math:`2^{L-1}` teeth, the sign of :math:`f`
is a square wave with :math:`2^{L-1}` periods and :math:`2^L + 1` pieces
(:func:`square_wave_labels`): the depth-separation construction of Telgarsky
(2016) and the folding argument of Montúfar et al. (2014).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import Tensor, nn

from .._checks import (check_bool, check_device, check_dtype, check_int, check_interval, check_real, check_seed,
                       check_tensor)
from ..data.synthetic import square_wave_target

__all__ = ["PairNetwork", "square_wave_network", "square_wave_labels", "SIGNS"]

#: The signs that turn a tied layer's one pre-activation into its two: :math:`(s, -s)`.
SIGNS = (1.0, -1.0)


def _check_seeds(seeds) -> list[int]:
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Iterable):
        raise TypeError(f"seeds must be a sequence of non-negative integers, one per member, got "
                        f"{type(seeds).__name__}")
    seeds = [check_seed(s, f"seeds[{i}]") for i, s in enumerate(seeds)]
    if not seeds:
        raise ValueError("seeds must name at least one member")
    return seeds


def _uniform(g: torch.Generator, shape: tuple[int, ...], fan_in: int) -> Tensor:
    """``torch.nn.Linear``'s default law, U(-1/sqrt(fan_in), 1/sqrt(fan_in)), in float64 on the CPU."""
    bound = 1.0 / math.sqrt(fan_in)
    return (2 * torch.rand(shape, generator=g, dtype=torch.float64) - 1) * bound


class PairNetwork(nn.Module):
    """:math:`S` deep ReLU networks of width two, negatively tied or not, as one batched model.

    Parameters
    ----------
    depth
        :math:`L \\ge 1`, the number of hidden layers of two ReLU units.
    tied
        Negative tying (see the module docstring): hidden layer :math:`k` stores
        one weight vector ``weights[k-1][s]`` of length fan-in and one bias
        ``biases[k-1][s]``; untied, a ``(2, fan_in)`` matrix and two biases.
    in_features
        Input dimension :math:`d`.
    seeds
        One seed per member; member :math:`s` is drawn from ``seeds[s]`` alone.

    Parameters are ``weights`` and ``biases`` (:class:`~torch.nn.ParameterList`,
    one entry per hidden layer, leading dimension :math:`S`), ``readout_weight``
    ``(S, 2)`` and ``readout_bias`` ``(S,)``. A tied network has
    :math:`d + 3L + 1` parameters per member, an untied one
    :math:`2d + 6L - 1` (for :math:`d = 1`, :math:`L = 3`: 11 against 19).
    """

    def __init__(self, depth: int, *, tied: bool = True, in_features: int = 1, seeds=(0,),
                 dtype: torch.dtype = torch.float32, device: torch.device | str | None = None) -> None:
        super().__init__()
        self.depth = check_int(depth, "depth", min=1)
        self.tied = check_bool(tied, "tied")
        self.in_features = check_int(in_features, "in_features", min=1)
        self.seeds = _check_seeds(seeds)
        dtype = check_dtype(dtype)
        device = torch.device("cpu") if device is None else check_device(device)
        fans = [self.in_features] + [2] * self.depth
        members = []
        for seed in self.seeds:
            g = torch.Generator().manual_seed(seed)
            drawn = []
            for fan_in in fans[:-1]:
                rows = () if self.tied else (2,)
                drawn.append(_uniform(g, rows + (fan_in,), fan_in))
                drawn.append(_uniform(g, rows, fan_in))
            drawn.append(_uniform(g, (2,), 2))
            drawn.append(_uniform(g, (), 2))
            members.append(drawn)
        stacked = [torch.stack(column).to(device=device, dtype=dtype) for column in zip(*members)]
        self.weights = nn.ParameterList([nn.Parameter(t) for t in stacked[0:-2:2]])
        self.biases = nn.ParameterList([nn.Parameter(t) for t in stacked[1:-2:2]])
        self.readout_weight = nn.Parameter(stacked[-2])
        self.readout_bias = nn.Parameter(stacked[-1])
        self.register_buffer("signs", torch.tensor(SIGNS, dtype=dtype, device=device), persistent=False)

    @property
    def ensemble_size(self) -> int:
        """:math:`S`, the number of members."""
        return len(self.seeds)

    def extra_repr(self) -> str:
        return (f"depth={self.depth}, tied={self.tied}, in_features={self.in_features}, "
                f"ensemble_size={self.ensemble_size}")

    def _inputs(self, X) -> Tensor:
        """``X`` checked and laid out as the layers want it: ``(d, n)`` shared or ``(S, d, n)`` per member."""
        X = check_tensor(X, "X", finite=True)
        ref = self.readout_bias
        X = X.to(device=ref.device, dtype=ref.dtype)
        S = self.ensemble_size
        if X.ndim == 2 and X.shape[1] == self.in_features:
            return X.T
        if X.ndim == 3 and X.shape[0] == S and X.shape[2] == self.in_features:
            return X.transpose(1, 2)
        raise ValueError(f"X must have shape (n, {self.in_features}) (the same inputs for every member) or "
                         f"({S}, n, {self.in_features}) (inputs per member), got {tuple(X.shape)}")

    def _layer(self, k: int, h: Tensor) -> tuple[Tensor, Tensor]:
        """Layer ``k`` (from 1) on ``h`` of shape ``(fan_in, n)`` or ``(S, fan_in, n)``: ``(S, 2, n)`` twice.

        Units along dimension 1 and examples last, so that a layer is one
        batched product ``(S, 2, fan_in) @ (S, fan_in, n)``: what makes hundreds
        of tiny networks fast on a CPU. A tied layer multiplies by its
        effective matrix :math:`[w^\\top; -w^\\top]`, so its two
        pre-activations are :math:`(s, -s)` exactly.
        """
        W, b = self._effective(k)
        if h.ndim == 2:
            h = h.expand(W.shape[0], *h.shape)
        pre = torch.baddbmm(b.unsqueeze(-1), W, h)
        return pre, torch.relu(pre)

    def _effective(self, k: int) -> tuple[Tensor, Tensor]:
        w, b = self.weights[k - 1], self.biases[k - 1]
        if self.tied:
            return w.unsqueeze(1) * self.signs[:, None], b.unsqueeze(1) * self.signs
        return w, b

    def _readout(self, h: Tensor) -> Tensor:
        return (self.readout_weight.unsqueeze(-1) * h).sum(1) + self.readout_bias[:, None]

    def trace(self, X) -> list[tuple[Tensor, Tensor]]:
        """Every layer's pre-activations and outputs: ``L`` pairs ``(S, n, 2)``, then the readout's ``(S, n)`` twice.

        Hidden layer :math:`k` gives :math:`W_k h_{k-1} + b_k` (tied:
        :math:`(s_k, -s_k)`) and :math:`h_k`; the last pair is the readout
        :math:`f(x)`, which has no activation (threshold it for the labels):
        the deck's layer-by-layer picture.
        """
        h = self._inputs(X)
        out = []
        for k in range(1, self.depth + 1):
            pre, h = self._layer(k, h)
            out.append((pre.transpose(1, 2), h.transpose(1, 2)))
        f = self._readout(h)
        out.append((f, f))
        return out

    def forward(self, X) -> Tensor:
        """:math:`f(x)` of every member: ``X`` of shape ``(n, d)`` or ``(S, n, d)`` gives ``(S, n)``."""
        h = self._inputs(X)
        for k in range(1, self.depth + 1):
            h = self._layer(k, h)[1]
        return self._readout(h)

    def effective_layers(self) -> list[tuple[Tensor, Tensor]]:
        """``(W_k, b_k)`` of every layer with the ties written out: ``(S, 2, fan_in)``, ``(S, 2)``; last the readout.

        For a tied network :math:`W_k = [w_k^\\top; -w_k^\\top]` and
        :math:`b_k = (\\beta_k, -\\beta_k)`; the readout is ``(S, 1, 2)``, ``(S, 1)``.
        """
        layers = [self._effective(k) for k in range(1, self.depth + 1)]
        layers.append((self.readout_weight.unsqueeze(1), self.readout_bias.unsqueeze(1)))
        return layers

    def member(self, s: int) -> nn.Sequential:
        """Member ``s`` as a plain ``nn.Sequential`` of ``nn.Linear`` and ``nn.ReLU`` (a detached copy).

        The copy computes the same function and can go to :func:`dltheory.train.fit`
        or :func:`dltheory.models.dense_layers`; it is untied (its two rows are free).
        """
        s = check_int(s, "s", min=0, max=self.ensemble_size - 1)
        ref = self.readout_bias
        modules: list[nn.Module] = []
        with torch.no_grad():
            for i, (W, b) in enumerate(self.effective_layers()):
                linear = nn.Linear(W.shape[2], W.shape[1], device=ref.device, dtype=ref.dtype)
                linear.weight.copy_(W[s])
                linear.bias.copy_(b[s])
                modules.append(linear)
                if i < self.depth:
                    modules.append(nn.ReLU())
        return nn.Sequential(*modules)


def square_wave_network(folds: int, *, interval=(-1.0, 1.0), dtype: torch.dtype = torch.float64,
                        device: torch.device | str | None = None) -> PairNetwork:
    """The hand-built negatively tied network whose sign is a square wave with :math:`2^{L-1}` periods.

    With :math:`L` = ``folds`` hidden layers on ``interval`` :math:`= (a, b)`:

    * layer 1: :math:`s_1 = (2x - a - b)/(b - a)`, mapping the interval onto :math:`[-1, 1]`;
    * layer :math:`k + 1`: :math:`s_{k+1} = 2\\,(\\mathrm{relu}(s_k) + \\mathrm{relu}(-s_k)) - 1 = 2|s_k| - 1`;
    * readout: :math:`f = \\mathrm{relu}(s_L) + \\mathrm{relu}(-s_L) - \\tfrac12 = |s_L| - \\tfrac12`.

    Hence :math:`f(x) = \\tfrac12 - t^L(u)` with :math:`u = (x - a)/(b - a)`
    and :math:`t` the tent map, exactly (every weight is a power of two), and
    ``f > 0`` is :func:`square_wave_labels`. Returns a one-member tied
    :class:`PairNetwork`.
    """
    folds = check_int(folds, "folds", min=1)
    a, b = check_interval(interval)
    net = PairNetwork(folds, tied=True, seeds=[0], dtype=dtype, device=device)
    with torch.no_grad():
        net.weights[0].fill_(2.0 / (b - a))
        net.biases[0].fill_(-(a + b) / (b - a))
        for w, beta in zip(list(net.weights)[1:], list(net.biases)[1:]):
            w.fill_(2.0)
            beta.fill_(-1.0)
        net.readout_weight.fill_(1.0)
        net.readout_bias.fill_(-0.5)
    return net


def square_wave_labels(x: Tensor, folds: int, *, interval=(-1.0, 1.0), low: float = -1.0,
                       high: float = 1.0) -> Tensor:
    """The labels :math:`\\mathbb{1}[f(x) > 0]` of :func:`square_wave_network` (``high``/``low``), in closed form.

    :math:`f > 0` exactly where :math:`t^L(u) < \\tfrac12`: on the outer quarters
    of every tooth of the sawtooth. That is :func:`dltheory.data.square_wave_target`
    with :math:`p = 2^{L-1}` periods on the interval shifted left by a quarter
    period, :math:`(a - \\delta, b - \\delta)` with :math:`\\delta = (b - a)/(4p)`:
    :math:`2^L + 1` pieces, the two end pieces half as long as the others.
    """
    folds = check_int(folds, "folds", min=1)
    a, b = check_interval(interval)
    low, high = check_real(low, "low"), check_real(high, "high")
    x = check_tensor(x, "x")
    periods = 2 ** (folds - 1)
    shift = (b - a) / (4 * periods)
    return square_wave_target(x, periods=periods, interval=(a - shift, b - shift), low=low, high=high)
