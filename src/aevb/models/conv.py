"""Convolutional encoder and decoder networks for images ``[..., C, H, W]`` (registered as arch ``"conv"``).

Each entry of ``hidden`` is the channel count of one stride-2 convolution (kernel 4, padding 1), so the total stride
is 2^len(hidden) and H and W must be divisible by it (28×28 with ``hidden = [32, 64]`` → 7×7 feature maps; 64×64 RGB
with ``[32, 64, 128, 256]`` → 4×4). The decoder mirrors the encoder with transposed convolutions (the DCGAN layout
used by most conv VAEs) and ends in ``n_params·C`` channels; its output ``[n_params·C, H, W]`` flattened is
parameter-major, which is exactly how the likelihood families read a flat vector (``(n_params, C, H, W)``).

A context vector (conditional models) is concatenated to the flat features after the encoder's convolutions and to
z before the decoder's first linear layer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from aevb.errors import ConfigError
from aevb.models.archs import ARCHS
from aevb.nets import activation, conditional_linear


def image_shape(event_shape: Sequence[int]) -> tuple[int, int, int]:
    """``(C, H, W)`` of image data, or a ConfigError saying the conv arch needs images."""
    if len(event_shape) != 3:
        raise ConfigError(
            f"the conv arch needs image data of shape (C, H, W), got datapoints of shape {tuple(event_shape)}; "
            "use arch mlp (--arch mlp) for flat data"
        )
    c, h, w = (int(d) for d in event_shape)
    return c, h, w


def check_divisible(event_shape: Sequence[int], num_layers: int) -> tuple[int, int]:
    """The feature-map size after ``num_layers`` stride-2 layers; ConfigError naming sizes if it is not whole."""
    _, h, w = image_shape(event_shape)
    stride = 2**num_layers
    if h % stride or w % stride:
        raise ConfigError(
            f"image size {h}×{w} is not divisible by the conv arch's total stride {stride} "
            f"({num_layers} stride-2 layers, one per --hidden width); use images whose height and width are "
            f"multiples of {stride}, or fewer hidden widths (--hidden)"
        )
    return h // stride, w // stride


def down_stack(in_channels: int, channels: Sequence[int], act: str) -> nn.Sequential:
    """Stride-2 convolutions ``in_channels → channels[0] → … → channels[-1]``, each followed by ``act``."""
    layers: list[nn.Module] = []
    for c in channels:
        layers += [nn.Conv2d(in_channels, c, kernel_size=4, stride=2, padding=1), activation(act)]
        in_channels = c
    return nn.Sequential(*layers)


def up_stack(channels: Sequence[int], out_channels: int, act: str) -> nn.Sequential:
    """Transposed stride-2 convolutions ``channels[0] → … → channels[-1] → out_channels`` (no ``act`` at the end).

    ``len(channels)`` layers, each doubling H and W: the mirror of :func:`down_stack` with reversed channels.
    """
    layers: list[nn.Module] = []
    widths = [*channels, out_channels]
    for i, (c_in, c_out) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
        layers.append(nn.ConvTranspose2d(c_in, c_out, kernel_size=4, stride=2, padding=1))
        if i < len(widths) - 2:
            layers.append(activation(act))
    return nn.Sequential(*layers)


class ConvEncoderNet(nn.Module):
    """``[..., C, H, W]`` → stride-2 convolutions → flatten (+ context) → linear → ``[..., out_dim]``."""

    def __init__(
        self, event_shape: Sequence[int], hidden: Sequence[int], out_dim: int, act: str, context_dim: int = 0
    ) -> None:
        super().__init__()
        c, _, _ = image_shape(event_shape)
        h, w = check_divisible(event_shape, len(hidden))
        self.event_shape = tuple(event_shape)
        self.context_dim = context_dim
        self.convs = down_stack(c, hidden, act)
        self.out = nn.Linear(hidden[-1] * h * w + context_dim, out_dim)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        lead = x.shape[:-3]  # leading batch/sample dims are folded into one for the convolutions, then restored
        feats = self.convs(x.reshape(-1, *x.shape[-3:])).flatten(1).reshape(*lead, -1)
        return conditional_linear(self.out, feats, context, self.context_dim)


class ConvDecoderNet(nn.Module):
    """z ``[..., D]`` (+ context) → linear → ``[..., hidden[-1], H/s, W/s]`` → transposed convolutions →
    ``[..., n_params·C, H, W]`` → flat ``[..., n_params·C·H·W]`` (parameter-major)."""

    def __init__(
        self,
        latent_dim: int,
        event_shape: Sequence[int],
        hidden: Sequence[int],
        out_dim: int,
        act: str,
        context_dim: int = 0,
    ) -> None:
        super().__init__()
        c, _, _ = image_shape(event_shape)
        self.h, self.w = check_divisible(event_shape, len(hidden))
        size = math.prod(event_shape)
        if out_dim % size:
            raise ConfigError(f"conv decoder: out_dim {out_dim} is not a multiple of the image size {size}")
        self.out_channels = out_dim // size * c
        self.channels = list(reversed(hidden))
        self.context_dim = context_dim
        self.inp = nn.Sequential(
            nn.Linear(latent_dim + context_dim, self.channels[0] * self.h * self.w), activation(act)
        )
        self.deconvs = up_stack(self.channels, self.out_channels, act)

    def forward(self, z: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        h = self.inp[1](conditional_linear(self.inp[0], z, context, self.context_dim))
        lead = h.shape[:-1]
        h = h.reshape(-1, self.channels[0], self.h, self.w)
        return self.deconvs(h).flatten(1).reshape(*lead, -1)


@ARCHS.register("conv")
class ConvArch:
    """Convolutional encoder/decoder; ``hidden`` lists the channels of the stride-2 layers (e.g. ``32,64``)."""

    @staticmethod
    def encoder_net(
        event_shape: Sequence[int], out_dim: int, hidden: Sequence[int], act: str, context_dim: int = 0
    ) -> nn.Module:
        return ConvEncoderNet(event_shape, hidden, out_dim, act, context_dim)

    @staticmethod
    def decoder_net(
        latent_dim: int,
        out_dim: int,
        hidden: Sequence[int],
        act: str,
        context_dim: int = 0,
        event_shape: Sequence[int] | None = None,
    ) -> nn.Module:
        if event_shape is None:
            raise ConfigError("the conv decoder needs the image shape (event_shape) to build its layers")
        return ConvDecoderNet(latent_dim, event_shape, hidden, out_dim, act, context_dim)
