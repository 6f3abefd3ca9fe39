"""Checkers for the exercise cells: a verdict and a useful hint, never a bare traceback.

A checker compares a student's answer (a value, or a function it calls on
inputs of its own) with the reference, and when they differ it says *how*:
wrong type, wrong shape (or transposed), NaN, a sign flip, an overall scale
factor, or a mistake typical of that exercise. It returns a :class:`Feedback`,
which a notebook shows as its last expression; it does not raise, so a student
edition with unanswered stubs still runs from top to bottom.

:mod:`~dltheory.homework.core` holds the machinery (:class:`Feedback`,
:func:`compare`, :func:`check_function`); every other module of this package
holds the checkers of one section and is named like the section's glue in
:mod:`dltheory.sections` (``ch1_margins`` for the margins notebook). The names
in its ``__all__`` are available here, as ``dltheory.homework.<name>``.
"""

import importlib
import pkgutil

from .core import Feedback, check_function, compare

__all__ = ["Feedback", "compare", "check_function"]

for _info in sorted(pkgutil.iter_modules(__path__), key=lambda info: info.name):
    if _info.name != "core":
        _module = importlib.import_module(f"{__name__}.{_info.name}")
        for _name in _module.__all__:
            globals()[_name] = getattr(_module, _name)
            __all__.append(_name)
