"""dltheory.ntk against independent computations: torch.autograd.functional.jacobian,
a per-example autograd loop, the arc-cosine kernels of Cho & Saul (2009) written out
here, Monte-Carlo estimates, and wide finite networks."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from dltheory import ntk, params
from dltheory.models import mlp
from tests._oracles import jacobian_loop, ntk_loop

pytestmark = pytest.mark.usefixtures("one_thread")

F64 = torch.float64


def randn(*shape, seed=0):
    return torch.randn(*shape, dtype=F64, generator=torch.Generator().manual_seed(seed))


def transpose_kernel(K):
    """Theta(x', x)_{ba} laid out like Theta(x, x')_{ab}."""
    return K.T if K.ndim == 2 else K.permute(1, 0, 3, 2)


def flat_kernel(K):
    """(n, n, k, k) -> (n k, n k), the Gram matrix of all Jacobian rows."""
    if K.ndim == 2:
        return K
    n, _, k, _ = K.shape
    return K.permute(0, 2, 1, 3).reshape(n * k, n * k)


# --------------------------------------------------------------------------- test models


class Scaled(nn.Module):
    """A parameter outside any Linear layer: structure does not apply."""

    def __init__(self, d=4, k=2):
        super().__init__()
        self.lin = nn.Linear(d, k, dtype=F64)
        self.scale = nn.Parameter(torch.tensor(1.5, dtype=F64))

    def forward(self, x):
        return self.scale * torch.tanh(self.lin(x))


class Twice(nn.Module):
    """One Linear layer called twice per forward pass."""

    def __init__(self, d=4):
        super().__init__()
        self.inner = nn.Linear(d, d, dtype=F64)
        self.out = nn.Linear(d, 1, dtype=F64)

    def forward(self, x):
        return self.out(torch.tanh(self.inner(torch.tanh(self.inner(x)))))


class Tied(nn.Module):
    """Two Linear layers sharing one weight."""

    def __init__(self, d=4):
        super().__init__()
        self.a = nn.Linear(d, d, dtype=F64)
        self.b = nn.Linear(d, d, bias=False, dtype=F64)
        self.b.weight = self.a.weight
        self.out = nn.Linear(d, 2, dtype=F64)

    def forward(self, x):
        return self.out(torch.tanh(self.b(torch.tanh(self.a(x)))))


class Tokens(nn.Module):
    """Linear layers applied to a sequence (n, T, d): the weight gradient sums over T."""

    def __init__(self, d=3):
        super().__init__()
        self.lin = nn.Linear(d, 4, dtype=F64)
        self.out = nn.Linear(4, 1, dtype=F64)

    def forward(self, x):
        return self.out(torch.tanh(self.lin(x)).mean(dim=1)).squeeze(-1)


class WithSpare(nn.Module):
    """A Linear layer that is registered but never called."""

    def __init__(self):
        super().__init__()
        self.net = mlp([4, 6, 2], dtype=F64, seed=0)
        self.spare = nn.Linear(4, 4, dtype=F64)

    def forward(self, x):
        return self.net(x)


def conv_model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv1d(1, 2, 3), nn.Tanh(), nn.Flatten(), nn.Linear(12, 3)).to(F64)


def inplace_relu_mlp():
    torch.manual_seed(1)
    return nn.Sequential(nn.Linear(4, 6), nn.ReLU(inplace=True), nn.Linear(6, 5), nn.ReLU(inplace=True),
                         nn.Linear(5, 2)).to(F64)


# --------------------------------------------------------------------------- jacobian


@pytest.mark.parametrize("k", [1, 3])
def test_jacobian_matches_autograd_functional(k):
    model = mlp([4, 6, 5, k], activation="tanh", dtype=F64, seed=0)
    X = randn(7, 4)
    theta = params.flat_parameters(model)
    f = params.as_function(model)
    full = torch.autograd.functional.jacobian(lambda t: f(t, X).reshape(7, -1), theta)  # (n, k, n_theta)
    J = ntk.jacobian(model, X)
    assert J.shape == (7, k, theta.numel())
    assert J.dtype == F64
    torch.testing.assert_close(J, full, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("make,shape", [
    (lambda: mlp([4, 5, 1], dtype=F64, seed=2, parametrization="ntk", bias_var=0.2), (6, 4)),
    (Scaled, (6, 4)),
    (Twice, (6, 4)),
    (conv_model, (6, 1, 8)),
    (Tokens, (6, 5, 3)),
])
def test_jacobian_matches_a_per_example_loop(make, shape):
    model = make()
    X = randn(*shape, seed=1)
    torch.testing.assert_close(ntk.jacobian(model, X), jacobian_loop(model, X), rtol=1e-12, atol=1e-13)


def test_jacobian_of_a_model_returning_a_vector_has_one_output():
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1), nn.Flatten(0)).to(F64)
    X = randn(5, 3)
    assert model(X).shape == (5,)
    J = ntk.jacobian(model, X)
    assert J.shape == (5, 1, 21)
    torch.testing.assert_close(J, jacobian_loop(model, X), rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("make,shape", [(lambda: mlp([4, 6, 3], dtype=F64, seed=0), (11, 4)),
                                        (conv_model, (11, 1, 8))])
def test_jacobian_chunking_does_not_change_the_result(make, shape):
    model, X = make(), randn(*shape)
    J = ntk.jacobian(model, X)
    for c in (1, 2, 3, 5, 11, 50):
        torch.testing.assert_close(ntk.jacobian(model, X, chunk_size=c), J, rtol=1e-14, atol=1e-14)


def test_jacobian_follows_the_model_dtype():
    model = mlp([3, 4, 2], seed=0)  # float32
    J = ntk.jacobian(model, randn(5, 3))  # float64 inputs are cast to the model's dtype
    assert J.dtype == torch.float32 and J.shape == (5, 2, 26)


# --------------------------------------------------------------------------- empirical NTK


CASES = [
    dict(parametrization="standard", bias=True, k=1, activation="relu"),
    dict(parametrization="standard", bias=False, k=3, activation="relu"),
    dict(parametrization="ntk", bias=True, k=1, activation="relu"),
    dict(parametrization="ntk", bias=True, k=3, activation="tanh"),
    dict(parametrization="ntk", bias=False, k=1, activation="tanh"),
    dict(parametrization="standard", bias=True, k=3, activation="tanh"),
]


def case_model(case, seed=0):
    extra = dict(weight_var=1.7, bias_var=0.3) if case["parametrization"] == "ntk" else {}
    return mlp([5, 8, 7, case["k"]], activation=case["activation"], bias=case["bias"],
               parametrization=case["parametrization"], dtype=F64, seed=seed, **extra)


@pytest.fixture
def structured_only(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the structured method should have applied")
    monkeypatch.setattr(ntk._kernels, "_ntk_from_jacobians", refuse)


@pytest.fixture
def fallback_only(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the structured method should not have applied")
    monkeypatch.setattr(ntk._kernels, "_ntk_structured", refuse)


@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(str(v) for v in c.values()))
@pytest.mark.parametrize("given_x2", [False, True], ids=["x2=None", "x2"])
def test_structured_ntk_matches_loop_and_jacobians(case, given_x2, structured_only):
    model = case_model(case)
    x1 = randn(9, 5, seed=1)
    x2 = randn(4, 5, seed=2) if given_x2 else None
    K = ntk.empirical_ntk(model, x1, x2)
    k = case["k"]
    n2 = 4 if given_x2 else 9
    assert K.shape == ((9, n2) if k == 1 else (9, n2, k, k))
    torch.testing.assert_close(K, ntk_loop(model, x1, x2), rtol=1e-11, atol=1e-12)
    J1 = ntk.jacobian(model, x1)
    J2 = J1 if x2 is None else ntk.jacobian(model, x2)
    JJ = torch.einsum("iap,jbp->ijab", J1, J2)
    torch.testing.assert_close(K, JJ.reshape(K.shape), rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("make,shape", [(Scaled, (8, 4)), (Twice, (8, 4)), (Tied, (8, 4)),
                                        (conv_model, (8, 1, 8)), (Tokens, (8, 5, 3))])
@pytest.mark.parametrize("given_x2", [False, True], ids=["x2=None", "x2"])
def test_fallback_ntk_matches_loop(make, shape, given_x2, fallback_only):
    model = make()
    x1 = randn(*shape, seed=3)
    x2 = randn(5, *shape[1:], seed=4) if given_x2 else None
    expected = ntk_loop(model, x1, x2)
    for c in (None, 1, 3):
        torch.testing.assert_close(ntk.empirical_ntk(model, x1, x2, chunk_size=c), expected, rtol=1e-11, atol=1e-12)


def test_fallback_without_cache_matches(monkeypatch, fallback_only):
    monkeypatch.setattr(ntk._kernels, "_CACHE_BYTES", 0)  # recompute x2's Jacobian chunk by chunk
    model, x1, x2 = conv_model(), randn(7, 1, 8), randn(5, 1, 8, seed=1)
    for x in (None, x2):
        torch.testing.assert_close(ntk.empirical_ntk(model, x1, x, chunk_size=2), ntk_loop(model, x1, x),
                                   rtol=1e-11, atol=1e-12)


def test_structure_is_detected():
    assert ntk._kernels._structured_layers(mlp([3, 4, 1], parametrization="ntk")) is not None
    assert ntk._kernels._structured_layers(mlp([3, 4, 1], bias=False)) is not None
    for model in (Scaled(), Tied(), conv_model()):
        assert ntk._kernels._structured_layers(model) is None
    # statically fine, but called twice or on sequences: caught during the forward pass
    for model, X in ((Twice(), randn(3, 4)), (Tokens(), randn(3, 5, 3))):
        layers = ntk._kernels._structured_layers(model)
        assert layers is not None
        assert ntk._kernels._structured_features(model, layers, X, 1, None, False) is None


def test_inplace_activations_keep_the_structured_method_exact(structured_only):
    model = inplace_relu_mlp()
    X = randn(10, 4)
    torch.testing.assert_close(ntk.empirical_ntk(model, X), ntk_loop(model, X), rtol=1e-11, atol=1e-12)


def test_frozen_parameters_still_count(structured_only):
    model = mlp([4, 6, 1], dtype=F64, seed=0)
    X = randn(6, 4)
    expected = ntk_loop(model, X)
    model[0].weight.requires_grad_(False)
    torch.testing.assert_close(ntk.empirical_ntk(model, X), expected, rtol=1e-12, atol=1e-12)
    assert model[0].weight.grad is None and model[2].weight.grad is None  # nothing accumulated


def test_unused_linear_layer_contributes_nothing(structured_only):
    model = WithSpare()
    X = randn(6, 4)
    torch.testing.assert_close(ntk.empirical_ntk(model, X), ntk_loop(model, X), rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------- trainable_only


def freeze(model, names):
    """Freeze the named parameters; the mask of the trainable ones over the flat parameter vector."""
    for name, p in model.named_parameters():
        if name in names:
            p.requires_grad_(False)
    assert names <= {name for name, _ in model.named_parameters()}
    return torch.cat([torch.full((p.numel(),), p.requires_grad) for p in model.parameters()])


FREEZES = [
    pytest.param(lambda: mlp([5, 7, 6, 3], activation="tanh", dtype=F64, seed=0), {"0.weight", "0.bias"},
                 (9, 5), id="mlp-first-layer"),
    pytest.param(lambda: mlp([5, 7, 6, 1], dtype=F64, seed=1), {"2.bias"}, (9, 5), id="mlp-a-bias"),
    pytest.param(lambda: mlp([5, 7, 6, 2], parametrization="ntk", bias_var=0.3, dtype=F64, seed=2),
                 {"0.weight", "4.bias"}, (9, 5), id="ntk-weight-and-bias"),
    pytest.param(lambda: mlp([5, 7, 1], dtype=F64, seed=3), {"2.weight", "2.bias"}, (9, 5), id="mlp-outer-layer"),
]
FALLBACK_FREEZES = [
    pytest.param(Scaled, {"scale"}, (8, 4), id="scaled-scale"),
    pytest.param(Scaled, {"lin.bias"}, (8, 4), id="scaled-bias"),
    pytest.param(conv_model, {"0.weight", "0.bias"}, (8, 1, 8), id="conv-first-layer"),
    pytest.param(Tied, {"out.bias"}, (8, 4), id="tied-out-bias"),
]


@pytest.mark.parametrize("given_x2", [False, True], ids=["x2=None", "x2"])
@pytest.mark.parametrize("method, make, frozen, shape",
                         [pytest.param("structured_only", *p.values, id=p.id) for p in FREEZES]
                         + [pytest.param("fallback_only", *p.values, id=p.id) for p in FALLBACK_FREEZES])
def test_trainable_only_matches_the_restricted_oracle(method, make, frozen, shape, given_x2, request):
    request.getfixturevalue(method)  # the structured method, or the Jacobian fallback, and only it
    model = make()
    x1 = randn(*shape, seed=5)
    x2 = randn(4, *shape[1:], seed=6) if given_x2 else None
    mask = freeze(model, frozen)
    assert 0 < int(mask.sum()) < mask.numel()
    expected = ntk_loop(model, x1, x2, trainable_only=True)
    for c in (None, 2):
        K = ntk.empirical_ntk(model, x1, x2, trainable_only=True, chunk_size=c)
        torch.testing.assert_close(K, expected, rtol=1e-11, atol=1e-12)
    # the frozen parameters did contribute to the full kernel, which still counts them
    full = ntk.empirical_ntk(model, x1, x2)
    torch.testing.assert_close(full, ntk_loop(model, x1, x2), rtol=1e-11, atol=1e-12)
    assert (full - expected).abs().max() > 1e-6
    assert all(p.grad is None for p in model.parameters())


def test_trainable_only_without_cache_matches(monkeypatch, fallback_only):
    monkeypatch.setattr(ntk._kernels, "_CACHE_BYTES", 0)
    model, x1, x2 = conv_model(), randn(7, 1, 8), randn(5, 1, 8, seed=1)
    freeze(model, {"3.weight"})
    torch.testing.assert_close(ntk.empirical_ntk(model, x1, x2, trainable_only=True, chunk_size=2),
                               ntk_loop(model, x1, x2, trainable_only=True), rtol=1e-11, atol=1e-12)


def test_trainable_only_with_everything_trainable_or_frozen():
    for make, shape in ((lambda: mlp([4, 6, 2], dtype=F64, seed=0), (6, 4)), (conv_model, (6, 1, 8))):
        model, X = make(), randn(*shape)
        torch.testing.assert_close(ntk.empirical_ntk(model, X, trainable_only=True), ntk.empirical_ntk(model, X),
                                   rtol=0, atol=0)
        for p in model.parameters():
            p.requires_grad_(False)
        K = ntk.empirical_ntk(model, X, trainable_only=True)  # a sum over no parameters
        assert K.shape == ntk.empirical_ntk(model, X).shape and torch.equal(K, torch.zeros_like(K))


# --------------------------------------------------------------------------- batch norm


def bn_model(track_running_stats=True):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6, track_running_stats=track_running_stats), nn.ReLU(),
                          nn.Linear(6, 2)).to(F64)
    if track_running_stats:
        with torch.no_grad():  # running statistics away from their initial values
            model(2 * randn(64, 4, seed=9) + 1)
    return model


@pytest.mark.parametrize("fn", [ntk.jacobian, ntk.empirical_ntk])
def test_batch_norm_with_batch_statistics_is_refused(fn):
    pattern = (r"^BatchNorm1d \(1\) normalises with batch statistics, so one example's outputs depend on the "
               r"others and per-example Jacobians are undefined; call model.eval\(\)")
    model = bn_model().train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ValueError, match=pattern):
        fn(model, randn(5, 4))
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    with pytest.raises(ValueError, match=r"track_running_stats=False\), so even model.eval\(\) does not help"):
        fn(bn_model(track_running_stats=False).eval(), randn(5, 4))  # batch statistics even in eval mode
    nested = nn.Sequential(nn.Sequential(bn_model().eval()[0], nn.BatchNorm1d(6).to(F64)), nn.Linear(6, 1).to(F64))
    nested.eval()
    nested[0][1].train()  # one submodule left in training mode
    with pytest.raises(ValueError, match=r"^BatchNorm1d \(0\.1\) normalises with batch statistics"):
        fn(nested, randn(5, 4))


def test_batch_norm_in_eval_mode_goes_through_the_fallback_and_matches(fallback_only):
    model = bn_model().eval()
    assert ntk._kernels._structured_layers(model) is None
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x1, x2 = randn(7, 4, seed=1), randn(3, 4, seed=2)
    for x in (None, x2):
        torch.testing.assert_close(ntk.empirical_ntk(model, x1, x), ntk_loop(model, x1, x), rtol=1e-11, atol=1e-12)
    torch.testing.assert_close(ntk.jacobian(model, x1), jacobian_loop(model, x1), rtol=1e-12, atol=1e-13)
    assert not model.training
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())  # running statistics untouched
    # the batch norm's parameters (and their freezing) count like any others
    freeze(model, {"1.weight", "1.bias"})
    torch.testing.assert_close(ntk.empirical_ntk(model, x1, trainable_only=True),
                               ntk_loop(model, x1, trainable_only=True), rtol=1e-11, atol=1e-12)


def test_instance_norm_normalises_each_example_alone_and_is_accepted():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv1d(1, 2, 3), nn.InstanceNorm1d(2, affine=True), nn.Flatten(),
                          nn.Linear(12, 1)).to(F64).eval()
    X = randn(5, 1, 8)
    torch.testing.assert_close(ntk.empirical_ntk(model, X), ntk_loop(model, X), rtol=1e-11, atol=1e-12)


# --------------------------------------------------------------------------- progress


@pytest.mark.parametrize("fn, name", [(ntk.empirical_ntk, "empirical_ntk"), (ntk.jacobian, "jacobian")])
@pytest.mark.parametrize("make, shape", [(lambda: mlp([4, 6, 1], dtype=F64, seed=0), (6, 4)), (conv_model, (6, 1, 8))])
def test_progress_shows_a_bar_and_changes_nothing(fn, name, make, shape, capsys, monkeypatch):
    monkeypatch.delenv("DLT_PROGRESS", raising=False)
    model, X = make(), randn(*shape)
    quiet = fn(model, X, chunk_size=2, progress=False)
    assert capsys.readouterr().err == ""
    shown = fn(model, X, chunk_size=2, progress=True)
    err = capsys.readouterr().err
    assert name in err and "3/3" in err  # one step per chunk of 2 of the 6 examples
    assert torch.equal(quiet, shown)


@pytest.mark.parametrize("k", [1, 3])
def test_symmetric_ntk_is_exactly_symmetric_and_psd(k):
    model = mlp([6, 32, 32, k], dtype=F64, seed=3)
    X = randn(40, 6)
    for c in (None, 7):
        K = ntk.empirical_ntk(model, X, chunk_size=c)
        assert torch.equal(K, transpose_kernel(K))
        eig = torch.linalg.eigvalsh(flat_kernel(K))
        assert eig.min() >= -1e-10 * eig.max()
    # the fallback too
    K = ntk.empirical_ntk(conv_model(), randn(9, 1, 8), chunk_size=2)
    assert torch.equal(K, transpose_kernel(K))
    eig = torch.linalg.eigvalsh(flat_kernel(K))
    assert eig.min() >= -1e-10 * eig.max()


def test_x2_given_agrees_with_x2_none_and_transposes():
    model = mlp([5, 10, 3], activation="tanh", dtype=F64, seed=0)
    x1, x2 = randn(6, 5, seed=1), randn(4, 5, seed=2)
    torch.testing.assert_close(ntk.empirical_ntk(model, x1, x1), ntk.empirical_ntk(model, x1), rtol=1e-13, atol=1e-13)
    torch.testing.assert_close(ntk.empirical_ntk(model, x2, x1), transpose_kernel(ntk.empirical_ntk(model, x1, x2)),
                               rtol=1e-13, atol=1e-13)


def test_chunk_size_does_not_change_the_ntk():
    model = mlp([5, 9, 8, 2], dtype=F64, seed=0)
    x1, x2 = randn(13, 5, seed=1), randn(6, 5, seed=2)
    for x in (None, x2):
        K = ntk.empirical_ntk(model, x1, x)
        for c in (1, 2, 5, 13, 40):
            torch.testing.assert_close(ntk.empirical_ntk(model, x1, x, chunk_size=c), K, rtol=1e-13, atol=1e-13)


def test_float32_model_gives_float32_kernel():
    model = mlp([5, 16, 1], seed=0)
    K = ntk.empirical_ntk(model, randn(8, 5))
    assert K.dtype == torch.float32 and K.shape == (8, 8)
    torch.testing.assert_close(K, ntk_loop(model, randn(8, 5)), rtol=1e-4, atol=1e-5)


@settings(max_examples=25, deadline=None)
@given(
    widths=st.lists(st.integers(1, 6), min_size=2, max_size=4),
    n1=st.integers(1, 6),
    n2=st.one_of(st.none(), st.integers(1, 5)),
    parametrization=st.sampled_from(["standard", "ntk"]),
    bias=st.booleans(),
    activation=st.sampled_from(["relu", "tanh", "softplus", "identity"]),
    chunk=st.one_of(st.none(), st.integers(1, 4)),
    seed=st.integers(0, 2**16),
)
def test_ntk_matches_loop_on_random_shapes(widths, n1, n2, parametrization, bias, activation, chunk, seed):
    model = mlp(widths, activation=activation, bias=bias, parametrization=parametrization, dtype=F64, seed=seed)
    x1 = randn(n1, widths[0], seed=seed)
    x2 = None if n2 is None else randn(n2, widths[0], seed=seed + 1)
    K = ntk.empirical_ntk(model, x1, x2, chunk_size=chunk)
    torch.testing.assert_close(K, ntk_loop(model, x1, x2), rtol=1e-10, atol=1e-11)


# --------------------------------------------------------------------------- infinite width


def arccos_kernels_depth1(x1, x2, weight_var, bias_var):
    """NNGP and NTK of Dense-ReLU-Dense written with Cho & Saul's k0, k1 (no 1/2 inside)."""
    d = x1.shape[1]
    q1 = weight_var * (x1 * x1).sum(1) / d + bias_var  # pre-activation variances
    q2 = weight_var * (x2 * x2).sum(1) / d + bias_var
    c12 = weight_var * x1 @ x2.T / d + bias_var  # pre-activation covariance = first layer's NTK
    norm = torch.sqrt(q1[:, None] * q2[None, :])
    ang = torch.arccos((c12 / norm).clamp(-1, 1))
    k0 = (math.pi - ang) / math.pi
    k1 = (torch.sin(ang) + (math.pi - ang) * torch.cos(ang)) / math.pi
    # E[relu(u) relu(v)] = norm * k1 / 2 and E[relu'(u) relu'(v)] = k0 / 2
    nngp = weight_var * norm * k1 / 2 + bias_var
    ntk_ = nngp + weight_var * c12 * k0 / 2
    return nngp, ntk_


