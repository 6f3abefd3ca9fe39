"""dltheory.curvature against independent computations: torch.autograd.functional's
dense Hessian and Jacobian, central finite differences of the gradient, the dense
eigendecomposition, scipy's ARPACK (eigsh), curvlinops' linear operators, power
iteration (tests/_oracles.py), and the closed forms of Gauss quadrature and
Hutchinson's estimator."""

import copy
import math

import numpy as np
import pytest
import scipy.sparse.linalg
import torch
from torch import nn

from dltheory import curvature, losses, params
from dltheory.models import mlp
from tests._oracles import power_iteration

F64 = torch.float64
N = 12


def log_cosh(outputs, targets):
    """A smooth convex loss that is not in dltheory.losses (a callable)."""
    return torch.log(torch.cosh(outputs - targets)).sum() / outputs.shape[0]


LOSS_NAMES = ["square", "logistic", "exp", "hinge", "ce", "callable"]


def make_problem(name, seed=0, n=N, widths=(3, 6, 5)):
    """A small float64 tanh MLP, data and targets that fit ``name``."""
    g = torch.Generator().manual_seed(100 + seed)
    outputs = {"square": 2, "logistic": 1, "exp": 1, "hinge": 1, "ce": 3, "callable": 2}[name]
    model = mlp([*widths, outputs], activation="tanh", seed=seed, dtype=F64)
    X = torch.randn(n, widths[0], generator=g, dtype=F64)
    if name in ("square", "callable"):
        y = torch.randn(n, outputs, generator=g, dtype=F64)
    elif name == "ce":
        y = torch.randint(0, 3, (n,), generator=g)
    else:
        y = torch.randint(0, 2, (n,), generator=g).to(F64) * 2 - 1
    loss = log_cosh if name == "callable" else name
    return model, loss, X, y


def flat_loss(model, loss, X, y):
    f, fn = params.as_function(model), losses.resolve(loss)
    return lambda theta: fn(f(theta, X), y)


