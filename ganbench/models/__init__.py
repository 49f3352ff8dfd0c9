"""Model families; importing this package registers every built-in model."""

from ganbench.models import dcgan, dirac, mlp, pacgan, resnet, sndcgan  # noqa: F401  (registration)
from ganbench.models.base import MODELS, ModelSpec, register_model

__all__ = ["MODELS", "ModelSpec", "register_model"]