@pytest.mark.parametrize("weight_var", [2.0, 1.5])
@pytest.mark.parametrize("bias_var", [0.0, 0.3])
def test_depth_one_matches_arccos_closed_form(weight_var, bias_var):
    x1, x2 = randn(7, 4, seed=1), randn(5, 4, seed=2)
    nngp, ntk_ = arccos_kernels_depth1(x1, x2, weight_var, bias_var)
    kw = dict(depth=1, weight_var=weight_var, bias_var=bias_var)
    torch.testing.assert_close(ntk.relu_nngp(x1, x2, **kw), nngp, rtol=1e-13, atol=1e-14)
    torch.testing.assert_close(ntk.relu_ntk(x1, x2, **kw), ntk_, rtol=1e-13, atol=1e-14)
    nngp, ntk_ = arccos_kernels_depth1(x1, x1, weight_var, bias_var)
    torch.testing.assert_close(ntk.relu_nngp(x1, **kw), nngp, rtol=1e-7, atol=1e-8)  # diagonal: arccos(1 - eps)
    torch.testing.assert_close(ntk.relu_ntk(x1, **kw), ntk_, rtol=1e-7, atol=1e-8)


def test_depth_zero_is_the_linear_kernel():
    x = randn(5, 3)
    expected = 1.5 * x @ x.T / 3 + 0.2
    torch.testing.assert_close(ntk.relu_nngp(x, depth=0, weight_var=1.5, bias_var=0.2), expected)
    torch.testing.assert_close(ntk.relu_ntk(x, depth=0, weight_var=1.5, bias_var=0.2), expected)


