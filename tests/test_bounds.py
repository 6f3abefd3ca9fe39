"""dltheory.bounds against hand computations, NumPy/SciPy recomputations, brute-force
path enumeration, torch.distributions, and the formulas of the papers written out again."""

import itertools
import math

import numpy as np
import pytest
import torch
from scipy.special import rel_entr
from torch import nn

from dltheory import bounds, models
from tests._networks import weighted_mlp

pytestmark = pytest.mark.usefixtures("one_thread")


def _random_mlp(widths, bias=False, seed=0):
    return models.mlp(widths, bias=bias, seed=seed, dtype=torch.float64)


def _data(n, d, k, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g, dtype=torch.float64)
    y = torch.randint(0, k, (n,), generator=g) if k > 1 else 2 * torch.randint(0, 2, (n,), generator=g) - 1
    return X, y


# --------------------------------------------------------------------------- margins


def test_binary_margins_by_hand():
    net = weighted_mlp([[1.0, 0.0], [0.0, 2.0]], [[1.0, -1.0]])
    X = torch.tensor([[1.0, 1.0], [3.0, 1.0], [-1.0, 0.5]], dtype=torch.float64)
    # hidden relu([1, 2]) -> -1; relu([3, 2]) -> 1; relu([-1, 1]) -> -1
    y = torch.tensor([-1, 1, 1])
    torch.testing.assert_close(bounds.margins(net, X, y), torch.tensor([1.0, 1.0, -1.0], dtype=torch.float64))


