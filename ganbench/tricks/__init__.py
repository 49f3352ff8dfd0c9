"""The trick registry; importing this package registers every built-in trick."""

from ganbench.tricks import (  # noqa: F401  (registration)
    acgan,
    ada,
    consistency,
    diffaugment,
    dragan,
    ema,
    feature_matching,
    gradient_descent,
    gradient_penalty,
    instance_noise,
    label_noise,
    label_smoothing,
    lecam,
    minibatch_std,
    n_critic,
    pack,
    r1,
    spectral_norm,
    ttur,
)
from ganbench.tricks.base import TRICKS, Finding, Trick, TrickParams, TrickStack, register_trick

__all__ = ["TRICKS", "Finding", "Trick", "TrickParams", "TrickStack", "register_trick"]