def test_nngp_matches_monte_carlo_depth_one():
    x = randn(5, 4, seed=3)
    wv, bv, M = 1.5, 0.3, 400_000
    g = torch.Generator().manual_seed(0)
    W, b = torch.randn(M, 4, dtype=F64, generator=g), torch.randn(M, dtype=F64, generator=g)
    h = torch.relu(math.sqrt(wv / 4) * x @ W.T + math.sqrt(bv) * b)
    mc = wv * h @ h.T / M + bv
    torch.testing.assert_close(ntk.relu_nngp(x, depth=1, weight_var=wv, bias_var=bv), mc, rtol=1e-2, atol=1e-2)


def test_nngp_matches_a_wide_random_network_depth_two():
    """Output covariance over hidden units of a width-3000 network, layer by layer."""
    x = randn(5, 4, seed=4)
    wv, bv, M = 2.0, 0.1, 3000
    g = torch.Generator().manual_seed(1)
    h = torch.relu(math.sqrt(wv / 4) * x @ torch.randn(M, 4, dtype=F64, generator=g).T
                   + math.sqrt(bv) * torch.randn(M, dtype=F64, generator=g))
    h = torch.relu(math.sqrt(wv / M) * h @ torch.randn(M, M, dtype=F64, generator=g).T
                   + math.sqrt(bv) * torch.randn(M, dtype=F64, generator=g))
    mc = wv * h @ h.T / M + bv
    K = ntk.relu_nngp(x, depth=2, weight_var=wv, bias_var=bv)
    assert torch.linalg.norm(K - mc) / torch.linalg.norm(K) < 0.06


