"""Tests of dltheory.data: shapes, determinism, the guarantees each generator documents,
the offline behaviour of the real data sets, and the provenance of the shipped MNIST subset."""

import hashlib
import math
import random
import re
import socket
import types

import numpy as np
import pytest
import torch

from dltheory import data as D
from dltheory.data import real

SHIPPED = D.shipped_mnist_path()


@pytest.fixture
def no_network(monkeypatch):
    """Make every attempt to open a connection fail loudly."""

    def refuse(*args, **kwargs):
        raise OSError("network disabled by the test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


@pytest.fixture
def no_torchvision(monkeypatch):
    def fail():
        raise ImportError("No module named 'torchvision' (simulated)")

    monkeypatch.setattr(real, "_import_torchvision", fail)


# --------------------------------------------------------------------------- generic properties

GENERATORS = {
    "separable": lambda seed, dtype: D.separable(50, 4, seed=seed, dtype=dtype),
    "separable_direct": lambda seed, dtype: D.separable(50, 4, seed=seed, method="direct", dtype=dtype),
    "teacher": lambda seed, dtype: D.teacher(50, 4, seed=seed, dtype=dtype)[:2],
    "binary_tree": lambda seed, dtype: D.binary_tree(50, seed=seed, dtype=dtype),
    "clustered": lambda seed, dtype: D.clustered(50, seed=seed, dtype=dtype),
    "square_wave": lambda seed, dtype: D.square_wave(50, seed=seed, dtype=dtype),
    "sawtooth": lambda seed, dtype: D.sawtooth(50, seed=seed, dtype=dtype),
    "two_clusters": lambda seed, dtype: D.two_clusters(50, seed=seed, dtype=dtype),
}


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_generators_are_deterministic_per_seed_and_differ_across_seeds(name):
    make = GENERATORS[name]
    a, b, c = make(0, torch.float32), make(0, torch.float32), make(1, torch.float32)
    for u, v in zip(a, b):
        assert torch.equal(u, v)
    assert not torch.equal(a[0], c[0])


@pytest.mark.parametrize("name", sorted(GENERATORS))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_generators_shapes_dtypes_devices(name, dtype):
    X, y = GENERATORS[name](0, dtype)[:2]
    assert X.ndim == 2 and X.shape[0] == 50 and y.shape == (50,)
    assert X.dtype == dtype and X.device.type == "cpu" and y.device.type == "cpu"
    if name == "clustered":
        assert y.dtype == torch.int64
    else:
        assert y.dtype == dtype


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_generators_on_cuda_give_the_cpu_numbers():
    for make in (D.separable, D.binary_tree, D.clustered, D.sawtooth):
        args = (40, 3) if make is D.separable else (40,)
        for a, b in zip(make(*args, seed=1), make(*args, seed=1, device="cuda")):
            assert b.device.type == "cuda" and torch.equal(a, b.cpu())
    X, y, model = D.teacher(40, 3, device="cuda")
    assert X.is_cuda and y.is_cuda and next(model.parameters()).is_cuda
    assert D.mnist(n_train=5, n_test=5, source="shipped", device="cuda")[0].is_cuda


def test_generators_leave_the_global_rng_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    for make in GENERATORS.values():
        make(0, torch.float32)
    assert torch.equal(torch.rand(3), expected)


def test_float64_samples_round_to_the_float32_ones():
    X32 = D.binary_tree(20, seed=3)[0]
    X64 = D.binary_tree(20, seed=3, dtype=torch.float64)[0]
    assert torch.equal(X64.float(), X32)


# --------------------------------------------------------------------------- separable


@pytest.mark.parametrize(
    "d, margin, sphere, method",
    [(2, 0.1, False, "rejection"), (20, 0.1, False, "rejection"), (5, 0.3, True, "rejection"),
     (1, 0.5, False, "rejection"), (1, 0.5, True, "rejection"), (500, 0.2, False, "direct"),
     (500, 0.2, True, "direct"), (3, 0.9, False, "direct")],
)
def test_separable_margin_is_guaranteed(d, margin, sphere, method):
    X, y, w = D.separable(300, d, margin=margin, sphere=sphere, method=method, seed=7)
    assert X.shape == (300, d) and w.shape == (d,)
    assert torch.isclose(w.norm(), torch.tensor(1.0))
    assert set(y.tolist()) <= {-1.0, 1.0}
    assert (y * (X @ w)).min() >= margin
    norms = X.norm(dim=1)
    assert norms.max() <= 1 + 1e-6
    if sphere:
        assert norms.min() >= 1 - 1e-6


def test_separable_both_labels_occur():
    _, y, _ = D.separable(200, 3, seed=0)
    assert (y == 1).any() and (y == -1).any()


def test_separable_rejection_refuses_hopeless_acceptance():
    with pytest.raises(ValueError, match="method='direct'"):
        D.separable(10, 2000, margin=0.3)


@pytest.mark.parametrize("margin", [0, 1, -0.1, 1.5, float("nan"), 1 - 1e-7])
@pytest.mark.parametrize("method", ["rejection", "direct"])
def test_separable_bad_margin(margin, method):
    with pytest.raises(ValueError, match="margin"):
        D.separable(10, 3, margin=margin, method=method)


# --------------------------------------------------------------------------- teacher


def test_teacher_regression_labels_are_the_teachers_outputs():
    X, y, model = D.teacher(64, 5, widths=(16, 8), seed=2)
    assert y.shape == (64,)
    with torch.no_grad():
        assert torch.equal(model(X).squeeze(1), y)
    assert not any(p.requires_grad for p in model.parameters())
    assert [m.in_features for m in model if isinstance(m, torch.nn.Linear)] == [5, 16, 8]


def test_teacher_vector_outputs_and_noise():
    X, y, model = D.teacher(64, 5, outputs=3, noise=0.1, seed=2)
    assert y.shape == (64, 3)
    with torch.no_grad():
        residual = y - model(X)
    assert 0.05 < residual.std() < 0.2


def test_teacher_binary_and_classes():
    X, y, model = D.teacher(100, 4, task="binary", seed=1)
    with torch.no_grad():
        assert torch.equal(y, torch.where(model(X).squeeze(1) >= 0, 1.0, -1.0))
    X, y, model = D.teacher(100, 4, task="classes", num_classes=5, seed=1)
    assert y.dtype == torch.int64
    with torch.no_grad():
        assert torch.equal(y, model(X).argmax(1))
    _, y_noisy, _ = D.teacher(100, 4, task="classes", num_classes=5, noise=0.2, seed=1)
    assert (y_noisy != y).sum() == 20


def test_teacher_on_the_sphere():
    X, _, _ = D.teacher(10, 6, inputs="sphere")
    assert torch.allclose(X.norm(dim=1), torch.ones(10))


# --------------------------------------------------------------------------- binary tree


def h_sine(a, b):
    """The documented default constituent, written out again."""
    return np.sin(np.pi / 2 * (a + b) + np.pi / 4 * a * b * (a - b))


def test_binary_tree_equals_its_formula():
    X, y = D.binary_tree(200, seed=4)
    x = X.double().numpy().T  # x[0] .. x[7] are x1 .. x8
    h11, h12, h13, h14 = h_sine(x[0], x[1]), h_sine(x[2], x[3]), h_sine(x[4], x[5]), h_sine(x[6], x[7])
    h21, h22 = h_sine(h11, h12), h_sine(h13, h14)
    f = h_sine(h21, h22)
    np.testing.assert_allclose(y.numpy(), f, atol=1e-6)
    assert X.min() >= -1 and X.max() <= 1
    assert y.abs().max() <= 1 and y.std() > 0.3


def test_binary_tree_levels_and_depth():
    assert D.binary_tree_levels() == [[(0, 1), (2, 3), (4, 5), (6, 7)], [(0, 1), (2, 3)], [(0, 1)]]
    assert [len(level) for level in D.binary_tree_levels(5)] == [16, 8, 4, 2, 1]
    X, y = D.binary_tree(30, depth=4, constituent="ridge")
    assert X.shape == (30, 16)
    # the levels describe the computation: evaluate them by hand
    v = X.double()
    for level in D.binary_tree_levels(4):
        v = torch.stack([torch.sin(math.pi / 2 * (v[:, i] + v[:, j])) for i, j in level], dim=1)
    torch.testing.assert_close(v[:, 0].float(), y)


def test_binary_tree_custom_constituent_and_noise():
    X, y = D.binary_tree(50, depth=2, constituent=lambda a, b: a * b)
    torch.testing.assert_close(y, X.prod(dim=1))
    _, y0 = D.binary_tree(500, seed=1)
    _, y1 = D.binary_tree(500, seed=1, noise=0.1)
    assert 0.07 < (y1 - y0).std() < 0.13


def test_binary_tree_target_rejects_bad_width():
    with pytest.raises(ValueError, match="2\\^depth"):
        D.binary_tree_target(torch.zeros(3, 6))


def test_binary_tree_target_is_data():
    """Arrays are accepted, and the target is computed on the inputs detached from autograd."""
    X = np.linspace(-1, 1, 24).reshape(3, 8)
    torch.testing.assert_close(D.binary_tree_target(X), D.binary_tree_target(torch.from_numpy(X)))
    assert not D.binary_tree_target(torch.from_numpy(X).requires_grad_()).requires_grad


# --------------------------------------------------------------------------- clustered


@pytest.mark.parametrize("classes, per_class, dim", [(2, 3, 2), (3, 2, 10), (4, 5, 2)])
def test_clustered_separation_and_spread(classes, per_class, dim):
    sep, spread = 2.0, 0.1
    X, y, centres, cluster = D.clustered(
        400, classes=classes, clusters_per_class=per_class, dim=dim, separation=sep, spread=spread,
        seed=5, return_centers=True,
    )
    assert centres.shape == (classes, per_class, dim)
    flat = centres.reshape(-1, dim).double()
    dist = torch.cdist(flat, flat) + torch.eye(len(flat)) * 1e9
    assert dist.min() >= sep * (1 - 1e-6)
    assert ((X.double() - flat[cluster]).norm(dim=1) <= spread * sep * (1 + 1e-6)).all()
    assert torch.equal(y, cluster // per_class)
    counts = torch.bincount(cluster, minlength=classes * per_class)
    assert counts.max() - counts.min() <= 1
    assert y.dtype == torch.int64 and set(y.tolist()) == set(range(classes))


def test_clustered_default_spread_is_li_liang():
    _, _, centres, cluster = D.clustered(10, clusters_per_class=4, return_centers=True)
    X, _ = D.clustered(10, clusters_per_class=4)
    radius = (X - centres.reshape(-1, 2)[cluster]).norm(dim=1).max()
    assert radius <= 1 / (16 * 4) + 1e-6  # diameter <= separation / (8 l)


# --------------------------------------------------------------------------- 1-d targets


def test_square_wave_known_values():
    x = torch.tensor([0.0, 0.1, 0.24, 0.25, 0.4, 0.5, 0.74, 0.75, 0.99])
    y = D.square_wave_target(x, periods=2)
    assert y.tolist() == [1, 1, 1, 0, 0, 1, 1, 0, 0]
    y = D.square_wave_target(torch.tensor([-1.0, -0.5, 0.0, 0.5]), periods=1, interval=(-1, 1), low=-1)
    assert y.tolist() == [1, 1, -1, -1]
    x, y = D.square_wave(101, periods=3, grid=True)
    assert x.shape == (101, 1) and x[0, 0] == 0 and x[-1, 0] == 1
    assert set(y.tolist()) == {0.0, 1.0}


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5, 6])
def test_sawtooth_has_2_to_the_k_minus_1_teeth(k):
    x, y = D.sawtooth(2**12 + 1, iterations=k, grid=True, dtype=torch.float64)
    y = y.numpy()
    interior = (y[1:-1] > y[:-2]) & (y[1:-1] > y[2:])
    assert interior.sum() == 2 ** (k - 1)
    # peaks of height 1 at (2j+1)/2^k and zeros at j/2^(k-1)
    peaks = torch.tensor([(2 * j + 1) / 2**k for j in range(2 ** (k - 1))], dtype=torch.float64)
    zeros = torch.tensor([j / 2 ** (k - 1) for j in range(2 ** (k - 1) + 1)], dtype=torch.float64)
    assert torch.equal(D.tent_map(peaks, k), torch.ones_like(peaks))
    assert torch.equal(D.tent_map(zeros, k), torch.zeros_like(zeros))


