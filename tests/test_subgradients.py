"""dltheory.subgradients against independent computations: closed forms of directional derivatives
of small ReLU programs, one-sided finite differences at kinks (exact for piecewise-linear
functions), torch.autograd away from kinks and at perturbed points, a brute-force enumeration
of the linear pieces around a kink, and the one-sided derivatives of (1 - relu)^2 by hand."""

import itertools

import numpy as np
import pytest
import torch

from dltheory import subgradients as sg

pytestmark = pytest.mark.usefixtures("one_thread")

F64 = dict(dtype=torch.float64)


def t(x):
    return torch.tensor(x, **F64)


def h_ours(x):
    return sg.relu(x) - sg.relu(-x)


def h_torch(x):
    return torch.relu(x) - torch.relu(-x)


# ---------------------------------------------------------------- the primitive

def test_value_and_reverse_mode_are_torch_relu():
    z = torch.tensor([-2.0, -0.5, 0.0, 0.0, 0.3, 4.0], **F64, requires_grad=True)
    w = torch.randn(6, **F64)
    ours = torch.autograd.grad((sg.relu(z) * w).sum(), z)[0]
    z2 = z.detach().clone().requires_grad_(True)
    theirs = torch.autograd.grad((torch.relu(z2) * w).sum(), z2)[0]
    assert torch.equal(sg.relu(z), torch.relu(z))
    assert torch.equal(ours, theirs)


def test_forward_mode_rule_elementwise_closed_form():
    z = t([-1.0, -1.0, 0.0, 0.0, 0.0, 2.0, 2.0])
    dz = t([3.0, -3.0, 1.5, -1.5, 0.0, 0.7, -0.7])
    expected = t([0.0, 0.0, 1.5, 0.0, 0.0, 0.7, -0.7])
    _, dot = torch.func.jvp(sg.relu, (z,), (dz,))
    assert torch.equal(dot, expected)
    # torch.relu's forward mode takes slope 0 at the kink
    _, theirs = torch.func.jvp(torch.relu, (z,), (dz,))
    assert theirs[2].item() == 0.0


def test_forward_mode_through_autograd_forward_ad_as_well():
    from torch.autograd import forward_ad

    with forward_ad.dual_level():
        out = h_ours(forward_ad.make_dual(t(0.0), t(-2.5)))
        assert forward_ad.unpack_dual(out).tangent.item() == -2.5


def test_relu_rejects_non_tensors():
    with pytest.raises(TypeError, match="tensor"):
        sg.relu(0.0)


# ---------------------------------------------------------------- the toy h(x) = relu(x) - relu(-x) = x

def test_autograd_and_torch_jvp_return_zero_at_the_kink():
    assert sg.autograd_gradient(h_torch, t(0.0)).item() == 0.0
    assert sg.directional_derivative(h_torch, t(0.0), t(1.0)).item() == 0.0


@pytest.mark.parametrize("v", [1.0, -1.0, 0.3, -7.0])
def test_one_sided_forward_mode_gives_the_identity(v):
    assert sg.directional_derivative(h_ours, t(0.0), t(v)).item() == v


@pytest.mark.parametrize("seed", range(5))
def test_both_randomised_fixes_return_one(seed):
    assert sg.limiting_gradient(h_ours, t(0.0), seed=seed).item() == 1.0
    assert sg.randomized_gradient(h_torch, t(0.0), seed=seed).item() == 1.0


def test_limiting_gradient_is_not_fooled_by_torch_relu():
    """A program written with torch.relu keeps PyTorch's slope: documented, and visible."""
    assert sg.limiting_gradient(h_torch, t(0.0), seed=0).item() == 0.0


def test_nested_kinks_closed_form():
    """relu(relu(x)) - relu(relu(-x)) = x: fixed slopes give 2 s^2, directional derivatives 1."""
    f = lambda x: sg.relu(sg.relu(x)) - sg.relu(sg.relu(-x))  # noqa: E731
    for v in (1.0, -2.0):
        assert sg.directional_derivative(f, t(0.0), t(v)).item() == v
    assert sg.limiting_gradient(f, t(0.0), seed=3).item() == 1.0