@pytest.mark.parametrize("fn", [ntk.relu_nngp, ntk.relu_ntk])
@pytest.mark.parametrize("depth", [1, 3])
def test_relu_kernels_symmetric_psd_and_exact_diagonal(fn, depth):
    x = randn(30, 6, seed=5)
    wv, bv = 1.8, 0.2
    K = fn(x, depth=depth, weight_var=wv, bias_var=bv)
    assert K.dtype == F64
    assert torch.equal(K, K.T)
    eig = torch.linalg.eigvalsh(K)
    assert eig.min() >= -1e-10 * eig.max()
    # the diagonal with the angle set to 0 by hand: ReLU halves both K and Theta
    q = wv * (x * x).sum(1) / 6 + bv
    theta = q.clone()
    for _ in range(depth):
        q = wv * (q / 2) + bv
        theta = q + wv * theta / 2
    torch.testing.assert_close(K.diagonal(), q if fn is ntk.relu_nngp else theta, rtol=1e-14, atol=0)
    # with x2 = x the diagonal angle comes from arccos of a rounded 1 but stays close
    torch.testing.assert_close(fn(x, x, depth=depth, weight_var=wv, bias_var=bv), K, rtol=1e-6, atol=1e-8)


def test_relu_kernels_work_in_the_inputs_dtype():
    x = randn(4, 3).float()
    assert ntk.relu_ntk(x, depth=2).dtype == torch.float32
    assert ntk.relu_nngp(x, x.double(), depth=2).dtype == F64


