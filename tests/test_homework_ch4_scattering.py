"""The checker of the scattering-layer exercise: right answers pass, mistakes are named, energy is reported."""

import numpy as np
import pytest
import torch

from dltheory import homework


def right(x, phi_hat, psi_hat):
    x_hat = torch.fft.fft(x)
    return torch.cat([torch.fft.ifft(x_hat * phi_hat).real[None], torch.fft.ifft(x_hat * psi_hat).abs()])


def test_right_answers_pass_as_tensor_array_and_loop():
    assert homework.check_scattering_layer(right).passed
    assert homework.check_scattering_layer(lambda x, p, q: right(x, p, q).numpy()).passed

    def loop(x, p, q):  # numpy, one band at a time
        xh = np.fft.fft(x.numpy())
        rows = [np.fft.ifft(xh * p.numpy()).real] + [np.abs(np.fft.ifft(xh * qk.numpy())) for qk in q]
        return np.stack(rows)

    assert homework.check_scattering_layer(loop).passed


WRONG = {
    "the real part": lambda x, p, q: torch.cat([right(x, p, q)[:1],
                                                torch.fft.ifft(torch.fft.fft(x) * q).real]),
    "the squared modulus": lambda x, p, q: torch.cat([right(x, p, q)[:1], right(x, p, q)[1:] ** 2]),
    "the modulus of x * phi": lambda x, p, q: right(x, p, q).abs(),
    "multipliers squared": lambda x, p, q: right(x, p**2, q**2),
    "the modulus taken before filtering": lambda x, p, q: torch.cat([right(x, p, q)[:1],
                                                                     right(x.abs(), p, q)[1:]]),
}


@pytest.mark.parametrize("expected", list(WRONG))
def test_typical_mistakes_are_named(expected):
    feedback = homework.check_scattering_layer(WRONG[expected])
    assert not feedback.passed
    assert expected in str(feedback), str(feedback)


def test_a_wrong_answer_is_told_its_energy():
    text = str(homework.check_scattering_layer(lambda x, p, q: 2 * right(x, p, q)))
    assert "4.0000 times that of x" in text


def test_the_cases_are_tight_frames_and_tell_the_mistakes_apart():
    from dltheory.homework.ch4_scattering import _cases, _mistakes, _reference

    for x, p, q in _cases():
        np.testing.assert_allclose((p**2 + (q**2).sum(0)).numpy(), 1.0, atol=1e-12)
        ref = _reference(x, p, q)
        assert ref.pow(2).sum().item() == pytest.approx(x.pow(2).sum().item(), rel=1e-12)
        values = {k: np.asarray(v) for k, v in _mistakes(x, p, q).items()}
        values["right"] = ref.numpy()
        names = list(values)
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                assert not np.allclose(values[a], values[b], rtol=1e-6), (a, b)
