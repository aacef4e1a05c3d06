"""Hybrid (Hamiltonian) Monte Carlo on the exact posterior p_θ(z|x) ∝ p(z) p_θ(x|z), batched over datapoints.

Used by the marginal-likelihood estimator of Kingma & Welling (2014) App. D and by Monte Carlo EM (App. E). The
potential is U(z) = −log p_θ(x, z), built from the model's own prior and decoder distributions, and its gradient
∇_z log p_θ(z|x) = ∇_z log p(z) + ∇_z log p_θ(x|z) (App. D, stage 1) comes from autograd. Identity mass matrix;
one leapfrog trajectory of ``n_leapfrog`` steps per transition; Metropolis correction (Duane et al. 1987, Neal 2011).

Chains have shape ``[C, B, D]``: C chains for each of B datapoints. Step sizes broadcast against ``[C, B]`` —
a scalar, one per datapoint ``[B]`` or one per chain ``[C, B]`` — and are adapted in log space towards a target
acceptance rate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from aevb.runtime import module_device, to_device

LogDensity = Callable[[torch.Tensor], torch.Tensor]


def log_joint(model: nn.Module, x: torch.Tensor, context: torch.Tensor | None = None) -> LogDensity:
    """z ``[..., B, D]`` ↦ log p(z) + log p_θ(x|z), ``[..., B]``: the unnormalized log posterior of ``x`` (``x`` and
    ``context`` on any device; the density is computed on the model's)."""
    device = module_device(model)
    x, context = to_device(x, device), to_device(context, device)
    prior = model.prior_distribution(context)

    def log_density(z: torch.Tensor) -> torch.Tensor:
        return prior.log_prob(z) + model.decode(z, context).log_prob(x)

    return log_density


def _value_and_grad(log_density: LogDensity, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    with torch.enable_grad():
        z = z.detach().requires_grad_(True)
        logp = log_density(z)
        # Chains and datapoints are independent, so the gradient of the sum is each one's own gradient. Only z's
        # gradient is asked for: model parameters' .grad is left untouched (MCEM relies on this).
        (grad,) = torch.autograd.grad(logp.sum(), z)
    return logp.detach(), grad


@dataclass
class Transition:
    """Result of one HMC transition: new states, their log densities and gradients, and the acceptance
    probability min(1, exp(−ΔH)) of each chain, ``[C, B]``."""

    z: torch.Tensor
    log_prob: torch.Tensor
    grad: torch.Tensor
    accept_prob: torch.Tensor


def hmc_step(
    log_density: LogDensity,
    z: torch.Tensor,
    step_size: torch.Tensor | float,
    n_leapfrog: int,
    state: tuple[torch.Tensor, torch.Tensor] | None = None,
    jitter: float = 0.2,
) -> Transition:
    """One HMC transition from ``z`` ``[C, B, D]``: momentum p ~ N(0, I), ``n_leapfrog`` leapfrog steps of size ε,
    accept the end point with probability min(1, exp(H(z, p) − H(z', p'))), H = −log π(z) + ½|p|².

    ε is drawn uniformly from ``step_size`` × [1 − jitter, 1 + jitter] for each chain and transition (Neal 2011,
    §5.4.2.2): with a fixed ε a trajectory whose length is near a period of the posterior's oscillation in some
    direction returns to where it started and the chain stops mixing there. A random ε, independent of the state,
    keeps the kernel reversible. ``state`` = (log π(z), ∇ log π(z)) from the previous transition saves one gradient.
    """
    eps = torch.as_tensor(step_size, dtype=z.dtype, device=z.device).expand(z.shape[:-1])
    if jitter:
        eps = eps * (1 + jitter * (2 * torch.rand_like(eps) - 1))
    eps = eps.unsqueeze(-1)  # [C, B, 1]: broadcasts over D
    logp0, grad0 = state if state is not None else _value_and_grad(log_density, z)
    p0 = torch.randn_like(z)
    z1, p1, grad1 = z, p0 + 0.5 * eps * grad0, grad0
    for i in range(n_leapfrog):
        z1 = z1 + eps * p1
        logp1, grad1 = _value_and_grad(log_density, z1)
        if i < n_leapfrog - 1:
            p1 = p1 + eps * grad1
    p1 = p1 + 0.5 * eps * grad1
    log_ratio = (logp1 - 0.5 * p1.pow(2).sum(-1)) - (logp0 - 0.5 * p0.pow(2).sum(-1))
    # A diverged trajectory (NaN or −inf density) is simply rejected.
    log_ratio = torch.nan_to_num(log_ratio, nan=-torch.inf, posinf=-torch.inf)
    accept_prob = log_ratio.clamp(max=0).exp()
    accept = torch.rand_like(accept_prob) < accept_prob
    keep = accept.unsqueeze(-1)
    return Transition(
        torch.where(keep, z1, z),
        torch.where(accept, logp1, logp0),
        torch.where(keep, grad1, grad0),
        accept_prob,
    )


def adapt_step_size(
    step_size: torch.Tensor, accept_prob: torch.Tensor, target: float = 0.9, rate: float = 0.1
) -> torch.Tensor:
    """log ε ← log ε + rate · (ā − target): a larger step when the acceptance ā is above target, smaller below.

    ``accept_prob`` ``[C, B]`` is averaged over the dimensions ``step_size`` does not have (chains for a per-datapoint
    ε ``[B]``; everything for a scalar ε).
    """
    a = accept_prob.mean() if step_size.dim() == 0 else accept_prob.reshape(-1, *step_size.shape).mean(0)
    return step_size * torch.exp(rate * (a - target))


@dataclass
class Chains:
    """``samples`` ``[T, C, B, D]`` kept after burn-in; the final state; the adapted step sizes ``[C, B]``; the mean
    acceptance probability of the kept transitions per datapoint ``[B]``."""

    samples: torch.Tensor
    z: torch.Tensor
    step_size: torch.Tensor
    acceptance: torch.Tensor


@torch.no_grad()
def run_chains(
    log_density: LogDensity,
    z0: torch.Tensor,
    num_samples: int,
    *,
    burn_in: int = 100,
    thin: int = 1,
    n_leapfrog: int = 4,
    step_size: torch.Tensor | float = 0.1,
    target_accept: float = 0.9,
    adapt: bool = True,
) -> Chains:
    """Run HMC chains from ``z0`` ``[C, B, D]``: ``burn_in`` transitions adapting one step size per chain (if
    ``adapt``), then ``num_samples × thin`` transitions at fixed step size, keeping every ``thin``-th state.

    Each chain adapts its own step size because a chain started far out in the posterior's tail sees a much larger
    energy error than one near the mode: with a step size shared by its datapoint's chains it would be rejected
    forever. After burn-in every chain of a datapoint gets the median of their step sizes, which is then frozen: the
    kept samples come from a fixed, p(z|x)-invariant kernel whose step size does not depend on where a chain happens
    to be (a chain left with a small step size in the tail would otherwise stay there).
    """
    n_data = z0.shape[-2]
    eps = torch.as_tensor(step_size, dtype=z0.dtype, device=z0.device).expand(z0.shape[:-1]).clone()
    z, state = z0, None
    for _ in range(burn_in):
        t = hmc_step(log_density, z, eps, n_leapfrog, state)
        z, state = t.z, (t.log_prob, t.grad)
        if adapt:
            eps = adapt_step_size(eps, t.accept_prob, target_accept)
    if adapt and burn_in:
        eps = eps.median(0, keepdim=True).values.expand_as(eps).clone()
    samples, accepts = [], []
    for i in range(num_samples * thin):
        t = hmc_step(log_density, z, eps, n_leapfrog, state)
        z, state = t.z, (t.log_prob, t.grad)
        accepts.append(t.accept_prob)
        if (i + 1) % thin == 0:
            samples.append(z)
    acceptance = torch.stack(accepts).mean((0, 1)) if accepts else torch.full((n_data,), float("nan"), device=z0.device)
    return Chains(torch.stack(samples) if samples else z.new_zeros(0, *z.shape), z, eps, acceptance)
