"""train.train_mlp_classifier: the protocol of chapters 1, 2 and 4, against fit's sgd preset run by hand."""

import pytest
import torch

from dltheory import models, train
from dltheory.sections import ch2_margin_distributions

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def problem():
    g = torch.Generator().manual_seed(0)
    X, y = torch.randn(50, 8, generator=g), torch.randint(0, 3, (50,), generator=g)
    return X[:40], y[:40], X[40:], y[40:]


def test_is_fits_sgd_preset_bit_for_bit_and_keeps_the_initialisation(problem):
    X, y, Xt, yt = problem
    run = train.train_mlp_classifier(X, y, widths=[8, 16, 3], lr=0.3, batch_size=10, steps=60, seed=4)
    reference = models.mlp([8, 16, 3], bias=False, seed=4)
    for a, b in zip(run["init"].parameters(), reference.parameters()):
        assert torch.equal(a, b)
    history = train.fit(reference, X, y, loss="ce", optimizer="sgd", lr=0.3, steps=60, batch_size=10, seed=4)
    for a, b in zip(run["model"].parameters(), reference.parameters()):
        assert torch.equal(a, b)
    assert list(run["history"]["loss"]) == list(history["loss"])
    assert all(m.bias is None for m in run["model"].modules() if isinstance(m, torch.nn.Linear))


def test_recording_and_metrics_do_not_change_the_trained_network(problem):
    X, y, Xt, yt = problem
    kwargs = dict(widths=[8, 16, 3], lr=0.2, momentum=0.5, batch_size=8, steps=50, seed=7)
    plain = train.train_mlp_classifier(X, y, record_every=50, **kwargs)
    recorded = train.train_mlp_classifier(X, y, record_at=[1, 3, 10, 25], eval_data=(Xt, yt),
                                          metrics={"w": lambda net: net[0].weight.norm().item()}, **kwargs)
    for a, b in zip(plain["model"].parameters(), recorded["model"].parameters()):
        assert torch.equal(a, b)
    assert list(recorded["history"]["step"]) == [0, 1, 3, 10, 25, 50]
    assert recorded["history"]["w"][-1] == pytest.approx(recorded["model"][0].weight.norm().item())
    with torch.no_grad():
        accuracy = (recorded["model"](Xt).argmax(1) == yt).double().mean().item()
    assert recorded["history"]["eval_accuracy"][-1] == pytest.approx(accuracy)


def test_momentum_is_torch_sgd_momentum(problem):
    X, y, _, _ = problem
    run = train.train_mlp_classifier(X, y, widths=[8, 6, 3], lr=0.1, momentum=0.9, batch_size=10, steps=20, seed=2)
    model = models.mlp([8, 6, 3], bias=False, seed=2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    train.fit(model, X, y, loss="ce", optimizer=opt, steps=20, batch_size=10, seed=2)
    for a, b in zip(run["model"].parameters(), model.parameters()):
        assert torch.equal(a, b)


def test_chapter_2_glue_trains_through_it(problem):
    X, y, Xt, yt = problem
    ch2 = ch2_margin_distributions.train_labelling(X, y, Xt, yt, widths=[8, 16, 3], lr=0.3, momentum=0.0,
                                                   batch_size=10, steps=30, seed=1)
    core = train.train_mlp_classifier(X, y, widths=[8, 16, 3], lr=0.3, batch_size=10, steps=30, seed=1)
    for a, b in zip(ch2["model"].parameters(), core["model"].parameters()):
        assert torch.equal(a, b)


@pytest.mark.parametrize("bad, match", [(dict(lr=0.0), "lr"), (dict(momentum=1.0), "momentum"),
                                        (dict(momentum=-0.1), "momentum")])
def test_bad_hyperparameters_are_refused(problem, bad, match):
    X, y, _, _ = problem
    kwargs = dict(widths=[8, 4, 3], lr=0.1, batch_size=10, steps=1, seed=0) | bad
    with pytest.raises(ValueError, match=match):
        train.train_mlp_classifier(X, y, **kwargs)
