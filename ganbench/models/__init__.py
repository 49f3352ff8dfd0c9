"""Model families; importing this package registers every built-in model."""

from ganbench.models import (  # noqa: F401  (registration)
    compare_gan,
    dcgan,
    dirac,
    mlp,
    pacgan,
    r3gan,
    resnet,
    sndcgan,
)
from ganbench.models.base import MODELS, ModelSpec, register_model

__all__ = ["MODELS", "ModelSpec", "register_model"]
