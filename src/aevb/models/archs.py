"""Network architectures for encoders and decoders, looked up by ``ModelConfig.arch``.

An architecture builds two networks: ``encoder_net(x, c) → [..., out_dim]`` reading data of ``event_shape``, and
``decoder_net(z, c) → [..., out_dim]`` reading latent vectors. Distribution families read the flat outputs.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from aevb.nets import MLPNet
from aevb.registry import Registry

ARCHS: Registry = Registry("arch")


@ARCHS.register("mlp")
class MLPArch:
    """Fully connected encoder and decoder with the same hidden widths (the paper: one hidden layer, 500 or 200)."""

    @staticmethod
    def encoder_net(
        event_shape: Sequence[int], out_dim: int, hidden: Sequence[int], act: str, context_dim: int = 0
    ) -> nn.Module:
        return MLPNet(event_shape, hidden, out_dim, act, context_dim)

    @staticmethod
    def decoder_net(
        latent_dim: int,
        out_dim: int,
        hidden: Sequence[int],
        act: str,
        context_dim: int = 0,
        event_shape: Sequence[int] | None = None,  # unused here; conv decoders need the image shape
    ) -> nn.Module:
        # The decoder mirrors the encoder's widths.
        return MLPNet((latent_dim,), list(reversed(hidden)), out_dim, act, context_dim)
