"""Empirical neural tangent kernels and the infinite-width ReLU kernels (see :mod:`dltheory.ntk`)."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.func import functional_call, jacrev, vmap

from .._checks import check_bool, check_int, check_real, check_tensor, named_parameters, probe
from .._progress import progress_bar
from ..models import NTKLinear
from ..params import as_function, flat_parameters

__all__ = ["jacobian", "empirical_ntk", "relu_nngp", "relu_ntk"]

#: Bytes a chunk's temporaries aim to stay under (a chunk's Jacobian, a kernel block).
_CHUNK_BYTES = 256 * 2**20
#: The fallback keeps all of x2's Jacobian in memory when it is at most this large.
_CACHE_BYTES = 2**30
_STRUCTURED_TYPES = (nn.Linear, NTKLinear)


# --------------------------------------------------------------------------- checks


def _check_model(model: nn.Module) -> tuple[torch.dtype, torch.device]:
    """The model's dtype and device; ``ValueError`` if it normalises with batch statistics."""
    p = named_parameters(model)[0][1]
    for name, module in model.named_modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and (module.training or not module.track_running_stats):
            remedy = ("call model.eval() (a batch norm with running statistics then acts example by example)"
                      if module.track_running_stats else
                      "it keeps no running statistics (track_running_stats=False), so even model.eval() does not "
                      "help: the per-example NTK of such a network is not defined")
            raise ValueError(
                f"{type(module).__name__} ({name}) normalises with batch statistics, so one example's outputs "
                f"depend on the others and per-example Jacobians are undefined; {remedy}")
    return p.dtype, p.device


