"""The trick registry; importing this package registers every built-in trick."""

from ganbench.tricks import gradient_penalty, label_smoothing, spectral_norm, ttur  # noqa: F401
from ganbench.tricks.base import TRICKS, Finding, Trick, TrickParams, TrickStack

__all__ = ["TRICKS", "Finding", "Trick", "TrickParams", "TrickStack"]