def test_tent_map_one_step():
    x = torch.tensor([0.0, 0.25, 0.5, 0.75, 1.0])
    assert D.tent_map(x, 1).tolist() == [0.0, 0.5, 1.0, 0.5, 0.0]
    assert torch.equal(D.tent_map(x, 0), x)


def test_two_clusters():
    X, y = D.two_clusters(1001, dim=3, distance=6.0, std=0.5, seed=1)
    assert X.shape == (1001, 3)
    assert (y == 1).sum() == 501 and (y == -1).sum() == 500
    assert abs(X[y == 1, 0].mean() - 3) < 0.1 and abs(X[y == -1, 0].mean() + 3) < 0.1
    assert abs(X[:, 1:].std() - 0.5) < 0.05


# --------------------------------------------------------------------------- scikit-learn data


def test_digits():
    X, y = D.digits()
    assert X.shape == (1797, 64) and X.dtype == torch.float32 and y.dtype == torch.int64
    assert X.min() == 0 and X.max() == 1 and set(y.tolist()) == set(range(10))
    assert D.digits(flatten=False, dtype=torch.float64)[0].shape == (1797, 1, 8, 8)


def test_diabetes():
    X, y = D.diabetes(dtype=torch.float64)
    assert X.shape == (442, 10) and y.shape == (442,)
    torch.testing.assert_close(X.mean(0), torch.zeros(10, dtype=torch.float64))
    torch.testing.assert_close(X.std(0, correction=0), torch.ones(10, dtype=torch.float64))
    assert y.min() >= 25 and y.max() <= 346
    _, ys = D.diabetes(standardize_target=True)
    assert abs(ys.mean()) < 1e-5 and abs(ys.std(correction=0) - 1) < 1e-5