def _check_inputs(X, name: str, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    return check_tensor(X, name).to(device=device, dtype=dtype)


def _outputs_per_example(model: nn.Module, X: torch.Tensor, name: str) -> int:
    """Run the model (without changing it) on at most two examples: the number of outputs per example."""
    return math.prod(probe(model, X[:2], name).shape[1:])


def _default_chunk(per_example_bytes: int) -> int:
    return max(1, _CHUNK_BYTES // max(1, per_example_bytes))


# --------------------------------------------------------------------------- Jacobian


def _jacobian_chunk(model: nn.Module, theta: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    """``(n, k, P)`` Jacobians of the examples of ``X``, by ``vmap(jacrev)``."""
    f = as_function(model)

    def single(theta: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return f(theta, x.unsqueeze(0)).reshape(-1)

    return vmap(jacrev(single), in_dims=(None, 0))(theta, X)


def jacobian(model: nn.Module, X: torch.Tensor, *, chunk_size: int | None = None,
             progress: bool | None = None) -> torch.Tensor:
    """Per-example Jacobian of the model's outputs with respect to all of its parameters.

    .. math::  J[i, a, p] = \\frac{\\partial f_a(x_i)}{\\partial \\theta_p},

    with :math:`\\theta` the flat parameter vector in
    ``parameters_to_vector(model.parameters())`` order (every parameter counts,
    whatever its ``requires_grad``) and :math:`a` running over the flattened
    per-example output (a model returning shape ``(n,)`` has one output).

    Computed with ``torch.func.vmap(jacrev(...))`` on
    :func:`dltheory.params.as_function`, ``chunk_size`` examples at a time.
    Each example goes through the model alone, so the model must treat examples
    independently: a batch norm that uses batch statistics is a ``ValueError``,
    and dropout must be off (``model.eval()``).

    Parameters
    ----------
    model
        A module mapping a batch ``(n, ...)`` to outputs ``(n, ...)``.
    X
        Inputs, examples along the first dimension. Cast to the model's dtype and device.
    chunk_size
        Examples per ``vmap`` call. The default keeps a chunk's Jacobian
        (``chunk_size * outputs * P`` numbers) under about 256 MB.
    progress
        Show a bar over the chunks (default: at full scale).

    Returns
    -------
    Tensor of shape ``(n, outputs, P)`` on the model's device, in its dtype.
    """
    dtype, device = _check_model(model)
    chunk_size = check_int(chunk_size, "chunk_size", min=1, allow_none=True)
    X = _check_inputs(X, "X", dtype, device)
    k = _outputs_per_example(model, X, "X")
    theta = flat_parameters(model)
    P = theta.numel()
    c = chunk_size or _default_chunk(k * P * theta.element_size())
    out = torch.empty(X.shape[0], k, P, dtype=dtype, device=device)
    for s in progress_bar(range(0, X.shape[0], c), desc="jacobian", progress=progress):
        out[s : s + c] = _jacobian_chunk(model, theta, X[s : s + c])
    return out


# --------------------------------------------------------------------------- empirical NTK


def _structured_layers(model: nn.Module) -> list[nn.Linear] | None:
    """The linear layers holding every parameter, or ``None`` if some parameter lives elsewhere.

    Static half of the fallback rule: each parameter must be the ``weight`` or
    ``bias`` of exactly one module of exact type ``nn.Linear`` or ``NTKLinear``.
    """
    owners: dict[int, int] = {}
    layers = []
    for module in model.modules():
        own = list(module.parameters(recurse=False))
        if not own:
            continue
        if type(module) not in _STRUCTURED_TYPES:
            return None
        known = {id(module.weight)} | ({id(module.bias)} if module.bias is not None else set())
        if {id(p) for p in own} != known:
            return None
        for p in own:
            owners[id(p)] = owners.get(id(p), 0) + 1
        layers.append(module)
    if any(v != 1 for v in owners.values()):  # a parameter shared between layers
        return None
    if set(owners) != {id(p) for p in model.parameters()}:
        return None
    return layers


def _scales(layer: nn.Linear, trainable_only: bool) -> tuple[float, float]:
    """Squared weight and bias scales of a layer: 0 for a missing bias and, with
    ``trainable_only``, for a parameter with ``requires_grad=False``."""
    if type(layer) is NTKLinear:
        sw, sb = layer.weight_scale, layer.bias_scale
    else:
        sw, sb = 1.0, 1.0
    use_weight = not trainable_only or layer.weight.requires_grad
    use_bias = layer.bias is not None and (not trainable_only or layer.bias.requires_grad)
    return (float(sw) ** 2 if use_weight else 0.0), (float(sb) ** 2 if use_bias else 0.0)


def _structured_features(model, layers, X, k, chunk_size, trainable_only):
    """Layer inputs ``a`` (n, fan_in) and output gradients ``delta`` (n, k, fan_out) per layer.

    Returns ``None`` when the dynamic half of the fallback rule fails: a layer
    called more than once, a layer input that is not an ``(examples, features)``
    matrix, inputs modified in place, a different set of layers called per chunk.
    """
    params = {name: p.detach().requires_grad_(True) for name, p in model.named_parameters()}
    calls: dict[nn.Module, list] = {}

    def hook(module, inputs, output):
        a = inputs[0] if inputs else None
        calls.setdefault(module, []).append((a, output, getattr(a, "_version", None), output._version))
        return output.clone()  # so that in-place activations downstream leave z intact

    per_example = sum(l.in_features + (k + 3) * l.out_features for l in layers) * X.element_size()
    c = chunk_size or _default_chunk(2 * per_example)
    feats: list[tuple[list, list]] | None = None
    active_ids = None
    handles = [layer.register_forward_hook(hook) for layer in layers]
    try:
        for s in range(0, X.shape[0], c):
            calls.clear()
            Xc = X[s : s + c]
            n = Xc.shape[0]
            with torch.enable_grad():
                out = functional_call(model, params, (Xc,))
            if not isinstance(out, torch.Tensor) or out.ndim < 1 or out.shape[0] != n or not out.requires_grad:
                return None
            out = out.reshape(n, -1)
            active = [layer for layer in layers if layer in calls]
            if active_ids is None:
                active_ids = [id(layer) for layer in active]
                feats = [([], []) for _ in active]
            elif active_ids != [id(layer) for layer in active]:
                return None
            zs = []
            for layer in active:
                if len(calls[layer]) != 1:
                    return None
                a, z, va, vz = calls[layer][0]
                if not isinstance(a, torch.Tensor) or a.shape != (n, layer.in_features):
                    return None
                if z.shape != (n, layer.out_features) or a._version != va or z._version != vz:
                    return None
                zs.append(z)
            deltas = [[] for _ in active]
            for j in range(k):
                grads = torch.autograd.grad(out[:, j].sum(), zs, retain_graph=j < k - 1, allow_unused=True)
                for i, g in enumerate(grads):
                    deltas[i].append(torch.zeros_like(zs[i]) if g is None else g)
            for i, layer in enumerate(active):
                feats[i][0].append(calls[layer][0][0].detach())
                feats[i][1].append(torch.stack(deltas[i], dim=1).detach())
            del out, zs, deltas
            calls.clear()
    finally:
        for h in handles:
            h.remove()
    layer_of = {id(layer): layer for layer in layers}
    return [
        (torch.cat(a), torch.cat(d), *_scales(layer_of[lid], trainable_only)) for lid, (a, d) in zip(active_ids, feats)
    ], active_ids


def _fill_blocks(out: torch.Tensor, n1: int, n2: int, c: int, symmetric: bool, block_fn,
                 progress: bool | None) -> None:
    """Fill ``out`` (n1, n2, k, k) with row blocks ``block_fn(s, e, j0)`` = rows s:e, columns j0:.

    When ``symmetric`` only the upper block triangle is computed; the lower one
    is its exact mirror and the diagonal blocks are symmetrised.
    """
    for s in progress_bar(range(0, n1, c), desc="empirical_ntk", progress=progress):
        e = min(s + c, n1)
        j0 = s if symmetric else 0
        block = block_fn(s, e, j0)
        if symmetric:
            diag = block[:, : e - s]
            out[s:e, s:e] = (diag + diag.permute(1, 0, 3, 2)) / 2
            out[s:e, e:] = block[:, e - s :]
            out[e:, s:e] = block[:, e - s :].permute(1, 0, 3, 2)
        else:
            out[s:e] = block
        del block


def _gram(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """``G[i, j, a, b] = <u[i, a], v[j, b]>`` for u (n, k, p), v (m, k, p)."""
    n, k, p = u.shape
    m = v.shape[0]
    return (u.reshape(n * k, p) @ v.reshape(m * k, p).T).reshape(n, k, m, k).permute(0, 2, 1, 3)


def _ntk_structured(feats1, feats2, n1, n2, k, chunk_size, symmetric, dtype, device, progress):
    item = torch.tensor([], dtype=dtype).element_size()
    c = chunk_size or _default_chunk((2 * k * k + 2) * n2 * item)
    out = torch.empty(n1, n2, k, k, dtype=dtype, device=device)

    def block(s, e, j0):
        acc = torch.zeros(e - s, n2 - j0, k, k, dtype=dtype, device=device)
        for (a1, d1, sw2, sb2), (a2, d2, _, _) in zip(feats1, feats2):
            if sw2 == 0.0 and sb2 == 0.0:  # a frozen layer (trainable_only)
                continue
            D = _gram(d1[s:e], d2[j0:])
            A = a1[s:e] @ a2[j0:].T
            if sw2 != 1.0:
                A.mul_(sw2)
            if sb2 != 0.0:
                A.add_(sb2)
            acc.addcmul_(D, A[:, :, None, None])
            del D, A
        return acc

    _fill_blocks(out, n1, n2, c, symmetric, block, progress)
    return out


def _ntk_from_jacobians(model, x1, x2, k, chunk_size, symmetric, trainable_only, progress):
    theta = flat_parameters(model)
    P, item = theta.numel(), theta.element_size()
    mask = None
    if trainable_only:
        mask = torch.cat([torch.full((p.numel(),), p.requires_grad, device=theta.device) for p in model.parameters()])

    def jac(X: torch.Tensor) -> torch.Tensor:
        J = _jacobian_chunk(model, theta, X)
        return J if mask is None else J[..., mask]

    c = chunk_size or _default_chunk(k * P * item)
    n1, n2 = x1.shape[0], x2.shape[0]
    starts2 = list(range(0, n2, c))
    cache = None
    if n2 * k * P * item <= _CACHE_BYTES:
        cache = {s: jac(x2[s : s + c]) for s in starts2}

    def jac2(s):
        return cache[s] if cache is not None else jac(x2[s : s + c])

    out = torch.empty(n1, n2, k, k, dtype=theta.dtype, device=theta.device)

    def block(s, e, j0):
        J1 = jac2(s) if symmetric else jac(x1[s:e])
        return torch.cat([_gram(J1, J1 if (symmetric and t == s) else jac2(t)) for t in starts2 if t >= j0], dim=1)

    _fill_blocks(out, n1, n2, c, symmetric, block, progress)
    return out


def empirical_ntk(
    model: nn.Module,
    x1: torch.Tensor,
    x2: torch.Tensor | None = None,
    *,
    chunk_size: int | None = None,
    trainable_only: bool = False,
    progress: bool | None = None,
) -> torch.Tensor:
    """The empirical neural tangent kernel :math:`\\Theta(x_1, x_2)` of a model at its current parameters.

    .. math::

        \\Theta(x, x')_{ab} = \\sum_p \\frac{\\partial f_a(x)}{\\partial\\theta_p}
                                       \\frac{\\partial f_b(x')}{\\partial\\theta_p},

    the sum running over all parameters (``requires_grad`` is ignored, as in
    :func:`jacobian`), or over the trainable ones with ``trainable_only=True``
    (the kernel of a network whose other parameters are frozen, e.g. a fixed
    outer layer). Equal to ``J1 @ J2.T`` for the Jacobians of :func:`jacobian`.

    **Structured method** (Novak, Sohl-Dickstein, Schoenholz 2022). If every
    parameter is the weight or bias of a module of exact type ``nn.Linear`` or
    :class:`dltheory.models.NTKLinear`, a layer :math:`z_l = s_w W_l a_{l-1} + s_b b_l`
    contributes the gradients :math:`s_w \\delta_l(x) a_{l-1}(x)^\\top` and
    :math:`s_b \\delta_l(x)` with :math:`\\delta_l = \\partial f / \\partial z_l`, so

    .. math::

        \\Theta(x, x') = \\sum_l \\langle\\delta_l(x), \\delta_l(x')\\rangle
                          \\big(s_{w,l}^2 \\langle a_{l-1}(x), a_{l-1}(x')\\rangle + s_{b,l}^2\\big)

    (:math:`s_w = s_b = 1` for ``nn.Linear``; for :math:`k` outputs
    :math:`\\delta_l(x)` is :math:`k \\times` width and the inner product over the
    width gives the :math:`k \\times k` block). The inputs :math:`a_{l-1}` are
    captured by forward hooks and the :math:`\\delta_l` of all examples by one
    backward pass per output component (examples do not interact in an MLP).
    Cost: :math:`O(n_1 n_2 \\sum_l (k^2 w_l + w_{l-1}))` instead of
    :math:`O(n_1 n_2 k^2 P)`.

    **Fallback rule.** The structured method is used when (static) every
    parameter belongs to exactly one such layer, and (dynamic, checked during
    the forward passes) each layer is called at most once per forward pass on
    an ``(examples, in_features)`` matrix that is not modified in place, and
    the model returns one output row per example; a layer that is never called
    contributes nothing. Otherwise (a convolution, a normalisation layer, a
    custom parameter, shared weights, a layer applied twice or to sequences)
    the kernel is ``J1 @ J2.T`` from :func:`jacobian`, block by block. Either
    way the model must treat examples independently and is run in its current
    mode (call ``model.eval()`` first if it has dropout; a batch norm that uses
    batch statistics is a ``ValueError``).

    **Memory.** Besides the result (:math:`n_1 n_2 k^2` numbers), the structured
    method stores per example the layers' inputs and output gradients,
    :math:`\\sum_l (w_{l-1} + k w_l)` numbers (1809 for a 784-256-256-1 MLP,
    against :math:`P \\approx 270\\,000` for a Jacobian row), and contracts
    ``chunk_size`` rows of ``x1`` at a time against all of ``x2``, with
    temporaries of about :math:`(2k^2+2)\\,\\text{chunk}\\,n_2` numbers. The default
    chunk keeps those temporaries, and the forward/backward pass that collects
    the features, under about 256 MB. The fallback holds one chunk of Jacobians of
    ``x1`` (default: under 256 MB) and all of ``x2``'s Jacobian if that is at
    most 1 GiB (otherwise recomputes it chunk by chunk).

    Parameters
    ----------
    model
        A module mapping a batch ``(n, ...)`` to outputs ``(n, ...)``.
    x1, x2
        Inputs, examples along the first dimension, cast to the model's dtype and
        device. ``x2=None`` means ``x2 = x1``; the kernel is then exactly
        symmetric and only its upper block triangle is computed.
    chunk_size
        Examples per chunk (feature passes, kernel row blocks, Jacobian chunks).
    trainable_only
        Sum over the parameters with ``requires_grad=True`` only.
    progress
        Show a bar over the kernel's row blocks (default: at full scale).

    Returns
    -------
    ``(n1, n2)`` for a model with one output per example, ``(n1, n2, k, k)`` for ``k`` outputs.
    """
    dtype, device = _check_model(model)
    chunk_size = check_int(chunk_size, "chunk_size", min=1, allow_none=True)
    trainable_only = check_bool(trainable_only, "trainable_only")
    symmetric = x2 is None
    x1 = _check_inputs(x1, "x1", dtype, device)
    if not symmetric:
        x2 = _check_inputs(x2, "x2", dtype, device)
        if x1.shape[1:] != x2.shape[1:]:
            raise ValueError(
                f"x1 and x2 must have the same feature shape, got {tuple(x1.shape[1:])} and {tuple(x2.shape[1:])}"
            )
    k = _outputs_per_example(model, x1, "x1")
    n1 = x1.shape[0]
    n2 = n1 if symmetric else x2.shape[0]

    result = None
    layers = _structured_layers(model)
    if layers is not None:
        got1 = _structured_features(model, layers, x1, k, chunk_size, trainable_only)
        got2 = (got1 if symmetric or got1 is None
                else _structured_features(model, layers, x2, k, chunk_size, trainable_only))
        if got1 is not None and got2 is not None and got1[1] == got2[1]:
            result = _ntk_structured(got1[0], got2[0], n1, n2, k, chunk_size, symmetric, dtype, device, progress)
    if result is None:
        result = _ntk_from_jacobians(model, x1, x1 if symmetric else x2, k, chunk_size, symmetric, trainable_only,
                                     progress)
    return result.reshape(n1, n2) if k == 1 else result


# --------------------------------------------------------------------------- infinite width


def _check_kernel_args(x1, x2, depth, weight_var, bias_var):
    x1 = check_tensor(x1, "x1", ndim=2)
    x2 = None if x2 is None else check_tensor(x2, "x2", ndim=2)
    if x1.shape[1] < 1:
        raise ValueError(f"x1 must have at least one feature, got shape {tuple(x1.shape)}")
    if x2 is not None and x1.shape[1] != x2.shape[1]:
        raise ValueError(f"x1 has {x1.shape[1]} features but x2 has {x2.shape[1]}")
    depth = check_int(depth, "depth", min=0)
    weight_var = check_real(weight_var, "weight_var", min=0.0, min_open=True)
    bias_var = check_real(bias_var, "bias_var", min=0.0)
    return x1, x2, depth, weight_var, bias_var


def _relu_kernels(x1, x2, depth, weight_var, bias_var):
    x1, x2, depth, weight_var, bias_var = _check_kernel_args(x1, x2, depth, weight_var, bias_var)
    symmetric = x2 is None
    dtype = x1.dtype if symmetric else torch.promote_types(x1.dtype, x2.dtype)
    if not dtype.is_floating_point:
        dtype = torch.get_default_dtype()
    x1 = x1.to(dtype)
    d = x1.shape[1]
    if symmetric:
        K = x1 @ x1.T / d
        K = (K + K.T) / 2
        k1 = K.diagonal().clone()
        k2 = k1
    else:
        x2 = x2.to(device=x1.device, dtype=dtype)
        K = x1 @ x2.T / d
        k1 = x1.pow(2).sum(1) / d
        k2 = x2.pow(2).sum(1) / d
    theta = torch.zeros_like(K)

    def dense(K, k1, k2, theta):
        K = weight_var * K + bias_var
        theta = K + weight_var * theta
        k1 = weight_var * k1 + bias_var
        k2 = k1 if symmetric else weight_var * k2 + bias_var
        return K, k1, k2, theta

    K, k1, k2, theta = dense(K, k1, k2, theta)
    for _ in range(depth):
        norms = torch.sqrt(k1[:, None] * k2[None, :])
        safe = torch.where(norms > 0, norms, torch.ones_like(norms))
        cos = torch.where(norms > 0, K / safe, torch.zeros_like(K)).clamp(-1.0, 1.0)
        if symmetric:
            cos.fill_diagonal_(1.0)
        angle = torch.arccos(cos)
        if symmetric:
            angle.fill_diagonal_(0.0)
        K = norms * (torch.sin(angle) + (math.pi - angle) * cos) / (2 * math.pi)
        theta = theta * (math.pi - angle) / (2 * math.pi)
        if symmetric:
            k1 = k2 = K.diagonal().clone()
        else:
            k1, k2 = k1 / 2, k2 / 2
        K, k1, k2, theta = dense(K, k1, k2, theta)
    return K, theta


def relu_nngp(
    x1: torch.Tensor,
    x2: torch.Tensor | None = None,
    *,
    depth: int,
    weight_var: float = 2.0,
    bias_var: float = 0.0,
) -> torch.Tensor:
    """Infinite-width NNGP kernel of a ReLU MLP with ``depth`` hidden layers (NTK parametrisation).

    The covariance of the output at initialisation of
    ``mlp([d, w, ..., w, 1], parametrization="ntk", weight_var=..., bias_var=...)``
    as ``w`` grows: layers Dense, then (ReLU, Dense) ``depth`` times, with

    .. math::

        K_0 = \\frac{x\\cdot x'}{d}, \\qquad
        \\text{Dense: } K \\leftarrow \\sigma_w^2 K + \\sigma_b^2, \\qquad
        \\text{ReLU: } K \\leftarrow \\frac{\\sqrt{K(x,x)K(x',x')}}{2\\pi}
            \\big(\\sin\\varphi + (\\pi - \\varphi)\\cos\\varphi\\big),

    :math:`\\cos\\varphi = K(x,x')/\\sqrt{K(x,x)K(x',x')}` (Cho & Saul 2009's
    arc-cosine kernel of degree 1, halved; neural-tangents'
    ``stax.serial(Dense(W_std, b_std), Relu(), ..., Dense(1, W_std, b_std))``
    with ``W_std**2 = weight_var``, ``b_std**2 = bias_var``).
    ``depth=0`` is the linear model.

    Computed in the inputs' dtype and on their device. With ``x2=None`` the
    result is exactly symmetric and the angle is exactly 0 on the diagonal.
    """
    return _relu_kernels(x1, x2, depth, weight_var, bias_var)[0]


def relu_ntk(
    x1: torch.Tensor,
    x2: torch.Tensor | None = None,
    *,
    depth: int,
    weight_var: float = 2.0,
    bias_var: float = 0.0,
) -> torch.Tensor:
    """Infinite-width neural tangent kernel of a ReLU MLP with ``depth`` hidden layers (NTK parametrisation).

    The limit of :func:`empirical_ntk` of
    ``mlp([d, w, ..., w, 1], parametrization="ntk", weight_var=..., bias_var=...)``
    as ``w`` grows (Jacot, Gabriel, Hongler 2018). Alongside the NNGP recursion
    of :func:`relu_nngp`, starting from :math:`\\Theta = 0`,

    .. math::

        \\text{Dense: } \\Theta \\leftarrow K_{\\text{new}} + \\sigma_w^2\\,\\Theta, \\qquad
        \\text{ReLU: } \\Theta \\leftarrow \\Theta\\,\\frac{\\pi - \\varphi}{2\\pi},

    :math:`(\\pi-\\varphi)/(2\\pi) = E[\\mathrm{relu}'(u)\\mathrm{relu}'(v)]` being
    Cho & Saul's arc-cosine kernel of degree 0, halved (neural-tangents'
    ``parameterization='ntk'`` convention, readout layer included).

    Computed in the inputs' dtype and on their device. With ``x2=None`` the
    result is exactly symmetric and the angle is exactly 0 on the diagonal.
    """
    return _relu_kernels(x1, x2, depth, weight_var, bias_var)[1]
