"""Models, registered by name in :data:`aevb.registry.MODELS` (each model module registers its builder)."""

from collections.abc import Sequence

from torch import nn

from aevb.config import ModelConfig
from aevb.models import conv  # noqa: E402,F401  (registers arch "conv")
from aevb.models.archs import ARCHS
from aevb.models.cvae import CVAE  # noqa: E402  (registers "cvae")
from aevb.models.deep import DeepVAE  # noqa: E402  (registers "deep-vae")
from aevb.models.vae import VAE, build_vae, build_vae_parts
from aevb.models.vqvae import VQVAE  # noqa: E402  (registers "vqvae")
from aevb.registry import MODELS

__all__ = ["ARCHS", "CVAE", "VAE", "VQVAE", "DeepVAE", "build_model", "build_vae", "build_vae_parts"]


def build_model(config: ModelConfig, event_shape: Sequence[int]) -> nn.Module:
    """Build the model named by ``config.model`` for data of ``event_shape`` (an unknown name is an error that lists
    the registered models)."""
    return MODELS.get(config.model)(config, tuple(event_shape))
