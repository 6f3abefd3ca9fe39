"""Speed of the curvature and kernel routines, as ratios measured side by side in one run.

    .venv/bin/python benchmarks/curvature.py [--device cpu|cuda] [--repeats 5]

(a) Top Hessian eigenvalue at equal accuracy: ``curvature.top_eigenvalues``
    (Lanczos with its own stopping rule, tol=1e-6) against power iteration,
    PyHessian's method, given the smallest number of iterations that reaches
    the same relative error 1e-6 (an oracle stop, the best case for it).
    Targets: at least 2x fewer Hessian-vector products and 2x less time.
(b) Empirical NTK of a 784-256-256-1 MLP on n = 1000 inputs:
    ``ntk.empirical_ntk`` against the per-example autograd loop. Target: 10x.
(c) One Hessian-vector product over one gradient (``loss.backward()``), for
    ``curvature.hvp`` and for the products inside Lanczos that reuse the
    gradient's graph. Target: at most 3.

Each time is the median of ``--repeats`` runs after a warm-up. The results of a
run are recorded in ``benchmarks/RESULTS.md`` with the machine.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch

from dltheory import curvature, models, ntk
from dltheory.config import device as default_device


def _clock(fn, dev: torch.device) -> float:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    start = time.perf_counter()
    fn()
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    return time.perf_counter() - start


def timed(fn, repeats: int, dev: torch.device) -> float:
    """Median wall time of ``fn()`` over ``repeats`` runs after one warm-up."""
    _clock(fn, dev)
    return statistics.median(_clock(fn, dev) for _ in range(repeats))


def timed_together(fns: dict, repeats: int, dev: torch.device) -> dict[str, float]:
    """Median times of several functions run in turn, so that load on the machine hits all alike."""
    for fn in fns.values():
        _clock(fn, dev)
    samples = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            samples[name].append(_clock(fn, dev))
    return {name: statistics.median(times) for name, times in samples.items()}


def classification_problem(dev: torch.device, n: int = 512, classes: int = 10, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, 784, generator=g).to(dev)
    y = torch.randint(0, classes, (n,), generator=g).to(dev)
    model = models.mlp([784, 256, 256, classes], seed=seed).to(dev)
    return model, X, y


def eigenvalue_benchmark(dev: torch.device, repeats: int) -> dict[str, float]:
    model, X, y = classification_problem(dev)
    reference = curvature.top_eigenvalues(model, "ce", X, y, tol=1e-12).values[0].item()
    lanczos = curvature.top_eigenvalues(model, "ce", X, y, tol=1e-6)
    lanczos_error = abs(lanczos.values[0].item() - reference) / abs(reference)

    obj = curvature._objective(model, "ce", X, y)
    op = obj.hvp_reusing_graph()
    P = obj.P

    def matvec(v: torch.Tensor) -> torch.Tensor:
        return op(v.to(obj.dtype)).to(torch.float64)

    long_run = curvature._power_iteration(matvec, P, tol=0.0, max_iter=2000, seed=0, device=dev)
    errors = [abs(value - reference) / abs(reference) for value in long_run.history]
    needed = next((i + 1 for i, e in enumerate(errors) if e <= max(1e-6, lanczos_error)), None)
    if needed is None:
        raise RuntimeError("power iteration did not reach the accuracy within 2000 products")

    lanczos_time = timed(lambda: curvature.top_eigenvalues(model, "ce", X, y, tol=1e-6), repeats, dev)

    def power():
        obj = curvature._objective(model, "ce", X, y)
        op = obj.hvp_reusing_graph()
        curvature._power_iteration(lambda v: op(v.to(obj.dtype)).to(torch.float64), P, tol=0.0,
                                   max_iter=needed, seed=0, device=dev)

    power_time = timed(power, repeats, dev)
    return {
        "P": P,
        "lanczos_matvecs": lanczos.matvecs,
        "lanczos_error": lanczos_error,
        "power_matvecs": needed,
        "lanczos_s": lanczos_time,
        "power_s": power_time,
    }


def ntk_benchmark(dev: torch.device, repeats: int, n: int = 1000) -> dict[str, float]:
    g = torch.Generator().manual_seed(1)
    X = torch.randn(n, 784, generator=g).to(dev)
    model = models.mlp([784, 256, 256, 1], seed=1).to(dev)
    fast = ntk.empirical_ntk(model, X)
    slow = ntk._ntk_loop(model, X)
    agreement = (torch.linalg.matrix_norm(fast - slow) / torch.linalg.matrix_norm(slow)).item()
    return {
        "n": n,
        "structured_s": timed(lambda: ntk.empirical_ntk(model, X), repeats, dev),
        "loop_s": timed(lambda: ntk._ntk_loop(model, X), max(1, repeats // 3), dev),
        "relative_difference": agreement,
    }


def hvp_benchmark(dev: torch.device, repeats: int) -> dict[str, float]:
    model, X, y = classification_problem(dev)
    obj = curvature._objective(model, "ce", X, y)
    v = torch.randn(obj.P, generator=torch.Generator().manual_seed(2)).to(dev)

    def gradient():
        model.zero_grad()
        torch.nn.functional.cross_entropy(model(X), y).backward()

    reused = obj.hvp_reusing_graph()
    forward_over_reverse = obj.hvp_operator()
    return timed_together(
        {
            "gradient_s": gradient,
            "hvp_s": lambda: curvature.hvp(model, "ce", X, y, v),
            "reused_s": lambda: reused(v),
            "forward_over_reverse_s": lambda: forward_over_reverse(v),
        },
        4 * repeats,
        dev,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default=None, help="default: dltheory.config.device()")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    dev = default_device(args.device)
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else platform.processor() or platform.machine()
    print(f"device {dev} ({name}), torch {torch.__version__}, {torch.get_num_threads()} CPU threads\n")

    e = eigenvalue_benchmark(dev, args.repeats)
    print(f"(a) top eigenvalue of a 784-256-256-10 MLP's Hessian (P = {e['P']:,}, 512 examples, ce loss)")
    print(f"    Lanczos: {e['lanczos_matvecs']} HVPs, {e['lanczos_s']:.2f} s, relative error {e['lanczos_error']:.1e}")
    print(f"    power iteration to the same accuracy: {e['power_matvecs']} HVPs, {e['power_s']:.2f} s")
    print(f"    ratio: {e['power_matvecs'] / e['lanczos_matvecs']:.1f}x fewer HVPs (target >= 2), "
          f"{e['power_s'] / e['lanczos_s']:.1f}x less time (target >= 2)\n")

    k = ntk_benchmark(dev, args.repeats)
    print(f"(b) empirical NTK of a 784-256-256-1 MLP, n = {k['n']}")
    print(f"    structured: {k['structured_s']:.3f} s; per-example loop: {k['loop_s']:.2f} s; "
          f"relative difference {k['relative_difference']:.1e}")
    print(f"    ratio: {k['loop_s'] / k['structured_s']:.0f}x faster (target >= 10)\n")

    h = hvp_benchmark(dev, args.repeats)
    g = h["gradient_s"]
    print(f"(c) one HVP over one gradient (784-256-256-10 MLP, 512 examples; gradient {1e3 * g:.1f} ms)")
    print(f"    curvature.hvp (reverse-over-reverse): {h['hvp_s'] / g:.2f}x (target <= 3)")
    print(f"    inside Lanczos/Hutchinson/SLQ (graph reused): {h['reused_s'] / g:.2f}x")
    print(f"    forward-over-reverse (jvp of grad, used for dense Hessians): {h['forward_over_reverse_s'] / g:.2f}x")


if __name__ == "__main__":
    main()
