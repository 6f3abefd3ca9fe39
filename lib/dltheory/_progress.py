"""One progress bar for every loop that can run for minutes: ``tqdm.auto``, shown when it helps.

``progress=None`` (the default of every long-running function) shows the bar
exactly when the run is at full scale (:func:`dltheory.config.scale`), where a
loop can take minutes on a GPU, and hides it at quick scale, where it takes
seconds and where the book's stored outputs are made, so that no bar ever
enters a stored notebook output. ``DLT_PROGRESS=1`` or ``0`` overrides that
choice everywhere; ``progress=True``/``False`` overrides it for one call.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from . import config
from ._checks import check_bool

__all__ = ["progress_bar", "enabled"]


def enabled(progress: bool | None) -> bool:
    """Whether to show a bar: ``progress`` if given, else ``DLT_PROGRESS``, else at full scale."""
    if progress is not None:
        return check_bool(progress, "progress")
    value = os.environ.get("DLT_PROGRESS", "").strip()
    if value:
        if value not in ("0", "1"):
            raise ValueError(f"DLT_PROGRESS must be 0 or 1, got {value!r}")
        return value == "1"
    return config.scale() == "full"


def progress_bar(iterable: Iterable | None = None, *, total: int | None = None, desc: str | None = None,
                 progress: bool | None = None, initial: int = 0):
    """A ``tqdm.auto`` bar over ``iterable`` (or counting to ``total``), disabled unless :func:`enabled`.

    Use it as the ``tqdm`` object it is: iterate over it, or ``update`` it and
    ``close`` it (a ``with`` block does both).
    """
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=desc, initial=initial, disable=not enabled(progress), leave=True,
                dynamic_ncols=True)
