"""A small gated PixelCNN over grids of discrete codes (van den Oord et al. 2016, "Conditional Image Generation with
PixelCNN Decoders"), used as the learned prior of the VQ-VAE.

p(k) = Π_i p(k_i | k_<i) in raster order over an ``h × w`` grid of code indices. Each layer has a vertical stack
(sees the rows above) and a horizontal stack (sees the pixels to the left in the current row, plus the vertical
stack), which removes the blind spot of the original PixelCNN; both use the gated activation
y = tanh(W_f ∗ x) ⊙ σ(W_g ∗ x) (eq. 2). The first layer is masked type "A" (excludes the current position) and has
no residual connection; later layers are type "B".
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from aevb.runtime import to_device


class _MaskedConv2d(nn.Conv2d):
    """A convolution whose kernel is multiplied by a fixed 0/1 mask (a buffer, not saved) on every call."""

    def __init__(self, *args, mask: torch.Tensor, **kwargs) -> None:  # noqa: ANN002,ANN003
        super().__init__(*args, **kwargs)
        self.register_buffer("mask", mask, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(x, self.weight * self.mask, self.bias)


def _gate(x: torch.Tensor) -> torch.Tensor:
    f, g = x.chunk(2, dim=1)
    return torch.tanh(f) * torch.sigmoid(g)


class GatedMaskedConv(nn.Module):
    """One gated layer (Fig. 2 of van den Oord et al. 2016) with a ``kernel × kernel`` receptive field."""

    def __init__(self, dim: int, kernel: int, mask_a: bool) -> None:
        super().__init__()
        half = kernel // 2
        v_mask = torch.ones(1, 1, half + 1, kernel)
        h_mask = torch.ones(1, 1, 1, half + 1)
        if mask_a:  # exclude the current row (vertical) and the current pixel (horizontal)
            v_mask[..., -1, :] = 0
            h_mask[..., -1] = 0
        self.residual = not mask_a
        # Padded so that, after cropping to the input size, output (i, j) sees rows ≤ i (vertical) and columns ≤ j
        # of row i (horizontal).
        self.vertical = _MaskedConv2d(dim, 2 * dim, (half + 1, kernel), padding=(half, half), mask=v_mask)
        self.horizontal = _MaskedConv2d(dim, 2 * dim, (1, half + 1), padding=(0, half), mask=h_mask)
        self.v_to_h = nn.Conv2d(2 * dim, 2 * dim, 1)
        self.h_out = nn.Conv2d(dim, dim, 1)

    def forward(self, x_v: torch.Tensor, x_h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h, w = x_v.shape[-2:]
        v = self.vertical(x_v)[..., :h, :]
        hz = self.horizontal(x_h)[..., :, :w]
        out_h = self.h_out(_gate(hz + self.v_to_h(v)))
        return _gate(v), out_h + x_h if self.residual else out_h


class GatedPixelCNN(nn.Module):
    """Autoregressive prior over ``[B, h, w]`` grids of indices in ``0..num_codes−1``."""

    def __init__(self, num_codes: int, dim: int = 64, layers: int = 8, kernel: int = 3) -> None:
        super().__init__()
        self.num_codes = num_codes
        self.embed = nn.Embedding(num_codes, dim)
        # The first layer's receptive field is wider (as in PixelCNN's 7×7 first layer, scaled to small grids).
        self.layers = nn.ModuleList(
            [GatedMaskedConv(dim, max(kernel, 5) if i == 0 else kernel, mask_a=i == 0) for i in range(layers)]
        )
        self.out = nn.Sequential(nn.ReLU(), nn.Conv2d(dim, 2 * dim, 1), nn.ReLU(), nn.Conv2d(2 * dim, num_codes, 1))

    def forward(self, indices: torch.Tensor) -> torch.Tensor:
        """Logits of p(k_i | k_<i) at every position: ``[B, h, w]`` → ``[B, num_codes, h, w]``."""
        x = self.embed(indices).permute(0, 3, 1, 2)
        x_v, x_h = x, x
        for layer in self.layers:
            x_v, x_h = layer(x_v, x_h)
        return self.out(x_h)

    def log_prob(self, indices: torch.Tensor) -> torch.Tensor:
        """log p(k) = Σ_i log p(k_i | k_<i) per grid, in nats, ``[B]`` (``indices`` on any device)."""
        indices = to_device(indices, self.embed.weight.device)
        logits = self(indices).float()
        return -F.cross_entropy(logits, indices, reduction="none").sum((1, 2))

    @torch.no_grad()
    def sample(self, n: int, shape: tuple[int, int], device: torch.device | None = None) -> torch.Tensor:
        """Ancestral sampling in raster order: one forward pass per position, ``[n, h, w]``."""
        device = device or self.embed.weight.device
        h, w = shape
        k = torch.zeros(n, h, w, dtype=torch.long, device=device)
        for i in range(h):
            for j in range(w):
                probs = torch.softmax(self(k)[:, :, i, j].float(), dim=1)
                k[:, i, j] = torch.multinomial(probs, 1).squeeze(1)
        return k
