"""dltheory.train.PerturbedGD (Jin et al. 2017) through train.fit: plain gradient descent started exactly
at a strict saddle stays there, the perturbed method leaves it and reaches a minimum; perturbations are
uniform in the ball, spaced by the interval, stopped by the value rule, and survive checkpoints."""

import functools
import math

import numpy as np
import pytest
import torch

from dltheory import curvature, saddles, train

pytestmark = pytest.mark.usefixtures("one_thread")
F64 = torch.float64
X, Y = curvature.DUMMY_X.to(F64), curvature.DUMMY_Y.to(F64)


def toy(t):
    return saddles.toy_value(t)


def run(optimizer, start=(0.0, 0.0), steps=300, lr=None, **kw):
    model = curvature.FunctionModel(toy, torch.tensor(start, dtype=F64))
    history = train.fit(model, X, Y, loss=curvature.function_value, optimizer=optimizer, lr=lr, steps=steps,
                        progress=False, **kw)
    return model, history


def pgd(**kw):
    settings = {"lr": 0.1, "radius": 1e-3, "grad_threshold": 1e-4, "interval": 50, "seed": 0, **kw}
    return functools.partial(train.PerturbedGD, **settings)


def test_plain_gd_started_at_the_saddle_stays_and_perturbed_gd_escapes():
    model, history = run("gd", lr=0.1)
    assert torch.equal(model.theta.detach(), torch.zeros(2, dtype=F64))
    assert np.all(history["loss"] == 0.0)
    model, history = run(pgd(value_threshold=1e-8))
    final = model.theta.detach()
    assert abs(abs(final[1].item()) - 1) < 1e-6 and abs(final[0].item()) < 1e-6
    assert history["loss"][-1] == pytest.approx(-0.25, abs=1e-10)


def test_both_signs_of_escape_occur_over_seeds():
    signs = {math.copysign(1, run(pgd(seed=s))[0].theta[1].item()) for s in range(8)}
    assert signs == {1.0, -1.0}


def test_the_perturbation_is_in_the_ball_and_taken_before_the_step():
    model = curvature.FunctionModel(toy, torch.zeros(2, dtype=F64))
    opt = train.PerturbedGD(model.parameters(), lr=0.1, radius=1e-2, grad_threshold=1e-3, interval=5, seed=3)
    train.fit(model, X, Y, loss=curvature.function_value, optimizer=opt, steps=1, progress=False)
    assert opt.perturbations == [1]
    # one GD step from xi: x (1 - lr), y (1 + lr - lr y^2); undo it to find xi
    theta = model.theta.detach()
    x = theta[0] / 0.9
    y = theta[1] / 1.1  # |y| ~ 1e-2: y^2 term below 1e-5 relative
    assert 0 < math.hypot(x.item(), y.item()) <= 1e-2 * (1 + 1e-4)


def test_perturbation_radii_are_uniform_in_the_ball():
    """For xi uniform in the P-ball of radius r, (|xi| / r)^P is uniform on [0, 1]."""
    P, r = 3, 0.5
    param = torch.nn.Parameter(torch.zeros(P, dtype=F64))
    opt = train.PerturbedGD([param], lr=0.1, radius=r, grad_threshold=1.0, interval=0, seed=1)
    u = []
    for _ in range(4000):
        param.data.zero_()
        param.grad = torch.zeros(P, dtype=F64)
        opt._perturb()
        u.append((param.detach().norm().item() / r) ** P)
    u = np.array(u)
    assert u.max() <= 1 and abs(u.mean() - 0.5) < 0.02 and abs(np.mean(u < 0.25) - 0.25) < 0.03


def test_interval_spaces_the_perturbations_and_the_value_rule_stops_them():
    model, _ = run(pgd(interval=50), start=(0.0, 1.0), steps=200)  # at a minimum: the gradient is zero
    opt_runs = []
    for value_threshold in (None, 1e-6):
        model = curvature.FunctionModel(toy, torch.tensor([0.0, 1.0], dtype=F64))
        opt = train.PerturbedGD(model.parameters(), lr=0.1, radius=1e-3, grad_threshold=1e-4, interval=50,
                                value_threshold=value_threshold)
        train.fit(model, X, Y, loss=curvature.function_value, optimizer=opt, steps=200, progress=False)
        opt_runs.append(opt)
    assert opt_runs[0].perturbations == [1, 52, 103, 154] and opt_runs[0].stopped_at is None
    assert opt_runs[1].perturbations == [1] and opt_runs[1].stopped_at == 51
    # at the saddle the value drops after the perturbation: no stop before the minimum is reached
    model = curvature.FunctionModel(toy, torch.zeros(2, dtype=F64))
    opt = train.PerturbedGD(model.parameters(), lr=0.1, radius=1e-3, grad_threshold=1e-4, interval=50,
                            value_threshold=1e-6)
    train.fit(model, X, Y, loss=curvature.function_value, optimizer=opt, steps=400, progress=False)
    assert opt.perturbations[0] == 1 and opt.stopped_at is not None and opt.stopped_at > 51
    assert model.value() == pytest.approx(-0.25, abs=1e-10)


class StopAt(train.Callback):
    """Interrupts a run after update ``at`` (never, for a large ``at``)."""

    def __init__(self, at):
        self.at = at

    def on_step(self, info):
        if info.step == self.at:
            raise KeyboardInterrupt


def test_checkpointed_run_resumes_bit_for_bit(tmp_path):
    def go(stop, path=None):
        model = curvature.FunctionModel(toy, torch.tensor([0.5, 0.0], dtype=F64))
        opt = train.PerturbedGD(model.parameters(), lr=0.1, radius=1e-3, grad_threshold=1e-4, interval=30,
                                value_threshold=1e-8, seed=5)
        h = train.fit(model, X, Y, loss=curvature.function_value, optimizer=opt, steps=150, progress=False,
                      checkpoint=path, checkpoint_every=40 if path else None, callbacks=[StopAt(stop)])
        return model.theta.detach().clone(), h, opt

    whole, h_whole, opt_whole = go(10**6)
    assert opt_whole.perturbations and opt_whole.perturbations[0] > 1  # x contracts first, then y = 0 is perturbed
    path = tmp_path / "pgd.pt"
    with pytest.raises(KeyboardInterrupt):
        go(90, path)
    resumed, h_resumed, opt_resumed = go(10**6, path)
    assert torch.equal(resumed, whole)
    assert opt_resumed.perturbations == opt_whole.perturbations
    assert opt_resumed.stopped_at == opt_whole.stopped_at
    assert h_resumed.to_json() == h_whole.to_json()


def test_bad_arguments_are_named():
    p = [torch.nn.Parameter(torch.zeros(2))]
    with pytest.raises(ValueError, match="radius"):
        train.PerturbedGD(p, lr=0.1, radius=0.0, grad_threshold=1e-3)
    with pytest.raises(ValueError, match="grad_threshold"):
        train.PerturbedGD(p, lr=0.1, radius=1.0, grad_threshold=-1.0)
    with pytest.raises(ValueError, match="interval"):
        train.PerturbedGD(p, lr=0.1, radius=1.0, grad_threshold=1.0, interval=-1)
    with pytest.raises(ValueError, match="lr"):
        train.PerturbedGD(p, lr=0.0, radius=1.0, grad_threshold=1.0)
    with pytest.raises(ValueError, match="closure"):
        train.PerturbedGD(p, lr=0.1, radius=1.0, grad_threshold=1.0).step()
