"""Small CNNs with and without weight sharing, and the equal-budget image architectures.

The forward pass is checked against a NumPy loop over output locations (no
torch convolution), the parameter counts against ``count_parameters`` of the
built module, and the locally connected variant against the convolution whose
filter it copies at every location.
"""

import itertools

import numpy as np
import pytest
import torch
from torch import nn

from dltheory.models import (IMAGE_ARCHITECTURES, LocallyConnected2d, SmallCNN, cnn_parameter_count,
                             count_parameters, image_free_width, image_network, image_parameter_count, small_cnn)


def numpy_block(x, weight, bias, padding, pool, shared):
    """Convolution (or locally connected layer), ReLU and max pooling, by explicit loops in NumPy.

    ``weight``: ``(O, C, k, k)`` when shared, ``(H', W', O, C, k, k)`` otherwise;
    ``bias``: ``(O,)`` or ``(O, H', W')``.
    """
    n, c, h, w = x.shape
    k = weight.shape[-1]
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    oh, ow = h + 2 * padding - k + 1, w + 2 * padding - k + 1
    out_channels = weight.shape[0] if shared else weight.shape[2]
    y = np.zeros((n, out_channels, oh, ow))
    for i in range(oh):
        for j in range(ow):
            window = xp[:, :, i:i + k, j:j + k]  # (n, C, k, k)
            filt = weight if shared else weight[i, j]
            b = bias if shared else bias[:, i, j]
            y[:, :, i, j] = np.einsum("ncab,ocab->no", window, filt) + b
    y = np.maximum(y, 0)
    ph, pw = oh // pool, ow // pool
    return y[:, :, :ph * pool, :pw * pool].reshape(n, out_channels, ph, pool, pw, pool).max(axis=(3, 5))


