"""The record of a run (:class:`History`) and when to record it."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from .._checks import check_int

__all__ = ["History", "record_points", "log_spaced_steps"]


class History:
    """The record of a run: a tidy table with one row per record point.

    Rows are plain dicts (``history.rows``); every row of a run has the same keys.
    The columns written by :func:`fit`, in order:

    ``step``
        Updates made before the row was recorded (0 is the initialisation).
    ``loss``
        The training loss on the whole training set (without weight decay).
    ``objective``
        ``loss + weight_decay / 2 * ||w||^2`` (trainable parameters); only when
        ``weight_decay > 0``.
    ``train_accuracy``
        Fraction classified correctly when the targets are labels, whatever the
        loss: for one output and labels in {-1, +1}, ``sign(f) == y``; for
        ``k > 1`` outputs and integer class indices, ``argmax f == y``; for
        ``k > 1`` outputs and one-hot float targets, ``argmax f == argmax y``.
        Ties (an output of exactly 0, two largest outputs equal) count as
        errors, as a margin of 0 does in :func:`dltheory.bounds.margins`. NaN
        for any other targets (regression, e.g. float targets with the square
        loss).
    ``frob_1, spec_1, ..., frob_L, spec_L, rho, rho_spectral``
        Frobenius and spectral norms of the dense layers, numbered from 1 in
        forward order, and their products (:func:`dltheory.bounds.layer_norms`);
        only for a dense chain (:func:`dltheory.models.dense_layers`).
    ``margin_min, normalized_margin_min``
        The smallest :func:`dltheory.bounds.margins` on the training set and that
        divided by ``rho``; only when the targets are labels.
    ``distance_from_init``
        :math:`\\lVert w - w_0\\rVert_2` over all parameters.
    ``eval_loss, eval_accuracy``
        The same loss and accuracy on ``eval_data``; only when it is given.
    user metrics
        One column per metric, under its name, and any column a callback's
        ``on_record`` adds.

    ``history["loss"]`` is a NumPy array of a column (integers for ``step``),
    :meth:`to_frame` a ``pandas.DataFrame``; :meth:`to_json` and
    :meth:`from_json` round-trip the rows exactly (Python's JSON, which writes
    NaN and infinities as ``NaN``/``Infinity``).
    """

    def __init__(self, rows: Sequence[Mapping[str, Any]] = ()) -> None:
        self.rows: list[dict[str, Any]] = [dict(row) for row in rows]

    def append(self, row: Mapping[str, Any]) -> None:
        """Add one record."""
        self.rows.append(dict(row))

    @property
    def columns(self) -> list[str]:
        """Column names in order of first appearance."""
        seen: dict[str, None] = {}
        for row in self.rows:
            for key in row:
                seen.setdefault(key, None)
        return list(seen)

    def __contains__(self, column: object) -> bool:
        return column in self.columns

    def __getitem__(self, column: str) -> np.ndarray:
        if column not in self.columns:
            raise KeyError(f"no column {column!r} in this History; its columns are {self.columns}")
        values = [row.get(column, math.nan) for row in self.rows]
        if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values):
            return np.asarray(values, dtype=np.int64)
        return np.asarray(values, dtype=np.float64)

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def last(self) -> dict[str, Any]:
        """The last row (a copy); a ``ValueError`` if nothing was recorded."""
        if not self.rows:
            raise ValueError("this History has no records")
        return dict(self.rows[-1])

    def to_frame(self):
        """The table as a ``pandas.DataFrame``, one row per record."""
        import pandas as pd

        return pd.DataFrame(self.rows, columns=self.columns)

    def to_json(self) -> str:
        """The rows as a JSON string (floats round-trip exactly)."""
        return json.dumps({"rows": self.rows})

    @classmethod
    def from_json(cls, text: str) -> History:
        """The History written by :meth:`to_json`."""
        data = json.loads(text)
        if not isinstance(data, dict) or not isinstance(data.get("rows"), list):
            raise ValueError("not a History: expected a JSON object with a list of rows")
        return cls(data["rows"])

    def __eq__(self, other: object) -> bool:
        # through JSON, so that NaN equals NaN
        return isinstance(other, History) and self.to_json() == other.to_json()

    def __repr__(self) -> str:
        if not self.rows:
            return "History(0 records)"
        last = self.rows[-1]
        loss = last.get("loss")
        loss_text = f", last loss {loss:.4g}" if isinstance(loss, float) else ""
        return (f"History({len(self)} records, steps {self.rows[0].get('step')}..{last.get('step')}"
                f"{loss_text}; columns: {', '.join(self.columns)})")


def record_points(steps: int, every: int | None = None, at: Iterable[int] | None = None) -> list[int]:
    """The steps at which a run of ``steps`` updates records: 0, every ``every``-th step, and the last.

    ``every`` defaults to ``max(1, steps // 100)`` (about 100 records); ``at``
    lists the steps instead (for example :func:`log_spaced_steps`). Step 0 and
    the last step are always included. Returned sorted, without repeats.
    """
    steps = check_int(steps, "steps", min=0)
    if at is not None:
        if every is not None:
            raise ValueError("give record_every or record_at, not both")
        points = {check_int(t, "a step of record_at", min=0, max=steps) for t in at}
    else:
        every = check_int(every, "record_every", min=1, allow_none=True) or max(1, steps // 100)
        points = set(range(0, steps + 1, every))
    return sorted(points | {0, steps})


def log_spaced_steps(steps: int, per_decade: int = 10) -> list[int]:
    """About ``per_decade`` integers per decade from 1 to ``steps``, evenly spaced in :math:`\\log t`.

    The distinct values of :math:`\\operatorname{round}(\\text{steps}^{j/(c-1)})`,
    :math:`j = 0, \\dots, c - 1`, with :math:`c = \\lfloor m \\log_{10}\\text{steps}\\rfloor + 1`
    and :math:`m` = ``per_decade`` (for ``steps`` a power of ten, the points
    :math:`\\operatorname{round}(10^{k/m})`), and ``steps`` itself: the record points of
    a run whose interesting times spread over several orders of magnitude
    (``fit(..., record_at=log_spaced_steps(steps))``).
    """
    steps = check_int(steps, "steps", min=1)
    per_decade = check_int(per_decade, "per_decade", min=1)
    count = int(math.floor(per_decade * math.log10(steps) + 1e-9)) + 1
    points = np.unique(np.round(np.logspace(0, math.log10(steps), count)).astype(np.int64))
    return sorted(set(points.tolist()) | {steps})
