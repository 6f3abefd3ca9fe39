"""fit_ensemble: S seeds trained as one batched model are S separate runs.

Independent references: separate runs of the same model and optimizer, one
member at a time; ``train.fit`` on each member as a plain ``nn.Sequential``
(another loop, another forward pass); margins and accuracies recomputed by hand.
"""

import functools
import math

import numpy as np
import pytest
import torch
from torch import nn

from dltheory import data, train
from dltheory.models import PairNetwork, square_wave_labels

pytestmark = pytest.mark.usefixtures("one_thread")

SEEDS = [11, 12, 13, 14]


def square_wave_data(n=48, seed=0):
    x, _ = data.square_wave(n, interval=(-1.0, 1.0), seed=seed, dtype=torch.float64)
    return x, square_wave_labels(x[:, 0], 2)


@pytest.mark.parametrize("tied", [True, False])
@pytest.mark.parametrize("optimizer", ["adam", "gd"])
def test_a_batched_run_is_the_separate_runs(tied, optimizer):
    X, y = square_wave_data()
    lr = 0.01 if optimizer == "adam" else 0.5
    batch = PairNetwork(3, tied=tied, seeds=SEEDS, dtype=torch.float64)
    history = train.fit_ensemble(batch, X, y, loss="logistic", optimizer=optimizer, lr=lr, steps=150,
                                 record_every=50)
    assert history.loss.shape == (4, 4) and list(history.step) == [0, 50, 100, 150]
    for s, seed in enumerate(SEEDS):
        alone = PairNetwork(3, tied=tied, seeds=[seed], dtype=torch.float64)
        single = train.fit_ensemble(alone, X, y, loss="logistic", optimizer=optimizer, lr=lr, steps=150,
                                    record_every=50)
        for p, q in zip(batch.parameters(), alone.parameters()):
            assert torch.allclose(p[s], q[0], rtol=1e-9, atol=1e-11)
        assert np.allclose(history.loss[:, s], single.loss[:, 0], rtol=1e-9, atol=1e-12)
        assert np.array_equal(history.accuracy[:, s], single.accuracy[:, 0])


@pytest.mark.parametrize("optimizer", ["adam", "gd"])
def test_each_member_follows_train_fit_on_its_plain_network(optimizer):
    """The untied members against train.fit on nn.Linear chains with the same torch.optim optimizer."""
    X, y = square_wave_data()
    lr = 0.01 if optimizer == "adam" else 0.5
    batch = PairNetwork(3, tied=False, seeds=SEEDS, dtype=torch.float64)
    plains = [batch.member(s) for s in range(len(SEEDS))]
    history = train.fit_ensemble(batch, X, y, loss="logistic", optimizer=optimizer, lr=lr, steps=200)
    for s, plain in enumerate(plains):
        run = train.fit(plain, X, y, loss="logistic", optimizer=optimizer, lr=lr, steps=200,
                        record_every=200)
        assert run["loss"][-1] == pytest.approx(history.final_loss[s], rel=1e-9)
        assert torch.allclose(plain(X)[:, 0], batch(X)[s].detach(), rtol=1e-9, atol=1e-11)


def test_a_factory_optimizer_and_per_member_data():
    """Each member may have its own training set; a torch.optim factory works like the preset."""
    sets = [square_wave_data(seed=k) for k in range(3)]
    X = torch.stack([x for x, _ in sets])
    y = torch.stack([t for _, t in sets])
    batch = PairNetwork(2, tied=True, seeds=[0, 1, 2], dtype=torch.float64)
    history = train.fit_ensemble(batch, X, y, loss="square", steps=150,
                                 optimizer=functools.partial(torch.optim.RMSprop, lr=0.005))
    assert history.optimizer == "RMSprop"
    for s in range(3):
        alone = PairNetwork(2, tied=True, seeds=[s], dtype=torch.float64)
        single = train.fit_ensemble(alone, sets[s][0], sets[s][1], loss="square", steps=150,
                                    optimizer=functools.partial(torch.optim.RMSprop, lr=0.005))
        assert single.final_loss[0] == pytest.approx(history.final_loss[s], rel=1e-9)