@pytest.mark.parametrize("shared", [True, False])
def test_forward_matches_a_numpy_loop(shared):
    net = SmallCNN(2, (7, 6), (3, 4), 5, kernel_size=3, pool=2, shared=shared, seed=1, dtype=torch.float64)
    x = torch.randn(4, 2, 7, 6, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    v = x.numpy()
    expected = []
    for block in net.blocks:
        layer = block[0]
        v = numpy_block(v, layer.weight.detach().numpy(), layer.bias.detach().numpy(), 1, 2, shared)
        expected.append(v)
    features = net.features(x)
    assert [tuple(f.shape) for f in features] == [(4, 3, 3, 3), (4, 4, 1, 1)]
    for got, want in zip(features, expected):
        np.testing.assert_allclose(got.detach().numpy(), want, rtol=1e-12, atol=1e-12)
    readout = expected[-1].reshape(4, -1) @ net.readout.weight.detach().numpy().T + net.readout.bias.detach().numpy()
    np.testing.assert_allclose(net(x).detach().numpy(), readout, rtol=1e-12, atol=1e-12)


def test_locally_connected_copy_of_the_convolution_computes_the_same_function():
    conv = small_cnn(1, 10, (3, 5), 4, kernel_size=3, seed=2, dtype=torch.float64)
    local = small_cnn(1, 10, (3, 5), 4, kernel_size=3, shared=False, seed=2, dtype=torch.float64)
    with torch.no_grad():
        for block_c, block_l in zip(conv.blocks, local.blocks):
            block_l[0].load_state_dict(LocallyConnected2d.from_conv2d(block_c[0], block_l[0].in_size).state_dict())
        local.readout.load_state_dict(conv.readout.state_dict())
    x = torch.rand(6, 1, 10, 10, dtype=torch.float64)
    torch.testing.assert_close(local(x), conv(x), rtol=1e-12, atol=1e-12)
    assert isinstance(conv.blocks[0][0], nn.Conv2d) and isinstance(local.blocks[0][0], LocallyConnected2d)


@pytest.mark.parametrize("shared,kernel,padding,pool,channels,size", [
    (s, k, p, q, c, hw) for s, k, p, q, c, hw in itertools.product(
        [True, False], [1, (3, 5)], [None, 0], [1, 3], [(2,), (3, 1, 2)], [(15, 13)])
    ])
def test_parameter_count_matches_the_module(shared, kernel, padding, pool, channels, size):
    args = dict(kernel_size=kernel, padding=padding, pool=pool, shared=shared)
    try:
        net = SmallCNN(2, size, channels, 7, **args)
    except ValueError as err:  # the input shrinks to nothing: the count refuses it too
        assert "too small" in str(err)
        with pytest.raises(ValueError, match="too small"):
            cnn_parameter_count(2, size, channels, 7, **args)
        return
    assert count_parameters(net) == cnn_parameter_count(2, size, channels, 7, **args)


def test_parameter_count_by_hand():
    # 28x28 input, 3x3 "same" convolutions of 16 and 32 channels, pooling by 2 twice, 10 classes
    assert cnn_parameter_count(1, 28, (16, 32), 10) == (9 + 1) * 16 + (16 * 9 + 1) * 32 + (32 * 7 * 7 + 1) * 10
    # without sharing every location of the 28x28 and 14x14 outputs has its own filter and bias
    assert cnn_parameter_count(1, 28, (16, 32), 10, shared=False) == (
        (9 + 1) * 16 * 28 * 28 + (16 * 9 + 1) * 32 * 14 * 14 + (32 * 7 * 7 + 1) * 10)


def test_features_are_post_activation_and_flat_inputs_are_accepted():
    net = small_cnn(seed=0)
    x = torch.rand(3, 1, 28, 28)
    features = net.features(x)
    assert [tuple(f.shape) for f in features] == [(3, 16, 14, 14), (3, 32, 7, 7)]
    assert all((f >= 0).all() for f in features)
    torch.testing.assert_close(net(x.reshape(3, -1)), net(x))
    assert net(x).shape == (3, 10)


def test_average_pooling_and_no_pooling():
    net = small_cnn(1, 8, (2,), 3, pooling="avg", seed=0, dtype=torch.float64)
    x = torch.rand(2, 1, 8, 8, dtype=torch.float64)
    layer = net.blocks[0][0]
    expected = torch.nn.functional.avg_pool2d(torch.relu(layer(x)), 2)
    torch.testing.assert_close(net.features(x)[0], expected)
    assert small_cnn(1, 8, (2,), 3, pool=1).features(x.float())[0].shape == (2, 2, 8, 8)


def test_seed_gives_the_same_network_and_leaves_the_global_generator_alone():
    state = torch.random.get_rng_state()
    a, b = small_cnn(shared=False, in_size=12, channels=(2, 3), seed=5), small_cnn(shared=False, in_size=12,
                                                                                   channels=(2, 3), seed=5)
    assert torch.equal(torch.random.get_rng_state(), state)
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)
    c = small_cnn(shared=False, in_size=12, channels=(2, 3), seed=6)
    assert not torch.equal(next(a.parameters()), next(c.parameters()))


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="too small"):
        SmallCNN(1, 4, (2, 2, 2), 10, kernel_size=3, pool=2)
    with pytest.raises(ValueError, match="channels"):
        SmallCNN(1, 8, (), 10)
    with pytest.raises(ValueError, match="pooling"):
        SmallCNN(1, 8, (2,), 10, pooling="median")
    net = small_cnn(1, 8, (2,), 3)
    with pytest.raises(ValueError, match="expects inputs of shape"):
        net(torch.rand(2, 1, 9, 9))
    with pytest.raises(TypeError):
        net(np.zeros((2, 64)))


@pytest.mark.parametrize("architecture", IMAGE_ARCHITECTURES)
@pytest.mark.parametrize("budget", [5000, 20000])
def test_image_network_is_closest_to_the_budget(architecture, budget):
    width = image_free_width(architecture, 1, 14, 10, budget)
    net = image_network(architecture, 1, 14, 10, budget, seed=0)
    count = count_parameters(net)
    assert count == image_parameter_count(architecture, 1, 14, 10, width)
    for other in (width - 1, width + 1):
        if other >= 1:
            assert abs(image_parameter_count(architecture, 1, 14, 10, other) - budget) >= abs(count - budget)
    assert net(torch.rand(2, 1, 14, 14)).shape == (2, 10)


def test_image_network_shapes():
    fc = image_network("fc", 3, (8, 6), 4, width=11, blocks=3, seed=0)
    assert [m.out_features for m in fc if isinstance(m, nn.Linear)] == [11, 11, 11, 4]
    assert count_parameters(fc) == (144 + 1) * 11 + 2 * 12 * 11 + 12 * 4
    local = image_network("local", 3, (8, 6), 4, width=2, blocks=2, kernel_size=3, seed=0)
    conv = image_network("conv", 3, (8, 6), 4, width=2, blocks=2, kernel_size=3, seed=0)
    assert local.channels == conv.channels == (2, 4) and not local.shared and conv.shared
    assert count_parameters(conv) == (27 + 1) * 2 + (18 + 1) * 4 + (4 * 2 * 1 + 1) * 4
    with pytest.raises(ValueError, match="exactly one"):
        image_network("conv", 1, 8, 10)
    with pytest.raises(ValueError):
        image_network("transformer", 1, 8, 10, width=2)
