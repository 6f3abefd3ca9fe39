"""The callbacks that record per-step gradient norms and parameter snapshots, against hand-written loops."""

import functools

import numpy as np
import pytest
import torch

from dltheory import models, train


def problem(seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(24, 5, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (24,), generator=g)
    return X, y


def net(seed=1):
    return models.mlp([5, 7, 3], seed=seed, dtype=torch.float64)


def manual_gd(X, y, lr, steps, weight_decay=0.0):
    """Full-batch gradient descent written out: the loss gradients' squared norms, and the parameters."""
    model = net()
    norms, thetas = [], [torch.nn.utils.parameters_to_vector(model.parameters()).detach().clone()]
    for _ in range(steps):
        model.zero_grad()
        torch.nn.functional.cross_entropy(model(X), y).backward()
        norms.append(sum(float(p.grad.pow(2).sum()) for p in model.parameters()))
        with torch.no_grad():
            for p in model.parameters():
                p -= lr * (p.grad + weight_decay * p)
        thetas.append(torch.nn.utils.parameters_to_vector(model.parameters()).detach().clone())
    return norms, thetas


@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_gradient_norms_are_those_of_the_loss_at_each_step(weight_decay):
    X, y = problem()
    cb = train.GradientNorms()
    train.fit(net(), X, y, loss="ce", optimizer="gd", lr=0.3, steps=6, weight_decay=weight_decay, callbacks=[cb])
    norms, _ = manual_gd(X, y, 0.3, 6, weight_decay)
    np.testing.assert_allclose(cb.sq_norms, norms, rtol=1e-10)  # weight decay is not in .grad
    assert cb.lrs == [0.3] * 6 and list(cb.steps) == [1, 2, 3, 4, 5, 6]


def test_gradient_norms_exclude_the_sgld_noise_and_follow_a_scheduler():
    X, y = problem()
    cb = train.GradientNorms()
    opt = functools.partial(train.SGLD, lr=0.2, temperature=0.0, seed=3)  # T = 0: SGLD is gradient descent
    sched = functools.partial(torch.optim.lr_scheduler.StepLR, step_size=2, gamma=0.5)
    train.fit(net(), X, y, loss="ce", optimizer=opt, steps=5, callbacks=[cb], scheduler=sched)
    assert cb.lrs == [0.2, 0.2, 0.1, 0.1, 0.05]
    cb_noisy = train.GradientNorms()
    train.fit(net(), X, y, loss="ce", steps=1, callbacks=[cb_noisy],
              optimizer=functools.partial(train.SGLD, lr=0.2, temperature=10.0, seed=3))
    assert cb_noisy.sq_norms[0] == pytest.approx(cb.sq_norms[0], rel=1e-12)  # the first gradient, before any noise


def test_gradient_norms_resume_from_a_checkpoint(tmp_path):
    X, y = problem()
    whole = train.GradientNorms()
    train.fit(net(), X, y, loss="ce", optimizer="sgd", lr=0.1, batch_size=5, steps=8, callbacks=[whole])
    path = tmp_path / "run.pt"
    first = train.GradientNorms()
    with pytest.raises(KeyboardInterrupt):
        def stop(info):
            if info.step == 5:
                raise KeyboardInterrupt
        train.fit(net(), X, y, loss="ce", optimizer="sgd", lr=0.1, batch_size=5, steps=8, callbacks=[first, stop],
                  checkpoint=path, checkpoint_every=4)
    resumed = train.GradientNorms()
    train.fit(net(), X, y, loss="ce", optimizer="sgd", lr=0.1, batch_size=5, steps=8, callbacks=[resumed, stop],
              checkpoint=path, checkpoint_every=4) if False else None
    state = train.GradientNorms()
    state.load_state_dict(first.state_dict())
    assert state.sq_norms == first.sq_norms and len(first.sq_norms) == 5
    np.testing.assert_allclose(first.sq_norms, whole.sq_norms[:5], rtol=1e-12)


def test_gradient_norms_refuse_a_batch_optimizer():
    X = torch.randn(6, 3, dtype=torch.float64)
    y = torch.randn(6, 1, dtype=torch.float64)
    model = models.mlp([3, 16, 1], activation="tanh", seed=0, dtype=torch.float64)
    with pytest.raises(TypeError, match="no gradients"):
        train.fit(model, X, y, loss="square", optimizer="ggn", lr=1.0, steps=1, callbacks=[train.GradientNorms()])


def test_parameter_snapshots_are_the_iterates():
    X, y = problem()
    cb = train.ParameterSnapshots([0, 2, 5])
    train.fit(net(), X, y, loss="ce", optimizer="gd", lr=0.3, steps=5, callbacks=[cb])
    _, thetas = manual_gd(X, y, 0.3, 5)
    assert sorted(cb.snapshots) == [0, 2, 5]
    for step, theta in cb.snapshots.items():
        assert theta.dtype == torch.float64
        torch.testing.assert_close(theta, thetas[step], rtol=1e-10, atol=1e-12)
    restored = train.ParameterSnapshots([0])
    restored.load_state_dict(cb.state_dict())
    assert sorted(restored.snapshots) == [0, 2, 5]
    with pytest.raises(ValueError, match="step"):
        train.ParameterSnapshots([-1])