def test_abs_value_gives_one_sided_slopes_and_a_clarke_element():
    f = lambda x: sg.relu(x) + sg.relu(-x)  # noqa: E731  |x|
    assert sg.directional_derivative(f, t(0.0), t(1.0)).item() == 1.0
    assert sg.directional_derivative(f, t(0.0), t(-1.0)).item() == 1.0
    assert sg.one_sided_derivatives(f, 0.0) == (-1.0, 1.0)
    assert sg.derivative_jump(f, 0.0) == 2.0
    # the limiting gradient is the slope on the side of v: +1 or -1
    assert sg.limiting_gradient(f, t(0.0), t(0.5)).item() == 1.0
    assert sg.limiting_gradient(f, t(0.0), t(-0.5)).item() == -1.0


# ---------------------------------------------------------------- away from kinks: plain autograd

def test_everything_agrees_with_autograd_away_from_kinks():
    layers = sg.integer_relu_net([3, 5, 4, 1], seed=11)
    g = torch.Generator().manual_seed(0)
    for _ in range(10):
        x = torch.randn(3, generator=g, **F64)  # a.s. no pre-activation at 0
        v = torch.randn(3, generator=g, **F64)
        ours = lambda x: sg.relu_net(layers, x)  # noqa: E731
        theirs = lambda x: sg.relu_net(layers, x, torch.relu)  # noqa: E731
        grad = sg.autograd_gradient(theirs, x)
        assert torch.allclose(sg.limiting_gradient(ours, x, seed=1), grad, rtol=0, atol=1e-12)
        assert torch.allclose(sg.randomized_gradient(theirs, x, eps=1e-9, seed=2), grad, atol=1e-12)
        assert abs(sg.directional_derivative(ours, x, v) - grad @ v) < 1e-12
        assert abs(sg.directional_derivative(theirs, x, v) - grad @ v) < 1e-12


def test_gradcheck_of_a_smooth_program_through_sg_relu():
    """Away from kinks sg.relu is differentiable; torch's own gradcheck (central differences) agrees,
    in reverse and in forward mode."""
    W = torch.randn(4, 3, **F64)
    x = torch.randn(3, **F64) + 0.1
    f = lambda x: (sg.relu(W @ x) ** 2).sum()  # noqa: E731
    assert torch.autograd.gradcheck(f, (x.clone().requires_grad_(True),), check_forward_ad=True)


# ---------------------------------------------------------------- at kinks: finite differences and pieces

def integer_problem(seed, widths=(4, 6, 6, 1)):
    layers = sg.integer_relu_net(list(widths), seed=seed)
    g = torch.Generator().manual_seed(100 + seed)
    x = torch.randint(-2, 3, (widths[0],), generator=g).to(torch.float64)
    v = torch.randn(widths[0], generator=g, **F64)
    return layers, x, v


@pytest.mark.parametrize("seed", range(12))
def test_one_sided_forward_mode_matches_one_sided_differences_at_integer_points(seed):
    layers, x, v = integer_problem(seed)
    f = lambda x: sg.relu_net(layers, x)  # noqa: E731
    fd = sg.one_sided_difference(f, x, v)
    assert abs(sg.directional_derivative(f, x, v) - fd).item() < 1e-6
    g = sg.limiting_gradient(f, x, v)
    assert abs(g @ v - fd).item() < 1e-6
    # the gradient of the piece next to x along v: plain autograd just inside that piece
    nearby = sg.autograd_gradient(lambda x: sg.relu_net(layers, x, torch.relu), x + 1e-7 * v)
    assert torch.allclose(g, nearby, atol=1e-9)


def test_integer_points_really_hit_kinks_and_torch_is_wrong_there():
    hits = wrong = 0
    for seed in range(30):
        layers, x, v = integer_problem(seed)
        z = layers[0][0] @ x + layers[0][1]
        hits += int((z == 0).any())
        theirs = sg.directional_derivative(lambda x: sg.relu_net(layers, x, torch.relu), x, v)
        wrong += int(abs(theirs - sg.one_sided_difference(lambda x: sg.relu_net(layers, x), x, v)) > 1e-6)
    assert hits >= 10 and wrong >= 3


