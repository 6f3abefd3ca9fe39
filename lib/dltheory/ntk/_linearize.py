"""The first-order Taylor model of a network, and regression with a fixed kernel.

Near its initialisation :math:`\\theta_0` a wide network is almost its own
linearisation (Lee et al. 2019, *Wide neural networks of any depth evolve as
linear models under gradient descent*),

.. math::

    f^{\\text{lin}}(\\theta, x) = f(\\theta_0, x) + J(\\theta_0, x)\\,(\\theta - \\theta_0),
    \\qquad J(\\theta_0, x) = \\partial f(\\theta_0, x) / \\partial\\theta ,

a model linear in its parameters whose tangent kernel :math:`J J^\\top` is the
network's empirical NTK at :math:`\\theta_0`, frozen. Gradient flow on
:math:`\\tfrac12\\sum_i (f(x_i) - y_i)^2` moves such a model in function space by
:math:`\\dot f = -K (f - y)`, which :func:`kernel_regression` solves in closed form.
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.func import jvp

from .._checks import check_int, check_real, check_tensor
from ..params import as_function, flat_parameters
from ._kernels import _check_model

__all__ = ["Linearized", "linearize", "kernel_weights", "kernel_regression"]


class Linearized(nn.Module):
    """A model replaced by its first-order Taylor expansion around its current parameters.

    .. math::  f^{\\text{lin}}(\\theta, x) = f(\\theta_0, x) + J(\\theta_0, x)\\,(\\theta - \\theta_0)

    The one trainable parameter is the flat vector ``theta`` (order of
    ``parameters_to_vector(model.parameters())``), initialised to :math:`\\theta_0`,
    so the linearised model starts with the network's outputs and is trained
    with :func:`dltheory.train.fit` like any model. The forward pass is one
    Jacobian-vector product, ``torch.func.jvp`` of :math:`\\theta \\mapsto f(\\theta, X)`
    at :math:`\\theta_0` along :math:`\\theta - \\theta_0`, which returns
    :math:`f(\\theta_0, X)` and :math:`J(\\theta_0, X)(\\theta - \\theta_0)` together;
    back-propagation through it gives :math:`J^\\top` times the output gradient,
    without ever forming :math:`J`. A forward pass costs about two of the network's.

    The network is copied (its parameters at :math:`\\theta_0`, its buffers, its
    mode), so training the original afterwards leaves the linearisation as it
    was. The copy is not a submodule: ``.parameters()`` yields ``theta`` only;
    ``.to(...)``, ``.double()`` and the like move and cast it with ``theta``.

    Attributes
    ----------
    theta : nn.Parameter of shape (P,)
        The trainable parameters.
    theta0 : Tensor of shape (P,)
        The expansion point (a buffer).
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        _check_model(model)
        base = copy.deepcopy(model)
        for p in base.parameters():
            p.requires_grad_(False)
        self.__dict__["_base"] = base  # not a submodule: its parameters are not ours
        self.__dict__["_f"] = as_function(base)
        theta0 = flat_parameters(model).clone()
        self.register_buffer("theta0", theta0)
        self.theta = nn.Parameter(theta0.clone())

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        def f(theta: torch.Tensor) -> torch.Tensor:
            return self._f(theta, X)

        out0, tangent = jvp(f, (self.theta0,), (self.theta - self.theta0,))
        return out0 + tangent

    def _apply(self, fn, recurse: bool = True):
        """What ``.to``, ``.cuda``, ``.double`` apply: to ``theta``, ``theta0`` and the frozen copy."""
        super()._apply(fn, recurse)
        self._base._apply(fn)
        return self

    def extra_repr(self) -> str:
        return f"parameters={self.theta.numel()}, base={type(self._base).__name__}"


def linearize(model: nn.Module) -> Linearized:
    """The first-order Taylor model :math:`f^{\\text{lin}}` of ``model`` at its current parameters.

    .. math::  f^{\\text{lin}}(\\theta, x) = f(\\theta_0, x) + J(\\theta_0, x)\\,(\\theta - \\theta_0)

    (Lee et al. 2019, eq. 3). Trained by gradient descent on the square loss, it
    is kernel regression with the empirical NTK :math:`J(\\theta_0)J(\\theta_0)^\\top`
    (:func:`kernel_regression` gives the closed form); for a wide network in NTK
    parametrisation it stays within :math:`O(m^{-1/2})` of the trained network
    (their Theorem 2.1). The model must treat examples independently (no batch
    norm with batch statistics; ``model.eval()`` for dropout).

    Parameters
    ----------
    model
        A module mapping a batch ``(n, ...)`` to outputs ``(n, ...)``.

    Returns
    -------
    Linearized
        A new module with one flat parameter ``theta`` starting at :math:`\\theta_0`.

    See Also
    --------
    empirical_ntk : the kernel :math:`J J^\\top` of the linearised model.
    kernel_regression : its predictions after gradient flow, in closed form.

    Examples
    --------
    A linear model is its own linearisation:

    >>> import torch
    >>> net = torch.nn.Linear(3, 1).double()
    >>> lin = linearize(net)
    >>> with torch.no_grad():
    ...     _ = lin.theta.add_(1.0)
    ...     _ = net.weight.add_(1.0), net.bias.add_(1.0)
    >>> X = torch.randn(5, 3, dtype=torch.float64)
    >>> bool(torch.allclose(lin(X), net(X)))
    True
    """
    return Linearized(model)


