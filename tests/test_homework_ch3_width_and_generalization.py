"""The checker of the memorisation exercise (width and generalisation): right answers pass, stubs get a
hint, and the typical mistakes are named."""

import numpy as np
import torch

from dltheory import homework
from dltheory.homework.ch3_width_and_generalization import _cases, memorize


def right(X, y, seed):
    a = np.random.default_rng(seed + 10).standard_normal(X.shape[1])
    z = X @ a
    order = np.argsort(z)
    zs = z[order]
    b = np.concatenate([[zs[0] - 1.0], (zs[:-1] + zs[1:]) / 2])
    A = np.maximum(zs[:, None] - b[None, :], 0.0)
    return a, b, np.linalg.solve(A, y[order])


def test_the_reference_fits_every_case_exactly():
    for X, y, seed in _cases():
        a, b, w = memorize(X, y, seed)
        assert np.allclose(np.maximum(X @ a[:, None] - b, 0) @ w, y, rtol=1e-8, atol=1e-10)
        assert a.size + b.size + w.size == X.shape[1] + 2 * X.shape[0]  # d + 2n weights


def test_right_answers_pass_as_arrays_and_tensors():
    assert homework.check_memorize(right).passed
    assert homework.check_memorize(lambda X, y, s: tuple(torch.as_tensor(p) for p in right(X, y, s))).passed
    assert str(homework.check_memorize(right)).startswith("Correct.")


def test_wrong_shapes_and_errors_are_explained():
    text = str(homework.check_memorize(lambda X, y, s: right(X, y, s)[:2]))
    assert "three arrays" in text
    text = str(homework.check_memorize(lambda X, y, s: (np.zeros(2),) + right(X, y, s)[1:]))
    assert "a must have shape" in text

    def crashes(X, y, seed):
        return 1 / 0

    text = str(homework.check_memorize(crashes))
    assert "ZeroDivisionError" in text and "1 / 0" in text


def test_a_coordinate_direction_is_named():
    def first_coordinate(X, y, seed):  # a = e_1 cannot separate points with equal x_1
        a = np.zeros(X.shape[1])
        a[0] = 1.0
        z = X @ a
        order = np.argsort(z, kind="stable")
        zs = z[order]
        b = np.concatenate([[zs[0] - 1.0], (zs[:-1] + zs[1:]) / 2])
        A = np.maximum(zs[:, None] - b[None, :], 0.0)
        return a, b, np.linalg.lstsq(A, y[order], rcond=None)[0]

    text = str(homework.check_memorize(first_coordinate))
    assert text.startswith("Not yet.") and "same projection" in text


def test_biases_on_the_points_are_named():
    def on_the_points(X, y, seed):  # b_j = z_j: unit j is silent on x_j
        a = np.random.default_rng(seed).standard_normal(X.shape[1])
        zs = np.sort(X @ a)
        A = np.maximum(zs[:, None] - zs[None, :], 0.0)
        return a, zs, np.linalg.lstsq(A, y[np.argsort(X @ a)], rcond=None)[0]

    text = str(homework.check_memorize(on_the_points))
    assert text.startswith("Not yet.") and "b_j >= z_j" in text


def test_unsorted_labels_are_named():
    def unsorted(X, y, seed):  # forgets to put y in the sorted order of z
        a = np.random.default_rng(seed).standard_normal(X.shape[1])
        zs = np.sort(X @ a)
        b = np.concatenate([[zs[0] - 1.0], (zs[:-1] + zs[1:]) / 2])
        A = np.maximum(zs[:, None] - b[None, :], 0.0)
        return a, b, np.linalg.solve(A, y)

    text = str(homework.check_memorize(unsorted))
    assert text.startswith("Not yet.") and "sorted order" in text
