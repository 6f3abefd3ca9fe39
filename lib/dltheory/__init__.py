"""dltheory: the library of the executable companion book to a course on deep learning theory.

Modules: :mod:`~dltheory.config` (device, seed, scale), :mod:`~dltheory.claims`
(claim checks), :mod:`~dltheory.linear` (linear least squares, closed forms and
GD), :mod:`~dltheory.plotting` (house style), :mod:`~dltheory.homework`
(exercise checkers), :mod:`~dltheory.widgets` (explorers).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("dltheory")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.1.0"

from .claims import claim
from .config import banner, by_scale, device, scale, seed_all

__all__ = ["__version__", "claim", "banner", "by_scale", "device", "scale", "seed_all"]