def kernel_weights(K_train, y, t: float | None = None, *, step_size: float | None = None, f0_train=None,
                   ridge: float = 0.0) -> torch.Tensor:
    """The coefficients :math:`\\alpha` of :func:`kernel_regression`: :math:`\\Delta\\theta = J(X)^\\top\\alpha`.

    :math:`f_t(x) = f_0(x) + K(x, X)\\,\\alpha` and the distance travelled in
    parameter space is :math:`\\lVert\\Delta\\theta\\rVert = \\sqrt{\\alpha^\\top K \\alpha}`
    (the RKHS norm of the learned function :math:`f_t - f_0`). Parameters as in
    :func:`kernel_regression`.

    Returns
    -------
    Tensor of shape (n,) or (n, k)
    """
    K_train = check_tensor(K_train, "K_train", ndim=2)
    y = check_tensor(y, "y")
    n = K_train.shape[0]
    if K_train.shape != (n, n):
        raise ValueError(f"K_train must be square, got shape {tuple(K_train.shape)}")
    if y.ndim not in (1, 2) or y.shape[0] != n:
        raise ValueError(f"y must have shape ({n},) or ({n}, k), got {tuple(y.shape)}")
    ridge = check_real(ridge, "ridge", min=0.0)
    if isinstance(t, (int, float)) and not isinstance(t, bool) and t == float("inf"):
        t = None  # the limit
    if step_size is not None:
        step_size = check_real(step_size, "step_size", min=0.0, min_open=True)
        if t is not None:
            t = check_int(t, "t (a number of steps, since step_size is given)", min=0)
    elif t is not None:
        t = check_real(t, "t", min=0.0)
    dtype = torch.promote_types(K_train.dtype, y.dtype)
    if not dtype.is_floating_point:
        dtype = torch.get_default_dtype()
    K_train, y = K_train.to(dtype), y.to(dtype=dtype, device=K_train.device)
    f0_train = _initial(f0_train, "f0_train", y.shape, dtype, K_train.device)
    if not torch.allclose(K_train, K_train.T, rtol=1e-5, atol=1e-8 * float(K_train.abs().max())):
        raise ValueError("K_train must be symmetric")
    lam, V = torch.linalg.eigh((K_train + K_train.T) / 2)
    lam = lam + ridge
    positive = lam > n * torch.finfo(dtype).eps * lam.abs().max()
    safe = torch.where(positive, lam, torch.ones_like(lam))
    if t is None:
        gain = torch.where(positive, 1 / safe, torch.zeros_like(lam))
    elif step_size is None:
        gain = torch.where(positive, -torch.expm1(-safe * t) / safe, torch.full_like(lam, t))
    else:  # sum_{j<t} step (1 - step lam)^j, exactly; step * t where lam = 0
        x = step_size * safe
        below = x < 1  # log1p form: no cancellation when x t is small
        shrink = torch.where(below, -torch.expm1(t * torch.log1p(-torch.where(below, x, torch.zeros_like(x)))),
                             1 - (1 - x) ** t)
        gain = torch.where(positive, shrink / safe, torch.full_like(lam, step_size * t))
    r0 = y - f0_train
    return V @ (gain.reshape(-1, *([1] * (r0.ndim - 1))) * (V.T @ r0))


