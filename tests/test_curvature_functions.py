"""dltheory.curvature.functions against independent computations: torch.autograd.functional's dense
Hessian and Hessian-vector product, central finite differences, torch.linalg.eigvalsh, and the
model routines of dltheory.curvature applied to the FunctionModel wrapper."""

import math

import numpy as np
import pytest
import torch

from dltheory import curvature, train

pytestmark = pytest.mark.usefixtures("one_thread")
F64 = torch.float64


def rosenbrock(t):
    return (1 - t[0]) ** 2 + 100 * (t[1] - t[0] ** 2) ** 2 + torch.sin(t[2]) * t[0] * t[1]


def quartic(t):
    """A function with a saddle: sum of tanh-coupled quartics."""
    return 0.25 * (t**4).sum() - 0.5 * (t**2).sum() + torch.tanh(t[0] * t[-1])


@pytest.fixture
def point():
    return torch.tensor([0.3, -0.7, 1.1, 0.2], dtype=F64)


def test_gradient_matches_central_differences(point):
    g = curvature.function_gradient(quartic, point)
    h = 1e-6
    fd = torch.stack([(quartic(point + h * e) - quartic(point - h * e)) / (2 * h) for e in torch.eye(4, dtype=F64)])
    assert torch.allclose(g, fd, rtol=1e-7, atol=1e-9)


def test_hvp_matches_autograd_functional(point):
    v = torch.tensor([1.0, -2.0, 0.5, 3.0], dtype=F64)
    _, ref = torch.autograd.functional.hvp(quartic, point, v)
    assert torch.allclose(curvature.function_hvp(quartic, point, v), ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("f", [rosenbrock, quartic])
def test_dense_hessian_matches_autograd_and_finite_differences(f, point):
    theta = point[:3] if f is rosenbrock else point
    H = curvature.function_hessian(f, theta)
    ref = torch.autograd.functional.hessian(f, theta)
    assert torch.allclose(H, ref, rtol=1e-12, atol=1e-10)
    assert torch.equal(H, H.T)
    h = 1e-5
    fd = torch.stack([(curvature.function_gradient(f, theta + h * e) - curvature.function_gradient(f, theta - h * e))
                      / (2 * h) for e in torch.eye(theta.numel(), dtype=F64)])
    assert torch.allclose(H, fd, rtol=1e-6, atol=1e-5)


def test_eigenpairs_match_eigvalsh():
    g = torch.Generator().manual_seed(0)
    A = torch.randn(12, 12, generator=g, dtype=F64)
    A = A + A.T
    f = lambda t: 0.5 * t @ A @ t + torch.sin(t).sum()  # noqa: E731
    theta = torch.randn(12, generator=g, dtype=F64)
    ref = torch.linalg.eigvalsh(torch.autograd.functional.hessian(f, theta))
    low = curvature.function_eigenpairs(f, theta, k=2, which="smallest")
    high = curvature.function_eigenpairs(f, theta, k=1, which="largest")
    assert torch.allclose(low.values, ref[:2], atol=1e-9)
    assert high.values[0].item() == pytest.approx(ref[-1].item(), abs=1e-9)
    H = curvature.function_hessian(f, theta)
    v = low.vectors[:, 0]
    assert torch.allclose(H @ v, low.values[0] * v, atol=1e-7)


def test_eigenpairs_find_the_escape_direction_of_a_saddle():
    """f(x, y) = x^2/2 + y^4/4 - y^2/2 at (0, 0): lambda_min = -1 along the y axis."""
    f = lambda t: 0.5 * t[0] ** 2 + 0.25 * t[1] ** 4 - 0.5 * t[1] ** 2  # noqa: E731
    pairs = curvature.function_eigenpairs(f, torch.zeros(2, dtype=F64))
    assert pairs.values[0].item() == pytest.approx(-1.0, abs=1e-12)
    assert abs(pairs.vectors[1, 0].item()) == pytest.approx(1.0, abs=1e-10)


def test_function_model_gives_the_same_curvature_through_the_model_routines(point):
    model = curvature.FunctionModel(quartic, point)
    X, y = curvature.DUMMY_X.to(F64), curvature.DUMMY_Y.to(F64)
    assert model(torch.zeros(3, 1, dtype=F64)).shape == (3,)
    assert model.value() == pytest.approx(quartic(point).item())
    H = curvature.hessian(model, curvature.function_value, X, y)
    assert torch.allclose(H, curvature.function_hessian(quartic, point), atol=1e-12)
    assert torch.equal(model.theta.detach(), point)  # copied, not modified
    assert model.theta.data_ptr() != point.data_ptr()


def test_fit_on_a_function_model_is_gradient_descent(point):
    model = curvature.FunctionModel(quartic, point)
    train.fit(model, curvature.DUMMY_X.to(F64), curvature.DUMMY_Y.to(F64), loss=curvature.function_value,
              optimizer="gd", lr=0.1, steps=25, progress=False)
    theta = point.clone()
    for _ in range(25):
        theta = theta - 0.1 * torch.autograd.functional.jacobian(quartic, theta)
    assert torch.allclose(model.theta.detach(), theta, atol=1e-13)


def test_linear_and_constant_functions_have_zero_hessian():
    theta = torch.ones(3, dtype=F64)
    assert torch.equal(curvature.function_hessian(lambda t: t.sum(), theta), torch.zeros(3, 3, dtype=F64))
    assert torch.equal(curvature.function_gradient(lambda t: torch.tensor(2.0, dtype=F64), theta),
                       torch.zeros(3, dtype=F64))


def test_bad_inputs_are_named():
    theta = torch.zeros(3, dtype=F64)
    with pytest.raises(ValueError, match="vector of shape"):
        curvature.function_hessian(quartic, torch.zeros(2, 2, dtype=F64))
    with pytest.raises(ValueError, match="NaN"):
        curvature.function_gradient(quartic, torch.tensor([math.nan, 0.0, 0.0]))
    with pytest.raises(TypeError, match="floating"):
        curvature.function_gradient(quartic, torch.tensor([1, 2, 3]))
    with pytest.raises(ValueError, match="scalar"):
        curvature.function_hessian(lambda t: t * 2, theta)
    with pytest.raises(TypeError, match="function of a vector"):
        curvature.function_hessian("f", theta)
    with pytest.raises(ValueError, match="shape of theta"):
        curvature.function_hvp(quartic, theta, torch.ones(4, dtype=F64))
    with pytest.raises(ValueError, match="unknown which"):
        curvature.function_eigenpairs(quartic, theta, which="lowest")
    with pytest.raises(ValueError, match="vector of shape"):
        curvature.FunctionModel(quartic, np.zeros((2, 2)))
