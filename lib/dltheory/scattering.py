"""Wavelet scattering on a Littlewood-Paley tight frame, in 1-D and 2-D, by FFT.

Mallat's scattering transform (Mallat 2012, *Group invariant scattering*;
Bruna & Mallat 2013) cascades wavelet filtering, a modulus and a final
averaging:

.. math::  S[p]x = U[p]x \\star \\phi_J, \\qquad U[\\lambda_1, \\dots, \\lambda_k]x
           = \\bigl|\\,\\lvert x \\star \\psi_{\\lambda_1}\\rvert \\star \\cdots \\star \\psi_{\\lambda_k}\\bigr| .

Here the filters are Fourier multipliers on the periodic grid of the signal,
built so that the frame is *exactly* tight (:func:`filter_bank`):

.. math::  \\lvert\\hat\\phi_J(\\omega)\\rvert^2 + \\sum_\\lambda \\lvert\\hat\\psi_\\lambda(\\omega)\\rvert^2 = 1
           \\quad\\text{at every frequency of the grid,}

and nothing is subsampled. Every layer then preserves energy and is
non-expansive, and by induction over the order :math:`m`

.. math::  \\lVert x\\rVert^2 = \\sum_{\\lvert p\\rvert < m} \\lVert S[p]x\\rVert^2
           + \\sum_{\\lvert p\\rvert = m} \\lVert U[p]x\\rVert^2, \\qquad
           \\lVert Sx - Sy\\rVert \\le \\lVert x - y\\rVert,

to rounding error (:func:`energy_terms`; ``tests/test_scattering.py`` checks
both to 1e-10). The library kymatio implements the same transform with Morlet
wavelets, which are only approximately tight, and subsamples; it also fails to
import on scipy >= 1.17. Hence this short implementation.

The modulus of a band is taken jointly over the two halves of its frequency
support (the analytic wavelet, oriented along :math:`\\theta_\\ell`, and its
mirror image): :math:`U_\\lambda x = (\\lvert x\\star\\psi^+_\\lambda\\rvert^2 +
\\lvert x\\star\\psi^-_\\lambda\\rvert^2)^{1/2}`. For a real signal the two terms are
equal up to the Nyquist frequency, so this is :math:`\\sqrt2\\lvert x\\star\\psi^+_\\lambda\\rvert`,
Mallat's complex modulus, and it keeps the identity exact on a finite grid.

Also here: translations and smooth random deformations :math:`x(u - \\tau(u))`
(:func:`smooth_displacement`, :func:`deform`, through ``grid_sample``), and the
pooled network of Wiatowski & Bölcskei (2018), in which every layer ends in a
pooling by a factor :math:`S_n` (:func:`pooled_features`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ._checks import check_int, check_seed

__all__ = ["FilterBank", "filter_bank", "lowpass", "wavelet_modulus", "scattering", "scattering_paths",
           "energy_terms", "scattering_features", "smooth_displacement", "deform", "pooled_features"]


def _smoothstep(t: torch.Tensor) -> torch.Tensor:
    """:math:`\\beta(t) = t^2(3 - 2t)` on [0, 1], clamped outside: :math:`\\beta(1 - t) = 1 - \\beta(t)`."""
    t = t.clamp(0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _lowpass_profile(r: torch.Tensor) -> torch.Tensor:
    """:math:`h(r)`: 1 for :math:`r \\le \\pi/2`, 0 for :math:`r \\ge \\pi`, a smooth decreasing cosine in between."""
    t = r / (0.5 * math.pi) - 1.0
    return torch.where(t >= 1.0, 0.0, torch.cos(0.5 * math.pi * _smoothstep(t)))  # exactly 0 from pi on


@dataclass(frozen=True)
class FilterBank:
    """A tight frame of Fourier multipliers on a periodic grid (see :func:`filter_bank`).

    Attributes
    ----------
    phi : Tensor of shape ``shape``
        :math:`\\hat\\phi_J`, real, even, supported on :math:`\\lvert\\omega\\rvert < \\pi 2^{-J}`.
    psi : Tensor of shape ``(K, 2, *shape)``
        :math:`\\hat\\psi^+_\\lambda` and :math:`\\hat\\psi^-_\\lambda` for the ``K`` bands
        :math:`\\lambda = (j, \\ell)`, real and non-negative.
    scales, angles : Tensor of shape ``(K,)``
        :math:`j` (0 is the finest) and :math:`\\ell` of each band.
    J, L : int
        Number of scales and of orientations (``L = 1`` in 1-D).
    """

    phi: torch.Tensor
    psi: torch.Tensor
    scales: torch.Tensor
    angles: torch.Tensor
    J: int
    L: int

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.phi.shape)

    @property
    def K(self) -> int:
        return int(self.psi.shape[0])

    def littlewood_paley(self) -> torch.Tensor:
        """:math:`\\lvert\\hat\\phi_J\\rvert^2 + \\sum_\\lambda (\\lvert\\hat\\psi^+_\\lambda\\rvert^2 + \\lvert\\hat\\psi^-_\\lambda\\rvert^2)`, 1 everywhere."""
        return self.phi**2 + self.psi.pow(2).sum(dim=(0, 1))


def filter_bank(shape: int | tuple[int, ...], J: int, L: int = 1, *,
                dtype: torch.dtype = torch.float64, device="cpu") -> FilterBank:
    """A Littlewood-Paley tight frame on the periodic grid ``shape`` (1-D or 2-D), :math:`J` scales, :math:`L` orientations.

    With :math:`h` a smooth decreasing profile, 1 on :math:`[0, \\pi/2]` and 0
    from :math:`\\pi` on, let :math:`\\hat\\phi_0 = 1` and
    :math:`\\hat\\phi_j(\\omega) = h(2^j\\lvert\\omega\\rvert)` for :math:`j \\ge 1`. The band-pass
    filters are

    .. math::  \\lvert\\hat\\psi_{j,\\ell}\\rvert^2 = \\bigl(\\hat\\phi_j^2 - \\hat\\phi_{j+1}^2\\bigr)\\,
               A_\\ell(\\theta)^2, \\qquad j = 0, \\dots, J-1,

    with angular windows :math:`A_\\ell` centred on :math:`\\theta_\\ell = \\pi\\ell/L`
    (orientation modulo :math:`\\pi`), :math:`\\sum_\\ell A_\\ell^2 = 1`. The sum
    telescopes: :math:`\\hat\\phi_J^2 + \\sum_{j,\\ell}\\lvert\\hat\\psi_{j,\\ell}\\rvert^2 = \\hat\\phi_0^2 = 1`.
    Band :math:`j` covers :math:`\\pi 2^{-j-2} \\le \\lvert\\omega\\rvert \\le \\pi 2^{-j}`
    (the finest, :math:`j = 0`, everything above :math:`\\pi/4`), and
    :math:`\\hat\\phi_J` vanishes from :math:`\\pi 2^{-J}` on, so :math:`x \\star\\phi_J`
    can be sampled every :math:`2^J` points without aliasing. Each band is split
    into its half :math:`\\hat\\psi^+` on :math:`\\langle\\omega, e_{\\theta_\\ell}\\rangle > 0`
    (an analytic wavelet) and the mirror half :math:`\\hat\\psi^-`.

    Parameters
    ----------
    shape
        ``N`` or ``(N,)`` for signals, ``(N1, N2)`` for images.
    J
        Number of scales, :math:`J \\ge 1`; the averaging scale is :math:`2^J`.
    L
        Orientations in 2-D (1 in 1-D).

    Returns
    -------
    FilterBank
        ``K = J L`` bands, ordered scale by scale (``scales``, ``angles``).
    """
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    if len(shape) not in (1, 2):
        raise ValueError(f"shape must be (N,) or (N1, N2), got {shape}")
    shape = tuple(check_int(n, "shape", min=2) for n in shape)
    J = check_int(J, "J", min=1)
    L = check_int(L, "L", min=1)
    if len(shape) == 1 and L != 1:
        raise ValueError(f"a 1-D filter bank has one orientation (L=1), got L={L}")
    freqs = [2 * math.pi * torch.fft.fftfreq(n, dtype=torch.float64) for n in shape]
    grids = torch.meshgrid(*freqs, indexing="ij")
    r = torch.sqrt(sum(g**2 for g in grids))
    # 2-D: orientation angle theta in [0, 2 pi) of the frequency (omega_1, omega_2) = (row, column)
    theta = torch.atan2(grids[0], grids[1]) if len(shape) == 2 else torch.zeros_like(r)
    phis = [torch.ones_like(r)] + [_lowpass_profile(2.0**j * r) for j in range(1, J + 1)]
    psi, scales, angles = [], [], []
    for j in range(J):
        band = (phis[j] ** 2 - phis[j + 1] ** 2).clamp_min(0.0)
        for ell in range(L):
            centre = math.pi * ell / L
            if L == 1:
                window = torch.ones_like(r)
            else:  # distance of the orientation (mod pi) to the centre, in units of the spacing pi / L
                d = torch.remainder(theta - centre + 0.5 * math.pi, math.pi) - 0.5 * math.pi
                window = torch.cos(0.5 * math.pi * _smoothstep(d.abs() * L / math.pi))
            weight = band * window**2
            if len(shape) == 1:
                side = grids[0] > 0
            else:
                side = torch.cos(theta - centre) > 0
            amplitude = weight.sqrt()
            psi.append(torch.stack([amplitude * side, amplitude * ~side]))
            scales.append(j)
            angles.append(ell)
    return FilterBank(phi=phis[J].to(dtype=dtype, device=device),
                      psi=torch.stack(psi).to(dtype=dtype, device=device),
                      scales=torch.tensor(scales), angles=torch.tensor(angles), J=J, L=L)


def _check_signal(x: torch.Tensor, bank: FilterBank) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a tensor of shape (..., {', '.join(map(str, bank.shape))}), "
                        f"got {type(x).__name__}")
    d = len(bank.shape)
    if x.ndim < d or tuple(x.shape[-d:]) != bank.shape:
        raise ValueError(f"x must end in the filter bank's grid {bank.shape}, got shape {tuple(x.shape)}")
    if x.is_complex():
        raise TypeError("x must be real: the scattering of this module is defined for real signals")
    return x


def _dims(bank: FilterBank) -> tuple[int, ...]:
    return tuple(range(-len(bank.shape), 0))


def lowpass(x: torch.Tensor, bank: FilterBank) -> torch.Tensor:
    """:math:`x \\star \\phi_J` (circular), same shape as ``x``: the averaging at scale :math:`2^J`."""
    x = _check_signal(x, bank)
    dims = _dims(bank)
    phi = bank.phi.to(device=x.device, dtype=x.dtype)
    return torch.fft.ifftn(torch.fft.fftn(x, dim=dims) * phi, dim=dims).real.to(x.dtype)


def _modulus(spectrum: torch.Tensor, psi: torch.Tensor, d: int) -> torch.Tensor:
    """:math:`U_\\lambda` from the spectrum ``(..., *shape)`` and multipliers ``(K, 2, *shape)``: ``(..., K, *shape)``."""
    spectrum = spectrum.unsqueeze(-d - 1).unsqueeze(-d - 1)
    dims = tuple(range(-d, 0))
    filtered = torch.fft.ifftn(spectrum * psi, dim=dims)  # (..., K, 2, *shape)
    return filtered.abs().pow(2).sum(dim=-d - 1).sqrt()


def wavelet_modulus(x: torch.Tensor, bank: FilterBank) -> torch.Tensor:
    """:math:`U_\\lambda x = (\\lvert x\\star\\psi^+_\\lambda\\rvert^2 + \\lvert x\\star\\psi^-_\\lambda\\rvert^2)^{1/2}` for every band.

    Returns a tensor ``(..., K, *shape)`` for ``x`` of shape ``(..., *shape)``:
    one layer of the scattering network without its averaging. By Parseval and
    the tight frame, :math:`\\lVert x\\star\\phi_J\\rVert^2 + \\sum_\\lambda \\lVert U_\\lambda x\\rVert^2 = \\lVert x\\rVert^2`.
    """
    x = _check_signal(x, bank)
    d = len(bank.shape)
    spectrum = torch.fft.fftn(x, dim=_dims(bank))
    return _modulus(spectrum, bank.psi.to(device=x.device, dtype=x.dtype), d).to(x.dtype)


def scattering_paths(bank: FilterBank, order: int, paths: str = "all") -> list[tuple[int, ...]]:
    """The paths :math:`p = (\\lambda_1, \\dots, \\lambda_k)` of every order :math:`k \\le` ``order``, as band indices.

    ``paths="all"``: every sequence of bands (:math:`K^k` of order :math:`k`);
    ``"decreasing"``: only those whose scales strictly increase,
    :math:`j_1 < j_2 < \\dots` (frequencies decrease along the path), which carry
    almost all the energy (Bruna & Mallat 2013, Sec. 3).
    """
    order = check_int(order, "order", min=0)
    if paths not in ("all", "decreasing"):
        raise ValueError(f"paths must be 'all' or 'decreasing', got {paths!r}")
    out, level = [()], [()]
    for _ in range(order):
        level = [p + (k,) for p in level for k in range(bank.K)
                 if paths == "all" or not p or int(bank.scales[k]) > int(bank.scales[p[-1]])]
        out += level
    return out


def scattering(x: torch.Tensor, bank: FilterBank, order: int = 2, paths: str = "all") -> list[torch.Tensor]:
    """The scattering coefficients :math:`S[p]x = U[p]x \\star \\phi_J` of orders 0 to ``order``, without subsampling.

    Returns a list whose entry :math:`k` has shape ``(..., P_k, *shape)``, one
    channel per path of order :math:`k` in the order of :func:`scattering_paths`
    (``P_0 = 1``: :math:`x \\star \\phi_J`; ``P_1 = K``; ``P_2 = K^2`` for
    ``paths="all"``).
    """
    x = _check_signal(x, bank)
    order = check_int(order, "order", min=0)
    if paths not in ("all", "decreasing"):
        raise ValueError(f"paths must be 'all' or 'decreasing', got {paths!r}")
    d = len(bank.shape)
    psi = bank.psi.to(device=x.device, dtype=x.dtype)
    scales = [int(j) for j in bank.scales]
    out = [lowpass(x, bank).unsqueeze(-d - 1)]
    U = x.unsqueeze(-d - 1)  # (..., 1, *shape): U[empty path] = x
    last = [-1]  # the last scale of each path (-1: the empty path)
    for _ in range(order):
        spectrum = torch.fft.fftn(U, dim=_dims(bank))
        allowed = [tuple(k for k in range(bank.K) if paths == "all" or scales[k] > j) for j in last]
        pieces, keys = [], []
        for ks in sorted(set(allowed)):
            if not ks:
                continue
            idx = [i for i, a in enumerate(allowed) if a == ks]
            chosen = spectrum.index_select(-d - 1, torch.tensor(idx, device=x.device))
            V = _modulus(chosen, psi[list(ks)], d)  # (..., len(idx), len(ks), *shape)
            pieces.append(V.flatten(-d - 2, -d - 1))
            keys += [(i, k) for i in idx for k in ks]
        if not pieces:  # no path continues (e.g. "decreasing" with J = 1)
            U = U.new_zeros(*U.shape[:-d - 1], 0, *bank.shape)
            last = []
            out.append(U.clone())
            continue
        order_ = sorted(range(len(keys)), key=keys.__getitem__)
        U = torch.cat(pieces, dim=-d - 1).index_select(-d - 1, torch.tensor(order_, device=x.device))
        U = U.to(x.dtype)
        last = [scales[keys[i][1]] for i in order_]
        out.append(lowpass(U, bank))
    return out


def energy_terms(x: torch.Tensor, bank: FilterBank, m: int) -> tuple[torch.Tensor, torch.Tensor]:
    """:math:`\\sum_{\\lvert p\\rvert < m}\\lVert S[p]x\\rVert^2` and :math:`\\sum_{\\lvert p\\rvert = m}\\lVert U[p]x\\rVert^2`, over all paths.

    Their sum is :math:`\\lVert x\\rVert^2` exactly (Mallat 2012, Prop. 2.5, which
    with a tight frame holds at every order :math:`m`): each layer splits
    :math:`\\lVert U[p]x\\rVert^2` into :math:`\\lVert S[p]x\\rVert^2` and
    :math:`\\sum_\\lambda \\lVert U[p+\\lambda]x\\rVert^2`. Returns two tensors of
    shape ``x.shape[:-d]``. Cost grows like :math:`K^m`.
    """
    x = _check_signal(x, bank)
    m = check_int(m, "m", min=0)
    d = len(bank.shape)
    dims = tuple(range(-d - 1, 0))
    U, kept = x.unsqueeze(-d - 1), torch.zeros(x.shape[:x.ndim - d], dtype=x.dtype, device=x.device)
    for _ in range(m):
        kept = kept + lowpass(U, bank).pow(2).sum(dim=dims)
        U = wavelet_modulus(U, bank).flatten(-d - 2, -d - 1)
    return kept, U.pow(2).sum(dim=dims)


def scattering_features(x: torch.Tensor, bank: FilterBank, order: int = 2, paths: str = "decreasing",
                        *, step: int | None = None, chunk: int = 256) -> torch.Tensor:
    """Scattering coefficients sampled every ``step`` points (default :math:`2^J`), flattened: ``(n, features)``.

    :math:`S[p]x` is band-limited to :math:`\\lvert\\omega\\rvert < \\pi 2^{-J}`, so
    sampling it every :math:`2^J` points loses nothing (the usual representation
    fed to a linear classifier; Bruna & Mallat 2013). ``x`` is ``(n, *shape)``,
    transformed ``chunk`` signals at a time to bound the memory.
    """
    step = 2**bank.J if step is None else check_int(step, "step", min=1)
    chunk = check_int(chunk, "chunk", min=1)
    d = len(bank.shape)
    index = (..., *([slice(None, None, step)] * d))
    rows = []
    for start in range(0, x.shape[0], chunk):
        part = scattering(x[start:start + chunk], bank, order, paths)
        rows.append(torch.cat([s[index].flatten(1) for s in part], dim=1))
    return torch.cat(rows)


def smooth_displacement(shape: tuple[int, int], *, modes: int = 2, seed: int,
                        dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """A random smooth periodic displacement field :math:`\\tau` on an image grid, with :math:`\\sup\\lvert\\nabla\\tau\\rvert = 1`.

    Each of the two components is a sum of Fourier modes
    :math:`a\\cos(2\\pi(k_1 u_1/N_1 + k_2 u_2/N_2)) + b\\sin(\\dots)` with
    :math:`\\lvert k_i\\rvert \\le` ``modes`` and Gaussian coefficients, so its
    displacement has no constant (translation) part. The field is scaled so that
    :math:`\\sup_u \\lVert\\nabla\\tau(u)\\rVert_{op} = 1`, the operator norm of its
    Jacobian, computed exactly from the modes on the grid. Multiply by
    :math:`s` for :math:`\\sup\\lvert\\nabla\\tau\\rvert = s`. Units: pixels.

    Returns a tensor ``(2, N1, N2)``: the displacement along rows and columns.
    """
    N1, N2 = (check_int(n, "shape", min=2) for n in shape)
    modes = check_int(modes, "modes", min=1)
    g = torch.Generator().manual_seed(check_seed(seed))
    u1, u2 = torch.meshgrid(torch.arange(N1, dtype=torch.float64), torch.arange(N2, dtype=torch.float64),
                            indexing="ij")
    tau = torch.zeros(2, N1, N2, dtype=torch.float64)
    jac = torch.zeros(2, 2, N1, N2, dtype=torch.float64)
    for k1 in range(-modes, modes + 1):
        for k2 in range(0, modes + 1):
            if k2 == 0 and k1 <= 0:
                continue  # one of each pair +-k, and no constant
            w1, w2 = 2 * math.pi * k1 / N1, 2 * math.pi * k2 / N2
            phase = w1 * u1 + w2 * u2
            a, b = torch.randn(2, 2, generator=g, dtype=torch.float64)
            for c in range(2):
                tau[c] += a[c] * torch.cos(phase) + b[c] * torch.sin(phase)
                slope = -a[c] * torch.sin(phase) + b[c] * torch.cos(phase)
                jac[c, 0] += w1 * slope
                jac[c, 1] += w2 * slope
    sup = torch.linalg.matrix_norm(jac.permute(2, 3, 0, 1), ord=2).max()
    return (tau / sup).to(dtype)


def deform(x: torch.Tensor, tau: torch.Tensor) -> torch.Tensor:
    """:math:`x_\\tau(u) = x(u - \\tau(u))` for images ``x`` ``(..., N1, N2)`` and a displacement ``tau`` ``(2, N1, N2)``.

    Bilinear interpolation on the periodic grid (``torch.nn.functional.grid_sample``
    on the image tiled 3 x 3, so that the deformation wraps around as the
    circular filters do). A constant ``tau`` of integer pixels is an exact
    circular translation.
    """
    if not isinstance(x, torch.Tensor) or x.ndim < 2:
        raise TypeError("x must be a tensor of images (..., N1, N2)")
    N1, N2 = x.shape[-2:]
    if tuple(tau.shape) != (2, N1, N2):
        raise ValueError(f"tau must have shape (2, {N1}, {N2}), got {tuple(tau.shape)}")
    lead = x.shape[:-2]
    flat = x.reshape(-1, 1, N1, N2)
    tiled = flat.repeat(1, 1, 3, 3)
    u1, u2 = torch.meshgrid(torch.arange(N1, dtype=x.dtype, device=x.device),
                            torch.arange(N2, dtype=x.dtype, device=x.device), indexing="ij")
    tau = tau.to(dtype=x.dtype, device=x.device)
    src1, src2 = u1 - tau[0] + N1, u2 - tau[1] + N2  # source coordinates in the tiled image
    # grid_sample with align_corners=True maps -1 and 1 to the centres of the first and last pixel
    grid = torch.stack([2 * src2 / (3 * N2 - 1) - 1, 2 * src1 / (3 * N1 - 1) - 1], dim=-1)
    grid = grid.expand(flat.shape[0], N1, N2, 2)
    out = torch.nn.functional.grid_sample(tiled, grid, mode="bilinear", padding_mode="border",
                                          align_corners=True)
    return out.reshape(*lead, N1, N2)


def pooled_features(x: torch.Tensor, banks: list[FilterBank], *, pool: int = 2) -> list[torch.Tensor]:
    """The features of a Wiatowski-Bölcskei network, layer by layer: :math:`\\Phi^n(x)` for :math:`n = 0, \\dots, N`.

    Layer :math:`n` filters every signal of the previous layer with the tight
    frame ``banks[n]`` (band-pass part), takes the modulus (:func:`wavelet_modulus`,
    Lipschitz constant 1) and pools by the factor :math:`S =` ``pool``: an
    average over :math:`S \\times S` blocks (:math:`S` in 1-D) times
    :math:`S^{d/2}`, the discrete form of :math:`f \\mapsto S^{d/2} P(f)(S\\,\\cdot)`
    (Wiatowski & Bölcskei 2018, Sec. III), which has Lipschitz constant 1. The
    feature of layer :math:`n` is its signals averaged by the output filter
    :math:`\\chi_n =` ``banks[n].phi``. ``banks[n]`` must be defined on the grid
    of layer :math:`n`, whose size is divided by ``pool`` at each layer
    (``banks[0]`` on the input's grid). ``pool=1`` is the same network without pooling.

    Returns a list of ``len(banks)`` tensors ``(n, P_n, *shape_n)``: the
    features :math:`\\chi_n \\star U` of all :math:`P_n = K^n` paths of layer :math:`n`.
    Their theorem: :math:`\\lvert\\lvert\\lvert\\Phi^n(T_t x) - \\Phi^n(x)\\rvert\\rvert\\rvert
    = O(\\lVert t\\rVert / (S_1 \\cdots S_n))`.
    """
    pool = check_int(pool, "pool", min=1)
    if not banks:
        raise ValueError("pooled_features needs at least one filter bank")
    d = len(banks[0].shape)
    U = x.unsqueeze(-d - 1)
    features = []
    for n, bank in enumerate(banks):
        if tuple(U.shape[-d:]) != bank.shape:
            raise ValueError(f"banks[{n}] is on the grid {bank.shape}, but layer {n} has signals of shape "
                             f"{tuple(U.shape[-d:])} (the grid shrinks by pool={pool} per layer)")
        features.append(lowpass(U, bank))
        if n == len(banks) - 1:
            break
        V = wavelet_modulus(U, bank).flatten(-d - 2, -d - 1)
        if pool > 1:
            lead = V.shape[:-d]
            flat = V.reshape(-1, 1, *V.shape[-d:])
            pooled = (torch.nn.functional.avg_pool1d if d == 1 else torch.nn.functional.avg_pool2d)(flat, pool)
            V = pooled.reshape(*lead, *pooled.shape[-d:]) * pool ** (d / 2)
        U = V
    return features