# --------------------------------------------------------------------------- MNIST-1D


def test_mnist1d_generates_offline_and_leaves_global_rngs_alone(no_network, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # the package's download path would write a pickle here
    np.random.seed(11)
    random.seed(11)
    expected = (np.random.rand(), random.random())
    np.random.seed(11)
    random.seed(11)
    X, y, X_test, y_test = D.mnist1d()
    assert (np.random.rand(), random.random()) == expected
    assert X.shape == (4000, 40) and X_test.shape == (1000, 40)
    assert X.dtype == torch.float32 and y.dtype == torch.int64
    assert set(y.tolist()) == set(range(10)) and set(y_test.tolist()) == set(range(10))
    # the package's get_dataset would print "Downloading ..." and pickle into the working directory
    assert "ownload" not in capsys.readouterr().out
    assert list(tmp_path.iterdir()) == []


def test_mnist1d_deterministic_and_sized(no_network):
    a = D.mnist1d(n=200, seed=3, train_fraction=0.5, dtype=torch.float64)
    b = D.mnist1d(n=200, seed=3, train_fraction=0.5, dtype=torch.float64)
    c = D.mnist1d(n=200, seed=4, train_fraction=0.5, dtype=torch.float64)
    assert a[0].shape == (100, 40) and a[2].shape == (100, 40) and a[0].dtype == torch.float64
    assert all(torch.equal(u, v) for u, v in zip(a, b))
    assert not torch.equal(a[0], c[0])
    with pytest.raises(ValueError, match="multiple of 10"):
        D.mnist1d(n=105)


# --------------------------------------------------------------------------- MNIST and CIFAR-10


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_shipped_subset_matches_its_provenance_note(root):
    files = root / "lib" / "dltheory" / "data" / "files"
    assert SHIPPED == files / "mnist_subset.npz"  # package data, next to its note and licence
    readme = (files / "README.md").read_text()
    recorded = re.findall(r"^sha256: `([0-9a-f]{64})`$", readme, flags=re.M)
    assert recorded == [sha256(SHIPPED)]
    assert SHIPPED.stat().st_size <= 3 * 2**20
    assert (files / "LICENSE-MNIST.txt").is_file()
    assert "Attribution-Share Alike 3.0" in readme


def test_a_missing_subset_says_what_to_do(monkeypatch, tmp_path):
    monkeypatch.setenv("DLT_MNIST_SUBSET", str(tmp_path / "nowhere.npz"))
    assert D.shipped_mnist_path() == tmp_path / "nowhere.npz"
    with pytest.raises(FileNotFoundError, match="package data of dltheory.*DLT_MNIST_SUBSET.*torchvision"):
        D.mnist(source="shipped")


def test_mnist_shipped():
    X, y, X_test, y_test = D.mnist(source="shipped")
    assert X.shape == (10000, 1, 28, 28) and X_test.shape == (2000, 1, 28, 28)
    assert X.dtype == torch.float32 and y.dtype == torch.int64
    assert X.min() == 0 and X.max() == 1
    assert set(y.tolist()) == set(range(10)) and set(y_test.tolist()) == set(range(10))
    assert y[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]  # MNIST's own first labels
    assert y_test[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    small = D.mnist(n_train=100, n_test=50, source="shipped", flatten=True, dtype=torch.float64)
    assert small[0].shape == (100, 784) and small[2].shape == (50, 784)
    torch.testing.assert_close(small[0], X[:100].flatten(1).double())
    with pytest.raises(ValueError, match="10000"):
        D.mnist(n_train=20000, source="shipped")


def test_mnist_auto_falls_back_with_a_warning(no_torchvision):
    with pytest.warns(D.DataFallbackWarning, match="torchvision is unavailable.*shipped"):
        got = D.mnist(n_train=300, n_test=100)
    expected = D.mnist(n_train=300, n_test=100, source="shipped")
    assert all(torch.equal(a, b) for a, b in zip(got, expected))


def test_mnist_auto_falls_back_when_the_download_fails(monkeypatch, no_network, tmp_path):
    def mnist_that_downloads(root, train, download):
        socket.create_connection(("yann.lecun.com", 80))

    fake = types.SimpleNamespace(datasets=types.SimpleNamespace(MNIST=mnist_that_downloads))
    monkeypatch.setattr(real, "_import_torchvision", lambda: fake)
    with pytest.warns(D.DataFallbackWarning, match="network disabled"):
        X, *_ = D.mnist(n_train=10, n_test=10, root=tmp_path)
    assert X.shape == (10, 1, 28, 28)


def test_mnist_auto_never_returns_less_than_asked(no_torchvision):
    with pytest.raises(RuntimeError, match="smaller than asked"):
        D.mnist(n_train=60000)
    with pytest.raises(RuntimeError, match="smaller than asked"):
        D.mnist(n_test=None)


def test_mnist_torchvision_source_raises_without_it(no_torchvision):
    with pytest.raises(RuntimeError, match="source='shipped'"):
        D.mnist(source="torchvision")


def test_mnist_torchvision_path_gives_the_shipped_images(monkeypatch, tmp_path):
    """With a stand-in for torchvision.datasets.MNIST serving the shipped arrays, both sources agree."""
    with np.load(SHIPPED) as f:
        arrays = {k: f[k] for k in f.files}

    class FakeMNIST:
        def __init__(self, root, train, download):
            assert download and root == str(tmp_path)
            split = "train" if train else "test"
            self.data = torch.from_numpy(arrays[f"x_{split}"])
            self.targets = torch.from_numpy(arrays[f"y_{split}"])

    fake = types.SimpleNamespace(datasets=types.SimpleNamespace(MNIST=FakeMNIST))
    monkeypatch.setattr(real, "_import_torchvision", lambda: fake)
    got = D.mnist(n_train=500, n_test=200, source="torchvision", root=tmp_path)
    expected = D.mnist(n_train=500, n_test=200, source="shipped")
    assert all(torch.equal(a, b) for a, b in zip(got, expected))
    with pytest.raises(ValueError, match="asked for"):
        D.mnist(n_train=10**6, source="auto", root=tmp_path)


def test_cifar10_offline_raises_a_helpful_error(no_torchvision):
    with pytest.raises(RuntimeError, match="Colab.*mnist"):
        D.cifar10()
    with pytest.raises(RuntimeError, match="no offline copy"):
        D.cifar10(source="torchvision")
    with pytest.raises(ValueError, match="no shipped copy"):
        D.cifar10(source="shipped")


def test_cifar10_layout_with_a_stand_in(monkeypatch, tmp_path):
    class FakeCIFAR10:
        def __init__(self, root, train, download):
            n = 6 if train else 4
            self.data = np.arange(n * 32 * 32 * 3, dtype=np.int64).reshape(n, 32, 32, 3).astype(np.uint8)
            self.targets = list(range(n))

    fake = types.SimpleNamespace(datasets=types.SimpleNamespace(CIFAR10=FakeCIFAR10))
    monkeypatch.setattr(real, "_import_torchvision", lambda: fake)
    X, y, X_test, y_test = D.cifar10(n_train=5, root=tmp_path)
    assert X.shape == (5, 3, 32, 32) and X_test.shape == (4, 3, 32, 32) and y.dtype == torch.int64
    assert X[0, 1, 0, 0] == 1 / 255  # channel 1 of pixel (0, 0): NHWC became NCHW
    assert D.cifar10(flatten=True, root=tmp_path)[0].shape == (6, 3072)


@pytest.mark.parametrize("call", [
    lambda: D.mnist(source="internet"),
    lambda: D.cifar10(source="internet"),
    lambda: D.mnist(n_train=0, source="shipped"),
    lambda: D.mnist(source="shipped", dtype=torch.int64),
])
def test_mnist_bad_arguments(call):
    with pytest.raises(ValueError):
        call()


# --------------------------------------------------------------------------- corrupt_labels


def test_corrupt_labels_exact_count_and_determinism():
    y = torch.arange(1000) % 10
    new, mask = D.corrupt_labels(y, 0.3, seed=1, return_mask=True)
    assert mask.sum() == 300 and new.dtype == torch.int64
    assert torch.equal(new[~mask], y[~mask])
    assert 0.8 * 0.9 * 300 < (new != y).sum() < 1.2 * 0.9 * 300  # some replacements hit the true label
    assert torch.equal(new, D.corrupt_labels(y, 0.3, seed=1))
    assert not torch.equal(new, D.corrupt_labels(y, 0.3, seed=2))
    assert torch.equal(y, torch.arange(1000) % 10)  # the input is untouched
    assert torch.equal(D.corrupt_labels(y, 0.0), y)


def test_corrupt_labels_exclude_true_and_num_classes():
    y = torch.zeros(200, dtype=torch.int64)
    new = D.corrupt_labels(y, 0.25, num_classes=4, exclude_true=True)
    assert (new != y).sum() == 50 and new.max() <= 3
    assert set(D.corrupt_labels(y, 1.0, num_classes=4).tolist()) == {0, 1, 2, 3}


def test_corrupt_labels_flips_pm1_labels():
    y = torch.where(torch.arange(101) % 2 == 0, 1.0, -1.0)
    new = D.corrupt_labels(y, 0.5, seed=3)
    assert (new != y).sum() == round(0.5 * 101) and set(new.tolist()) == {-1.0, 1.0}
    assert new.dtype == y.dtype


@pytest.mark.parametrize("fraction", [-0.1, 1.1, float("nan")])
def test_corrupt_labels_bad_fraction(fraction):
    with pytest.raises(ValueError, match="fraction"):
        D.corrupt_labels(torch.zeros(5, dtype=torch.int64), fraction)


def test_corrupt_labels_bad_labels():
    with pytest.raises(ValueError, match="\\+1 or -1"):
        D.corrupt_labels(torch.tensor([0.5, 1.0]), 0.5)
    with pytest.raises(ValueError, match="num_classes"):
        D.corrupt_labels(torch.tensor([0, 5]), 0.5, num_classes=3)


def test_random_labels_agree_with_the_true_ones_one_time_in_K():
    # A redrawn label equals the old one with probability 1/K, whatever the old labels: over 20 seeds of
    # 2,000 labels (the notebook's size) the count of agreements is Binomial(40,000, 1/K). The seeds are
    # fixed, so the test is deterministic; the window is the exact 99.99% binomial interval.
    from scipy import stats

    for K, y in [(10, torch.arange(2000) % 10), (10, torch.zeros(2000, dtype=torch.int64)),
                 (3, torch.arange(2000) % 2)]:
        agree = sum(int((D.corrupt_labels(y, 1.0, num_classes=K, seed=s) == y).sum()) for s in range(20))
        low, high = stats.binom.interval(0.9999, 20 * len(y), 1 / K)
        assert low <= agree <= high, (K, agree / (20 * len(y)))


def test_corrupt_labels_is_nested_across_fractions_for_one_seed():
    # The notebook's levels share a seed: the examples redrawn at a lower fraction are among those
    # redrawn at a higher one, with the same new labels.
    y = torch.arange(5000) % 10
    previous = None
    for fraction in (0.2, 0.5, 0.8, 1.0):
        new, mask = D.corrupt_labels(y, fraction, num_classes=10, seed=7, return_mask=True)
        if previous is not None:
            old_new, old_mask = previous
            assert bool((old_mask <= mask).all())
            assert torch.equal(new[old_mask], old_new[old_mask])
        previous = new, mask


# --------------------------------------------------------------------------- randomize_inputs


def test_shuffled_pixels_apply_one_permutation_shared_by_calls_with_a_seed():
    X = torch.rand(6, 1, 3, 4, dtype=torch.float64)
    Y = D.randomize_inputs(X, "shuffled_pixels", seed=3)
    assert Y.shape == X.shape and Y.dtype == X.dtype
    flat, out = X.reshape(6, -1), Y.reshape(6, -1)
    perm = [int(torch.nonzero(flat[0] == v)[0]) for v in out[0]]  # pixel values are distinct
    assert sorted(perm) == list(range(12)) and perm != list(range(12))
    assert torch.equal(out, flat[:, perm])  # the same permutation for every image
    X2 = torch.rand(4, 12, dtype=torch.float64)  # a "test set": same seed, same permutation
    assert torch.equal(D.randomize_inputs(X2, "shuffled_pixels", seed=3), X2[:, perm])
    assert not torch.equal(D.randomize_inputs(X, "shuffled_pixels", seed=4), Y)


def test_random_pixels_permute_every_image_independently_and_uniformly():
    n, d = 20000, 5
    X = torch.arange(d, dtype=torch.float32).repeat(n, 1)
    Y = D.randomize_inputs(X, "random_pixels", seed=1)
    assert torch.equal(Y.sort(1).values, X)  # each image keeps its pixel values (its histogram)
    assert len({tuple(row) for row in Y[:200].tolist()}) > 60  # 120 permutations, many of them used
    # Uniform: value v sits at position j with probability 1/d. Each count is Binomial(n, 1/d), sd 57.
    counts = torch.stack([(Y == v).sum(0) for v in range(d)]).double()
    assert ((counts - n / d).abs() < 5 * math.sqrt(n * (1 / d) * (1 - 1 / d))).all()
    assert torch.equal(D.randomize_inputs(X, "random_pixels", seed=1), Y)


def test_gaussian_inputs_match_the_mean_and_variance_of_the_data():
    g = torch.Generator().manual_seed(0)
    X = (torch.rand(3000, 50, generator=g) < 0.2).float() * 0.9  # MNIST-like: mostly zeros
    Y = D.randomize_inputs(X, "gaussian", seed=2)
    assert Y.shape == X.shape and Y.dtype == torch.float32
    mean, var = X.double().mean().item(), X.double().var(correction=0).item()
    assert abs(Y.double().mean().item() - mean) < 5 * math.sqrt(var / Y.numel())
    assert abs(Y.double().var().item() / var - 1) < 5 * math.sqrt(2 / Y.numel())
    # independent of the pixel positions: the per-pixel means are all the global mean
    assert (Y.double().mean(0) - mean).abs().max() < 5 * math.sqrt(var / 3000)
    z = ((Y.double() - mean) / math.sqrt(var)).flatten().numpy()
    assert abs(np.mean(z**4) - 3) < 0.1  # Gaussian kurtosis, not the data's


def test_randomize_inputs_leaves_its_input_alone_and_rejects_bad_arguments():
    X = torch.rand(4, 6)
    before = X.clone()
    for kind in D.INPUT_RANDOMIZATIONS:
        D.randomize_inputs(X, kind, seed=0)
    assert torch.equal(X, before)
    with pytest.raises(ValueError, match="kind"):
        D.randomize_inputs(X, "noise")
    with pytest.raises(ValueError, match="at least one"):
        D.randomize_inputs(torch.rand(5), "gaussian")


# --------------------------------------------------------------------------- splits and helpers


def test_split():
    X = torch.arange(100.0).unsqueeze(1)
    y = torch.arange(100) % 3
    X_tr, y_tr, X_te, y_te = D.split(X, y, test_fraction=0.25, seed=0)
    assert len(X_te) == 25 and len(X_tr) == 75
    assert sorted(torch.cat([X_tr, X_te]).squeeze(1).tolist()) == list(range(100))
    assert torch.equal(y_tr, X_tr.squeeze(1).long() % 3)  # the order is X_train, y_train, X_test, y_test
    assert torch.equal(y_te, X_te.squeeze(1).long() % 3)
    again = D.split(X, y, test_fraction=0.25, seed=0)
    assert torch.equal(again[2], X_te)
    assert not torch.equal(D.split(X, y, test_fraction=0.25, seed=1)[2], X_te)
    from_arrays = D.split(X.numpy(), y.numpy(), test_fraction=0.25, seed=0)  # array-likes become tensors
    assert all(torch.equal(a, b) for a, b in zip(from_arrays, (X_tr, y_tr, X_te, y_te)))


def test_split_is_not_sklearns_train_test_split():
    """The return order differs from scikit-learn's, so the name differs too; no alias."""
    assert not hasattr(D, "train_test_split")
    assert "X_train, X_test, y_train, y_test" in D.split.__doc__


def test_split_stratified():
    y = torch.cat([torch.zeros(80), torch.ones(20)]).long()
    X = torch.randn(100, 2, generator=torch.Generator().manual_seed(0))
    _, _, _, y_te = D.split(X, y, test_fraction=0.1, stratify=True, seed=4)
    assert torch.bincount(y_te).tolist() == [8, 2]
    _, _, _, y_te = D.split(X, y, test_fraction=0.33, stratify=True)
    assert len(y_te) == 33


@pytest.mark.parametrize("fraction, match", [
    (0.0, "test_fraction must be a number in \\(0, 1\\)"),
    (1.0, "test_fraction must be a number in \\(0, 1\\)"),
    (0.001, "test_fraction must leave at least one example in each part"),
])
def test_split_bad_fraction(fraction, match):
    with pytest.raises(ValueError, match=match):
        D.split(torch.zeros(10, 2), torch.zeros(10), test_fraction=fraction)


def test_standardize_uses_training_statistics():
    X = torch.tensor([[1.0, 5.0], [3.0, 5.0]])
    X_tr, X_te = D.standardize(X, torch.tensor([[2.0, 6.0]]))
    assert X_tr.tolist() == [[-1.0, 0.0], [1.0, 0.0]]
    assert X_te.tolist() == [[0.0, 1.0]]  # the constant feature is only centred
    assert D.standardize(X)[1] is None


def test_select_classes():
    X = torch.arange(10.0).unsqueeze(1)
    y = torch.arange(10) % 5
    Xs, ys = D.select_classes(X, y, (3, 1))
    assert Xs.squeeze(1).tolist() == [1, 3, 6, 8] and ys.tolist() == [1, 0, 1, 0]
    _, yb = D.select_classes(X, y, (3, 1), binary=True)
    assert yb.tolist() == [1.0, -1.0, 1.0, -1.0] and yb.dtype == torch.float32
    with pytest.raises(ValueError, match="two classes"):
        D.select_classes(X, y, (1, 2, 3), binary=True)


# --------------------------------------------------------------------------- bad inputs


@pytest.mark.parametrize("call, match", [
    (lambda: D.separable(0, 3), "n must be a positive integer, got 0"),
    (lambda: D.separable(5, 0), "d must be a positive integer, got 0"),
    (lambda: D.separable(5, 2, method="magic"), "unknown method 'magic'; choose one of \\['rejection', 'direct'\\]"),
    (lambda: D.separable(5, 3, seed=-1), "seed must be a non-negative integer below 2\\*\\*63, got -1"),
    (lambda: D.separable(5, 3, seed=2**63), "seed must be a non-negative integer below 2\\*\\*63"),
    (lambda: D.separable(5, 3, dtype=torch.int32), "dtype must be a floating-point torch dtype"),
    (lambda: D.separable(5, 3, device="gpu0"), "unknown device 'gpu0'"),
    (lambda: D.teacher(5, 3, task="ranking"), "unknown task"),
    (lambda: D.teacher(5, 3, task="binary", noise=2.0), "noise must be a number in \\[0, 1\\], got 2.0"),
    (lambda: D.teacher(5, 3, noise=-0.1), "noise must be a non-negative number"),
    (lambda: D.teacher(5, 3, task="classes", num_classes=1), "num_classes must be an integer >= 2"),
    (lambda: D.teacher(5, 3, inputs="cube"), "unknown inputs"),
    (lambda: D.binary_tree(0), "n must be a positive integer"),
    (lambda: D.binary_tree(5, depth=0), "depth must be an integer in \\[1, 20\\], got 0"),
    (lambda: D.binary_tree(5, depth=21), "depth must be an integer in \\[1, 20\\], got 21"),
    (lambda: D.binary_tree(5, noise=-1), "noise must be a non-negative number"),
    (lambda: D.binary_tree(5, constituent="cubic"), "unknown constituent 'cubic'.*or pass a callable h\\(a, b\\)"),
    (lambda: D.binary_tree_target(torch.zeros(8)), "X must be a matrix"),
    (lambda: D.binary_tree_target(torch.full((2, 4), float("nan"))), "X contains NaN"),
    (lambda: D.binary_tree_levels(0), "depth must be a positive integer"),
    (lambda: D.clustered(5, classes=1), "classes must be an integer >= 2"),
    (lambda: D.clustered(5, spread=0.6), "spread must be a number in \\[0, 0.5\\)"),
    (lambda: D.clustered(5, separation=0), "separation must be a positive number"),
    (lambda: D.square_wave(5, interval=(1, 0)), "interval must be \\(a, b\\) with a < b"),
    (lambda: D.square_wave(5, interval=(0, float("inf"))), "interval\\[1\\] must be a finite number"),
    (lambda: D.square_wave(5, periods=0), "periods must be a positive integer"),
    (lambda: D.sawtooth(5, iterations=0), "iterations must be a positive integer"),
    (lambda: D.tent_map(torch.zeros(3), -1), "iterations must be a non-negative integer"),
    (lambda: D.two_clusters(5, std=-1), "std must be a non-negative number"),
    (lambda: D.two_clusters(5, distance=float("nan")), "distance must be a non-negative number"),
    (lambda: D.mnist1d(n=5), "n must be a positive multiple of 10, got 5"),
    (lambda: D.mnist1d(seed=2**32), "seed must be an integer in \\[0, 2\\*\\*32\\)"),
    (lambda: D.mnist1d(train_fraction=1.0), "train_fraction must be a number in \\(0, 1\\)"),
    (lambda: D.mnist1d(n=10, train_fraction=0.05), "train_fraction must leave at least one training"),
    (lambda: D.corrupt_labels(torch.zeros(2, 3, dtype=torch.int64), 0.5), "y must be a vector"),
    (lambda: D.corrupt_labels(torch.zeros(0, dtype=torch.int64), 0.5), "y must hold at least one example"),
    (lambda: D.corrupt_labels(torch.zeros(5, dtype=torch.int64), 0.5, num_classes=0), "num_classes"),
    (lambda: D.split(torch.zeros(10, 2), torch.zeros(9)), "X has 10 examples but y has 9"),
    (lambda: D.standardize(torch.zeros(0, 2)), "X_train must hold at least one example"),
    (lambda: D.standardize(torch.zeros(3, 2), torch.zeros(3, 4)), "feature shape"),
    (lambda: D.standardize(torch.tensor([[1.0], [float("nan")]])), "X_train contains NaN"),
    (lambda: D.standardize(torch.zeros(3, 2), eps=-1.0), "eps must be a non-negative number"),
    (lambda: D.select_classes(torch.zeros(4, 1), torch.arange(4), (1, 1)), "distinct"),
    (lambda: D.select_classes(torch.zeros(4, 1), torch.arange(3), (1, 2)), "X has 4 examples but y has 3"),
])
def test_bad_values_raise_value_errors_that_name_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize("call, match", [
    (lambda: D.separable(2.5, 3), "n must be a positive integer, got 2.5"),
    (lambda: D.separable(True, 3), "n must be a positive integer, got True"),
    (lambda: D.separable("5", 3), "n must be a positive integer, got '5'"),
    (lambda: D.separable(5, 3, seed=True), "seed must be a non-negative integer"),
    (lambda: D.separable(5, 3, seed=1.0), "seed must be a non-negative integer"),
    (lambda: D.separable(5, 3, margin="0.1"), "margin must be a number in \\(0, 1\\), got '0.1'"),
    (lambda: D.separable(5, 3, sphere=1), "sphere must be True or False, got 1"),
    (lambda: D.separable(5, 3, dtype="float32"), "dtype must be a floating-point torch dtype"),
    (lambda: D.separable(5, 3, device=None), "device must be a torch.device or a name"),
    (lambda: D.teacher(5, 3, num_classes=2.0, task="classes"), "num_classes must be an integer >= 2"),
    (lambda: D.binary_tree(5, depth=True), "depth must be an integer in \\[1, 20\\]"),
    (lambda: D.binary_tree_target("not a tensor"), "X must be a tensor or an array of numbers"),
    (lambda: D.clustered(5, return_centers="yes"), "return_centers must be True or False"),
    (lambda: D.square_wave(5, grid=1), "grid must be True or False"),
    (lambda: D.square_wave(5, low="0"), "low must be a finite number"),
    (lambda: D.tent_map(torch.zeros(3), 1.0), "iterations must be a non-negative integer"),
    (lambda: D.digits(flatten=0), "flatten must be True or False"),
    (lambda: D.mnist1d(n=100.0), "n must be a positive multiple of 10"),
    (lambda: D.mnist(n_train="100", source="shipped"), "n_train must be a positive integer or None, got '100'"),
    (lambda: D.mnist(n_test=False, source="shipped"), "n_test must be a positive integer or None, got False"),
    (lambda: D.corrupt_labels(torch.zeros(5, dtype=torch.int64), "0.3"), "fraction must be a number in \\[0, 1\\]"),
    (lambda: D.corrupt_labels(torch.zeros(5, dtype=torch.int64), 0.3, exclude_true=1), "exclude_true"),
    (lambda: D.corrupt_labels("labels", 0.3), "y must be a tensor or an array of numbers"),
    (lambda: D.split(torch.zeros(10, 2), torch.zeros(10), stratify="yes"), "stratify must be True or False"),
    (lambda: D.select_classes(torch.zeros(4, 1), torch.arange(4), 3), "classes must be a sequence"),
    (lambda: D.select_classes(torch.zeros(4, 1), torch.arange(4), (1.0, 2)), "classes\\[0\\] must be an integer"),
])
def test_arguments_of_the_wrong_type_raise_type_errors(call, match):
    with pytest.raises(TypeError, match=match):
        call()


def test_numpy_scalars_count_as_python_ones():
    a = D.separable(np.int64(20), np.int32(3), margin=np.float32(0.25), seed=np.uint8(4), sphere=np.bool_(True))
    b = D.separable(20, 3, margin=float(np.float32(0.25)), seed=4, sphere=True)
    assert all(torch.equal(u, v) for u, v in zip(a, b))


def test_labels_as_arrays_give_the_tensor_results():
    y = np.arange(50) % 4
    assert torch.equal(D.corrupt_labels(y, 0.4, seed=2), D.corrupt_labels(torch.from_numpy(y), 0.4, seed=2))
    X = np.arange(8.0).reshape(4, 2)
    got = D.standardize(X, X[:1])
    expected = D.standardize(torch.from_numpy(X), torch.from_numpy(X[:1]))
    assert torch.equal(got[0], expected[0]) and torch.equal(got[1], expected[1])


def test_the_package_re_exports_every_public_name():
    import importlib
    import pkgutil

    modules = [importlib.import_module(f"dltheory.data.{info.name}") for info in pkgutil.iter_modules(D.__path__)
               if not info.name.startswith("_")]
    assert len(modules) >= 6
    names = [name for module in modules for name in module.__all__]
    assert sorted(D.__all__) == sorted(names) and len(set(names)) == len(names)
    for module in modules:
        for name in module.__all__:
            assert getattr(D, name) is getattr(module, name)


def test_teacher_refuses_to_return_a_single_class():
    # On the sphere a narrow teacher with seed 0 has one sign on all 50 inputs: its biases dominate.
    f = D.teacher(50, 6, task="regression", seed=0, inputs="sphere", widths=(16,))[1]
    assert (f >= 0).all() or (f < 0).all()
    with pytest.raises(ValueError, match="same label"):
        D.teacher(50, 6, task="binary", seed=0, inputs="sphere", widths=(16,))
    X, y, _ = D.teacher(50, 6, task="binary", seed=1, inputs="sphere", widths=(16,))
    assert set(y.tolist()) == {-1.0, 1.0}


def test_teacher_signs_split_the_teacher_at_its_median():
    X, y = D.teacher_signs(50, 6, seed=3)
    assert X.dtype == y.dtype == torch.float32 and X.shape == (50, 6) and y.shape == (50,)
    torch.testing.assert_close(X.norm(dim=1), torch.ones(50))
    assert set(y.tolist()) == {-1.0, 1.0} and y.sum().item() == 0  # n even: exactly balanced
    X2, y2 = D.teacher_signs(50, 6, seed=3)
    assert torch.equal(X, X2) and torch.equal(y, y2)
    # the teacher's regression outputs, sorted: the lower 26 of 51 (median included) are -1, the rest +1
    X64, f, _ = D.teacher(51, 6, task="regression", inputs="sphere", seed=4, dtype=torch.float64)
    X, y = D.teacher_signs(51, 6, seed=4, dtype=torch.float64)
    assert torch.equal(X, X64)
    order = f.argsort()
    assert (y[order[:26]] == -1).all() and (y[order[26:]] == 1).all()
    Xg, _ = D.teacher_signs(40, 3, inputs="gaussian", seed=0)
    assert Xg.norm(dim=1).std() > 0.1
    with pytest.raises(ValueError, match="n must be"):
        D.teacher_signs(1, 3)
