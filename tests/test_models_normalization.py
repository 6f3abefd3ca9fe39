"""Batch norm and noisy batch norm in dltheory.models: He initialisation, batch statistics in every mode,
the noise (seeded, drawn per step, applied as drawn), matched starting points, and the refusals of the
per-example routines."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from dltheory import ntk, train
from dltheory.models import mlp
from dltheory.models.normalization import NoisyBatchNorm, batch_norm, frozen_noise, layer_seed, noisy_modules

pytestmark = pytest.mark.usefixtures("one_thread")

F64 = torch.float64


def linears(model):
    return [m for m in model if type(m) is nn.Linear]


# ---------------------------------------------------------------- mlp: old behaviour, structure, He init


def test_the_default_mlp_is_unchanged():
    """norm=None, init='torch' is exactly the network mlp built before these options existed."""
    widths = [6, 9, 7, 3]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(5)
        expected = nn.Sequential(nn.Linear(6, 9), nn.ReLU(), nn.Linear(9, 7), nn.ReLU(), nn.Linear(7, 3))
    for model in (mlp(widths, seed=5), mlp(widths, seed=5, norm=None, init="torch")):
        assert [type(m) for m in model] == [type(m) for m in expected]
        for a, b in zip(model.parameters(), expected.parameters()):
            assert torch.equal(a, b)


@pytest.mark.parametrize("norm, kind", [("batch", nn.BatchNorm1d), ("noisy_batch", NoisyBatchNorm)])
def test_a_norm_sits_between_each_hidden_layer_and_its_activation(norm, kind):
    model = mlp([4, 6, 5, 2], norm=norm)
    assert [type(m) for m in model] == [nn.Linear, kind, nn.ReLU, nn.Linear, kind, nn.ReLU, nn.Linear]
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm1d)]
    assert [bn.num_features for bn in bns] == [6, 5]
    assert all(not bn.track_running_stats and bn.running_mean is None for bn in bns)


@pytest.mark.parametrize("init", ["torch", "he"])
def test_the_same_seed_gives_the_same_linear_weights_with_every_norm(init):
    nets = [mlp([5, 8, 8, 3], norm=norm, init=init, seed=11) for norm in (None, "batch", "noisy_batch")]
    for layers in zip(*(linears(net) for net in nets)):
        for layer in layers[1:]:
            assert torch.equal(layer.weight, layers[0].weight) and torch.equal(layer.bias, layers[0].bias)


def test_he_init_has_variance_two_over_fan_in_and_zero_biases():
    model = mlp([300, 400, 200], init="he", seed=0, dtype=F64)
    for layer in linears(model):
        W = layer.weight.detach().numpy()
        expected = 2.0 / layer.in_features
        # the sample variance of N numbers has relative standard error sqrt(2/N) (< 0.4% here)
        assert W.var() == pytest.approx(expected, rel=0.02)
        assert abs(W.mean()) < 4 * math.sqrt(expected / W.size)
        assert torch.count_nonzero(layer.bias) == 0


def test_he_init_keeps_the_second_moment_of_relu_preactivations_and_torch_init_shrinks_it():
    """E z_{l+1}^2 = n_l Var(W) E relu(z_l)^2 = n_l Var(W) E z_l^2 / 2: constant under He's variance 2/n_l,
    divided by 6 per layer under PyTorch's 1/(3 n_l). One network's layer-to-layer ratio fluctuates by several
    per cent at width 512, so the log-ratios are averaged over eight networks."""
    x = torch.randn(1000, 256, dtype=F64)

    def log_ratios(model):
        out, h = [], x
        for m in model:
            h = m(h)
            if type(m) is nn.Linear and m.out_features > 1:  # hidden layers (one output is a poor average)
                out.append(h.pow(2).mean().item())
        return np.diff(np.log(out))

    widths = [256] + [512] * 6 + [1]
    with torch.no_grad():
        he = np.mean([log_ratios(mlp(widths, init="he", seed=s, dtype=F64)) for s in range(8)], axis=0)
        torch_ = np.mean([log_ratios(mlp(widths, bias=False, seed=s, dtype=F64)) for s in range(8)], axis=0)
        first = mlp(widths, init="he", seed=0, dtype=F64)[0](x).pow(2).mean().item()
    assert first == pytest.approx(2.0, rel=0.05)  # E x^2 = 1, times n Var(W) = 2
    np.testing.assert_allclose(he, 0.0, atol=0.12)
    np.testing.assert_allclose(torch_, math.log(1 / 6), atol=0.12)


def test_bad_options_are_refused():
    with pytest.raises(ValueError, match="unknown norm 'layer'"):
        mlp([3, 4, 1], norm="layer")
    with pytest.raises(ValueError, match="unknown init 'xavier'"):
        mlp([3, 4, 1], init="xavier")
    with pytest.raises(ValueError, match="init='he' is for the standard parametrisation"):
        mlp([3, 4, 1], init="he", parametrization="ntk")
    with pytest.raises(ValueError, match="noise_seed seeds the noisy batch norms"):
        mlp([3, 4, 1], norm="batch", noise_seed=3)


# ---------------------------------------------------------------- batch norm with batch statistics


def numpy_batch_norm(z, eps=1e-5):
    z = np.asarray(z, dtype=np.float64)
    return (z - z.mean(axis=0)) / np.sqrt(z.var(axis=0) + eps)


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_batch_norm_standardises_each_unit_over_the_batch_in_both_modes(mode):
    """track_running_stats=False: the statistics of the batch given, also in evaluation mode."""
    bn = batch_norm(5, dtype=F64)
    bn.train(mode == "train")
    z = 3.0 * torch.randn(40, 5, dtype=F64) + torch.arange(5, dtype=F64)
    out = bn(z).detach().numpy()
    np.testing.assert_allclose(out, numpy_batch_norm(z), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(out.var(axis=0), 1.0, rtol=1e-4)  # 1 - eps / var


def test_the_normalised_net_gives_each_example_an_output_that_depends_on_the_batch():
    model = mlp([4, 6, 2], norm="batch", seed=0, dtype=F64).eval()
    X = torch.randn(10, 4, dtype=F64)
    assert not torch.allclose(model(X)[:5], model(X[:5]))


def test_fit_records_with_batch_statistics_of_the_whole_training_set():
    """fit records in evaluation mode; with track_running_stats=False that is batch normalisation by the
    statistics of the whole training set (and no noise), which this checks against a numpy forward pass."""
    X = torch.randn(30, 3, dtype=F64)
    y = torch.randint(0, 2, (30,))
    model = mlp([3, 5, 2], norm="noisy_batch", init="he", seed=4, dtype=F64)
    history = train.fit(model, X, y, loss="ce", optimizer="sgd", lr=0.1, steps=6, batch_size=8, seed=0,
                        record_every=6)
    W1, b1 = model[0].weight.detach().numpy(), model[0].bias.detach().numpy()
    gamma, beta = model[1].norm.weight.detach().numpy(), model[1].norm.bias.detach().numpy()
    W2, b2 = model[3].weight.detach().numpy(), model[3].bias.detach().numpy()
    h = np.maximum(gamma * numpy_batch_norm(X.numpy() @ W1.T + b1) + beta, 0)
    logits = h @ W2.T + b2
    logp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    expected = -logp[np.arange(30), y.numpy()].mean()
    assert history["loss"][-1] == pytest.approx(expected, rel=1e-10)


# ---------------------------------------------------------------- noisy batch norm


def test_noisy_batch_norm_applies_the_amounts_it_drew():
    layer = NoisyBatchNorm(6, shift=0.5, scale=(1.0, 1.5), seed=3, dtype=F64)
    z = torch.randn(20, 6, dtype=F64) * 2 + 1
    out = layer(z).detach().numpy()
    m, s = layer.noise_shift.numpy(), layer.noise_scale.numpy()
    np.testing.assert_allclose(out, s * numpy_batch_norm(z) + m, rtol=1e-12, atol=1e-12)
    assert np.all(np.abs(m) <= 0.5) and np.all((1.0 <= s) & (s <= 1.5))
    # what the generator gave, by hand: two rows of uniforms from a generator with the same seed
    u = torch.rand(2, 6, generator=torch.Generator().manual_seed(3), dtype=F64).numpy()
    np.testing.assert_allclose(m, 0.5 * (2 * u[0] - 1), rtol=1e-15)
    np.testing.assert_allclose(s, 1.0 + 0.5 * u[1], rtol=1e-15)


def test_noisy_batch_norm_draws_anew_at_every_training_step_and_repeats_under_its_seed():
    a, b, c = (NoisyBatchNorm(4, seed=s) for s in (7, 7, 8))
    z = torch.randn(9, 4)
    draws = []
    for _ in range(3):
        a(z), b(z), c(z)
        assert torch.equal(a.noise_shift, b.noise_shift) and torch.equal(a.noise_scale, b.noise_scale)
        assert not torch.equal(a.noise_shift, c.noise_shift)
        draws.append(a.noise_shift.clone())
    assert not torch.equal(draws[0], draws[1]) and not torch.equal(draws[1], draws[2])


def test_noisy_batch_norm_is_plain_batch_norm_in_evaluation_mode_and_draws_nothing():
    layer = NoisyBatchNorm(4, seed=1, dtype=F64)
    z = torch.randn(12, 4, dtype=F64)
    layer(z)
    state = layer.generator.get_state()
    layer.eval()
    np.testing.assert_allclose(layer(z).detach().numpy(), numpy_batch_norm(z), rtol=1e-12, atol=1e-12)
    assert torch.equal(layer.generator.get_state(), state)


def test_frozen_noise_reuses_the_last_draw_and_restores():
    model = mlp([3, 5, 5, 2], norm="noisy_batch", seed=2)
    X = torch.randn(8, 3)
    first = model(X)
    states = [m.generator.get_state() for m in noisy_modules(model)]
    with frozen_noise(model):
        assert all(not m.resample for m in noisy_modules(model))
        assert torch.equal(model(X), first) and torch.equal(model(X), first)
    assert [torch.equal(m.generator.get_state(), s) for m, s in zip(noisy_modules(model), states)] == [True, True]
    assert all(m.resample for m in noisy_modules(model))
    assert not torch.equal(model(X), first)


def test_noisy_batch_norm_on_images_draws_one_amount_per_channel():
    layer = NoisyBatchNorm(3, seed=0, dtype=F64)
    z = torch.randn(4, 3, 5, 5, dtype=F64)
    out = layer(z)
    ref = nn.functional.batch_norm(z, None, None, training=True, eps=1e-5)
    expected = layer.noise_scale.view(1, 3, 1, 1) * ref + layer.noise_shift.view(1, 3, 1, 1)
    torch.testing.assert_close(out, expected)


def test_the_generator_travels_in_the_state_dict():
    a = NoisyBatchNorm(5, seed=9)
    z = torch.randn(6, 5)
    a(z)
    b = NoisyBatchNorm(5, seed=123)
    b.load_state_dict(a.state_dict())
    a(z), b(z)
    assert torch.equal(a.noise_shift, b.noise_shift) and b.seed == 9


def test_the_noisy_layers_of_an_mlp_have_distinct_seeded_streams():
    model = mlp([3, 4, 4, 4, 1], norm="noisy_batch", seed=5)
    seeds = [m.seed for m in noisy_modules(model)]
    assert seeds == [layer_seed(5, k) for k in range(3)] and len(set(seeds)) == 3
    assert [m.seed for m in noisy_modules(mlp([3, 4, 4, 4, 1], norm="noisy_batch", seed=5, noise_seed=6))] == [
        layer_seed(6, k) for k in range(3)]
    assert 0 <= layer_seed(2**63 - 1, 10**6) < 2**63


def test_noisy_batch_norm_bad_input():
    with pytest.raises(ValueError, match="shift must be"):
        NoisyBatchNorm(3, shift=-1)
    with pytest.raises(TypeError, match="scale must be a pair"):
        NoisyBatchNorm(3, scale=1.5)
    with pytest.raises(ValueError, match=r"scale\[1\] must be"):
        NoisyBatchNorm(3, scale=(1.5, 1.0))
    with pytest.raises(ValueError, match=r"needs inputs \(n, 3, \.\.\.\)"):
        NoisyBatchNorm(3)(torch.randn(4, 5))


# ---------------------------------------------------------------- per-example routines refuse batch statistics


@pytest.mark.parametrize("norm", ["batch", "noisy_batch"])
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_per_example_jacobians_are_refused_with_batch_statistics(norm, mode):
    model = mlp([3, 4, 2], norm=norm, seed=0)
    model.train(mode == "train")
    for fn in (ntk.jacobian, ntk.empirical_ntk):
        with pytest.raises(ValueError, match="normalises with batch statistics"):
            fn(model, torch.randn(5, 3))


def test_gram_gauss_newton_refuses_a_batch_normalised_model():
    model = mlp([3, 4, 1], norm="batch", seed=0)
    X, y = torch.randn(6, 3), torch.randn(6)
    with pytest.raises(ValueError, match="normalises with batch statistics"):
        train.fit(model, X, y, loss="square", optimizer="ggn", lr=0.5, steps=1)