def random_vector(P, seed=0, dtype=F64):
    return torch.randn(P, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def rademacher(P, generator):
    """The probes of Hutchinson and SLQ: signs from ``torch.randint`` on the seeded generator."""
    return torch.randint(0, 2, (P,), generator=generator).to(F64) * 2 - 1


@pytest.fixture(scope="module")
def saddle():
    """A random-init tanh network under the square loss: an indefinite Hessian (P = 130)."""
    model, loss, X, y = make_problem("square", seed=1, n=20, widths=(4, 8, 8))
    H = curvature.hessian(model, loss, X, y)
    return model, loss, X, y, H, torch.linalg.eigvalsh(H)


# --------------------------------------------------------------------------- Hessian


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_hessian_matches_autograd_and_finite_differences(name):
    model, loss, X, y = make_problem(name)
    theta = params.flat_parameters(model)
    L = flat_loss(model, loss, X, y)
    H = curvature.hessian(model, loss, X, y)
    P = theta.numel()
    assert H.shape == (P, P) and H.dtype == F64
    torch.testing.assert_close(H, H.T, rtol=0, atol=0)
    torch.testing.assert_close(H, torch.autograd.functional.hessian(L, theta), rtol=1e-10, atol=1e-12)
    grad, h = torch.func.grad(L), 1e-5
    E = torch.eye(P, dtype=F64)
    fd = torch.stack([(grad(theta + h * e) - grad(theta - h * e)) / (2 * h) for e in E], dim=1)
    torch.testing.assert_close(H, (fd + fd.T) / 2, rtol=1e-6, atol=1e-7)
    assert H.abs().max() > 1e-3  # not trivially zero: the network's curvature shows, even for the hinge


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_hvp_equals_dense_hessian_times_v(name):
    model, loss, X, y = make_problem(name)
    H = curvature.hessian(model, loss, X, y)
    for seed in range(3):
        v = random_vector(H.shape[0], seed)
        torch.testing.assert_close(curvature.hvp(model, loss, X, y, v), H @ v, rtol=1e-10, atol=1e-12)


def test_hessian_chunking_does_not_change_it():
    model, loss, X, y = make_problem("ce")
    H = curvature.hessian(model, loss, X, y)
    for chunk in (1, 7, 10_000):
        torch.testing.assert_close(curvature.hessian(model, loss, X, y, chunk_size=chunk), H, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(curvature.gauss_newton(model, loss, X, y, chunk_size=5),
                               curvature.gauss_newton(model, loss, X, y), rtol=1e-12, atol=1e-14)


def test_results_follow_the_model_dtype():
    model64, loss, X, y = make_problem("square")
    model32 = copy.deepcopy(model64).float()
    P = params.flat_parameters(model32).numel()
    v = random_vector(P)  # float64 vector, float64 data: cast to the float32 model's dtype
    Hv32 = curvature.hvp(model32, loss, X, y, v)
    assert Hv32.dtype == torch.float32
    torch.testing.assert_close(Hv32.double(), curvature.hvp(model64, loss, X, y, v), rtol=1e-4, atol=1e-5)
    values, vectors = curvature.top_eigenvalues(model32, loss, X, y, k=2)
    assert values.dtype == vectors.dtype == torch.float32
    exact = torch.linalg.eigvalsh(curvature.hessian(model64, loss, X, y)).flip(0)[:2]
    torch.testing.assert_close(values.double(), exact, rtol=1e-4, atol=1e-5)


# --------------------------------------------------------------------------- Lanczos


@pytest.mark.parametrize("which", ["largest", "smallest", "magnitude"])
@pytest.mark.parametrize("k", [1, 5])
def test_top_eigenvalues_match_eigvalsh(saddle, which, k):
    model, loss, X, y, H, eigenvalues = saddle
    assert (eigenvalues < -0.5).sum() >= 5, "the test point should be a saddle"
    result = curvature.top_eigenvalues(model, loss, X, y, k=k, which=which)
    values, vectors = result
    if which == "largest":
        expected = eigenvalues.flip(0)[:k]
    elif which == "smallest":
        expected = eigenvalues[:k]
    else:
        expected = eigenvalues[eigenvalues.abs().argsort(descending=True)][:k]
    assert result.converged and 0 < result.matvecs <= H.shape[0]
    assert values.shape == (k,) and vectors.shape == (H.shape[0], k)
    assert ((values - expected).abs() / expected.abs()).max() <= 1e-6
    torch.testing.assert_close(vectors.norm(dim=0), torch.ones(k, dtype=F64))
    torch.testing.assert_close(vectors.T @ vectors, torch.eye(k, dtype=F64), rtol=0, atol=1e-6)
    true_residuals = (H @ vectors - vectors * values).norm(dim=0)
    assert (true_residuals <= 1e-5 * values.abs()).all()
    torch.testing.assert_close(true_residuals, result.residuals, rtol=0, atol=1e-8)


def test_top_eigenvalues_is_reproducible_and_counts_products(saddle):
    model, loss, X, y, H, _ = saddle
    a = curvature.top_eigenvalues(model, loss, X, y, k=3, seed=4)
    b = curvature.top_eigenvalues(model, loss, X, y, k=3, seed=4)
    torch.testing.assert_close(a.values, b.values, rtol=0, atol=0)
    torch.testing.assert_close(a.vectors, b.vectors, rtol=0, atol=0)
    assert a.matvecs == b.matvecs == len(a.history)
    values, vectors = a
    assert values is a.values and vectors is a.vectors and a[0] is a.values
    c = curvature.top_eigenvalues(model, loss, X, y, k=3, seed=5)
    torch.testing.assert_close(c.values, a.values, rtol=1e-8, atol=0)  # another start, the same answer
    # a looser tolerance stops earlier
    assert curvature.top_eigenvalues(model, loss, X, y, k=3, tol=1e-2, seed=4).matvecs < a.matvecs


def diagonal_matvec(eigenvalues):
    d = torch.as_tensor(eigenvalues, dtype=F64)
    return (lambda v: d * v), d.numel()


def steps_to(history, exact, rel=1e-6):
    """Products until the estimate reaches relative error ``rel`` and stays there (None: never)."""
    ok = np.abs(np.asarray(history) - exact) <= rel * abs(exact)
    return next((i + 1 for i in range(len(ok)) if ok[i:].all()), None)


def test_lanczos_beats_power_iteration_on_a_close_second_eigenvalue():
    # eigenvalues 1, 0.95, 0.9, ..., 0.05 and a bulk in [0, 0.05): power iteration's
    # error falls like 0.95^(2t); Lanczos's like a Chebyshev polynomial of the gap.
    bulk = torch.linspace(0, 0.05, 181, dtype=F64)[:-1]
    matvec, P = diagonal_matvec(torch.cat([1 - 0.05 * torch.arange(19, dtype=F64), bulk]))
    lanczos = curvature.lanczos(matvec, 1, size=P, tol=1e-10)
    power = power_iteration(matvec, P, tol=1e-14, max_iter=2000)
    n_lanczos, n_power = steps_to(lanczos.history, 1.0), steps_to(power.history, 1.0)
    assert lanczos.converged and n_lanczos is not None and n_power is not None
    assert 2 * n_lanczos <= n_power, (n_lanczos, n_power)  # 15 against 72 products
    # with its own rule at tol = 1e-6, power iteration stops before reaching 1e-6 accuracy
    early = power_iteration(matvec, P, tol=1e-6, max_iter=2000)
    assert early.converged and abs(early.value - 1) > 1e-6
    default = curvature.lanczos(matvec, 1, size=P, tol=1e-6)
    assert abs(default.values[0].item() - 1) < 1e-9 and default.matvecs < early.matvecs
    torch.testing.assert_close(default.vectors[:, 0].abs(), torch.eye(P, dtype=F64)[0], rtol=0, atol=1e-5)


def test_lanczos_takes_a_dense_symmetric_matrix(saddle):
    *_, H, eigenvalues = saddle
    P = H.shape[0]
    dense = curvature.lanczos(H, 4, which="smallest", tol=1e-10)
    assert dense.converged and dense.values.dtype == F64
    torch.testing.assert_close(dense.values, eigenvalues[:4], rtol=1e-9, atol=0)
    # the same iterates as the matrix given as a callable: the start vector depends on the seed alone
    same = curvature.lanczos(lambda v: H @ v, 4, size=P, which="smallest", tol=1e-10)
    assert same.matvecs == dense.matvecs
    torch.testing.assert_close(same.values, dense.values, rtol=1e-12, atol=0)
    # a float32 matrix is iterated in float64; size may be given if it agrees
    single = curvature.lanczos(H.float(), 1, size=P)
    assert single.values.dtype == F64
    torch.testing.assert_close(single.values, eigenvalues[-1:], rtol=1e-6, atol=0)


def test_lanczos_refuses_a_bad_operator_or_size():
    matvec, P = diagonal_matvec([3.0, 2.0, 1.0])
    with pytest.raises(TypeError, match="size must be a positive integer .*got None"):
        curvature.lanczos(matvec, 1)
    with pytest.raises(ValueError, match="size must be a positive integer .*got 0"):
        curvature.lanczos(matvec, 1, size=0)
    with pytest.raises(TypeError, match="size must be a positive integer .*got 2.5"):
        curvature.lanczos(matvec, 1, size=2.5)
    with pytest.raises(ValueError, match=r"k = 4 eigenpairs asked for but the operator has only P = 3"):
        curvature.lanczos(matvec, 4, size=3)
    A = torch.diag(torch.tensor([3.0, 2.0, 1.0], dtype=F64))
    with pytest.raises(ValueError, match=r"size = 4 does not match the operator's shape \(3, 3\)"):
        curvature.lanczos(A, 1, size=4)
    with pytest.raises(ValueError, match=r"square matrix \(P, P\), got shape \(3, 2\)"):
        curvature.lanczos(A[:, :2], 1)
    A[0, 1] = 1.0
    with pytest.raises(ValueError, match="operator must be symmetric"):
        curvature.lanczos(A, 1)
    A[0, 1] = A[1, 0] = float("nan")
    with pytest.raises(ValueError, match="operator contains NaN or inf"):
        curvature.lanczos(A, 1)
    with pytest.raises(TypeError, match="operator must be a callable matvec or a square tensor, got ndarray"):
        curvature.lanczos(np.eye(3), 1)
    with pytest.raises(TypeError, match="k must be a positive integer, got 1.0"):
        curvature.lanczos(matvec, 1.0, size=P)
    with pytest.raises(ValueError, match="tol must be a positive number, got 0"):
        curvature.lanczos(matvec, 1, size=P, tol=0)


def test_power_iteration_finds_the_largest_magnitude():
    matvec, P = diagonal_matvec([-3.0, 2.0, 1.0, 0.5])
    result = power_iteration(matvec, P, tol=1e-12, max_iter=500)
    assert result.converged and result.value == pytest.approx(-3.0, rel=1e-10)
    zero = power_iteration(lambda v: 0 * v, 5, tol=1e-6, max_iter=10)
    assert zero.converged and zero.value == 0.0


def test_lanczos_handles_invariant_subspaces():
    # two distinct eigenvalues: the Krylov space of a start vector is 2-dimensional
    values = [3.0] * 4 + [1.0] * 6
    matvec, P = diagonal_matvec(values)
    one = curvature.lanczos(matvec, 1, size=P)
    assert one.converged and one.matvecs == 2 and one.values.item() == pytest.approx(3.0, rel=1e-12)
    # k = P: restarts from vectors orthogonal to the basis until the whole space is spanned,
    # which recovers the multiplicities
    everything = curvature.lanczos(matvec, P, size=P)
    assert everything.converged and everything.matvecs == P
    torch.testing.assert_close(everything.values, torch.tensor(sorted(values, reverse=True), dtype=F64))
    V = everything.vectors
    torch.testing.assert_close(V.T @ V, torch.eye(P, dtype=F64), rtol=0, atol=1e-10)
    # the zero operator
    zero = curvature.lanczos(lambda v: 0 * v, 2, size=6)
    assert zero.converged and torch.all(zero.values == 0) and torch.isfinite(zero.vectors).all()


def test_top_eigenvalues_of_a_zero_hessian():
    # a linear model under the hinge loss has H = 0 exactly
    model = mlp([3, 1], seed=0, dtype=F64)
    _, _, X, y = make_problem("hinge")
    values, vectors = curvature.top_eigenvalues(model, "hinge", X, y, k=2)
    assert torch.all(values == 0) and torch.isfinite(vectors).all()
    grid, density = curvature.spectral_density(model, "hinge", X, y, probes=2, lanczos_steps=3)
    assert torch.trapezoid(density, grid).item() == pytest.approx(1.0, abs=1e-3)


def test_unconverged_lanczos_warns():
    bulk = torch.linspace(0, 0.05, 181, dtype=F64)[:-1]
    matvec, P = diagonal_matvec(torch.cat([1 - 0.05 * torch.arange(19, dtype=F64), bulk]))
    with pytest.warns(RuntimeWarning, match="max_iter"):
        result = curvature.lanczos(matvec, 1, size=P, max_iter=5)
    assert not result.converged and result.matvecs == 5


# --------------------------------------------------------------------------- trace and density


def test_hessian_trace_is_within_its_standard_error():
    model, loss, X, y = make_problem("ce")
    exact = torch.trace(curvature.hessian(model, loss, X, y)).item()
    small = curvature.hessian_trace(model, loss, X, y, samples=25, seed=0)
    large = curvature.hessian_trace(model, loss, X, y, samples=400, seed=1)
    for estimate, se in (small, large):
        assert isinstance(estimate, float) and isinstance(se, float) and se > 0
        assert abs(estimate - exact) <= 4 * se
    assert large.standard_error < 0.5 * small.standard_error  # ~ 1/sqrt(samples)
    assert curvature.hessian_trace(model, loss, X, y, samples=25, seed=0) == small
    assert curvature.hessian_trace(model, loss, X, y, samples=25, seed=2) != small


def test_hessian_trace_matches_the_probe_average():
    model, loss, X, y = make_problem("square")
    H = curvature.hessian(model, loss, X, y)
    g = torch.Generator().manual_seed(7)
    quadratic = torch.stack([z @ H @ z for z in (rademacher(H.shape[0], g) for _ in range(10))])
    estimate, se = curvature.hessian_trace(model, loss, X, y, samples=10, seed=7)
    assert estimate == pytest.approx(quadratic.mean().item(), rel=1e-10)
    assert se == pytest.approx(quadratic.std().item() / math.sqrt(10), rel=1e-10)


def test_slq_is_gauss_quadrature_of_each_probe(saddle):
    model, loss, X, y, H, eigenvalues = saddle
    P, m, probes = H.shape[0], 5, 6
    nodes, weights = curvature.slq_quadrature(model, loss, X, y, lanczos_steps=m, probes=probes, seed=3)
    assert nodes.shape == weights.shape == (probes, m)
    torch.testing.assert_close(weights.sum(dim=1), torch.ones(probes, dtype=F64))
    g = torch.Generator().manual_seed(3)
    for p in range(probes):
        z = rademacher(P, g)
        Hz = z
        for degree in range(1, 2 * m):  # exact up to degree 2m - 1
            Hz = H @ Hz
            moment = (weights[p] * nodes[p] ** degree).sum()
            torch.testing.assert_close(moment, z @ Hz / P, rtol=1e-8, atol=1e-12)


def test_slq_moments_estimate_the_normalised_traces(saddle):
    model, loss, X, y, H, eigenvalues = saddle
    nodes, weights = curvature.slq_quadrature(model, loss, X, y, lanczos_steps=20, probes=30, seed=0)
    for degree, exact in ((1, eigenvalues.mean()), (2, eigenvalues.pow(2).mean())):
        per_probe = (weights * nodes**degree).sum(dim=1)
        se = per_probe.std() / math.sqrt(per_probe.numel())
        assert abs(per_probe.mean() - exact) <= 4 * se
    # with as many steps as parameters the rule is exact: its nodes are the eigenvalues
    nodes, weights = curvature.slq_quadrature(model, loss, X, y, lanczos_steps=1000, probes=1)
    assert nodes.shape == (1, H.shape[0])
    torch.testing.assert_close(nodes[0], eigenvalues, rtol=0, atol=1e-9)


def test_spectral_density_integrates_to_one(saddle):
    model, loss, X, y, H, eigenvalues = saddle
    grid, density = curvature.spectral_density(model, loss, X, y, lanczos_steps=30, probes=4)
    assert grid.shape == density.shape == (1000,)
    assert (density >= 0).all() and torch.all(grid[1:] > grid[:-1])
    assert torch.trapezoid(density, grid).item() == pytest.approx(1.0, abs=1e-3)
    assert grid[0] < eigenvalues[0] and grid[-1] > eigenvalues[-1]  # the extreme nodes converge first
    # an explicit sigma and a coarse grid; the mean of the density is tr(H)/P up to probe noise
    grid, density = curvature.spectral_density(model, loss, X, y, lanczos_steps=30, probes=4, sigma=0.2,
                                               grid_size=300)
    assert torch.trapezoid(density, grid).item() == pytest.approx(1.0, abs=1e-3)
    mean = torch.trapezoid(grid * density, grid).item()
    assert mean == pytest.approx(eigenvalues.mean().item(), abs=0.1)


# --------------------------------------------------------------------------- Gauss-Newton


def gauss_newton_by_jacobians(model, loss, X, y):
    """J^T H_l J from torch.autograd.functional's Jacobian of the outputs and loss Hessian."""
    f, fn = params.as_function(model), losses.resolve(loss)
    theta = params.flat_parameters(model)
    outputs = f(theta, X).detach()
    J = torch.autograd.functional.jacobian(lambda t: f(t, X), theta).reshape(outputs.numel(), -1)
    H_l = torch.autograd.functional.hessian(lambda o: fn(o.reshape(outputs.shape), y), outputs.reshape(-1))
    return J.T @ H_l @ J


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_gauss_newton_matches_jacobians(name):
    model, loss, X, y = make_problem(name)
    G = curvature.gauss_newton(model, loss, X, y)
    torch.testing.assert_close(G, gauss_newton_by_jacobians(model, loss, X, y), rtol=1e-10, atol=1e-12)
    v = random_vector(G.shape[0])
    torch.testing.assert_close(curvature.gnvp(model, loss, X, y, v), G @ v, rtol=1e-10, atol=1e-12)
    eig = torch.linalg.eigvalsh(G)
    if name == "hinge":  # piecewise-linear in the outputs: no output curvature at all
        assert G.abs().max() == 0
    else:  # every other loss here is convex in the outputs
        assert eig.min() >= -1e-12 * eig.max() and eig.max() > 0


def test_gauss_newton_is_the_hessian_at_zero_residual():
    model, _, X, _ = make_problem("square")
    H_fit = curvature.hessian(model, "square", X, model(X).detach())
    torch.testing.assert_close(curvature.gauss_newton(model, "square", X, model(X).detach()), H_fit,
                               rtol=1e-10, atol=1e-12)
    # away from zero residual they differ by the network-curvature term
    _, _, _, y = make_problem("square")
    assert (curvature.hessian(model, "square", X, y) - curvature.gauss_newton(model, "square", X, y)).abs().max() > 1e-2
    # a linear model fitted exactly: H = G = [X 1]^T [X 1] / n for each output
    linear = mlp([3, 2], seed=0, dtype=F64)
    Xs = X[:3]
    with torch.no_grad():
        targets = Xs @ torch.randn(3, 2, dtype=F64, generator=torch.Generator().manual_seed(0))
        A = torch.cat([Xs, torch.ones(3, 1, dtype=F64)], dim=1)
        Wb = torch.linalg.lstsq(A, targets).solution  # (4, 2): interpolates 3 points exactly
        linear[0].weight.copy_(Wb[:3].T)
        linear[0].bias.copy_(Wb[3])
    assert losses.square(linear(Xs), targets).item() < 1e-25
    torch.testing.assert_close(curvature.hessian(linear, "square", Xs, targets),
                               curvature.gauss_newton(linear, "square", Xs, targets), rtol=1e-10, atol=1e-12)


# --------------------------------------------------------------------------- SciPy linear operator


@pytest.mark.parametrize("kind, dense", [("hessian", curvature.hessian), ("gauss_newton", curvature.gauss_newton)])
def test_linear_operator_is_the_dense_matrix(kind, dense):
    model, loss, X, y = make_problem("ce")
    M = dense(model, loss, X, y).numpy()
    A = curvature.linear_operator(model, loss, X, y, kind=kind)
    assert isinstance(A, scipy.sparse.linalg.LinearOperator)
    assert A.shape == M.shape and A.dtype == np.float64
    np.testing.assert_allclose(A @ np.eye(M.shape[0]), M, rtol=1e-10, atol=1e-12)
    v = random_vector(M.shape[0]).numpy()
    np.testing.assert_allclose(A.matvec(v[:, None]), (M @ v)[:, None], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(A.rmatvec(v), M @ v, rtol=1e-10, atol=1e-12)  # symmetric


def test_eigsh_on_the_linear_operator_agrees_with_top_eigenvalues(saddle):
    model, loss, X, y, H, eigenvalues = saddle
    A = curvature.linear_operator(model, loss, X, y)
    for which, arpack in (("largest", "LA"), ("smallest", "SA")):
        ours = curvature.top_eigenvalues(model, loss, X, y, k=3, which=which, tol=1e-10)
        values, vectors = scipy.sparse.linalg.eigsh(A, k=3, which=arpack, tol=1e-10)
        order = np.argsort(-values if which == "largest" else values)
        np.testing.assert_allclose(ours.values.numpy(), values[order], rtol=1e-9)
        overlaps = np.abs(np.sum(ours.vectors.numpy() * vectors[:, order], axis=0))
        np.testing.assert_allclose(overlaps, np.ones(3), atol=1e-6)


def test_linear_operator_of_a_float32_model_is_float64():
    model64, loss, X, y = make_problem("square")
    model32 = copy.deepcopy(model64).float()
    A32, A64 = curvature.linear_operator(model32, loss, X, y), curvature.linear_operator(model64, loss, X, y)
    v = random_vector(A64.shape[0]).numpy()
    assert A32.dtype == np.float64 and A32.matvec(v).dtype == np.float64
    np.testing.assert_allclose(A32.matvec(v), A64.matvec(v), rtol=1e-4, atol=1e-5)


# --------------------------------------------------------------------------- curvlinops oracle


def test_hvp_and_gnvp_match_curvlinops():
    curvlinops = pytest.importorskip("curvlinops")
    for name, module, factor in (
        # ours: (1/n) sum_i 1/2 ||f_i - y_i||^2; MSELoss(mean): (1/(n C)) sum (f - y)^2; MSELoss(sum): sum (f - y)^2
        ("square", nn.MSELoss(reduction="mean"), lambda n, C: C / 2),
        ("square", nn.MSELoss(reduction="sum"), lambda n, C: 1 / (2 * n)),
        ("ce", nn.CrossEntropyLoss(reduction="mean"), lambda n, C: 1.0),
    ):
        model, loss, X, y = make_problem(name, seed=2)
        params = list(model.parameters())
        P = sum(p.numel() for p in params)
        n, C = X.shape[0], model(X).shape[1]
        H_op = curvlinops.HessianLinearOperator(model, module, params, [(X, y)])
        G_op = curvlinops.GGNLinearOperator(model, module, params, [(X, y)])
        for seed in range(2):
            v = random_vector(P, seed)
            torch.testing.assert_close(curvature.hvp(model, loss, X, y, v), factor(n, C) * (H_op @ v),
                                       rtol=1e-9, atol=1e-12)
            torch.testing.assert_close(curvature.gnvp(model, loss, X, y, v), factor(n, C) * (G_op @ v),
                                       rtol=1e-9, atol=1e-12)


# --------------------------------------------------------------------------- bad input


def test_bad_inputs_are_named():
    model, loss, X, y = make_problem("square")
    P = params.flat_parameters(model).numel()
    v = random_vector(P)
    with pytest.raises(ValueError, match="X has 12 examples but y has 11"):
        curvature.hvp(model, loss, X, y[:11], v)
    with pytest.raises(ValueError, match="no parameters"):
        curvature.hvp(nn.Sequential(nn.Tanh()), loss, X, y, v)
    with pytest.raises(ValueError, match="the loss must return a scalar"):
        curvature.hessian(model, lambda o, t: (o - t) ** 2, X, y)
    with pytest.raises(ValueError, match="the loss must return a scalar"):
        curvature.top_eigenvalues(model, lambda o, t: ((o - t) ** 2).mean(dim=0), X, y)
    for bad in (float("nan"), float("inf")):
        X_bad = X.clone()
        X_bad[3, 1] = bad
        with pytest.raises(ValueError, match="X contains NaN or inf"):
            curvature.hessian_trace(model, loss, X_bad, y)
    y_bad = y.clone()
    y_bad[0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN or inf"):
        curvature.gnvp(model, loss, X, y_bad, v)
    with pytest.raises(ValueError, match=rf"k = {P + 1} .* only P = {P}"):
        curvature.top_eigenvalues(model, loss, X, y, k=P + 1)
    with pytest.raises(ValueError, match="k must be a positive integer, got 0"):
        curvature.top_eigenvalues(model, loss, X, y, k=0)
    with pytest.raises(ValueError, match="unknown which 'biggest'; choose one of"):
        curvature.top_eigenvalues(model, loss, X, y, which="biggest")
    with pytest.raises(ValueError, match=rf"v must have shape \(P,\) = \({P},\)"):
        curvature.hvp(model, loss, X, y, v[:-1])
    with pytest.raises(ValueError, match=rf"v must have shape \(P,\) = \({P},\)"):
        curvature.gnvp(model, loss, X, y, v.reshape(1, -1))
    with pytest.raises(ValueError, match=rf"P = {P} parameters, above max_params = 10.*GiB.*max_params={P}"):
        curvature.hessian(model, loss, X, y, max_params=10)
    with pytest.raises(ValueError, match="above max_params"):
        curvature.gauss_newton(model, loss, X, y, max_params=10)
    with pytest.raises(ValueError, match="unknown loss 'sqaure'"):
        curvature.hvp(model, "sqaure", X, y, v)
    with pytest.raises(ValueError, match="square loss: targets"):
        curvature.hvp(model, "square", X, y[:, :1], v)
    with pytest.raises(ValueError, match="samples must be an integer >= 2, got 1"):
        curvature.hessian_trace(model, loss, X, y, samples=1)
    with pytest.raises(ValueError, match="sigma must be a positive number or None, got 0.0"):
        curvature.spectral_density(model, loss, X, y, sigma=0.0)
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        curvature.slq_quadrature(model, loss, X, y, seed=-1)
    with pytest.raises(ValueError, match="unknown kind 'ggn'"):
        curvature.linear_operator(model, loss, X, y, kind="ggn")
    with pytest.raises(ValueError, match="max_iter = 2 .* k = 3"):
        curvature.top_eigenvalues(model, loss, X, y, k=3, max_iter=2)
    ce_model, _, Xc, yc = make_problem("ce")
    with pytest.raises(ValueError, match=r"class indices must lie in \[0, 2\]"):
        curvature.hessian(ce_model, "ce", Xc, yc + 1)
    bin_model, _, Xb, yb = make_problem("logistic")
    with pytest.raises(ValueError, match="2 \\* y - 1"):
        curvature.hessian(bin_model, "logistic", Xb, (yb + 1) / 2)


def test_type_mistakes_are_type_errors():
    model, loss, X, y = make_problem("square")
    v = random_vector(params.flat_parameters(model).numel())
    with pytest.raises(TypeError, match="model must be a torch.nn.Module, got function"):
        curvature.hvp(lambda x: x, loss, X, y, v)
    with pytest.raises(TypeError, match="X must be a tensor or an array of numbers, got str"):
        curvature.hessian(model, loss, "X", y)
    with pytest.raises(TypeError, match="v must be a tensor or an array of numbers, got NoneType"):
        curvature.hvp(model, loss, X, y, None)
    with pytest.raises(TypeError, match="k must be a positive integer, got 2.0"):
        curvature.top_eigenvalues(model, loss, X, y, k=2.0)
    with pytest.raises(TypeError, match="samples must be an integer >= 2, got True"):
        curvature.hessian_trace(model, loss, X, y, samples=True)
    with pytest.raises(TypeError, match="chunk_size must be a positive integer or None, got '8'"):
        curvature.hessian(model, loss, X, y, chunk_size="8")
    with pytest.raises(TypeError, match="max_params must be a positive integer"):
        curvature.gauss_newton(model, loss, X, y, max_params=1e4)
    with pytest.raises(TypeError, match="sigma must be a positive number or None, got '0.1'"):
        curvature.spectral_density(model, loss, X, y, sigma="0.1")
    with pytest.raises(TypeError, match="progress must be True or False, got 1"):
        curvature.hessian_trace(model, loss, X, y, samples=2, progress=1)


def test_array_likes_are_accepted():
    model, loss, X, y = make_problem("ce")
    v = random_vector(params.flat_parameters(model).numel())
    torch.testing.assert_close(curvature.hvp(model, loss, X.numpy(), y.tolist(), v.numpy()),
                               curvature.hvp(model, loss, X, y, v), rtol=0, atol=0)
    torch.testing.assert_close(curvature.hessian(model, loss, X.tolist(), y.numpy()),
                               curvature.hessian(model, loss, X, y), rtol=0, atol=0)


def test_progress_bars_count_and_change_nothing(capsys):
    model, loss, X, y = make_problem("square")
    H = curvature.hessian(model, loss, X, y, chunk_size=20, progress=False)
    assert capsys.readouterr().err == ""
    torch.testing.assert_close(curvature.hessian(model, loss, X, y, chunk_size=20, progress=True), H,
                               rtol=0, atol=0)
    bar = capsys.readouterr().err
    assert "dense Hessian (chunks)" in bar and "4/4" in bar  # P = 71 columns in chunks of 20
    calls = (lambda progress: curvature.top_eigenvalues(model, loss, X, y, progress=progress).values,
             lambda progress: torch.tensor(curvature.hessian_trace(model, loss, X, y, samples=5, progress=progress)),
             lambda progress: curvature.slq_quadrature(model, loss, X, y, lanczos_steps=5, probes=3,
                                                       progress=progress).nodes,
             lambda progress: curvature.spectral_density(model, loss, X, y, lanczos_steps=5, probes=3,
                                                         progress=progress).density)
    for call, desc in zip(calls, ("Lanczos", "Hutchinson probes", "SLQ probes", "SLQ probes")):
        quiet = call(False)
        assert capsys.readouterr().err == ""
        torch.testing.assert_close(call(True), quiet, rtol=0, atol=0)
        assert desc in capsys.readouterr().err


def test_the_model_is_left_alone():
    model, loss, X, y = make_problem("ce")
    before = params.flat_parameters(model).clone()
    v = random_vector(before.numel())
    curvature.hvp(model, loss, X, y, v)
    curvature.gnvp(model, loss, X, y, v)
    curvature.top_eigenvalues(model, loss, X, y, k=2)
    torch.testing.assert_close(params.flat_parameters(model), before, rtol=0, atol=0)
    assert all(p.grad is None for p in model.parameters())


def batch_norm_problem():
    """A float64 net with a batch norm in training mode, non-trivial running statistics, ce targets."""
    g = torch.Generator().manual_seed(5)
    model = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.Tanh(), nn.Linear(6, 3)).double()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=F64))
        model[1].running_mean.copy_(torch.randn(6, generator=g, dtype=F64))
        model[1].running_var.uniform_(0.5, 2.0, generator=g)
    X = torch.randn(16, 4, generator=g, dtype=F64)
    y = torch.randint(0, 3, (16,), generator=g)
    return model.train(), X, y


def test_a_batch_norm_in_training_mode_gives_the_batch_statistics_hessian_and_keeps_its_buffers():
    model, X, y = batch_norm_problem()
    buffers = {name: b.clone() for name, b in model.named_buffers()}
    P = params.flat_parameters(model).numel()
    H = curvature.hessian(model, "ce", X, y)
    curvature.hvp(model, "ce", X, y, random_vector(P))
    curvature.gauss_newton(model, "ce", X, y)
    curvature.top_eigenvalues(model, "ce", X, y, k=2)
    curvature.hessian_trace(model, "ce", X, y, samples=3)
    curvature.linear_operator(model, "ce", X, y).matvec(np.ones(P))
    assert model.training
    for name, b in model.named_buffers():
        torch.testing.assert_close(b, buffers[name], rtol=0, atol=0, msg=name)
    # the oracle: autograd's Hessian of the loss normalised by the batch's statistics, on a copy
    # (its forward passes update the copy's running statistics)
    oracle = copy.deepcopy(model)
    expected = torch.autograd.functional.hessian(flat_loss(oracle, "ce", X, y), params.flat_parameters(oracle))
    torch.testing.assert_close(H, expected, rtol=1e-10, atol=1e-12)
    # which is not the Hessian with the running statistics (evaluation mode)
    assert (curvature.hessian(model.eval(), "ce", X, y) - H).abs().max() > 1e-2
