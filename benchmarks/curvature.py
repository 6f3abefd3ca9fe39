"""Speed of the curvature and kernel routines against the alternatives a reader would reach for,
as ratios measured side by side in one run.

    .venv/bin/python benchmarks/curvature.py [--device cpu|cuda] [--repeats 5] [--threads 1]

(a) Top Hessian eigenvalue of a 784-256-256-10 MLP (512 examples, ce loss):
    ``curvature.top_eigenvalues`` (Lanczos with full reorthogonalisation) against
    ``scipy.sparse.linalg.eigsh`` (ARPACK's implicitly restarted Lanczos) on
    ``curvature.linear_operator``, the same Hessian-vector product (gradient
    graph built once), at the same relative residual tolerance 1e-6 and from the
    same seeded start vector; and against power iteration, PyHessian's method
    (``tests/_oracles.power_iteration``), given the smallest number of
    iterations that reaches relative error 1e-6, or Lanczos's error if larger
    (an oracle stop, its best case). Products are counted and every run includes building its operator.
    Target: at least 2x fewer products and 2x less time than power iteration.
(b) Empirical NTK of a 784-256-256-1 MLP on n = 1000 inputs: ``ntk.empirical_ntk``
    (structured, layer by layer) against the recipe of the torch.func tutorial
    "Neural Tangent Kernels" (per-example Jacobians by ``vmap(jacrev(...))``,
    contracted with ``einsum``; written here from that documentation) and against
    the per-example autograd loop ``tests/_oracles.ntk_loop``. Target: 10x over the loop.
(c) One Hessian-vector product over one gradient (``loss.backward()``), for
    ``curvature.hvp``, for one product of ``curvature.linear_operator`` (the
    gradient's graph reused, as inside Lanczos, Hutchinson and SLQ) and for
    torch.func's forward-over-reverse recipe (``jvp`` of ``grad``). Target: at most 3.

The results are checked to agree before anything is timed. Each time is the
median of ``--repeats`` runs after a warm-up (fewer for the slow baselines). On
the CPU torch, and the BLAS under NumPy and SciPy, run on ``--threads`` threads
(default 1, as the book's quick scale does). The results of a run are recorded in ``benchmarks/RESULTS.md``
with the machine.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import scipy.sparse.linalg
import torch
import torch.nn.functional as F
from threadpoolctl import threadpool_limits
from torch.func import functional_call, grad, jacrev, jvp, vmap

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root, for tests._oracles

from dltheory import curvature, models, ntk, params  # noqa: E402
from dltheory.config import device as default_device  # noqa: E402
from dltheory.config import limit_cpu_threads  # noqa: E402
from tests._oracles import ntk_loop, power_iteration  # noqa: E402

TOL = 1e-6


def _clock(fn: Callable[[], object], dev: torch.device) -> float:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    start = time.perf_counter()
    fn()
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    return time.perf_counter() - start


def timed_together(fns: dict[str, Callable[[], object]], repeats: int, dev: torch.device) -> dict[str, float]:
    """Median times of several functions run in turn after one warm-up each, so that load on
    the machine hits all alike."""
    for fn in fns.values():
        _clock(fn, dev)
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            samples[name].append(_clock(fn, dev))
    return {name: statistics.median(times) for name, times in samples.items()}


def relative_error(value: float, reference: float) -> float:
    return abs(value - reference) / abs(reference)


def classification_problem(dev: torch.device, n: int = 512, classes: int = 10, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, 784, generator=g).to(dev)
    y = torch.randint(0, classes, (n,), generator=g).to(dev)
    model = models.mlp([784, 256, 256, classes], seed=seed).to(dev)
    return model, X, y


class Counted(scipy.sparse.linalg.LinearOperator):
    """A linear operator that counts its products."""

    def __init__(self, A: scipy.sparse.linalg.LinearOperator) -> None:
        super().__init__(A.dtype, A.shape)
        self.A, self.matvecs = A, 0

    def _matvec(self, x: np.ndarray) -> np.ndarray:
        self.matvecs += 1
        return self.A.matvec(x)


def eigsh_top(model, X, y, P: int) -> tuple[float, int]:
    """``eigsh`` on the Hessian operator: the largest eigenvalue and the products it took."""
    A = Counted(curvature.linear_operator(model, "ce", X, y))
    v0 = torch.randn(P, generator=torch.Generator().manual_seed(0), dtype=torch.float64).numpy()
    values = scipy.sparse.linalg.eigsh(A, k=1, which="LA", tol=TOL, v0=v0, return_eigenvectors=False)
    return float(values[0]), A.matvecs


def power_top(model, X, y, P: int, max_iter: int):
    """Power iteration on the same operator for ``max_iter`` products (no early stop)."""
    A = curvature.linear_operator(model, "ce", X, y)
    return power_iteration(lambda v: torch.from_numpy(A.matvec(v.numpy())), P, tol=0.0, max_iter=max_iter)


def eigenvalue_benchmark(dev: torch.device, repeats: int) -> dict[str, float]:
    model, X, y = classification_problem(dev)
    P = sum(p.numel() for p in model.parameters())
    # Ritz values in float64 (the last of ``history``; ``values`` has the model's float32). The reference
    # starts elsewhere (seed 1), so that it does not share the iterates of the run it judges.
    reference = curvature.top_eigenvalues(model, "ce", X, y, tol=1e-12, seed=1).history[-1]
    lanczos = curvature.top_eigenvalues(model, "ce", X, y, tol=TOL)
    lanczos_error = relative_error(lanczos.history[-1], reference)
    arpack, arpack_matvecs = eigsh_top(model, X, y, P)
    arpack_error = relative_error(arpack, reference)
    if max(lanczos_error, arpack_error) > 10 * TOL:
        raise RuntimeError(f"the methods disagree: relative errors {lanczos_error:.1e} (Lanczos), "
                           f"{arpack_error:.1e} (eigsh)")

    long_run = power_top(model, X, y, P, max_iter=1000)
    accuracy = max(TOL, lanczos_error)
    needed = next((i + 1 for i, value in enumerate(long_run.history)
                   if relative_error(value, reference) <= accuracy), None)
    if needed is None:
        raise RuntimeError("power iteration did not reach the accuracy within 1000 products")

    times = timed_together(
        {
            "lanczos_s": lambda: curvature.top_eigenvalues(model, "ce", X, y, tol=TOL),
            "eigsh_s": lambda: eigsh_top(model, X, y, P),
            "power_s": lambda: power_top(model, X, y, P, max_iter=needed),
        },
        repeats,
        dev,
    )
    return {"P": P, "lanczos_matvecs": lanczos.matvecs, "lanczos_error": lanczos_error, "eigsh_matvecs": arpack_matvecs,
            "eigsh_error": arpack_error, "power_matvecs": needed, "power_accuracy": accuracy, **times}


def tutorial_ntk(model: torch.nn.Module, X: torch.Tensor) -> torch.Tensor:
    """The torch.func tutorial's NTK by Jacobian contraction: per-example Jacobians with respect
    to each parameter (``vmap`` over the examples of ``jacrev`` of a one-example function),
    flattened and contracted over the parameter dimension with ``einsum``, summed over
    parameters. The Gram matrix needs the Jacobian once; the result is ``(n, n)`` for one output."""
    theta = {name: p.detach() for name, p in model.named_parameters()}

    def one_example(theta: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        return functional_call(model, theta, (x.unsqueeze(0),)).squeeze(0)

    jacobians = vmap(jacrev(one_example), in_dims=(None, 0))(theta, X)
    flat = [J.flatten(2) for J in jacobians.values()]  # (n, outputs, parameters of this tensor)
    K = sum(torch.einsum("iap,jbp->ijab", J, J) for J in flat)
    return K.reshape(X.shape[0], X.shape[0])


def ntk_benchmark(dev: torch.device, repeats: int, n: int = 1000) -> dict[str, float]:
    g = torch.Generator().manual_seed(1)
    X = torch.randn(n, 784, generator=g).to(dev)
    model = models.mlp([784, 256, 256, 1], seed=1).to(dev)
    structured = ntk.empirical_ntk(model, X)
    scale = torch.linalg.matrix_norm(structured).item()
    differences = {name: torch.linalg.matrix_norm(structured - K).item() / scale
                   for name, K in (("tutorial_difference", tutorial_ntk(model, X)),
                                   ("loop_difference", ntk_loop(model, X)))}
    if max(differences.values()) > 1e-5:
        raise RuntimeError(f"the kernels disagree: {differences}")
    fast = timed_together({"structured_s": lambda: ntk.empirical_ntk(model, X)}, repeats, dev)
    slow = timed_together({"tutorial_s": lambda: tutorial_ntk(model, X), "loop_s": lambda: ntk_loop(model, X)},
                          max(1, repeats // 3), dev)
    return {"n": n, **differences, **fast, **slow}


def forward_over_reverse(model: torch.nn.Module, X: torch.Tensor, y: torch.Tensor) -> Callable:
    """torch.func's Hessian-vector product recipe: ``jvp`` of ``grad`` of the loss in the parameters."""
    theta = {name: p.detach() for name, p in model.named_parameters()}

    def loss(theta: dict[str, torch.Tensor]) -> torch.Tensor:
        return F.cross_entropy(functional_call(model, theta, (X,)), y)

    return lambda v: jvp(grad(loss), (theta,), (params.unflatten(model, v),))[1]