def test_empirical_ntk_converges_to_relu_ntk():
    """Relative Frobenius error, RMS over seeds, shrinks like 1/sqrt(width)."""
    x = randn(8, 5)
    bv = 0.1
    target = ntk.relu_ntk(x, depth=2, bias_var=bv)
    errors = []
    for w in (64, 256, 1024):
        errs = [
            torch.linalg.norm(ntk.empirical_ntk(mlp([5, w, w, 1], parametrization="ntk", bias_var=bv, seed=s,
                                                    dtype=F64), x) - target) / torch.linalg.norm(target)
            for s in range(16)
        ]
        errors.append(torch.stack(errs).pow(2).mean().sqrt().item())
    ratios = [errors[i] / errors[i + 1] for i in range(2)]
    assert all(1.4 < r < 3 for r in ratios), (errors, ratios)
    assert errors[-1] < 0.1, errors


# --------------------------------------------------------------------------- bad input


def test_bad_inputs_to_empirical_ntk_and_jacobian():
    model = mlp([4, 5, 1], dtype=F64, seed=0)
    x = randn(3, 4)
    with pytest.raises(ValueError, match="feature shape"):
        ntk.empirical_ntk(model, x, randn(3, 5))
    with pytest.raises(ValueError, match="cannot be applied"):
        ntk.empirical_ntk(model, randn(3, 5))
    with pytest.raises(ValueError, match="cannot be applied"):
        ntk.jacobian(model, randn(3, 5))
    with pytest.raises(ValueError, match="no parameters"):
        ntk.empirical_ntk(nn.ReLU(), x)
    with pytest.raises(ValueError, match="no parameters"):
        ntk.jacobian(nn.Sequential(), x)
    bad = x.clone()
    bad[1, 2] = float("nan")
    with pytest.raises(ValueError, match="x1 contains NaN or inf"):
        ntk.empirical_ntk(model, bad)
    bad[1, 2] = float("inf")
    with pytest.raises(ValueError, match="x2 contains NaN or inf"):
        ntk.empirical_ntk(model, x, bad)
    with pytest.raises(ValueError, match="NaN or inf"):
        ntk.jacobian(model, bad)
    for c, error in ((0, ValueError), (-1, ValueError), (1.5, TypeError), (True, TypeError), ("2", TypeError)):
        for fn in (ntk.empirical_ntk, ntk.jacobian):
            with pytest.raises(error, match=f"^chunk_size must be a positive integer or None, got {c!r}$"):
                fn(model, x, chunk_size=c)
    with pytest.raises(TypeError, match="^trainable_only must be True or False, got 1$"):
        ntk.empirical_ntk(model, x, trainable_only=1)
    for fn in (ntk.empirical_ntk, ntk.jacobian):
        with pytest.raises(TypeError, match="^progress must be True or False, got 'yes'$"):
            fn(model, x, progress="yes")
    with pytest.raises(TypeError, match="^model must be a torch.nn.Module, got list$"):
        ntk.empirical_ntk([model], x)
    with pytest.raises(TypeError, match="^x1 must be a tensor or an array of numbers, got str$"):
        ntk.empirical_ntk(model, "x")
    with pytest.raises(ValueError, match="at least one example"):
        ntk.empirical_ntk(model, x[:0])
    with pytest.raises(ValueError, match="one output row per example"):
        ntk.empirical_ntk(nn.Sequential(nn.Linear(4, 1), nn.Flatten(0), Sum()).to(F64), x)


