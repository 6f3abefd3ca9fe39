"""The FFT scattering transform: exact identities of a tight frame, checked against independent computations."""

import numpy as np
import pytest
import torch

from dltheory import scattering as sc


@pytest.mark.parametrize("shape, J, L", [((64,), 3, 1), ((33,), 2, 1), ((16, 16), 2, 4), ((15, 12), 2, 3),
                                         ((28, 28), 3, 8)])
def test_the_frame_is_tight_and_the_filters_are_what_the_docstring_says(shape, J, L):
    bank = sc.filter_bank(shape, J, L)
    assert bank.K == J * L and bank.psi.shape == (J * L, 2, *shape)
    np.testing.assert_allclose(bank.littlewood_paley().numpy(), 1.0, atol=1e-12)
    assert (bank.psi >= 0).all()
    # the two halves of a band have disjoint supports
    assert (bank.psi[:, 0] * bank.psi[:, 1]).abs().max() == 0
    # phi_J vanishes from pi 2^-J on, and is 1 at the origin
    freqs = torch.meshgrid(*[2 * np.pi * torch.fft.fftfreq(n, dtype=torch.float64) for n in shape], indexing="ij")
    r = torch.sqrt(sum(f**2 for f in freqs))
    assert bank.phi[(0,) * len(shape)] == 1.0
    assert bank.phi[r >= np.pi / 2**J].abs().max() == 0


def _energy(x, d):
    return x.pow(2).flatten(x.ndim - d).sum(-1)