def hvp_benchmark(dev: torch.device, repeats: int) -> dict[str, float]:
    model, X, y = classification_problem(dev)
    P = sum(p.numel() for p in model.parameters())
    v = torch.randn(P, generator=torch.Generator().manual_seed(2)).to(dev)
    A = curvature.linear_operator(model, "ce", X, y)
    v64 = v.double().cpu().numpy()
    revfwd = forward_over_reverse(model, X, y)
    expected = curvature.hvp(model, "ce", X, y, v)
    for other in (torch.from_numpy(A.matvec(v64)).to(dev), torch.cat([t.reshape(-1) for t in revfwd(v).values()])):
        difference = (torch.linalg.vector_norm(other - expected) / torch.linalg.vector_norm(expected)).item()
        if difference > 1e-4:
            raise RuntimeError(f"the Hessian-vector products disagree: relative difference {difference:.1e}")

    def gradient():
        model.zero_grad()
        F.cross_entropy(model(X), y).backward()

    return timed_together(
        {
            "gradient_s": gradient,
            "hvp_s": lambda: curvature.hvp(model, "ce", X, y, v),
            "operator_s": lambda: A.matvec(v64),
            "forward_over_reverse_s": lambda: revfwd(v),
        },
        4 * repeats,
        dev,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default=None, help="default: dltheory.config.device()")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="torch threads on the CPU (default 1)")
    args = parser.parse_args()
    dev = default_device(args.device)
    limit_cpu_threads(dev, args.threads)
    if dev.type == "cpu":  # NumPy's and SciPy's BLAS (eigsh) on as many threads as torch
        threadpool_limits(args.threads)
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else platform.processor() or platform.machine()
    print(f"device {dev} ({name}), torch {torch.__version__}, {torch.get_num_threads()} CPU thread(s)\n")

    e = eigenvalue_benchmark(dev, args.repeats)
    print(f"(a) top eigenvalue of a 784-256-256-10 MLP's Hessian (P = {e['P']:,}, 512 examples, ce loss), tol {TOL:g}")
    print(f"    Lanczos (top_eigenvalues): {e['lanczos_matvecs']} HVPs, {e['lanczos_s']:.2f} s, "
          f"relative error {e['lanczos_error']:.1e}")
    print(f"    eigsh on linear_operator:  {e['eigsh_matvecs']} HVPs, {e['eigsh_s']:.2f} s, "
          f"relative error {e['eigsh_error']:.1e}")
    print(f"    power iteration, stopped at relative error {e['power_accuracy']:.0e} (oracle stop): "
          f"{e['power_matvecs']} HVPs, {e['power_s']:.2f} s")
    print(f"    Lanczos against eigsh: {e['eigsh_matvecs'] / e['lanczos_matvecs']:.1f}x fewer HVPs, "
          f"{e['eigsh_s'] / e['lanczos_s']:.1f}x less time")
    print(f"    Lanczos against power iteration: {e['power_matvecs'] / e['lanczos_matvecs']:.1f}x fewer HVPs "
          f"(target >= 2), {e['power_s'] / e['lanczos_s']:.1f}x less time (target >= 2)\n")

    k = ntk_benchmark(dev, args.repeats)
    print(f"(b) empirical NTK of a 784-256-256-1 MLP, n = {k['n']}")
    print(f"    structured (ntk.empirical_ntk): {k['structured_s']:.3f} s")
    print(f"    torch.func tutorial (vmap(jacrev) + einsum): {k['tutorial_s']:.2f} s, "
          f"relative difference {k['tutorial_difference']:.1e}")
    print(f"    per-example loop: {k['loop_s']:.2f} s, relative difference {k['loop_difference']:.1e}")
    print(f"    structured against the tutorial: {k['tutorial_s'] / k['structured_s']:.0f}x faster; "
          f"against the loop: {k['loop_s'] / k['structured_s']:.0f}x faster (target >= 10)\n")

    h = hvp_benchmark(dev, args.repeats)
    g = h["gradient_s"]
    print(f"(c) one HVP over one gradient (784-256-256-10 MLP, 512 examples; gradient {1e3 * g:.1f} ms)")
    print(f"    curvature.hvp (reverse-over-reverse): {h['hvp_s'] / g:.2f}x (target <= 3)")
    print(f"    a product of curvature.linear_operator (graph reused, as in Lanczos/Hutchinson/SLQ): "
          f"{h['operator_s'] / g:.2f}x")
    print(f"    torch.func forward-over-reverse (jvp of grad): {h['forward_over_reverse_s'] / g:.2f}x")


if __name__ == "__main__":
    main()
