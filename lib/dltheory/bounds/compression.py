"""The realisable sample-compression bound (Littlestone and Warmuth 1986; Shalev-Shwartz and Ben-David 2014, ch. 30).

A learning rule is a *compression scheme of size* :math:`M` if its output is
:math:`B(z_{i_1}, \\dots, z_{i_M})`, a fixed reconstruction map :math:`B` applied
to :math:`M` of its :math:`n` training examples (an ordered index sequence
:math:`I \\in [n]^M`, repeats allowed). If the output also classifies the
other examples :math:`V = \\{z_j : j \\notin I\\}` correctly, then for each fixed
:math:`I` the hypothesis :math:`h_I = B(z_I)` is independent of the at least
:math:`n - M` examples of :math:`V`, so

.. math::  P\\big(L_V(h_I) = 0 \\text{ and } L_D(h_I) > \\varepsilon\\big)
           \\le (1 - \\varepsilon)^{n - M} \\le e^{-\\varepsilon (n - M)},

and a union bound over the :math:`n^M` sequences gives, with probability at
least :math:`1 - \\delta`,

.. math::  L_D(A(S)) \\le \\frac{M \\ln n + \\ln(1/\\delta)}{n - M} .

Shalev-Shwartz and Ben-David's Corollary 30.3 states the looser
:math:`8M\\log(n/\\delta)/n` for :math:`n \\ge 2M` (it goes through their
agnostic Theorem 30.2); the display above is the direct realisable argument.
When :math:`M` is itself random (SGD's number of updates, Brutzkus et al.
2018), the union runs over the sizes too: spending :math:`\\delta_M =
\\delta/((M+1)(M+2))` on size :math:`M` (these sum to :math:`\\delta` over
:math:`M \\ge 0`) replaces :math:`\\ln(1/\\delta)` by
:math:`\\ln((M+1)(M+2)/\\delta)` (``data_dependent=True``).
"""

from __future__ import annotations

import math

from .._checks import check_bool, check_int, check_probability

__all__ = ["compression_bound"]


def compression_bound(M: int, n: int, delta: float, *, data_dependent: bool = False) -> float:
    """The test-error bound of a consistent sample compression scheme of size ``M`` on ``n`` examples.

    .. math::  L_D \\le \\frac{M\\ln n + \\ln(1/\\delta)}{n - M}
               \\qquad\\Big(\\ln\\frac{(M+1)(M+2)}{\\delta} \\text{ for a data-dependent } M\\Big),

    holding with probability at least :math:`1 - \\delta` over the sample when
    the output classifies every training example correctly (see the module
    docstring for the proof). Returns ``inf`` when :math:`M \\ge n`, where the
    argument says nothing; a value of 1 or more is vacuous too.

    Parameters
    ----------
    M
        The size of the compression set (with repeats), an integer :math:`\\ge 0`.
    n
        The number of training examples, :math:`n \\ge 1`.
    delta
        The failure probability, in :math:`(0, 1)`.
    data_dependent
        Pay for a size chosen by the data (a union bound over :math:`M`).
    """
    M, n = check_int(M, "M", min=0), check_int(n, "n", min=1)
    delta = check_probability(delta, "delta")
    data_dependent = check_bool(data_dependent, "data_dependent")
    if M >= n:
        return math.inf
    confidence = math.log((M + 1) * (M + 2) / delta) if data_dependent else math.log(1 / delta)
    return (M * math.log(n) + confidence) / (n - M)
