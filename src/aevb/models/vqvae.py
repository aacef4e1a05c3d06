"""VQ-VAE (van den Oord et al. 2017): a conv encoder to a grid of D-dim vectors, vector quantization against K codes,
a conv decoder to a likelihood family, and a gated PixelCNN prior over code grids fitted afterwards.

Training loss per datapoint (eq. 3), minimized by the ``"vqvae"`` objective:

    L = −log p(x | z_q(x)) + ‖sg[z_e(x)] − e‖² + β ‖z_e(x) − sg[e]‖²,   β = ``commitment`` (0.25 in the paper),

with the squared norms summed over the grid (the codebook term is dropped when the codebook is learned by EMA).
Because q(z|x) is a point mass on the code grid k(x), the ELBO is log p(x) ≥ log p(x|z_q(x)) + log p(k(x)) (§3.1:
KL(q‖p) = −log p(k)); during the first stage p(k) is uniform (h·w·log K nats), and after the prior is fitted it is
the PixelCNN's log-likelihood. Both are reported, in nats per datapoint and bits per dim.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.distributions import Distribution

from aevb.config import ModelConfig
from aevb.likelihoods import Decoder
from aevb.models.conv import check_divisible, down_stack, image_shape, up_stack
from aevb.models.pixelcnn import GatedPixelCNN
from aevb.models.protocols import GenerativeModel
from aevb.models.quantizer import Quantized, VectorQuantizer
from aevb.nets import activation
from aevb.registry import LIKELIHOODS, MODELS
from aevb.runtime import module_device, to_device


class VQEncoderNet(nn.Module):
    """``[B, C, H, W]`` → stride-2 convolutions → 3×3 conv → 1×1 conv → ``[B, D, H/s, W/s]`` (z_e)."""

    def __init__(self, channels: int, hidden: Sequence[int], code_dim: int, act: str) -> None:
        super().__init__()
        self.net = nn.Sequential(
            down_stack(channels, hidden, act),
            nn.Conv2d(hidden[-1], hidden[-1], 3, padding=1),
            activation(act),
            nn.Conv2d(hidden[-1], code_dim, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class VQDecoderNet(nn.Module):
    """``[..., D, h, w]`` → 3×3 conv → transposed stride-2 convolutions → flat ``[..., n_params·C·H·W]``."""

    def __init__(self, code_dim: int, hidden: Sequence[int], out_channels: int, act: str) -> None:
        super().__init__()
        channels = list(reversed(hidden))
        self.net = nn.Sequential(
            nn.Conv2d(code_dim, channels[0], 3, padding=1), activation(act), up_stack(channels, out_channels, act)
        )

    def forward(self, z_q: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        lead = z_q.shape[:-3]
        return self.net(z_q.reshape(-1, *z_q.shape[-3:])).flatten(1).reshape(*lead, -1)


class VQVAE(nn.Module, GenerativeModel):
    """Encoder net → :class:`VectorQuantizer` → :class:`~aevb.likelihoods.Decoder`; ``prior`` models code grids."""

    def __init__(
        self,
        encoder: VQEncoderNet,
        quantizer: VectorQuantizer,
        decoder: Decoder,
        prior: GatedPixelCNN,
        event_shape: Sequence[int],
        grid_shape: tuple[int, int],
        commitment: float = 0.25,
        config: ModelConfig | None = None,
    ) -> None:
        super().__init__()
        self.encoder, self.quantizer, self.decoder, self.prior = encoder, quantizer, decoder, prior
        self.event_shape = tuple(event_shape)
        self.grid_shape = grid_shape
        self.commitment = commitment
        self.config = config

    @property
    def data_dim(self) -> int:
        return math.prod(self.event_shape)

    @property
    def num_codes(self) -> int:
        return self.quantizer.num_codes

    # --- the pieces ------------------------------------------------------------------------------------------
    def quantize(self, x: torch.Tensor) -> Quantized:
        return self.quantizer(self.encoder(to_device(x, module_device(self))))

    @torch.no_grad()
    def codes(self, x: torch.Tensor) -> torch.Tensor:
        """The code grid k(x), ``[B, h, w]``."""
        z_e = self.encoder(to_device(x, module_device(self))).float()
        flat = z_e.permute(0, 2, 3, 1).reshape(-1, z_e.shape[1])
        return self.quantizer.nearest(flat).view(x.shape[0], *self.grid_shape)

    def decode(self, z_q: torch.Tensor, context: torch.Tensor | None = None) -> Distribution:
        """p_θ(x | z_q) for quantized vectors ``[B, D, h, w]``."""
        return self.decoder(to_device(z_q, module_device(self)))

    def decode_codes(self, indices: torch.Tensor) -> Distribution:
        return self.decode(self.quantizer.lookup(to_device(indices, module_device(self))))

    def losses(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Per-datapoint terms ``[B]`` of eq. 3 (nats / squared distances) and batch statistics (scalars)."""
        x = to_device(x, module_device(self))
        q = self.quantize(x)
        recon_nll = -self.decode(q.z_q).log_prob(x)
        return {
            "recon_nll": recon_nll,
            "codebook_loss": q.codebook_loss,
            "commitment_loss": q.commitment_loss,
            "loss": recon_nll + q.codebook_loss + self.commitment * q.commitment_loss,
            "perplexity": q.perplexity,
            "codebook_usage": q.usage,
            "restarted_codes": torch.tensor(float(q.restarted), device=x.device),
        }

    # --- generation -----------------------------------------------------------------------------------------
    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        return self.decode_codes(self.codes(x)).mean

    @torch.no_grad()
    def sample(self, n: int, context: torch.Tensor | None = None, mean: bool = True) -> torch.Tensor:
        """Codes by ancestral sampling from the PixelCNN prior, then decoded (the decoder's mean by default)."""
        p_x = self.decode_codes(self.prior.sample(n, self.grid_shape))
        return p_x.mean if mean else p_x.sample()

    # --- evaluation -----------------------------------------------------------------------------------------
    @torch.no_grad()
    def evaluate_metrics(self, x: torch.Tensor, batch_size: int = 500, prior: bool = True) -> dict[str, float]:
        """Held-out metrics per datapoint: reconstruction NLL −log p(x|z_q) (nats, bits/dim), VQ losses, code
        statistics, and the ELBO log p(x|z_q) + log p(k) under the uniform prior and (``prior``) the PixelCNN."""
        was_training = self.training
        self.eval()
        device = module_device(self)
        sums: dict[str, float] = {}
        counts = torch.zeros(self.num_codes, device=device)
        for start in range(0, x.shape[0], batch_size):
            xb = x[start : start + batch_size].to(device)
            out = self.losses(xb)
            k = self.codes(xb)
            counts += torch.bincount(k.flatten(), minlength=self.num_codes).float()
            parts = {k_: out[k_] for k_ in ("recon_nll", "codebook_loss", "commitment_loss")}
            if prior:
                parts["prior_nll"] = -self.prior.log_prob(k)
            for name, v in parts.items():
                sums[name] = sums.get(name, 0.0) + float(v.double().sum())
        self.train(was_training)
        n = x.shape[0]
        m = {name: v / n for name, v in sums.items()}
        ln2_dims = self.data_dim * math.log(2)
        positions = math.prod(self.grid_shape)
        probs = counts / counts.sum()
        m["recon_bits_per_dim"] = m["recon_nll"] / ln2_dims
        m["perplexity"] = float(torch.exp(-(probs * torch.log(probs.clamp_min(1e-12))).sum()))
        m["codebook_usage"] = float((counts > 0).float().mean())
        uniform = positions * math.log(self.num_codes)
        m["elbo_uniform_prior"] = -(m["recon_nll"] + uniform)
        if prior:
            m["prior_nats_per_code"] = m["prior_nll"] / positions
            m["prior_bits_per_dim"] = m["prior_nll"] / ln2_dims
            m["elbo_pixelcnn_prior"] = -(m["recon_nll"] + m["prior_nll"])
            m["elbo_pixelcnn_prior_bits_per_dim"] = -m["elbo_pixelcnn_prior"] / ln2_dims
        return m


@MODELS.register("vqvae")
def build_vqvae(config: ModelConfig, event_shape: Sequence[int]) -> VQVAE:
    """``hidden`` lists the channels of the stride-2 conv layers (grid = image / 2^len(hidden))."""
    channels, _, _ = image_shape(event_shape)
    grid = check_divisible(event_shape, len(config.hidden))
    likelihood = LIKELIHOODS.get(config.likelihood).from_config(config, event_shape)
    encoder = VQEncoderNet(channels, config.hidden, config.code_dim, config.activation)
    decoder = Decoder(VQDecoderNet(config.code_dim, config.hidden, likelihood.n_params * channels, config.activation),
                      likelihood)  # fmt: skip
    quantizer = VectorQuantizer(
        config.codebook_size, config.code_dim, ema=config.ema, decay=config.ema_decay, dead_threshold=config.dead_code
    )
    prior = GatedPixelCNN(config.codebook_size, config.prior_channels, config.prior_layers)
    return VQVAE(encoder, quantizer, decoder, prior, event_shape, grid, config.commitment, config)
