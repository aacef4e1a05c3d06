"""Vector quantization with a straight-through gradient (van den Oord et al. 2017, "Neural Discrete Representation
Learning", §3.1–3.2).

z_q(x) = e_k with k = argmin_j ‖z_e(x) − e_j‖₂ (eq. 1–2), applied at every position of the encoder's grid. The
gradient of the reconstruction term is copied from z_q to z_e (straight-through: z_e + sg[z_q − z_e]). The codebook
is learned either by the codebook loss ‖sg[z_e] − e‖² (eq. 3, second term) or, with ``ema=True``, by exponential
moving averages of the assigned encoder outputs (App. A.1: N_i ← γN_i + (1−γ)n_i, m_i ← γm_i + (1−γ)Σ_j z_{i,j},
e_i = m_i/N_i, with Laplace smoothing of N as in Sonnet's ``VectorQuantizerEMA``). The commitment loss
β‖z_e − sg[e]‖² (eq. 3, third term) keeps the encoder close to the codebook either way.

Dead-code restart (Dhariwal et al. 2020, Jukebox §3.3; Zeghidour et al. 2021): a running average of how often each
code is chosen per training step is kept; codes whose average falls below ``dead_threshold`` are re-initialized to
random encoder outputs of the current batch. The average starts at 0, so the first training step initializes the
whole codebook from data.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class Quantized:
    """Output of :class:`VectorQuantizer` for encoder outputs ``z_e`` of shape ``[B, D, h, w]``."""

    z_q: torch.Tensor  # straight-through quantized vectors, [B, D, h, w] (value e_k, gradient to z_e)
    indices: torch.Tensor  # chosen code per position, [B, h, w] (int64)
    codebook_loss: torch.Tensor  # ‖sg[z_e] − e‖² summed over positions and dims, per datapoint [B] (0 with EMA)
    commitment_loss: torch.Tensor  # ‖z_e − sg[e]‖² summed over positions and dims, per datapoint [B] (unweighted)
    perplexity: torch.Tensor  # exp(entropy of the batch's code histogram): the effective number of codes used
    usage: torch.Tensor  # fraction of the K codes chosen at least once in this batch
    restarted: int  # codes re-initialized by this call (training only)


class VectorQuantizer(nn.Module):
    """K codes of dimension D; nearest-neighbour assignment, straight-through gradient, optional EMA updates."""

    def __init__(
        self,
        num_codes: int,
        code_dim: int,
        ema: bool = False,
        decay: float = 0.99,
        dead_threshold: float = 1.0,
        eps: float = 1e-5,
    ) -> None:
        super().__init__()
        self.num_codes, self.code_dim = num_codes, code_dim
        self.ema, self.decay, self.dead_threshold, self.eps = ema, decay, dead_threshold, eps
        init = torch.empty(num_codes, code_dim).uniform_(-1.0 / num_codes, 1.0 / num_codes)
        if ema:
            # Not trained by gradients: the codebook is the ratio of two running averages.
            self.register_buffer("codebook", init)
            self.register_buffer("ema_count", torch.ones(num_codes))
            self.register_buffer("ema_sum", init.clone())
        else:
            self.codebook = nn.Parameter(init)
        # Running average of assignments per training step, for dead-code restart.
        self.register_buffer("usage_avg", torch.zeros(num_codes))

    def nearest(self, flat: torch.Tensor) -> torch.Tensor:
        """argmin_j ‖z − e_j‖² for rows z of ``flat`` ``[N, D]`` → ``[N]``; expanded as ‖z‖² − 2z·e + ‖e‖²."""
        with torch.autocast(flat.device.type, enabled=False):  # bf16 distances would pick wrong neighbours
            flat, cb = flat.float(), self.codebook.float()
            d = flat.pow(2).sum(1, keepdim=True) - 2 * flat @ cb.t() + cb.pow(2).sum(1)
        return d.argmin(1)

    def lookup(self, indices: torch.Tensor) -> torch.Tensor:
        """Code vectors for an index grid ``[B, h, w]`` → ``[B, D, h, w]``."""
        return self.codebook[indices].permute(0, 3, 1, 2)

    def forward(self, z_e: torch.Tensor) -> Quantized:
        z_e = z_e.float()  # distances and losses in fp32 even under bf16 autocast
        b, d, h, w = z_e.shape
        flat = z_e.permute(0, 2, 3, 1).reshape(-1, d)
        idx = self.nearest(flat.detach())
        counts = torch.bincount(idx, minlength=self.num_codes).float()
        z_q = self.lookup(idx.view(b, h, w)).float()  # a copy: the update below does not change it
        restarted = 0
        if self.training:
            restarted = self._update(flat.detach(), idx, counts)
        dims = (1, 2, 3)
        codebook_loss = (z_q - z_e.detach()).pow(2).sum(dims) if not self.ema else z_e.new_zeros(b)
        commitment_loss = (z_e - z_q.detach()).pow(2).sum(dims)
        probs = counts / counts.sum()
        perplexity = torch.exp(-(probs * torch.log(probs.clamp_min(1e-12))).sum())
        usage = (counts > 0).float().mean()
        z_st = z_e + (z_q - z_e).detach()  # straight-through estimator
        return Quantized(z_st, idx.view(b, h, w), codebook_loss, commitment_loss, perplexity, usage, restarted)

    @torch.no_grad()
    def _update(self, flat: torch.Tensor, idx: torch.Tensor, counts: torch.Tensor) -> int:
        if self.ema:
            sums = torch.zeros_like(self.ema_sum).index_add_(0, idx, flat)
            self.ema_count.mul_(self.decay).add_(counts, alpha=1 - self.decay)
            self.ema_sum.mul_(self.decay).add_(sums, alpha=1 - self.decay)
            n = self.ema_count.sum()
            smoothed = (self.ema_count + self.eps) / (n + self.num_codes * self.eps) * n  # Laplace smoothing
            self.codebook.copy_(self.ema_sum / smoothed.unsqueeze(1))
        self.usage_avg.mul_(self.decay).add_(counts, alpha=1 - self.decay)
        if self.dead_threshold <= 0:
            return 0
        dead = (self.usage_avg < self.dead_threshold).nonzero().squeeze(1)
        if dead.numel() == 0:
            return 0
        pick = torch.randint(0, flat.shape[0], (dead.numel(),), device=flat.device)
        new = flat[pick].to(self.codebook.dtype)
        self.codebook.data[dead] = new
        if self.ema:
            self.ema_count[dead] = 1.0
            self.ema_sum[dead] = new
        # A fresh code gets a fair share of assignments, so it has time to be chosen before it counts as dead again.
        self.usage_avg[dead] = max(float(counts.sum()) / self.num_codes, 2 * self.dead_threshold)
        return int(dead.numel())
