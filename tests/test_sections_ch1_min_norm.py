"""The identities behind book/1-three-questions/min-norm.ipynb, moved out of the notebook.

The notebook claims what can fail (convergence to the predicted limit, the
expected cost of a random start, the ridge minimum forgetting its start, the
rates); the algebra it rests on is checked here against NumPy: the null-space
component is conserved at every step of GD and SGD, the Hessian has d - n zero
eigenvalues and, with a ridge penalty, the smallest eigenvalue lambda
(see also tests/test_linear.py), and the test error of the GD limit is the
quadratic in the scale of the start that the notebook's prose writes down.
"""

import numpy as np
import pytest
import torch

from dltheory import linear

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def problem():
    return linear.LinearTeacher.sample(n=12, d=40, k=1, n_test=500, seed=3)


def test_every_update_leaves_the_null_space_component_alone(problem):
    X, Y = problem.X, problem.Y
    null = np.eye(40) - np.linalg.pinv(X.numpy()) @ X.numpy()
    W0 = torch.randn(1, 40, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    runs = [linear.gradient_descent(X, Y, W0, steps=50, record_every=1),
            linear.stochastic_gradient_descent(X, Y, W0, epochs=10, batch_size=4, seed=1, record_every=1)]
    for run in runs:
        drift = max(np.linalg.norm((W.numpy() - W0.numpy()) @ null) for W in run.weights)
        assert drift < 1e-12


def test_the_hessian_has_d_minus_n_zeros_and_ridge_lifts_them_to_lambda(problem):
    X = problem.X
    plain = np.linalg.eigvalsh(X.numpy().T @ X.numpy() / 12)
    assert int((plain < 1e-10 * plain.max()).sum()) == 40 - 12
    for lam in (1e-6, 1e-3, 1.0):
        ridge = torch.linalg.eigvalsh(linear.ridge_hessian(X, lam)).numpy()
        assert ridge.min() == pytest.approx(lam, rel=1e-8)
        assert int(np.isclose(ridge, lam, rtol=1e-8).sum()) == 40 - 12


def test_the_test_error_of_the_gd_limit_is_quadratic_in_the_scale(problem):
    X, Y = problem.X, problem.Y
    G = torch.randn(1, 40, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    W_plus = linear.min_norm_solution(X, Y)
    V = linear.gd_limit(X, Y, G) - W_plus  # G (I - X+X)
    Xt = problem.X_test.numpy()
    C = Xt.T @ Xt / Xt.shape[0]  # the empirical test covariance
    E0 = (W_plus - problem.W_star).numpy()
    v = V.numpy()
    for s in (0.0, 0.3, 1.0, 3.0):
        predicted = (E0 @ C @ E0.T + 2 * s * E0 @ C @ v.T + s**2 * v @ C @ v.T).item()
        assert problem.test_error(linear.gd_limit(X, Y, s * G)) == pytest.approx(predicted, rel=1e-10)