def test_directional_derivative_is_the_max_over_adjacent_pieces_for_a_max_of_affine_maps():
    """f(x) = max_i (a_i . x + b_i), written with ReLUs, at a point where several pieces are active:
    f'(x; v) = max over the active i of a_i . v (Danskin), an independent closed form."""
    A = t([[1.0, 2.0], [-1.0, 0.5], [0.0, -3.0]])
    b = t([0.0, 0.0, 0.0])  # all three active at x = 0

    def fmax(x):
        s = A @ x + b
        m = s[0] + sg.relu(s[1] - s[0])  # max(s0, s1)
        return m + sg.relu(s[2] - m)  # max(max(s0, s1), s2)

    g = torch.Generator().manual_seed(5)
    for _ in range(20):
        v = torch.randn(2, generator=g, **F64)
        expected = (A @ v).max()
        assert abs(sg.directional_derivative(fmax, t([0.0, 0.0]), v) - expected).item() < 1e-12
        # the limiting gradient is the a_i that attains the max along v
        grad = sg.limiting_gradient(fmax, t([0.0, 0.0]), v)
        assert torch.allclose(grad, A[(A @ v).argmax()], atol=1e-12)


def test_limiting_gradients_over_many_directions_are_exactly_the_adjacent_pieces():
    """Brute force: the set of Kakade-Lee gradients over random directions equals the set of
    autograd gradients at points x + eps u on a fine grid of directions (the pieces touching x)."""
    layers = [(t([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]), t([0.0, 0.0, 0.0])), (t([[1.0, -2.0, 1.0]]), t([0.0]))]
    f = lambda x: sg.relu_net(layers, x)  # noqa: E731
    x = t([0.0, 0.0])
    ours = {tuple(np.round(sg.limiting_gradient(f, x, seed=s).numpy(), 9)) for s in range(200)}
    angles = np.linspace(0, 2 * np.pi, 721)[:-1] + 1e-3
    pieces = {tuple(np.round(sg.autograd_gradient(lambda z: sg.relu_net(layers, z, torch.relu),
                                                  x + 1e-6 * t([np.cos(a), np.sin(a)])).numpy(), 9))
              for a in angles}
    assert ours == pieces


def test_limiting_gradient_on_a_batch_loss_of_parameters():
    """A function of a parameter vector (the use in training) at a point with exact kinks."""
    X = t([[1.0, -1.0], [2.0, 0.0], [0.0, 1.0]])
    y = t([1.0, -1.0, 0.5])

    def loss(theta):
        W, a = theta[:4].reshape(2, 2), theta[4:]
        return ((sg.relu(X @ W.T) @ a - y) ** 2).mean()

    theta = t([1.0, 1.0, 0.0, 1.0, 1.0, -1.0])  # example 1 hits the first unit's kink
    v = sg.random_direction((6,), seed=4)
    g = sg.limiting_gradient(loss, theta, v)
    assert abs(g @ v - sg.one_sided_difference(loss, theta, v, h=1e-7)).item() < 1e-5
    nearby = sg.autograd_gradient(loss, theta + 1e-8 * v)
    assert torch.allclose(g, nearby, atol=1e-6)


# ---------------------------------------------------------------- weak convexity

@pytest.mark.parametrize("lam", [0.0, 0.5, 3.0, 100.0])
def test_one_sided_derivatives_of_the_non_weakly_convex_example(lam):
    f = lambda x: (1 - sg.relu(x)) ** 2 + lam * x**2 / 2  # noqa: E731
    assert sg.one_sided_derivatives(f, 0.0) == (0.0, -2.0)
    assert sg.derivative_jump(f, 0.0) == -2.0
    left, right = sg.one_sided_derivatives(f, 0.0, method="difference", h=1e-7)
    # by hand: right = ((1-h)^2 + lam h^2/2 - 1)/h = -2 + h(1 + lam/2), left = lam h / 2 ... up to sign
    assert left == pytest.approx(-lam * 1e-7 / 2, abs=1e-8)
    assert right == pytest.approx(-2 + 1e-7 * (1 + lam / 2), abs=1e-7)


def test_jumps_elsewhere_are_zero_and_convex_kinks_are_positive():
    f = lambda x: (1 - sg.relu(x)) ** 2  # noqa: E731
    assert sg.derivative_jump(f, 0.5) == pytest.approx(0.0, abs=1e-12)
    assert sg.derivative_jump(f, -0.5) == 0.0
    assert sg.derivative_jump(sg.relu, 0.0) == 1.0


# ---------------------------------------------------------------- gradient descent

