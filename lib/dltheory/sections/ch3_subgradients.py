"""The probes, descents and tables of ``book/3-sgd-overparametrization/subgradients.ipynb``.

:func:`kink_probes` evaluates five derivatives of random integer ReLU networks at integer
inputs, where kinks are hit exactly, against a one-sided finite difference;
:func:`kink_descents` runs gradient descent on :math:`(\\sigma(w) - \\sigma(-w) - y)^2` from the
kink :math:`w = 0` with each derivative oracle; :func:`jump_table` measures the derivative jump
of :math:`(1 - \\sigma(x))^2 + \\tfrac\\lambda2 x^2` at 0; :func:`cost_table` times a forward
pass against the derivatives (printed, never asserted).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from .. import subgradients as sg
from .._checks import check_int, check_real, check_seed

__all__ = ["Probes", "kink_probes", "toy", "toy_loss", "kink_descents", "weakly_convex_test",
           "jump_table", "cost_table"]


@dataclass
class Probes:
    """What :func:`kink_probes` measured, one entry per probe :math:`(x, v)` (NumPy arrays)."""

    difference: np.ndarray  # (f(x + h v) - f(x)) / h, the reference
    one_sided: np.ndarray  # forward mode through sg.relu: f'(x; v)
    torch_jvp: np.ndarray  # torch.func.jvp through torch.relu
    torch_reverse: np.ndarray  # <autograd gradient, v>
    limiting: np.ndarray  # <Kakade-Lee gradient g, v>
    limiting_vs_nearby: np.ndarray  # ||g - grad f(x + t v)|| / max(1, ||grad f(x + t v)||)
    kinks: np.ndarray  # number of pre-activations exactly 0 at x
    net: np.ndarray  # which network

    def wrong(self, column: str, tol: float = 1e-6) -> np.ndarray:
        """Where ``column`` differs from the finite difference by more than ``tol``."""
        return np.abs(getattr(self, column) - self.difference) > tol


def _kinks(layers, x: torch.Tensor) -> int:
    a, count = x, 0
    for W, b in layers[:-1]:
        z = W @ a + b
        count += int((z == 0).sum())
        a = torch.relu(z)
    return count


def kink_probes(n_nets: int, probes_per_net: int, *, widths: Sequence[int] = (4, 6, 6, 1), max_input: int = 2,
                h: float = 2.0**-20, t: float = 1e-6, seed: int = 0) -> Probes:
    """Derivatives of random integer ReLU networks at integer inputs, against finite differences.

    Each of ``n_nets`` networks :func:`dltheory.subgradients.integer_relu_net` is probed at
    ``probes_per_net`` points :math:`x` uniform in :math:`\\{-m, \\dots, m\\}^d` (``m = max_input``),
    each with one direction :math:`v` uniform on the sphere. Since every pre-activation is an
    integer there, kinks are hit exactly, and no other kink lies within ``h`` or ``t``.
    """
    n_nets, probes_per_net = check_int(n_nets, "n_nets", min=1), check_int(probes_per_net, "probes_per_net", min=1)
    m = check_int(max_input, "max_input", min=1)
    h, t = check_real(h, "h", min=0.0, min_open=True), check_real(t, "t", min=0.0, min_open=True)
    seed = check_seed(seed)
    g = torch.Generator().manual_seed(seed)
    rows = {name: [] for name in ("difference", "one_sided", "torch_jvp", "torch_reverse", "limiting",
                                  "limiting_vs_nearby", "kinks", "net")}
    for k in range(n_nets):
        layers = sg.integer_relu_net(widths, seed=seed + 1 + k)

        def ours(x, layers=layers):
            return sg.relu_net(layers, x)

        def theirs(x, layers=layers):
            return sg.relu_net(layers, x, torch.relu)

        for _ in range(probes_per_net):
            x = torch.randint(-m, m + 1, (widths[0],), generator=g).to(torch.float64)
            v = torch.randn(widths[0], generator=g, dtype=torch.float64)
            v = v / torch.linalg.vector_norm(v)
            limiting = sg.limiting_gradient(ours, x, v)
            nearby = sg.autograd_gradient(theirs, x + t * v)
            rows["difference"].append(sg.one_sided_difference(theirs, x, v, h).item())
            rows["one_sided"].append(sg.directional_derivative(ours, x, v).item())
            rows["torch_jvp"].append(sg.directional_derivative(theirs, x, v).item())
            rows["torch_reverse"].append(torch.dot(sg.autograd_gradient(theirs, x), v).item())
            rows["limiting"].append(torch.dot(limiting, v).item())
            rows["limiting_vs_nearby"].append(
                (torch.linalg.vector_norm(limiting - nearby) / max(1.0, torch.linalg.vector_norm(nearby).item())).item())
            rows["kinks"].append(_kinks(layers, x))
            rows["net"].append(k)
    return Probes(**{name: np.array(values) for name, values in rows.items()})


def toy(w: torch.Tensor, relu=sg.relu) -> torch.Tensor:
    """:math:`\\sigma(w) - \\sigma(-w)`, which equals :math:`w`, written with ReLUs (``relu``: ``sg.relu`` or ``torch.relu``)."""
    return relu(w) - relu(-w)


def toy_loss(target: float, relu=sg.relu):
    """:math:`L(w) = (\\sigma(w) - \\sigma(-w) - y)^2 = (w - y)^2`, with :math:`L'(0) = -2y`, as a function of ``w``."""
    return lambda w: (toy(w, relu) - target) ** 2


def kink_descents(target: float, *, lr: float = 0.1, steps: int = 100, seed: int = 0) -> dict[str, np.ndarray]:
    """Gradient descent on :func:`toy_loss` from the kink :math:`w = 0`, for each oracle of :mod:`~dltheory.subgradients`.

    Returns the iterates :math:`w_0, \\dots, w_{\\text{steps}}` per oracle. ``'autograd'`` and
    ``'randomized'`` differentiate the program written with ``torch.relu``, ``'limiting'``
    the one written with :func:`dltheory.subgradients.relu`.
    """
    target = check_real(target, "target")
    w0 = torch.zeros((), dtype=torch.float64)
    out = {}
    for oracle in sg.ORACLES:
        relu = sg.relu if oracle == "limiting" else torch.relu
        path = sg.gradient_descent(toy_loss(target, relu), w0, lr=lr, steps=steps, oracle=oracle, seed=seed)
        out[oracle] = path.numpy()
    return out


def weakly_convex_test(lam: float, x: float = 0.0) -> float:
    """:math:`g(x - s) + g(x + s) - 2g(x)` minimised over a grid of :math:`s \\in (0, 1]`, for :math:`g = (1 - \\sigma)^2 + \\tfrac\\lambda2 x^2`.

    A convex function has every such second difference :math:`\\ge 0`; a negative value
    certifies that :math:`g` is not convex, independently of any derivative.
    """
    lam = check_real(lam, "lam", min=0.0)
    s = torch.logspace(-8, 0, 81, dtype=torch.float64)

    def g(z):
        return (1 - torch.relu(z)) ** 2 + lam * z**2 / 2

    return (g(x - s) + g(x + s) - 2 * g(torch.tensor(x, dtype=torch.float64))).min().item()


def jump_table(lams: Sequence[float], *, h: float = 2.0**-20) -> dict[str, np.ndarray]:
    """For each :math:`\\lambda`: the derivative jump of :math:`(1 - \\sigma(x))^2 + \\tfrac\\lambda2 x^2` at 0.

    ``'forward'``: by one-sided forward mode; ``'difference'``: by one-sided finite differences
    with step ``h`` (independent of any AD rule); ``'chord'``: :func:`weakly_convex_test`.
    """
    out: dict[str, list] = {"lam": [], "forward": [], "difference": [], "chord": []}
    for lam in lams:
        lam = check_real(lam, "lam", min=0.0)

        def g(x, lam=lam):
            return (1 - sg.relu(x)) ** 2 + lam * x**2 / 2

        out["lam"].append(lam)
        out["forward"].append(sg.derivative_jump(g, 0.0))
        out["difference"].append(sg.derivative_jump(g, 0.0, method="difference", h=h))
        out["chord"].append(weakly_convex_test(lam))
    return {k: np.array(v) for k, v in out.items()}


def cost_table(*, width: int = 256, depth: int = 3, batch: int = 256, repeats: int = 5,
               seed: int = 0) -> dict[str, float]:
    """Wall-clock cost of derivatives of an MLP's mean loss, in units of one evaluation (median of ``repeats``).

    The function is :math:`\\theta \\mapsto` the mean square loss of a ReLU MLP (written with
    :func:`dltheory.subgradients.relu`) on a random batch, of all its parameters :math:`\\theta`.
    Timings depend on the machine: print them, never assert them.
    """
    width, depth, batch = (check_int(width, "width", min=1), check_int(depth, "depth", min=1),
                           check_int(batch, "batch", min=1))
    repeats = check_int(repeats, "repeats", min=1)
    g = torch.Generator().manual_seed(check_seed(seed))
    sizes = [width] * (depth + 1) + [1]
    shapes = [(o, i) for i, o in zip(sizes[:-1], sizes[1:])]
    X = torch.randn(batch, width, generator=g)
    y = torch.randn(batch, generator=g)
    theta = torch.cat([torch.randn(o * i, generator=g) / i**0.5 for o, i in shapes])

    def f(th):
        a, start = X, 0
        for j, (o, i) in enumerate(shapes):
            W = th[start:start + o * i].reshape(o, i)
            start += o * i
            a = a @ W.T
            if j < len(shapes) - 1:
                a = sg.relu(a)
        return ((a.squeeze(1) - y) ** 2).mean()

    v = torch.randn(theta.shape, generator=g)
    jobs = {
        "function": lambda: f(theta),
        "reverse mode (autograd)": lambda: sg.autograd_gradient(f, theta),
        "forward mode (one direction)": lambda: sg.directional_derivative(f, theta, v),
        "Kakade-Lee (forward + reverse)": lambda: sg.limiting_gradient(f, theta, v),
    }
    times = {}
    for name, job in jobs.items():
        job()  # warm up
        runs = []
        for _ in range(repeats):
            start = time.perf_counter()
            job()
            runs.append(time.perf_counter() - start)
        times[name] = float(np.median(runs))
    base = times["function"]
    return {name: value / base for name, value in times.items()}
