"""Hybrid Monte Carlo (aevb.inference.hmc): it leaves its target invariant and its step size adapts."""

from __future__ import annotations

import math

import torch
from torch.distributions import MultivariateNormal

from aevb.inference.hmc import adapt_step_size, hmc_step, run_chains

# Two different 2-D Gaussian targets, one per "datapoint" (batch dim B = 2).
MEAN = torch.tensor([[1.0, -2.0], [0.0, 3.0]])
COV = torch.tensor([[[1.0, 0.6], [0.6, 0.5]], [[0.0025, 0.0], [0.0, 0.01]]])
TARGET = MultivariateNormal(MEAN, covariance_matrix=COV)


def _moments_match(z: torch.Tensor) -> None:
    """z ``[N, B, D]`` independent draws: sample mean and variance within 5 standard errors of the target's."""
    n = z.shape[0]
    var = COV.diagonal(dim1=-2, dim2=-1)
    assert ((z.mean(0) - MEAN).abs() < 5 * (var / n).sqrt()).all(), (z.mean(0), MEAN)
    assert ((z.var(0) - var).abs() < 5 * var * math.sqrt(2 / n)).all(), (z.var(0), var)


def test_hmc_leaves_a_gaussian_target_invariant():
    torch.manual_seed(0)
    z = TARGET.sample((4000,))  # [C, B, D]: chains started exactly in the target
    eps = torch.tensor([0.5, 0.04])  # per-target step sizes, large enough that most proposals move far
    accepted = []
    for _ in range(5):
        t = hmc_step(TARGET.log_prob, z, eps, n_leapfrog=4)
        moved = (t.z != z).any(-1).float().mean()
        z = t.z
        accepted.append(float(moved))
    assert min(accepted) > 0.5  # the kernel really moves the chains, so invariance is not trivial
    _moments_match(z)


def test_burn_in_adapts_step_size_and_reaches_the_target():
    torch.manual_seed(1)
    z0 = torch.zeros(400, 2, 2)  # 30 standard deviations from the second target
    chains = run_chains(TARGET.log_prob, z0, num_samples=2, burn_in=100, thin=5, step_size=1.0, target_accept=0.9)
    # Each target gets its own step size: the narrow one (smallest std 0.05 vs 0.32) needs a much smaller step.
    eps = chains.step_size.median(0).values  # per target, over its chains
    assert eps[1] < eps[0] / 3
    assert ((chains.acceptance - 0.9).abs() < 0.07).all(), chains.acceptance
    _moments_match(chains.samples[-1])


def test_adapt_step_size_moves_towards_the_target_acceptance():
    eps = torch.tensor([0.1, 0.1])
    up = adapt_step_size(eps, torch.tensor([[1.0, 0.2]]), target=0.9)
    assert up[0] > 0.1 > up[1]
    scalar = adapt_step_size(torch.tensor(0.1), torch.tensor([[0.5, 0.5]]), target=0.9)
    assert scalar.dim() == 0 and scalar < 0.1


def test_divergent_trajectories_are_rejected():
    torch.manual_seed(2)
    z = TARGET.sample((100,))
    t = hmc_step(TARGET.log_prob, z, torch.tensor([1e3, 1e3]), n_leapfrog=3)
    assert torch.isfinite(t.log_prob).all() and torch.equal(t.z, z)
