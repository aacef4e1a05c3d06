"""Models, registered by name in :data:`aevb.registry.MODELS`."""

from aevb.models import conv  # noqa: E402,F401  (registers arch "conv")
from aevb.models.archs import ARCHS
from aevb.models.cvae import CVAE  # noqa: E402  (registers "cvae")
from aevb.models.deep import DeepVAE  # noqa: E402  (registers "deep-vae")
from aevb.models.vae import VAE, build_vae, build_vae_parts
from aevb.models.vqvae import VQVAE  # noqa: E402  (registers "vqvae")

__all__ = ["ARCHS", "CVAE", "VAE", "VQVAE", "DeepVAE", "build_model", "build_vae", "build_vae_parts"]


def build_model(config, event_shape):  # noqa: ANN001 - thin registry lookup
    """Build the model named by ``config.model`` for data of ``event_shape``."""
    from aevb.registry import MODELS

    config.validate()
    return MODELS.get(config.model)(config, tuple(event_shape))
