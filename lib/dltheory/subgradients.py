"""Derivatives of ReLU programs at their kinks: what automatic differentiation returns, and fixes.

A program built from ReLUs is piecewise linear (or piecewise smooth), and automatic
differentiation (AD) applies the chain rule with a fixed number for the derivative of the ReLU
at 0; PyTorch uses :math:`\\sigma'(0) = 0` in reverse mode *and* in forward mode. The chain rule
is false for such choices: :math:`\\sigma(x) - \\sigma(-x) = x`, yet AD returns 0 at
:math:`x = 0`. Two fixes return a true derivative.

* **One-sided directional derivatives in forward mode.** Every program of ReLUs, sums and
  products has one-sided directional derivatives
  :math:`f'(x; v) = \\lim_{t \\downarrow 0} (f(x + tv) - f(x))/t`, and for locally Lipschitz
  pieces they obey an exact chain rule, :math:`(g \\circ h)'(x; v) = g'(h(x); h'(x; v))`. For the
  ReLU, :math:`\\sigma'(z; \\dot z) = \\dot z` for :math:`z > 0`, :math:`0` for :math:`z < 0` and
  :math:`\\sigma(\\dot z)` at :math:`z = 0`. :func:`relu` is ``torch.relu`` with this forward-mode
  rule, so ``torch.func.jvp`` through it returns :math:`f'(x; v)`
  (:func:`directional_derivative`).
* **Randomisation** (Kakade and Lee 2018). Along a random direction :math:`v`, each kink that
  the program meets is left on one side, a.s. not tangentially, so one forward pass with
  :math:`f'(x; v)` fixes, at every ReLU with :math:`z = 0`, the branch that is active on
  :math:`x + tv` for small :math:`t > 0`. A reverse pass with those branches returns the gradient
  of the piece of :math:`f` adjacent to :math:`x` along :math:`v`, an element of the Clarke
  subdifferential (:func:`limiting_gradient`). Cheaper and approximate: autograd at a randomly
  perturbed point :math:`x + \\varepsilon u` (:func:`randomized_gradient`), exact for a
  piecewise-linear program when no other kink lies within :math:`\\varepsilon` of :math:`x`.

:func:`one_sided_derivatives` and :func:`derivative_jump` give the left and right derivatives
of a scalar function, the test for weak convexity: :math:`f + \\tfrac\\lambda2 x^2` is convex
only if no derivative jumps down, and adding :math:`\\tfrac\\lambda2 x^2` does not change a jump,
so :math:`(1 - \\sigma(x))^2`, whose derivative jumps by :math:`-2` at 0, is not weakly convex
(Davis, Drusvyatskiy, Kakade and Lee 2020).

References
----------
S. M. Kakade and J. D. Lee, "Provably correct automatic sub-differentiation for qualified
programs", NeurIPS 2018. D. Davis, D. Drusvyatskiy, S. Kakade and J. D. Lee, "Stochastic
subgradient method converges on tame functions", Found. Comput. Math. 20 (2020).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence

import torch
from torch.autograd import forward_ad

from ._checks import check_choice, check_int, check_real, check_seed

__all__ = ["relu", "directional_derivative", "one_sided_difference", "limiting_gradient",
           "randomized_gradient", "autograd_gradient", "one_sided_derivatives", "derivative_jump",
           "gradient_descent", "integer_relu_net", "relu_net", "random_direction", "ORACLES"]

Program = Callable[[torch.Tensor], torch.Tensor]

# The branch tape of limiting_gradient: None, ("record", list) or ("replay", iterator).
_TAPE: list = [None]


@contextlib.contextmanager
def _tape(mode: str, slopes):
    if _TAPE[0] is not None:
        raise RuntimeError("limiting_gradient cannot be nested inside another limiting_gradient")
    _TAPE[0] = (mode, slopes)
    try:
        yield
    finally:
        _TAPE[0] = None


class _OneSidedReLU(torch.autograd.Function):
    """``torch.relu`` whose forward-mode derivative at 0 is one-sided, and whose branches can be taped."""

    @staticmethod
    def forward(z):
        return z.clamp_min(0)

    @staticmethod
    def setup_context(ctx, inputs, output):
        (z,) = inputs
        ctx.save_for_backward(z)
        ctx.save_for_forward(z)
        ctx.slope = None
        if _TAPE[0] is not None and _TAPE[0][0] == "replay":
            try:
                slope = next(_TAPE[0][1])
            except StopIteration:
                raise RuntimeError("the program calls relu more often than when its branches were "
                                   "recorded: it must be deterministic") from None
            if slope.shape != z.shape:
                raise RuntimeError(f"relu input of shape {tuple(z.shape)} where the recorded pass had "
                                   f"{tuple(slope.shape)}: the program must be deterministic")
            ctx.slope = slope

    @staticmethod
    def backward(ctx, grad):
        (z,) = ctx.saved_tensors
        slope = (z > 0) if ctx.slope is None else ctx.slope
        return grad * slope.to(grad.dtype)

    @staticmethod
    def jvp(ctx, dz):
        (z,) = ctx.saved_tensors
        if _TAPE[0] is not None and _TAPE[0][0] == "record":
            _TAPE[0][1].append(((z > 0) | ((z == 0) & (dz > 0))).detach())
        return torch.where(z > 0, dz, torch.where(z < 0, torch.zeros_like(dz), dz.clamp_min(0)))


def relu(z: torch.Tensor) -> torch.Tensor:
    """The ReLU :math:`\\sigma(z) = \\max(z, 0)` with one-sided directional derivatives in forward mode.

    Its value and its reverse-mode derivative are those of ``torch.relu`` (slope 0 at
    :math:`z = 0`). In forward mode (``torch.func.jvp``, ``torch.autograd.forward_ad``) it
    returns the one-sided directional derivative

    .. math:: \\sigma'(z; \\dot z) = \\dot z\\,[z > 0] + \\sigma(\\dot z)\\,[z = 0],

    for which the chain rule is exact (Kakade and Lee 2018), where ``torch.relu`` returns
    :math:`\\dot z\\,[z > 0]`. Inside :func:`limiting_gradient` its reverse mode follows the
    branch selected by the direction.
    """
    if not isinstance(z, torch.Tensor):
        raise TypeError(f"relu takes a tensor, got {type(z).__name__}")
    return _OneSidedReLU.apply(z)


def _point(x, name: str = "x") -> torch.Tensor:
    t = torch.as_tensor(x) if not isinstance(x, torch.Tensor) else x.detach()
    if not t.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor (float64 for exact kinks), got dtype {t.dtype}")
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} contains NaN or inf")
    return t


def _direction(v, x: torch.Tensor, name: str = "v") -> torch.Tensor:
    v = _point(v, name).to(x.dtype).to(x.device)
    if v.shape != x.shape:
        raise ValueError(f"{name} must have the shape of x, {tuple(x.shape)}, got {tuple(v.shape)}")
    return v


def _scalar(out, what: str) -> torch.Tensor:
    if not isinstance(out, torch.Tensor) or out.numel() != 1:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(f"{what} must return a scalar tensor, got {shape}")
    return out.reshape(())


def random_direction(shape: Sequence[int] | torch.Size, *, seed: int, dtype=torch.float64,
                     device: torch.device | str = "cpu") -> torch.Tensor:
    """A direction uniform on the unit sphere of :math:`\\mathbb{R}^{\\text{shape}}` (a normalised Gaussian)."""
    g = torch.Generator().manual_seed(check_seed(seed))
    u = torch.randn(tuple(shape), generator=g, dtype=dtype)
    return (u / torch.linalg.vector_norm(u)).to(device)


def directional_derivative(f: Program, x, v) -> torch.Tensor:
    """The forward-mode derivative of ``f`` at ``x`` in the direction ``v``, as a scalar tensor.

    This is ``torch.func.jvp(f, (x,), (v,))[1]``. Where ``f`` uses :func:`relu` it is the
    one-sided directional derivative :math:`f'(x; v) = \\lim_{t\\downarrow 0}(f(x+tv) - f(x))/t`,
    for every ``x`` (kinks included); where ``f`` uses ``torch.relu`` it is PyTorch's answer,
    which at a kink applies :math:`\\sigma'(0) = 0`.

    Parameters
    ----------
    f : callable
        A scalar function of a tensor of the shape of ``x``.
    x, v : Tensor
        The point and the direction (same shape, floating point).
    """
    x = _point(x)
    v = _direction(v, x)
    _, dot = torch.func.jvp(lambda t: _scalar(f(t), "f"), (x,), (v,))
    return dot.detach()


def one_sided_difference(f: Program, x, v, h: float = 2.0**-20) -> torch.Tensor:
    """The forward difference :math:`(f(x + hv) - f(x))/h`, an independent estimate of :math:`f'(x; v)`.

    For a piecewise-linear ``f`` it equals :math:`f'(x; v)` up to round-off when no kink of
    ``f`` lies on the segment :math:`(x, x + hv]`.
    """
    x = _point(x)
    v = _direction(v, x)
    h = check_real(h, "h", min=0.0, min_open=True)
    with torch.no_grad():
        return ((_scalar(f(x + h * v), "f") - _scalar(f(x), "f")) / h).detach()


def autograd_gradient(f: Program, x) -> torch.Tensor:
    """What reverse-mode AD returns: ``torch.autograd.grad(f(x), x)`` (with :math:`\\sigma'(0) = 0`)."""
    x = _point(x).clone().requires_grad_(True)
    (g,) = torch.autograd.grad(_scalar(f(x), "f"), x, allow_unused=True)
    return torch.zeros_like(x).detach() if g is None else g.detach()


def randomized_gradient(f: Program, x, *, eps: float = 1e-7, seed: int = 0) -> torch.Tensor:
    """Reverse-mode AD at a randomly perturbed point: :math:`\\nabla f(x + \\varepsilon u)`, :math:`u` uniform on the sphere.

    For a piecewise-linear ``f``, almost every :math:`x + \\varepsilon u` lies inside a piece, where
    AD is exact, and the piece touches :math:`x`, so its gradient is an element of the Clarke
    subdifferential at :math:`x`, provided no kink other than those through :math:`x` lies
    within :math:`\\varepsilon` (and :math:`\\varepsilon` survives rounding: ``x + eps * u != x``).
    Works for programs written with ``torch.relu`` too.
    """
    x = _point(x)
    eps = check_real(eps, "eps", min=0.0, min_open=True)
    u = random_direction(x.shape, seed=seed, dtype=x.dtype, device=x.device)
    return autograd_gradient(f, x + eps * u)


def limiting_gradient(f: Program, x, v=None, *, seed: int = 0) -> torch.Tensor:
    """Kakade and Lee's randomised chain rule: the gradient of the piece of ``f`` next to ``x`` along ``v``.

    A forward-mode pass computes :math:`f'(x; v)` and records, at every call of :func:`relu`,
    the branch that is active on :math:`x + tv` for small :math:`t > 0`: slope 1 where
    :math:`z > 0`, or :math:`z = 0` and :math:`z'(x; v) > 0`; slope 0 otherwise. A reverse pass
    through the same program then uses those slopes. For a program of ReLUs, sums and products
    and a direction :math:`v` drawn at random (the default, uniform on the sphere from ``seed``),
    the result is, with probability one, :math:`\\lim_{t\\downarrow 0}\\nabla f(x + tv)`, an element
    of the Clarke subdifferential, and satisfies :math:`\\langle g, v\\rangle = f'(x; v)`. Ties,
    :math:`z = 0` with :math:`z'(x; v) = 0`, take slope 0; for a piecewise-linear program they
    have probability zero unless the pre-activation is locally constant, where the slope does
    not matter. Cost: one forward-mode pass and one reverse pass (Kakade and Lee 2018: at most
    six evaluations of ``f``).

    ``f`` must be deterministic and use :func:`relu` for every ReLU (``torch.relu`` keeps its
    slope 0 at kinks).
    """
    x = _point(x)
    v = random_direction(x.shape, seed=seed, dtype=x.dtype, device=x.device) if v is None else _direction(v, x)
    slopes: list[torch.Tensor] = []
    with _tape("record", slopes), forward_ad.dual_level():
        _scalar(forward_ad.unpack_dual(f(forward_ad.make_dual(x, v))).primal, "f")
    replay: Iterator = iter(slopes)
    with _tape("replay", replay):
        g = autograd_gradient(f, x)
    if next(replay, None) is not None:
        raise RuntimeError("the program called relu fewer times than when its branches were recorded: "
                           "it must be deterministic")
    return g


ORACLES = ("autograd", "randomized", "limiting")


def gradient_descent(f: Program, w0, *, lr: float, steps: int, oracle: str | Callable = "autograd",
                     seed: int = 0) -> torch.Tensor:
    """Gradient descent :math:`w_{k+1} = w_k - \\eta\\, g(w_k)` with the derivative ``oracle``, all iterates.

    ``oracle`` is ``'autograd'`` (:func:`autograd_gradient`), ``'randomized'``
    (:func:`randomized_gradient`), ``'limiting'`` (:func:`limiting_gradient`), with a fresh
    random direction at step :math:`k` from seed ``seed + k``, or a callable ``(f, w) -> g``.

    Returns
    -------
    Tensor of shape ``(steps + 1, *w0.shape)``
        :math:`w_0, \\dots, w_{\\text{steps}}`.
    """
    w = _point(w0, "w0").clone()
    lr = check_real(lr, "lr", min=0.0, min_open=True)
    steps = check_int(steps, "steps", min=0)
    seed = check_seed(seed)
    if not callable(oracle):
        check_choice(oracle, "oracle", ORACLES)
    path = [w.clone()]
    for k in range(steps):
        if callable(oracle):
            g = oracle(f, w)
        elif oracle == "autograd":
            g = autograd_gradient(f, w)
        elif oracle == "randomized":
            g = randomized_gradient(f, w, seed=seed + k)
        else:
            g = limiting_gradient(f, w, seed=seed + k)
        w = w - lr * g
        path.append(w.clone())
    return torch.stack(path)


def one_sided_derivatives(f: Program, x: float, *, method: str = "forward",
                          h: float = 2.0**-20) -> tuple[float, float]:
    """The left and right derivatives :math:`(f'_-(x), f'_+(x))` of a scalar function of one variable.

    :math:`f'_+(x) = f'(x; 1)` and :math:`f'_-(x) = -f'(x; -1)`. With ``method='forward'`` they
    come from :func:`directional_derivative` (exact when ``f`` uses :func:`relu`); with
    ``method='difference'`` from :func:`one_sided_difference` with step ``h`` (error
    :math:`O(h)` times the second derivative).
    """
    check_choice(method, "method", ("forward", "difference"))
    x0 = torch.tensor(check_real(x, "x"), dtype=torch.float64)
    one = torch.ones((), dtype=torch.float64)
    if method == "forward":
        right, minus = directional_derivative(f, x0, one), directional_derivative(f, x0, -one)
    else:
        right, minus = one_sided_difference(f, x0, one, h), one_sided_difference(f, x0, -one, h)
    return -float(minus), float(right)


def derivative_jump(f: Program, x: float, *, method: str = "forward", h: float = 2.0**-20) -> float:
    """:math:`f'_+(x) - f'_-(x)`, the jump of the derivative of a scalar function at ``x``.

    A convex function has non-negative jumps everywhere, and adding :math:`\\tfrac\\lambda2 x^2`
    changes no jump. So a negative jump means that :math:`f + \\tfrac\\lambda2 x^2` is convex for
    no :math:`\\lambda`: ``f`` is not weakly convex (Davis et al. 2020's example
    :math:`(1 - \\sigma(x))^2`, jump :math:`-2` at 0).
    """
    left, right = one_sided_derivatives(f, x, method=method, h=h)
    return right - left


def integer_relu_net(widths: Sequence[int], *, seed: int, max_weight: int = 2,
                     dtype=torch.float64) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Layers :math:`(W_l, b_l)` with integer entries uniform in :math:`\\{-m, \\dots, m\\}`, ``m = max_weight``.

    At integer inputs every pre-activation is an integer, so ReLUs meet their kink
    :math:`z = 0` exactly and often, in every layer; and the nearest other kink is at distance
    at least :math:`1/\\lVert W_l\\rVert` in pre-activation units, far beyond a finite-difference step.
    ``widths = [d, h_1, ..., 1]``.
    """
    widths = [check_int(w, "width", min=1) for w in widths]
    if len(widths) < 2:
        raise ValueError(f"widths must list at least the input and the output size, got {widths}")
    m = check_int(max_weight, "max_weight", min=1)
    g = torch.Generator().manual_seed(check_seed(seed))
    layers = []
    for fan_in, fan_out in zip(widths[:-1], widths[1:]):
        W = torch.randint(-m, m + 1, (fan_out, fan_in), generator=g).to(dtype)
        b = torch.randint(-m, m + 1, (fan_out,), generator=g).to(dtype)
        layers.append((W, b))
    return layers


def relu_net(layers: Sequence[tuple[torch.Tensor, torch.Tensor]], x: torch.Tensor,
             activation: Callable[[torch.Tensor], torch.Tensor] = relu) -> torch.Tensor:
    """:math:`f(x) = W_L\\,\\sigma(\\cdots\\sigma(W_1 x + b_1)\\cdots) + b_L` for one input ``x`` of shape ``(d,)``.

    ``activation`` is :func:`relu` (one-sided forward mode) or ``torch.relu`` (PyTorch's rule);
    the value is the same. Returns a scalar when the last layer has one output.
    """
    if not layers:
        raise ValueError("layers is empty")
    if x.shape != (layers[0][0].shape[1],):
        raise ValueError(f"x must have shape ({layers[0][0].shape[1]},), got {tuple(x.shape)}")
    a = x
    for i, (W, b) in enumerate(layers):
        a = W @ a + b
        if i < len(layers) - 1:
            a = activation(a)
    return a.squeeze(0) if a.shape == (1,) else a