class Sum(nn.Module):
    def forward(self, x):
        return x.sum().reshape(1)


def test_bad_inputs_to_relu_kernels():
    x = randn(3, 4)
    for fn in (ntk.relu_nngp, ntk.relu_ntk):
        with pytest.raises(ValueError, match="matrix"):
            fn(randn(3), depth=1)
        with pytest.raises(ValueError, match="matrix"):
            fn(x, randn(2, 2, 4), depth=1)
        with pytest.raises(ValueError, match="features"):
            fn(x, randn(2, 5), depth=1)
        for depth, error in ((-1, ValueError), (1.5, TypeError), (True, TypeError), ("2", TypeError)):
            with pytest.raises(error, match=f"^depth must be a non-negative integer, got {depth!r}$"):
                fn(x, depth=depth)
        for wv in (0.0, -1.0, float("nan")):
            with pytest.raises(ValueError, match=f"^weight_var must be a positive number, got {wv!r}$"):
                fn(x, depth=1, weight_var=wv)
        with pytest.raises(TypeError, match="^weight_var must be a positive number, got '2'$"):
            fn(x, depth=1, weight_var="2")
        with pytest.raises(ValueError, match=r"^bias_var must be a non-negative number, got -0\.1$"):
            fn(x, depth=1, bias_var=-0.1)
        bad = x.clone()
        bad[0, 0] = float("inf")
        with pytest.raises(ValueError, match="NaN or inf"):
            fn(bad, depth=1)
        with pytest.raises(ValueError, match="NaN or inf"):
            fn(x, bad, depth=1)