@pytest.mark.parametrize("shape, J, L", [((64,), 4, 1), ((16, 16), 2, 4), ((15, 12), 2, 3)])
def test_energy_identity_holds_to_1e_10_at_every_order(shape, J, L):
    bank = sc.filter_bank(shape, J, L)
    x = torch.randn(5, *shape, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    for m in range(4 if len(shape) == 1 else 3):
        kept, rest = sc.energy_terms(x, bank, m)
        np.testing.assert_allclose((kept + rest).numpy(), _energy(x, len(shape)).numpy(), rtol=1e-10)


def test_wavelet_modulus_is_the_analytic_modulus_times_sqrt2_for_real_signals():
    """For a real signal |x * psi^-| = |x * psi^+| (mirror filters), so U = sqrt(2) |x * psi^+| away from Nyquist."""
    N = 63  # odd: no Nyquist frequency
    bank = sc.filter_bank(N, 3)
    x = torch.randn(N, dtype=torch.float64)
    plus = torch.fft.ifft(torch.fft.fft(x) * bank.psi[:, 0]).abs()
    np.testing.assert_allclose(sc.wavelet_modulus(x, bank).numpy(), (np.sqrt(2) * plus).numpy(), rtol=1e-10)


def test_convolution_by_fft_matches_a_direct_circular_convolution():
    N = 20
    bank = sc.filter_bank(N, 2)
    x = np.random.default_rng(1).standard_normal(N)
    kernel = np.fft.ifft(bank.phi.numpy()).real  # phi in space
    direct = np.array([sum(x[k] * kernel[(n - k) % N] for k in range(N)) for n in range(N)])
    np.testing.assert_allclose(sc.lowpass(torch.from_numpy(x), bank).numpy(), direct, atol=1e-12)
    psi = np.fft.ifft(bank.psi[0, 0].numpy())
    direct = np.abs([sum(x[k] * psi[(n - k) % N] for k in range(N)) for n in range(N)])
    direct_minus = np.abs([sum(x[k] * np.fft.ifft(bank.psi[0, 1].numpy())[(n - k) % N] for k in range(N))
                           for n in range(N)])
    np.testing.assert_allclose(sc.wavelet_modulus(torch.from_numpy(x), bank)[0].numpy(),
                               np.sqrt(direct**2 + direct_minus**2), atol=1e-12)


@pytest.mark.parametrize("shape, J, L", [((32,), 3, 1), ((12, 12), 2, 4)])
def test_scattering_is_non_expansive_on_random_pairs(shape, J, L):
    bank = sc.filter_bank(shape, J, L)
    g = torch.Generator().manual_seed(2)
    x = torch.randn(300, *shape, dtype=torch.float64, generator=g)
    y = x + torch.randn(300, *shape, dtype=torch.float64, generator=g) * torch.rand(300, *[1] * len(shape),
                                                                                      dtype=torch.float64,
                                                                                      generator=g)
    Sx = torch.cat([s.flatten(1) for s in sc.scattering(x, bank, 2)], dim=1)
    Sy = torch.cat([s.flatten(1) for s in sc.scattering(y, bank, 2)], dim=1)
    ratio = (Sx - Sy).norm(dim=1) / (x - y).flatten(1).norm(dim=1)
    assert ratio.max() <= 1 + 1e-12 and ratio.min() > 0.05
    # the norm of S of orders 0..m never exceeds |x|
    assert (Sx.norm(dim=1) <= x.flatten(1).norm(dim=1) * (1 + 1e-12)).all()


def test_scattering_orders_match_energy_terms_and_the_paths():
    bank = sc.filter_bank((16, 16), 2, 3)
    x = torch.randn(2, 16, 16, dtype=torch.float64)
    S = sc.scattering(x, bank, 2)
    assert [s.shape[1] for s in S] == [1, 6, 36]
    kept, _ = sc.energy_terms(x, bank, 3)
    np.testing.assert_allclose(sum(s.pow(2).sum(dim=(1, 2, 3)) for s in S).numpy(), kept.numpy(), rtol=1e-12)
    paths = sc.scattering_paths(bank, 2, "decreasing")
    assert len(paths) == 1 + 6 + 9 and all(int(bank.scales[p[0]]) < int(bank.scales[p[1]])
                                           for p in paths if len(p) == 2)
    Sd = sc.scattering(x, bank, 2, "decreasing")
    full_paths = sc.scattering_paths(bank, 2, "all")[7:]
    rows = [full_paths.index(p) for p in paths[7:]]
    np.testing.assert_allclose(Sd[2].numpy(), S[2][:, rows].numpy(), rtol=1e-12)
    # J = 1: no decreasing path of order 2
    assert sc.scattering(x, sc.filter_bank((16, 16), 1, 2), 2, "decreasing")[2].shape == (2, 0, 16, 16)


def test_scattering_commutes_with_circular_translations():
    bank = sc.filter_bank((16, 16), 2, 4)
    x = torch.randn(16, 16, dtype=torch.float64)
    S = sc.scattering(x, bank, 2)
    Ss = sc.scattering(torch.roll(x, (3, -2), (0, 1)), bank, 2)
    for a, b in zip(S, Ss):
        np.testing.assert_allclose(torch.roll(a, (3, -2), (-2, -1)).numpy(), b.numpy(), atol=1e-12)


def test_scattering_features_subsample_the_coefficients():
    bank = sc.filter_bank((16, 16), 2, 4)
    x = torch.randn(5, 16, 16, dtype=torch.float64)
    F = sc.scattering_features(x, bank, chunk=2)
    S = sc.scattering(x, bank, 2, "decreasing")
    assert F.shape == (5, 25 * 16)
    np.testing.assert_allclose(F.numpy(), torch.cat([s[..., ::4, ::4].flatten(1) for s in S], 1).numpy())


def test_smooth_displacement_has_unit_gradient_norm_by_finite_differences():
    tau = sc.smooth_displacement((32, 32), modes=2, seed=0)
    assert tau.shape == (2, 32, 32)
    assert abs(tau.mean(dim=(1, 2))).max() < 1e-12  # no translation part
    # central differences on a 4x finer evaluation are not available; use the periodic spectral derivative
    jac = torch.zeros(32, 32, 2, 2, dtype=torch.float64)
    for axis in range(2):
        k = 2 * np.pi * torch.fft.fftfreq(32, dtype=torch.float64) * 1j
        k = k[:, None] if axis == 0 else k[None, :]
        jac[..., :, axis] = torch.fft.ifft2(torch.fft.fft2(tau) * k).real.permute(1, 2, 0)
    assert torch.linalg.matrix_norm(jac, ord=2).max().item() == pytest.approx(1.0, rel=1e-9)
    tau2 = sc.smooth_displacement((32, 32), modes=2, seed=0)
    assert torch.equal(tau, tau2)


def test_deform_is_an_exact_shift_for_a_constant_displacement_and_interpolates_linearly():
    x = torch.randn(3, 10, 12, dtype=torch.float64)
    tau = torch.zeros(2, 10, 12, dtype=torch.float64)
    tau[0], tau[1] = 2.0, -3.0
    np.testing.assert_allclose(sc.deform(x, tau).numpy(), torch.roll(x, (2, -3), (-2, -1)).numpy(), atol=1e-12)
    tau[0], tau[1] = 0.25, 0.0
    expected = 0.75 * x + 0.25 * torch.roll(x, 1, -2)
    np.testing.assert_allclose(sc.deform(x, tau).numpy(), expected.numpy(), atol=1e-12)
    np.testing.assert_allclose(sc.deform(x, torch.zeros(2, 10, 12, dtype=torch.float64)).numpy(), x.numpy(),
                               atol=1e-12)


def test_pooled_features_follow_the_definition_and_are_translation_covariant():
    x = torch.randn(2, 16, 16, dtype=torch.float64)
    banks = [sc.filter_bank((16 // 2**n,) * 2, 1, 2) for n in range(3)]
    F = sc.pooled_features(x, banks, pool=2)
    assert [f.shape for f in F] == [(2, 1, 16, 16), (2, 2, 8, 8), (2, 4, 4, 4)]
    # layer 1 by hand: modulus, 2x2 average times 2, then the low-pass
    U = sc.wavelet_modulus(x, banks[0])
    pooled = torch.nn.functional.avg_pool2d(U, 2) * 2
    np.testing.assert_allclose(F[1].numpy(), sc.lowpass(pooled, banks[1]).numpy(), atol=1e-12)
    # a shift by 4 = 2^2 pixels is a shift by 4 / 2^n at layer n (exact covariance)
    G = sc.pooled_features(torch.roll(x, (4, 4), (-2, -1)), banks, pool=2)
    for n, (f, g) in enumerate(zip(F, G)):
        s = 4 // 2**n
        np.testing.assert_allclose(torch.roll(f, (s, s), (-2, -1)).numpy(), g.numpy(), atol=1e-12)
    # pooling is non-expansive: the features of a layer never carry more energy than the input
    assert all((f.pow(2).sum() <= x.pow(2).sum() * (1 + 1e-12)).item() for f in F)
    with pytest.raises(ValueError, match="grid"):
        sc.pooled_features(x, [banks[0], banks[0]], pool=2)


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="L=1"):
        sc.filter_bank(16, 2, L=4)
    with pytest.raises(ValueError, match="shape"):
        sc.filter_bank((4, 4, 4), 1)
    bank = sc.filter_bank((8, 8), 1, 2)
    with pytest.raises(ValueError, match="grid"):
        sc.lowpass(torch.zeros(3, 9, 8), bank)
    with pytest.raises(TypeError, match="real"):
        sc.wavelet_modulus(torch.zeros(8, 8, dtype=torch.complex128), bank)
    with pytest.raises(ValueError, match="paths"):
        sc.scattering(torch.zeros(8, 8), bank, 2, paths="some")
    with pytest.raises(ValueError, match="tau"):
        sc.deform(torch.zeros(8, 8), torch.zeros(2, 8, 9))