def test_multiclass_margins_by_hand():
    net = weighted_mlp([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    X = torch.tensor([[1.0, 2.0], [1.0, 2.0], [4.0, -1.0]], dtype=torch.float64)
    # outputs [1, 2, 3], [1, 2, 3], [4, -1, 3]
    y = torch.tensor([2, 0, 0])
    torch.testing.assert_close(bounds.margins(net, X, y), torch.tensor([1.0, -2.0, 1.0], dtype=torch.float64))


def test_normalized_margins_are_scale_invariant_without_bias_only():
    X, y = _data(20, 5, 3)
    for bias, invariant in ((False, True), (True, False)):
        net = _random_mlp([5, 8, 8, 3], bias=bias)
        before = bounds.normalized_margins(net, X, y)
        with torch.no_grad():
            net[2].weight.mul_(3.7)
        after = bounds.normalized_margins(net, X, y)
        assert torch.allclose(before, after, rtol=1e-10) is invariant


def test_layer_norms_match_numpy():
    net = _random_mlp([6, 9, 4, 2], bias=True, seed=3)
    norms = bounds.layer_norms(net)
    Ws = [m.weight.detach().numpy() for m in net if isinstance(m, nn.Linear)]
    np.testing.assert_allclose(norms["frobenius"], [np.linalg.norm(W, "fro") for W in Ws], rtol=1e-12)
    np.testing.assert_allclose(norms["spectral"], [np.linalg.norm(W, 2) for W in Ws], rtol=1e-12)
    assert norms["rho"] == pytest.approx(np.prod([np.linalg.norm(W, "fro") for W in Ws]), rel=1e-12)
    assert norms["rho_spectral"] == pytest.approx(np.prod([np.linalg.norm(W, 2) for W in Ws]), rel=1e-12)


# --------------------------------------------------------------------------- spectral complexity


def _numpy_spectral_complexity(As, Ms=None):
    Ms = Ms or [np.zeros_like(A) for A in As]
    s = [np.linalg.svd(A, compute_uv=False)[0] for A in As]
    b = [np.linalg.norm(A - M, axis=1).sum() for A, M in zip(As, Ms)]  # row norms of A - M: ||A^T - M^T||_{2,1}
    return np.prod(s) * sum((bi / si) ** (2 / 3) for bi, si in zip(b, s)) ** 1.5


def test_spectral_complexity_by_hand():
    # 2 * I_8 (s = 2, ||.||_{2,1} = 16, ratio 8 -> 8^(2/3) = 4) then e_1^T (s = 1, ratio 1):
    # R = (2 * 1) * (4 + 1)^(3/2)
    net = weighted_mlp(2 * np.eye(8), np.eye(1, 8))
    assert bounds.spectral_complexity(net) == pytest.approx(2 * 5**1.5, rel=1e-12)
    # 2 I_8, 3 I_8, 0.5 e_1^T: product 3, ratios 8, 8, 1 -> (4 + 4 + 1)^(3/2) = 27, R = 81
    net = weighted_mlp(2 * np.eye(8), 3 * np.eye(8), 0.5 * np.eye(1, 8))
    assert bounds.spectral_complexity(net) == pytest.approx(81.0, rel=1e-12)
    # one layer: R = ||A||_sigma * ||A^T||_{2,1} / ||A||_sigma = sum of row norms
    assert bounds.spectral_complexity(weighted_mlp([[3.0, 4.0], [0.0, 1.0]])) == pytest.approx(6.0)


def test_spectral_complexity_matches_numpy_with_and_without_reference():
    net, init = _random_mlp([7, 12, 5, 3], seed=1), _random_mlp([7, 12, 5, 3], seed=2)
    As = [m.weight.detach().numpy() for m in net if isinstance(m, nn.Linear)]
    Ms = [m.weight.detach().numpy() for m in init if isinstance(m, nn.Linear)]
    assert bounds.spectral_complexity(net) == pytest.approx(_numpy_spectral_complexity(As), rel=1e-10)
    assert bounds.spectral_complexity(net, init) == pytest.approx(_numpy_spectral_complexity(As, Ms), rel=1e-10)
    assert bounds.spectral_complexity(net, net) == 0.0


def test_spectral_complexity_scales_linearly_in_each_layer():
    net = _random_mlp([4, 6, 6, 2], seed=4)
    base = bounds.spectral_complexity(net)
    for i in (0, 2, 4):
        scaled = _random_mlp([4, 6, 6, 2], seed=4)
        with torch.no_grad():
            scaled[i].weight.mul_(2.5)
        assert bounds.spectral_complexity(scaled) == pytest.approx(2.5 * base, rel=1e-10)


def test_spectral_complexity_of_a_zero_layer_is_zero():
    net = weighted_mlp(np.zeros((3, 2)), np.ones((1, 3)))
    assert bounds.spectral_complexity(net) == 0.0


def test_ntk_layers_count_with_their_effective_matrices():
    ntk = models.mlp([5, 7, 3], parametrization="ntk", bias=True, bias_var=0.5, seed=0, dtype=torch.float64)
    layers = [m for m in ntk if isinstance(m, nn.Linear)]
    plain = weighted_mlp(*[m.weight_scale * m.weight.detach() for m in layers],
                        bias=[m.bias_scale * m.bias.detach() for m in layers])
    X, y = _data(10, 5, 3)
    torch.testing.assert_close(plain(X), ntk(X))
    assert bounds.spectral_complexity(ntk) == pytest.approx(bounds.spectral_complexity(plain), rel=1e-12)
    assert bounds.path_norm(ntk) == pytest.approx(bounds.path_norm(plain), rel=1e-12)


# --------------------------------------------------------------------------- bias folding


def test_folded_network_computes_the_same_function_and_has_the_stated_norms():
    net = _random_mlp([4, 6, 5, 3], bias=True, seed=5)
    with torch.no_grad():
        net[4].bias.zero_()
    net[4].bias = None  # last layer without bias: the constant is carried up to layer 2 only
    X, y = _data(15, 4, 3)
    mats = bounds.folded_weights(net)
    assert [tuple(a.shape) for a in mats] == [(7, 5), (5, 7), (3, 5)]
    folded = weighted_mlp(*mats)
    Xf = bounds.fold_inputs(net, X)
    torch.testing.assert_close(Xf[:, :4], X)
    assert (Xf[:, 4] == 1).all()
    torch.testing.assert_close(folded(Xf), net(X))
    lin = [m for m in net if isinstance(m, nn.Linear)]
    # ||A~_1||_F^2 = ||A_1||^2 + ||b_1||^2 + 1 (carrying row); ||A~_2||_F^2 = ||A_2||^2 + ||b_2||^2
    assert mats[0].pow(2).sum().item() == pytest.approx(lin[0].weight.pow(2).sum().item() + lin[0].bias.pow(2).sum().item() + 1)
    assert mats[1].pow(2).sum().item() == pytest.approx(lin[1].weight.pow(2).sum().item() + lin[1].bias.pow(2).sum().item())
    # every bound sees the biased network as its folded, bias-free twin on (x, 1)
    assert bounds.spectral_complexity(net) == pytest.approx(bounds.spectral_complexity(folded), rel=1e-12)
    assert bounds.path_norm(net, 1) == pytest.approx(bounds.path_norm(folded, 1), rel=1e-12)
    a, b = bounds.frobenius_bound(net, X, y, gamma=0.3), bounds.frobenius_bound(folded, Xf, y, gamma=0.3)
    assert a["bound"] == pytest.approx(b["bound"], rel=1e-12)
    assert a["data_norm"] ** 2 == pytest.approx(X.pow(2).sum().item() + 15)
    c, d = bounds.bartlett_bound(net, X, y, gamma=0.3), bounds.bartlett_bound(folded, Xf, y, gamma=0.3)
    assert c["bound"] == pytest.approx(d["bound"], rel=1e-12)
    assert c["width"] == 7


def test_bias_free_model_is_not_folded():
    net = _random_mlp([3, 4, 2])
    X, _ = _data(5, 3, 2)
    assert [tuple(a.shape) for a in bounds.folded_weights(net)] == [(4, 3), (2, 4)]
    torch.testing.assert_close(bounds.fold_inputs(net, X), X)


# --------------------------------------------------------------------------- path norm


def _brute_force_path_norm(weights, biases, p):
    """Sum over every path (from an input unit or from a bias) of prod |w|^p, by enumeration."""
    L = len(weights)
    sizes = [weights[0].shape[1]] + [W.shape[0] for W in weights]
    total = 0.0
    for start in range(L + 1):  # start = 0: input units; start = l >= 1: the bias unit of layer l
        if start > 0 and biases is None:
            continue
        first = range(sizes[0]) if start == 0 else [None]
        for path in itertools.product(first, *[range(s) for s in sizes[max(start, 1):]]):
            if start == 0:
                units, value, layers = path, 1.0, range(L)
                for l in layers:
                    value *= abs(weights[l][units[l + 1], units[l]]) ** p
            else:
                units = path  # units[0] is None, units[1] is the unit of layer `start`
                value = abs(biases[start - 1][units[1]]) ** p
                for j, l in enumerate(range(start, L)):
                    value *= abs(weights[l][units[j + 2], units[j + 1]]) ** p
            total += value
    return total ** (1 / p)


@pytest.mark.parametrize("p", [1, 2, 3])
def test_path_norm_matches_enumeration(p):
    net = _random_mlp([3, 4, 3, 2], seed=6)
    Ws = [m.weight.detach().numpy() for m in net if isinstance(m, nn.Linear)]
    assert bounds.path_norm(net, p) == pytest.approx(_brute_force_path_norm(Ws, None, p), rel=1e-10)
    biased = _random_mlp([3, 4, 3, 2], bias=True, seed=6)
    lin = [m for m in biased if isinstance(m, nn.Linear)]
    Ws, bs = [m.weight.detach().numpy() for m in lin], [m.bias.detach().numpy() for m in lin]
    assert bounds.path_norm(biased, p) == pytest.approx(_brute_force_path_norm(Ws, bs, p), rel=1e-10)


def test_path_norm_infinity_is_the_largest_path_product():
    net = _random_mlp([3, 4, 2], seed=7)
    W1, W2 = (m.weight.detach().numpy() for m in net if isinstance(m, nn.Linear))
    expected = max(abs(W2[k, j] * W1[j, i]) for i in range(3) for j in range(4) for k in range(2))
    assert bounds.path_norm(net, float("inf")) == pytest.approx(expected, rel=1e-12)


def test_path_norm_is_invariant_under_rescaling_and_below_the_frobenius_product():
    net = _random_mlp([5, 7, 6, 3], seed=8)
    before = {p: bounds.path_norm(net, p) for p in (1, 2)}
    with torch.no_grad():
        net[0].weight.mul_(4.0)
        net[2].weight.div_(4.0)
    for p in (1, 2):
        assert bounds.path_norm(net, p) == pytest.approx(before[p], rel=1e-10)
    assert bounds.path_norm(net, 2) <= bounds.layer_norms(net)["rho"]


# --------------------------------------------------------------------------- margin bounds


def test_frobenius_bound_components():
    net = _random_mlp([6, 10, 4], seed=9)
    X, y = _data(40, 6, 4)
    gamma, delta = 0.2, 0.1
    out = bounds.frobenius_bound(net, X, y, gamma=gamma, delta=delta)
    n, L, k = 40, 2, 4
    prod_f = np.prod([np.linalg.norm(m.weight.detach().numpy()) for m in net if isinstance(m, nn.Linear)])
    rad = (math.sqrt(2 * L * math.log(2)) + 1) * prod_f * np.linalg.norm(X.numpy()) / n
    assert out["rademacher"] == pytest.approx(rad, rel=1e-10)
    assert out["complexity"] == pytest.approx(4 * k / gamma * rad, rel=1e-10)
    assert out["confidence"] == pytest.approx(3 * math.sqrt(math.log(2 / delta) / (2 * n)))
    margin_loss = (bounds.margins(net, X, y) <= gamma).double().mean().item()
    assert out["margin_loss"] == margin_loss
    assert out["bound"] == pytest.approx(margin_loss + out["complexity"] + out["confidence"])
    B = np.linalg.norm(X.numpy(), axis=1).max()
    assert out["rademacher_worst_case"] == pytest.approx((math.sqrt(2 * L * math.log(2)) + 1) * prod_f * B / math.sqrt(n))
    assert out["rademacher"] <= out["rademacher_worst_case"]
    binary = _random_mlp([6, 10, 1], seed=9)
    _, yb = _data(40, 6, 1)
    out = bounds.frobenius_bound(binary, X, yb, gamma=gamma, delta=delta)
    assert out["complexity"] == pytest.approx(2 / gamma * out["rademacher"], rel=1e-12)


def test_bartlett_bound_components():
    net, init = _random_mlp([6, 10, 4], seed=10), _random_mlp([6, 10, 4], seed=11)
    X, y = _data(50, 6, 4)
    gamma, delta, n = 0.5, 0.05, 50
    out = bounds.bartlett_bound(net, X, y, gamma=gamma, delta=delta, reference=init)
    r_a = bounds.spectral_complexity(net, init)
    assert out["spectral_complexity"] == r_a
    assert out["width"] == 10  # the widest layer (input 6, hidden 10, output 4)
    assert out["data_norm"] == pytest.approx(np.linalg.norm(X.numpy()))
    expected = 8 / n**1.5 + 72 * out["data_norm"] * r_a * math.sqrt(math.log(2 * 10**2)) * math.log(n) / (gamma * n)
    assert out["complexity"] == pytest.approx(expected, rel=1e-12)
    assert out["confidence"] == pytest.approx(3 * math.sqrt(math.log(2 / delta) / (2 * n)))
    assert out["bound"] == pytest.approx(out["margin_loss"] + out["complexity"] + out["confidence"])
    assert out["margin_loss"] == (bounds.margins(net, X, y) <= gamma).double().mean().item()
    wide_input = bounds.bartlett_bound(_random_mlp([30, 5, 2]), *_data(10, 30, 2), gamma=1.0)
    assert wide_input["width"] == 30 and wide_input["lipschitz_margin"] == 2.0


@pytest.mark.parametrize("bound", [bounds.bartlett_bound, bounds.frobenius_bound])
def test_margin_bounds_trade_margin_loss_for_complexity_as_gamma_grows(bound):
    net = _random_mlp([6, 10, 3], seed=12)
    X, y = _data(60, 6, 3)
    runs = [bound(net, X, y, gamma=g) for g in (0.01, 0.1, 0.5, 2.0, 10.0)]
    assert all(a["complexity"] > b["complexity"] for a, b in zip(runs, runs[1:]))
    assert all(a["margin_loss"] <= b["margin_loss"] for a, b in zip(runs, runs[1:]))
    assert runs[-1]["margin_loss"] == 1.0
    assert all(r["bound"] > 1 for r in runs)  # random labels, untrained net: vacuous, as it must be


def test_margin_bounds_are_non_vacuous_for_a_large_margin_linear_separator():
    # f(x) = x on x = +-1 with matching labels: every margin is 1, ||X||_2 = sqrt(n), R_A = 1, W = 1
    n = 1_000_000
    g = torch.Generator().manual_seed(0)
    y = 2 * torch.randint(0, 2, (n,), generator=g) - 1
    X = y.to(torch.float64)[:, None]
    net = weighted_mlp([[1.0]])
    frob = bounds.frobenius_bound(net, X, y, gamma=0.99)
    bft = bounds.bartlett_bound(net, X, y, gamma=0.99)
    assert frob["margin_loss"] == bft["margin_loss"] == 0.0
    assert frob["bound"] < 0.01
    expected = 8 / n**1.5 + 36 * math.sqrt(n) * math.sqrt(math.log(2)) * math.log(n) / (0.99 * n)
    assert bft["complexity"] == pytest.approx(expected, rel=1e-12)
    assert bft["bound"] < 0.5


# --------------------------------------------------------------------------- PAC-Bayes


def test_binary_kl_matches_scipy():
    for q, p in [(0.1, 0.3), (0.5, 0.5), (0.0, 0.2), (1.0, 0.7), (0.9, 0.01)]:
        assert bounds.binary_kl(q, p) == pytest.approx(rel_entr(q, p) + rel_entr(1 - q, 1 - p), abs=1e-14)
    assert bounds.binary_kl(0.3, 1.0) == math.inf


@pytest.mark.parametrize("q,c", [(0.0, 0.05), (0.02, 0.01), (0.1, 0.5), (0.3, 0.02), (0.5, 2.0), (0.97, 0.001)])
def test_kl_inverse_matches_a_fine_grid(q, c):
    grid = np.linspace(q, 1, 200_001)[:-1]
    kl = rel_entr(q, grid) + rel_entr(1 - q, 1 - grid)
    expected = grid[kl <= c].max()
    got = bounds.kl_inverse(q, c)
    assert got == pytest.approx(expected, abs=1e-5)
    assert bounds.binary_kl(q, got) == pytest.approx(c, rel=1e-6) or got == 1.0
    assert got <= q + math.sqrt(c / 2) + 1e-12  # Pinsker


def test_kl_inverse_edge_cases():
    assert bounds.kl_inverse(0.2, 0.0) == 0.2
    assert bounds.kl_inverse(1.0, 0.3) == 1.0
    assert bounds.kl_inverse(0.0, 0.1) == pytest.approx(1 - math.exp(-0.1))
    assert bounds.kl_inverse(0.3, math.inf) == 1.0
    with pytest.raises(ValueError, match=r"q must be a number in \[0, 1\], got 1.2"):
        bounds.kl_inverse(1.2, 0.1)
    with pytest.raises(ValueError, match="c must be a non-negative"):
        bounds.kl_inverse(0.2, -0.1)
    with pytest.raises(TypeError, match="q must be a number in"):
        bounds.kl_inverse("0.2", 0.1)
    with pytest.raises(TypeError, match="c must be a non-negative number"):
        bounds.kl_inverse(0.2, True)


def test_isotropic_gaussian_kl_matches_torch_distributions():
    g = torch.Generator().manual_seed(0)
    mu_q, mu_p = torch.randn(11, generator=g, dtype=torch.float64), torch.randn(11, generator=g, dtype=torch.float64)
    for sq, sp in [(0.3, 0.3), (0.1, 0.5), (2.0, 0.7)]:
        expected = torch.distributions.kl_divergence(
            torch.distributions.Normal(mu_q, sq), torch.distributions.Normal(mu_p, sp)).sum().item()
        assert bounds.isotropic_gaussian_kl(mu_q, mu_p, sq, sp) == pytest.approx(expected, rel=1e-12)


@pytest.fixture
def trained():
    """A small ReLU net fitted to a separable two-class problem, with its initialisation."""
    X, _ = _data(200, 4, 1, seed=13)
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).long()
    init = _random_mlp([4, 16, 2], bias=True, seed=14)
    net = _random_mlp([4, 16, 2], bias=True, seed=14)
    opt = torch.optim.SGD(net.parameters(), lr=0.5)
    for _ in range(200):
        opt.zero_grad()
        nn.functional.cross_entropy(net(X), y).backward()
        opt.step()
    return net, init, X, y


def test_pac_bayes_bound_formula_and_determinism(trained):
    net, init, X, y = trained
    rng = torch.get_rng_state()
    out = bounds.pac_bayes_bound(net, X, y, sigma=0.05, prior=init, samples=50, seed=3)
    assert torch.equal(rng, torch.get_rng_state())  # the global generator is not touched
    again = bounds.pac_bayes_bound(net, X, y, sigma=0.05, prior=init, samples=50, seed=3)
    assert out == again
    other = bounds.pac_bayes_bound(net, X, y, sigma=0.05, prior=init, samples=50, seed=4)
    assert other["kl"] == out["kl"]
    w = torch.nn.utils.parameters_to_vector(net.parameters()).detach()
    w0 = torch.nn.utils.parameters_to_vector(init.parameters()).detach()
    assert out["kl"] == pytest.approx(((w - w0) ** 2).sum().item() / (2 * 0.05**2), rel=1e-10)  # equal variances
    assert out["num_params"] == w.numel() == 4 * 16 + 16 + 16 * 2 + 2
    n, m = 200, 50
    e_bar = bounds.kl_inverse(out["empirical_error"], math.log(2 / 0.01) / m)
    assert out["empirical_error_bound"] == e_bar
    assert out["bound"] == bounds.kl_inverse(e_bar, (out["kl"] + math.log(2 * math.sqrt(n) / 0.05)) / n)
    assert out["bound"] >= out["empirical_error_bound"] >= out["empirical_error"]
    assert out["train_error"] < 0.1


def test_pac_bayes_monte_carlo_error_and_prior(trained):
    net, init, X, y = trained
    tiny = bounds.pac_bayes_bound(net, X, y, sigma=1e-9, prior=init, samples=3)
    assert tiny["empirical_error"] == pytest.approx(tiny["train_error"])
    zero_prior = bounds.pac_bayes_bound(net, X, y, sigma=0.1, prior_sigma=1.0, samples=5)
    w = torch.nn.utils.parameters_to_vector(net.parameters()).detach()
    expected = bounds.isotropic_gaussian_kl(w, torch.zeros_like(w), 0.1, 1.0)
    assert zero_prior["kl"] == pytest.approx(expected, rel=1e-12) and zero_prior["prior_sigma"] == 1.0
    # a large perturbation destroys the classifier: the Monte Carlo error approaches chance
    noisy = bounds.pac_bayes_bound(net, X, y, sigma=10.0, prior=init, samples=20)
    assert noisy["empirical_error"] > 0.3


def test_pac_bayes_grid_pays_a_union_bound(trained):
    net, init, X, y = trained
    sigmas = [0.01, 0.03, 0.1]
    out = bounds.pac_bayes_bound(net, X, y, sigma=sigmas, prior=init, samples=20)
    assert [g["sigma"] for g in out["grid"]] == sigmas
    assert out["bound"] == min(g["bound"] for g in out["grid"])
    K, n = 3, 200
    for g in out["grid"]:
        e_bar = bounds.kl_inverse(g["empirical_error"], math.log(2 * K / 0.01) / 20)
        assert g["bound"] == bounds.kl_inverse(e_bar, (g["kl"] + math.log(2 * math.sqrt(n) * K / 0.05)) / n)
        single = bounds.pac_bayes_bound(net, X, y, sigma=g["sigma"], prior=init, samples=20)
        assert single["empirical_error"] == g["empirical_error"]  # same seeded draws
        assert single["bound"] <= g["bound"]


# --------------------------------------------------------------------------- VC


def test_vc_bound_is_vacuous_for_an_overparametrised_mlp():
    net = models.mlp([784, 256, 256, 10], seed=0)
    W = 784 * 256 + 256 + 256 * 256 + 256 + 256 * 10 + 10
    assert bounds.vc_dimension(net) == pytest.approx(W * 3 * math.log2(W))
    assert bounds.vc_bound(net, 10_000) > 1


def test_vc_bound_formula_when_n_exceeds_the_vc_dimension():
    net = weighted_mlp(np.ones((2, 3)), np.ones((1, 2)))  # W = 8, L = 2, h = 8 * 2 * 3 = 48
    h = bounds.vc_dimension(net)
    assert h == 48
    n, delta = 100_000, 0.05
    expected = math.sqrt((h * (math.log(2 * n / h) + 1) + math.log(4 / delta)) / n)
    assert bounds.vc_bound(net, n, delta=delta) == pytest.approx(expected)
    assert bounds.vc_bound(net, n) < bounds.vc_bound(net, n // 10) < 1
    assert bounds.vc_bound(net, 10) == pytest.approx(math.sqrt((20 * math.log(2) + math.log(80)) / 10))


# --------------------------------------------------------------------------- bad input


def test_convolutions_and_other_layers_are_refused():
    X, y = _data(4, 3, 2)
    conv = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8, 2))
    for call in (lambda m: bounds.spectral_complexity(m), lambda m: bounds.path_norm(m),
                 lambda m: bounds.vc_bound(m, 10), lambda m: bounds.frobenius_bound(m, X, y, gamma=1.0),
                 lambda m: bounds.bartlett_bound(m, X, y, gamma=1.0), lambda m: bounds.folded_weights(m),
                 lambda m: bounds.layer_norms(m), lambda m: bounds.layer_weights(m)):
        with pytest.raises(ValueError, match=r"Conv2d \(0\) is a convolution: .* Toeplitz operator"):
            call(conv)
    with pytest.raises(ValueError, match=r"Conv1d \(1\.0\) is a convolution"):
        bounds.path_norm(nn.Sequential(nn.Linear(3, 4), nn.Sequential(nn.Conv1d(1, 1, 1))))
    tanh = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    for call in (bounds.spectral_complexity, bounds.path_norm, bounds.folded_weights,
                 lambda m: bounds.frobenius_bound(m, X, y, gamma=1.0)):
        with pytest.raises(ValueError, match="Tanh is not positively homogeneous"):
            call(tanh)
    with pytest.raises(ValueError, match=r"unsupported module BatchNorm1d \(1\)"):
        bounds.spectral_complexity(nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2)))
    with pytest.raises(ValueError, match=r"unsupported module Dropout \(2\)"):
        bounds.layer_norms(nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Dropout(), nn.Linear(4, 2)))
    with pytest.raises(ValueError, match="subclasses nn.Linear with a forward pass of its own"):
        bounds.path_norm(nn.Sequential(type("Scaled", (nn.Linear,), {})(3, 2)))
    with pytest.raises(ValueError, match="linear layer 2 takes 5 inputs but layer 1 gives 4 outputs"):
        bounds.path_norm(nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(5, 2)))
    with pytest.raises(ValueError, match="comes before the first linear layer"):
        bounds.path_norm(nn.Sequential(nn.ReLU(), nn.Linear(3, 2)))

    class Custom(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(3, 2)

        def forward(self, x):
            return self.a(x)

    # not a chain: refused by the bounds and, now, by layer_weights and layer_norms too
    for call in (bounds.path_norm, bounds.spectral_complexity, bounds.layer_weights, bounds.layer_norms,
                 lambda m: bounds.normalized_margins(m, X, y)):
        with pytest.raises(ValueError, match="Custom is not an nn.Sequential"):
            call(Custom())
    with pytest.raises(ValueError, match="ModuleList is not an nn.Sequential"):
        bounds.layer_norms(nn.ModuleList([nn.Linear(3, 2)]))
    with pytest.raises(ValueError, match="has no linear layers"):
        bounds.path_norm(nn.Sequential(nn.Flatten()))
    for call in (bounds.path_norm, bounds.layer_norms, lambda m: bounds.bartlett_bound(m, X, y, gamma=1.0),
                 lambda m: bounds.pac_bayes_bound(m, X, y, sigma=0.1, samples=1)):
        with pytest.raises(TypeError, match="model must be a torch.nn.Module, got str"):
            call("net")


def test_bad_data_and_parameters_are_refused():
    net = _random_mlp([3, 5, 2])
    X, y = _data(10, 3, 2)
    with pytest.raises(ValueError, match="X has 10 examples but y has 9"):
        bounds.bartlett_bound(net, X, y[:9], gamma=1.0)
    with pytest.raises(ValueError, match="X has 10 examples but y has 9"):
        bounds.pac_bayes_bound(net, X, y[:9], sigma=0.1)
    with pytest.raises(ValueError, match="X has 4 features but the first layer takes 3"):
        bounds.frobenius_bound(net, torch.randn(10, 4, dtype=torch.float64), y, gamma=1.0)
    with pytest.raises(ValueError, match="X must be a matrix"):
        bounds.frobenius_bound(net, X[:, :, None], y, gamma=1.0)
    for gamma in (0.0, -1.0, math.inf, math.nan):
        with pytest.raises(ValueError, match="gamma"):
            bounds.bartlett_bound(net, X, y, gamma=gamma)
        with pytest.raises(ValueError, match="gamma"):
            bounds.frobenius_bound(net, X, y, gamma=gamma)
    for delta in (0.0, 1.0, 1.5, -0.1):
        with pytest.raises(ValueError, match="delta"):
            bounds.bartlett_bound(net, X, y, gamma=1.0, delta=delta)
        with pytest.raises(ValueError, match="delta"):
            bounds.frobenius_bound(net, X, y, gamma=1.0, delta=delta)
        with pytest.raises(ValueError, match="delta"):
            bounds.pac_bayes_bound(net, X, y, sigma=0.1, delta=delta)
        with pytest.raises(ValueError, match="delta"):
            bounds.vc_bound(net, 100, delta=delta)
    for sigma in (0.0, -0.1, [0.1, 0.0], []):
        with pytest.raises(ValueError, match="sigma"):
            bounds.pac_bayes_bound(net, X, y, sigma=sigma)
    with pytest.raises(ValueError, match="prior_sigma"):
        bounds.pac_bayes_bound(net, X, y, sigma=0.1, prior_sigma=-1.0)
    with pytest.raises(ValueError, match="samples"):
        bounds.pac_bayes_bound(net, X, y, sigma=0.1, samples=0)
    with pytest.raises(ValueError, match=r"unknown loss 'hinge'; choose one of \['01'\]"):
        bounds.pac_bayes_bound(net, X, y, sigma=0.1, loss="hinge")
    with pytest.raises(ValueError, match="prior must have the model's parameter names and shapes"):
        bounds.pac_bayes_bound(net, X, y, sigma=0.1, prior=_random_mlp([3, 4, 2]))
    with pytest.raises(ValueError, match="reference has weight shapes"):
        bounds.spectral_complexity(net, _random_mlp([3, 4, 2]))
    with pytest.raises(ValueError, match="p must be a number >= 1"):
        bounds.path_norm(net, 0.5)
    with pytest.raises(ValueError, match="n must be a positive integer, got 0"):
        bounds.vc_bound(net, 0)
    with pytest.raises(ValueError, match="labels in \\{-1, \\+1\\}"):
        bounds.frobenius_bound(_random_mlp([3, 5, 1]), X, y, gamma=1.0)  # 0/1 labels for a one-output model
    with pytest.raises(ValueError, match="X contains NaN or inf"):
        bounds.margins(net, X * math.nan, y)
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        bounds.pac_bayes_bound(net, X, y, sigma=0.1, seed=-1)


def test_values_of_the_wrong_type_are_type_errors():
    """The contract of sklearn's check_scalar: a bool or a string where a number belongs is a TypeError."""
    net = _random_mlp([3, 5, 2])
    X, y = _data(10, 3, 2)
    calls = {
        "gamma must be a positive number, got True": lambda: bounds.bartlett_bound(net, X, y, gamma=True),
        "gamma must be a positive number, got '1'": lambda: bounds.frobenius_bound(net, X, y, gamma="1"),
        "delta must be a number in \\(0, 1\\), got '0.1'":
            lambda: bounds.bartlett_bound(net, X, y, gamma=1.0, delta="0.1"),
        "samples must be a positive integer, got 2.0":
            lambda: bounds.pac_bayes_bound(net, X, y, sigma=0.1, samples=2.0),
        "sigma must be a positive number, got '0.1'": lambda: bounds.pac_bayes_bound(net, X, y, sigma="0.1"),
        "progress must be True or False, got 'yes'":
            lambda: bounds.pac_bayes_bound(net, X, y, sigma=0.1, samples=1, progress="yes"),
        "p must be a number >= 1, got True": lambda: bounds.path_norm(net, True),
        "n must be a positive integer, got True": lambda: bounds.vc_bound(net, True),
        "n must be a positive integer, got 10.0": lambda: bounds.vc_bound(net, 10.0),
        "X must be a tensor or an array of numbers, got str": lambda: bounds.bartlett_bound(net, "X", y, gamma=1.0),
    }
    for message, call in calls.items():
        with pytest.raises(TypeError, match=message):
            call()


# --------------------------------------------------------------------------- which networks


def _leaky_forward(weights, biases, X, slope):
    """A NumPy forward pass with LeakyReLU(slope) between the layers."""
    h = X
    for i, W in enumerate(weights):
        h = h @ W.T + (0.0 if biases is None else biases[i])
        if i < len(weights) - 1:
            h = np.where(h > 0, h, slope * h)
    return h


def _with_activation(net, activation):
    """The same layers (shared, not copied) with ``activation`` in place of every ReLU."""
    return nn.Sequential(*[activation() if isinstance(m, nn.ReLU) else m for m in net])


@pytest.mark.parametrize("slope", [0.1, -1.0, 1.0])
def test_leaky_relu_networks_get_their_own_margins_and_the_same_complexities(slope):
    relu = _random_mlp([5, 8, 6, 3], bias=True, seed=20)
    leaky = _with_activation(relu, lambda: nn.LeakyReLU(slope))
    X, y = _data(60, 5, 3, seed=21)
    lin = [m for m in relu if isinstance(m, nn.Linear)]
    Ws, bs = [m.weight.detach().numpy() for m in lin], [m.bias.detach().numpy() for m in lin]
    out = _leaky_forward(Ws, bs, X.numpy(), slope)
    expected = out[np.arange(60), y.numpy()] - np.where(np.eye(3, dtype=bool)[y.numpy()], -np.inf, out).max(axis=1)
    np.testing.assert_allclose(bounds.margins(leaky, X, y).numpy(), expected, rtol=1e-12, atol=1e-12)
    relu_margins = bounds.margins(relu, X, y).numpy()
    assert np.abs(expected - relu_margins).max() > 1e-3  # the activation really enters the margins
    # the norms do not depend on the activation; the margin loss does
    assert bounds.spectral_complexity(leaky) == bounds.spectral_complexity(relu)
    assert bounds.path_norm(leaky, 2) == bounds.path_norm(relu, 2)
    assert bounds.vc_dimension(leaky) == bounds.vc_dimension(relu)
    gamma = float(np.median(np.abs(expected)))
    for bound in (bounds.bartlett_bound, bounds.frobenius_bound):
        a, b = bound(leaky, X, y, gamma=gamma), bound(relu, X, y, gamma=gamma)
        assert a["complexity"] == b["complexity"] and a["confidence"] == b["confidence"]
        assert a["margin_loss"] == np.mean(expected <= gamma)
        assert b["margin_loss"] == np.mean(relu_margins <= gamma)
        assert 0 < a["margin_loss"] < 1
    # the folded network carries the constant 1 through LeakyReLU unchanged: same function
    folded = _with_activation(weighted_mlp(*bounds.folded_weights(leaky)), lambda: nn.LeakyReLU(slope))
    torch.testing.assert_close(folded(bounds.fold_inputs(leaky, X)), leaky(X).detach())


@pytest.mark.parametrize("slope", [1.5, -2.0])
def test_leaky_relu_steeper_than_one_is_refused(slope):
    net = _with_activation(_random_mlp([3, 5, 2], seed=22), lambda: nn.LeakyReLU(slope))
    X, y = _data(10, 3, 2)
    message = f"LeakyReLU with slope {slope} after layer 1 is not 1-Lipschitz"
    for call in (bounds.spectral_complexity, bounds.path_norm, bounds.folded_weights,
                 lambda m: bounds.vc_bound(m, 100), lambda m: bounds.bartlett_bound(m, X, y, gamma=1.0),
                 lambda m: bounds.frobenius_bound(m, X, y, gamma=1.0),
                 lambda m: bounds.cross_entropy_bound(m, X, input_bound=10.0)):
        with pytest.raises(ValueError, match=message):
            call(net)
    # margins and layer norms make sense for any network and stay available
    assert bounds.layer_norms(net)["rho"] > 0
    assert bounds.margins(net, X, y).shape == (10,)


def test_nested_sequentials_are_read_in_forward_order():
    flat = _random_mlp([4, 6, 5, 3], bias=True, seed=23)
    nested = nn.Sequential(nn.Flatten(), nn.Sequential(flat[0], flat[1]),
                           nn.Sequential(nn.Sequential(flat[2], flat[3]), nn.Sequential(flat[4])))
    X, y = _data(30, 4, 3, seed=24)
    torch.testing.assert_close(nested(X), flat(X))
    assert bounds.layer_norms(nested) == bounds.layer_norms(flat)
    for a, b in zip(bounds.folded_weights(nested), bounds.folded_weights(flat), strict=True):
        assert torch.equal(a, b)
    assert bounds.spectral_complexity(nested) == bounds.spectral_complexity(flat)
    assert bounds.spectral_complexity(nested, flat) == 0.0  # the flat twin as reference matches layer by layer
    assert bounds.path_norm(nested, 1) == bounds.path_norm(flat, 1)
    assert bounds.vc_dimension(nested) == bounds.vc_dimension(flat)
    assert bounds.bartlett_bound(nested, X, y, gamma=0.5) == bounds.bartlett_bound(flat, X, y, gamma=0.5)
    assert bounds.frobenius_bound(nested, X, y, gamma=0.5) == bounds.frobenius_bound(flat, X, y, gamma=0.5)
    torch.testing.assert_close(bounds.normalized_margins(nested, X, y), bounds.normalized_margins(flat, X, y),
                               rtol=0, atol=0)


def test_a_weight_normed_layer_counts_with_its_computed_weight():
    from torch.nn.utils.parametrizations import weight_norm

    net = _random_mlp([4, 6, 3], seed=29)
    normed = nn.Sequential(weight_norm(nn.Linear(4, 6, bias=False, dtype=torch.float64)), nn.ReLU(), net[2])
    with torch.no_grad():
        normed[0].parametrizations.weight.original0.mul_(torch.linspace(0.5, 3.0, 6, dtype=torch.float64)[:, None])
    g = normed[0].parametrizations.weight.original0.detach()
    v = normed[0].parametrizations.weight.original1.detach()
    plain = weighted_mlp(g * v / torch.linalg.vector_norm(v, dim=1, keepdim=True), net[2].weight.detach())
    X, y = _data(20, 4, 3, seed=30)
    torch.testing.assert_close(normed(X), plain(X))
    got, expected = bounds.layer_norms(normed), bounds.layer_norms(plain)
    for key in ("frobenius", "spectral", "rho", "rho_spectral"):
        assert got[key] == pytest.approx(expected[key], rel=1e-12)
    assert bounds.spectral_complexity(normed) == pytest.approx(bounds.spectral_complexity(plain), rel=1e-12)
    assert bounds.path_norm(normed) == pytest.approx(bounds.path_norm(plain), rel=1e-12)
    a, b = bounds.frobenius_bound(normed, X, y, gamma=0.5), bounds.frobenius_bound(plain, X, y, gamma=0.5)
    assert a["bound"] == pytest.approx(b["bound"], rel=1e-12)


# --------------------------------------------------------------------------- margins: model state, arrays


def test_output_margins_by_hand_and_as_margins_uses_them():
    out = torch.tensor([[1.0, 3.0, 2.0], [0.5, 0.5, -1.0], [4.0, -1.0, 3.0]])
    torch.testing.assert_close(bounds.output_margins(out, torch.tensor([1, 0, 2])), torch.tensor([1.0, 0.0, -1.0]))
    torch.testing.assert_close(bounds.output_margins(torch.tensor([[2.0], [-0.5]]), torch.tensor([1, 1])),
                               torch.tensor([2.0, -0.5]))
    net = _random_mlp([4, 6, 3], seed=25)
    X, y = _data(12, 4, 3)
    torch.testing.assert_close(bounds.margins(net, X, y), bounds.output_margins(net(X).detach(), y), rtol=0, atol=0)
    with pytest.raises(ValueError, match="there are 3 outputs but 2 labels"):
        bounds.output_margins(out, torch.tensor([0, 1]))
    with pytest.raises(ValueError, match=r"class indices must lie in \[0, 2\]"):
        bounds.output_margins(out, torch.tensor([0, 1, 3]))


def _batch_norm_net():
    net = nn.Sequential(nn.Linear(4, 6, dtype=torch.float64), nn.BatchNorm1d(6, dtype=torch.float64), nn.ReLU(),
                        nn.Linear(6, 3, dtype=torch.float64))
    X, y = _data(40, 4, 3, seed=26)
    with torch.no_grad():
        net(3.0 * X + 1.0)  # running statistics away from their initial (0, 1)
    return net, X, y


@pytest.mark.parametrize("training", [True, False])
def test_margins_use_the_running_statistics_and_leave_batch_norm_untouched(training):
    net, X, y = _batch_norm_net()
    net.train(training)
    before = {name: b.clone() for name, b in net.named_buffers()}
    got = bounds.margins(net, X, y)
    after = dict(net.named_buffers())
    assert all(torch.equal(before[name], after[name]) for name in before)  # num_batches_tracked too
    assert net.training is training
    # oracle: the evaluation-mode forward pass written out with the running statistics
    bn = net[1]
    h = X @ net[0].weight.T + net[0].bias
    h = (h - bn.running_mean) / torch.sqrt(bn.running_var + bn.eps) * bn.weight + bn.bias
    out = (torch.relu(h) @ net[3].weight.T + net[3].bias).detach()
    torch.testing.assert_close(got, bounds.output_margins(out, y), rtol=1e-12, atol=1e-12)
    with torch.no_grad():
        batch_stats = net.train()(X)  # (this does update the buffers)
    assert not torch.allclose(got, bounds.output_margins(batch_stats, y))  # batch statistics would differ


def test_pac_bayes_bound_leaves_batch_norm_untouched():
    net, X, y = _batch_norm_net()
    net.train()
    before = {name: b.clone() for name, b in net.named_buffers()}
    out = bounds.pac_bayes_bound(net, X, y, sigma=1e-9, samples=2)
    assert all(torch.equal(before[name], b) for name, b in net.named_buffers())
    assert net.training
    expected = (bounds.margins(net, X, y) <= 0).double().mean().item()
    assert out["train_error"] == expected
    assert out["empirical_error"] == pytest.approx(expected)  # a tiny perturbation, in evaluation mode too


def test_margins_and_bounds_accept_arrays():
    net = _random_mlp([4, 7, 3], bias=True, seed=27)
    X, y = _data(25, 4, 3, seed=28)
    torch.testing.assert_close(bounds.margins(net, X.numpy(), y.numpy()), bounds.margins(net, X, y), rtol=0, atol=0)
    torch.testing.assert_close(bounds.margins(net, X.tolist(), y.tolist()), bounds.margins(net, X, y), rtol=0, atol=0)
    # a float32 model: float64 arrays are cast to its dtype
    net32 = _random_mlp([4, 7, 3], bias=True, seed=27).float()
    got = bounds.margins(net32, X.numpy(), y.numpy())
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, bounds.margins(net32, X.float(), y), rtol=0, atol=0)
    assert bounds.bartlett_bound(net, X.numpy(), y.numpy(), gamma=0.5) == bounds.bartlett_bound(net, X, y, gamma=0.5)
    assert bounds.frobenius_bound(net, X.numpy(), y.numpy(), gamma=0.5) == bounds.frobenius_bound(net, X, y, gamma=0.5)
    assert (bounds.pac_bayes_bound(net, X.numpy(), y.numpy(), sigma=0.1, samples=5)
            == bounds.pac_bayes_bound(net, X, y, sigma=0.1, samples=5))


def test_margins_refuse_what_is_not_a_model():
    X, y = _data(5, 3, 2)
    for call in (bounds.margins, bounds.normalized_margins):
        with pytest.raises(TypeError, match="model must be a torch.nn.Module, got str"):
            call("net", X, y)


def test_pac_bayes_progress_bar_only_when_asked(trained, capsys):
    net, init, X, y = trained
    quiet = bounds.pac_bayes_bound(net, X, y, sigma=[0.01, 0.1], prior=init, samples=4, progress=False)
    assert capsys.readouterr().err == ""
    shown = bounds.pac_bayes_bound(net, X, y, sigma=[0.01, 0.1], prior=init, samples=4, progress=True)
    err = capsys.readouterr().err
    assert "PAC-Bayes sigma=0.01" in err and "PAC-Bayes sigma=0.1" in err and "4/4" in err
    assert shown == quiet
