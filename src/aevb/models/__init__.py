"""Models, registered by name in :data:`aevb.registry.MODELS`."""

from aevb.models.archs import ARCHS
from aevb.models.vae import VAE, build_vae, build_vae_parts

__all__ = ["ARCHS", "VAE", "build_model", "build_vae", "build_vae_parts"]


def build_model(config, event_shape):  # noqa: ANN001 - thin registry lookup
    """Build the model named by ``config.model`` for data of ``event_shape``."""
    from aevb.registry import MODELS

    config.validate()
    return MODELS.get(config.model)(config, tuple(event_shape))