def test_recorded_loss_accuracy_and_margins_are_what_they_say():
    X, y = square_wave_data(64)
    batch = PairNetwork(3, tied=True, seeds=range(16), dtype=torch.float64)
    history = train.fit_ensemble(batch, X, y, loss="logistic", lr=0.02, steps=400)
    with torch.no_grad():
        f = batch(X)
    margins = y * f
    assert np.allclose(history.final_loss, torch.nn.functional.softplus(-margins).mean(1).numpy(), rtol=1e-12)
    assert np.array_equal(history.final_accuracy, (margins > 0).double().mean(1).numpy())
    assert np.array_equal(history.margin_min[-1], margins.min(1).values.numpy())
    assert np.array_equal(history.fitted(), history.final_accuracy == 1.0)
    assert history.seeds == tuple(range(16))


def test_runs_repeat_exactly():
    X, y = square_wave_data()
    runs = []
    for _ in range(2):
        batch = PairNetwork(3, tied=False, seeds=range(5))
        runs.append(train.fit_ensemble(batch, X, y, loss="logistic", lr=0.01, steps=50).loss)
    assert np.array_equal(*runs)


def test_regression_targets_have_no_accuracy():
    X, _ = square_wave_data()
    y = torch.sin(3 * X[:, 0])
    history = train.fit_ensemble(PairNetwork(2, seeds=range(3), dtype=torch.float64), X, y, loss="square",
                                 lr=0.01, steps=10)
    assert np.isnan(history.accuracy).all() and np.isfinite(history.loss).all()


def test_divergence_names_the_members():
    X, y = square_wave_data()
    batch = PairNetwork(2, seeds=range(3), dtype=torch.float64)
    with pytest.raises(FloatingPointError, match="members .* diverged"):
        train.fit_ensemble(batch, 1e3 * X, y, loss="exp", optimizer="gd", lr=1e6, steps=50, record_every=10)


def test_bad_input_is_refused_with_a_clear_message():
    X, y = square_wave_data()
    net = PairNetwork(2, seeds=range(3), dtype=torch.float64)
    with pytest.raises(TypeError, match="not a seed ensemble"):
        train.fit_ensemble(nn.Linear(1, 1), X, y, loss="logistic", lr=0.1, steps=1)
    with pytest.raises(ValueError, match="couples the coordinates"):
        train.fit_ensemble(net, X, y, loss="logistic", steps=1,
                           optimizer=functools.partial(torch.optim.LBFGS, lr=0.1))
    with pytest.raises(ValueError, match="full batch"):
        train.fit_ensemble(net, X, y, loss="logistic", optimizer="sgd", lr=0.1, steps=1)
    with pytest.raises(ValueError, match="needs a step size"):
        train.fit_ensemble(net, X, y, loss="logistic", steps=1)
    with pytest.raises(ValueError, match="go with a preset"):
        train.fit_ensemble(net, X, y, loss="logistic", steps=1, lr=0.1,
                           optimizer=functools.partial(torch.optim.Adam, lr=0.1))
    with pytest.raises(ValueError, match="examples"):
        train.fit_ensemble(net, X, y[:-1], loss="logistic", lr=0.1, steps=1)
    with pytest.raises(ValueError, match="NaN"):
        train.fit_ensemble(net, X * math.nan, y, loss="logistic", lr=0.1, steps=1)
    with pytest.raises(ValueError, match="labels in"):
        train.fit_ensemble(net, X, (y + 1) / 2, loss="logistic", lr=0.1, steps=1)
    with pytest.raises(ValueError, match="steps must be"):
        train.fit_ensemble(net, X, y, loss="logistic", lr=0.1, steps=-1)
    with pytest.raises(ValueError, match=r"y must have shape \(3, 48"):
        train.fit_ensemble(net, X.expand(3, 48, 1), y, loss="logistic", lr=0.1, steps=1)