def test_gradient_descent_closed_form_and_the_stuck_start():
    loss_t = lambda w: (h_torch(w) - 1.5) ** 2  # noqa: E731
    loss_o = lambda w: (h_ours(w) - 1.5) ** 2  # noqa: E731
    stuck = sg.gradient_descent(loss_t, t(0.0), lr=0.1, steps=50, oracle="autograd")
    assert stuck.shape == (51,) and torch.all(stuck == 0)
    path = sg.gradient_descent(loss_o, t(0.0), lr=0.1, steps=50, oracle="limiting", seed=1)
    expected = 1.5 * (1 - 0.8 ** torch.arange(51, dtype=torch.float64))  # w_k = y (1 - (1 - 2 lr)^k)
    assert torch.allclose(path, expected, atol=1e-12)
    rnd = sg.gradient_descent(loss_t, t(0.0), lr=0.1, steps=200, oracle="randomized", seed=2)
    assert abs(rnd[-1] - 1.5) < 1e-6
    custom = sg.gradient_descent(loss_o, t(0.0), lr=0.1, steps=3,
                                 oracle=lambda f, w: sg.directional_derivative(f, w, torch.ones_like(w)))
    assert torch.allclose(custom, expected[:4], atol=1e-12)


# ---------------------------------------------------------------- networks and checks

def test_integer_relu_net_is_integer_and_seeded():
    a = sg.integer_relu_net([3, 4, 1], seed=7, max_weight=3)
    b = sg.integer_relu_net([3, 4, 1], seed=7, max_weight=3)
    assert all(torch.equal(W, W2) and torch.equal(c, c2) for (W, c), (W2, c2) in zip(a, b))
    assert all(torch.equal(W, W.round()) and W.abs().max() <= 3 for W, _ in a)
    assert [W.shape for W, _ in a] == [(4, 3), (1, 4)]


def test_relu_net_closed_form():
    layers = [(t([[1.0, -1.0], [2.0, 0.0]]), t([0.5, -1.0])), (t([[1.0, 3.0]]), t([2.0]))]
    x = t([1.0, 2.0])
    # hidden: relu(-1 + 0.5) = 0, relu(2 - 1) = 1; output 0 + 3 + 2 = 5
    assert sg.relu_net(layers, x).item() == 5.0
    assert sg.relu_net(layers, x, torch.relu).item() == 5.0


@pytest.mark.parametrize("call, error, match", [
    (lambda: sg.directional_derivative(h_ours, t(0.0), t([1.0, 2.0])), ValueError, "shape of x"),
    (lambda: sg.directional_derivative(h_ours, torch.tensor(0), t(1.0)), TypeError, "floating-point"),
    (lambda: sg.directional_derivative(h_ours, t(float("nan")), t(1.0)), ValueError, "NaN"),
    (lambda: sg.directional_derivative(lambda x: torch.stack([x, x]), t(0.0), t(1.0)), ValueError, "scalar"),
    (lambda: sg.one_sided_difference(h_ours, t(0.0), t(1.0), h=0.0), ValueError, "h must be"),
    (lambda: sg.randomized_gradient(h_torch, t(0.0), eps=-1.0), ValueError, "eps must be"),
    (lambda: sg.gradient_descent(h_ours, t(0.0), lr=0.1, steps=3, oracle="newton"), ValueError, "oracle"),
    (lambda: sg.gradient_descent(h_ours, t(0.0), lr=0.0, steps=3), ValueError, "lr must be"),
    (lambda: sg.gradient_descent(h_ours, t(0.0), lr=0.1, steps=-1), ValueError, "steps must be"),
    (lambda: sg.one_sided_derivatives(h_ours, 0.0, method="central"), ValueError, "method"),
    (lambda: sg.integer_relu_net([3], seed=0), ValueError, "at least"),
    (lambda: sg.integer_relu_net([3, 0, 1], seed=0), ValueError, "width must be"),
    (lambda: sg.relu_net(sg.integer_relu_net([3, 1], seed=0), t([1.0, 2.0])), ValueError, "shape"),
])
def test_bad_inputs_are_named(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_a_program_that_changes_between_passes_is_refused():
    calls = itertools.count()

    def unstable(x):
        n = next(calls)
        out = sg.relu(x)
        return out if n % 2 == 0 else out + sg.relu(x)  # calls relu twice on odd passes

    with pytest.raises(RuntimeError, match="deterministic"):
        sg.limiting_gradient(unstable, t(0.0), seed=0)


def test_tape_is_cleared_after_an_error():
    def broken(x):
        sg.relu(x)
        raise ZeroDivisionError("inside the program")

    with pytest.raises(ZeroDivisionError):
        sg.limiting_gradient(broken, t(0.0), seed=0)
    assert sg.limiting_gradient(h_ours, t(0.0), seed=0).item() == 1.0