def kernel_regression(K_train, K_test, y, t: float | None = None, *, step_size: float | None = None,
                      f0_train=None, f0_test=None, ridge: float = 0.0) -> torch.Tensor:
    """Predictions of a model trained by gradient flow or descent with a fixed kernel; kernel regression at :math:`t = \\infty`.

    A model that is linear in its parameters, :math:`f = f_0 + J\\,\\Delta\\theta`,
    trained from :math:`\\Delta\\theta = 0` by gradient flow on
    :math:`\\tfrac12\\lVert f(X) - y\\rVert^2 + \\tfrac{\\rho}{2}\\lVert\\Delta\\theta\\rVert^2`
    keeps :math:`\\Delta\\theta = J(X)^\\top\\alpha(t)` in the row space of the
    training Jacobian, with :math:`K = J(X)J(X)^\\top`, and

    .. math::

        \\alpha(t) = (K + \\rho I)^{-1}\\bigl(I - e^{-(K + \\rho I)t}\\bigr)\\,(y - f_0(X)),
        \\qquad f_t(x) = f_0(x) + K(x, X)\\,\\alpha(t)

    (Jacot, Gabriel, Hongler 2018; Lee et al. 2019, eqs. 9-11). Gradient
    *descent* with step :math:`\\eta` (``step_size``) for :math:`t` steps replaces
    :math:`e^{-(K+\\rho I)t}` by :math:`(I - \\eta(K + \\rho I))^t`, exactly. At
    :math:`t = \\infty` and :math:`\\rho = 0` this is ridgeless kernel regression,
    :math:`f_0(x) + K(x, X)K^{+}(y - f_0(X))`: the interpolant of least RKHS
    norm, and :math:`\\lVert\\Delta\\theta\\rVert^2 = r_0^\\top K^{+} r_0` is the
    least distance from :math:`\\theta_0` to a global minimum of the linear model
    (:func:`kernel_weights` returns :math:`\\alpha`). With :math:`\\rho > 0` and
    :math:`t = \\infty` it is kernel ridge regression (scikit-learn's
    ``KernelRidge(alpha=rho, kernel="precomputed")``).

    The computation is in the eigenbasis :math:`K = V\\Lambda V^\\top`, with
    gains :math:`(1 - e^{-(\\lambda+\\rho) t})/(\\lambda+\\rho)` (``expm1``: no
    cancellation; the limit :math:`t` as :math:`\\lambda + \\rho \\to 0`).
    Eigenvalues :math:`\\lambda + \\rho \\le n\\,\\varepsilon\\,\\lambda_{\\max}` count
    as zero (at :math:`t = \\infty`, a pseudo-inverse).

    **Units.** The library's square loss is a *mean*,
    :math:`\\tfrac{1}{2n}\\sum_i (f(x_i) - y_i)^2`: gradient descent on it with
    learning rate ``lr`` for ``k`` steps is ``step_size=lr / n, t=k`` here, and
    approaches the flow at time ``t = lr * k / n`` as ``lr`` goes to 0.

    Parameters
    ----------
    K_train : Tensor of shape (n, n)
        The kernel on the training inputs, symmetric positive semi-definite.
    K_test : Tensor of shape (n_test, n)
        The kernel between test and training inputs (``K_train`` again for the
        training predictions).
    y : Tensor of shape (n,) or (n, k)
        Targets.
    t : float or int, optional
        Training time, or the number of steps when ``step_size`` is given;
        ``None`` (default) or ``inf``: the limit :math:`t \\to \\infty`.
    step_size : float, optional
        :math:`\\eta > 0`: gradient descent instead of gradient flow.
    f0_train, f0_test : Tensor of shape (n,) / (n_test,), or (..., k), optional
        The model's outputs at initialisation; default zero (the mean over
        initialisations of a network whose output has mean zero).
    ridge : float
        :math:`\\rho \\ge 0`.

    Returns
    -------
    Tensor of shape (n_test,) or (n_test, k)
        :math:`f_t` on the test inputs, in the promoted dtype of the inputs.

    See Also
    --------
    linearize : the linear model whose kernel is the empirical NTK.
    relu_ntk : the infinite-width kernel of a ReLU MLP.
    kernel_weights : the coefficients :math:`\\alpha` and so the distance travelled.

    Examples
    --------
    Ridgeless regression interpolates the training targets:

    >>> import torch
    >>> X = torch.randn(6, 3, dtype=torch.float64)
    >>> K = torch.exp(-torch.cdist(X, X) ** 2)
    >>> y = torch.randn(6, dtype=torch.float64)
    >>> bool(torch.allclose(kernel_regression(K, K, y), y))
    True
    """
    K_test = check_tensor(K_test, "K_test", ndim=2)
    alpha = kernel_weights(K_train, y, t, step_size=step_size, f0_train=f0_train, ridge=ridge)
    n = alpha.shape[0]
    if K_test.shape[1] != n:
        raise ValueError(f"K_test must have one column per training example ({n}), got shape "
                         f"{tuple(K_test.shape)}")
    K_test = K_test.to(dtype=alpha.dtype, device=alpha.device)
    f0_test = _initial(f0_test, "f0_test", (K_test.shape[0], *alpha.shape[1:]), alpha.dtype, alpha.device)
    return f0_test + K_test @ alpha


def _initial(f0, name: str, shape: tuple, dtype: torch.dtype, device) -> torch.Tensor:
    if f0 is None:
        return torch.zeros(shape, dtype=dtype, device=device)
    f0 = check_tensor(f0, name).to(dtype=dtype, device=device)
    if tuple(f0.shape) != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}, got {tuple(f0.shape)}")
    return f0
