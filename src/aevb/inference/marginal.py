"""Marginal-likelihood estimators log p_θ(x), per datapoint, looked up by name in :data:`NLL_ESTIMATORS`.

- ``"is"``: importance sampling with the encoder as proposal (:func:`aevb.inference.importance.log_likelihood`).
- ``"hmc"``: the estimator of Kingma & Welling (2014) App. D (:func:`hmc_log_likelihood`), which needs no encoder
  and so also serves models trained without one (Monte Carlo EM).

Every estimator is called as ``estimator(model, x, num_samples, context) -> [B]`` (nats, higher is better).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.distributions import MultivariateNormal

from aevb.errors import ConfigError
from aevb.inference.hmc import log_joint, run_chains
from aevb.inference.importance import log_likelihood
from aevb.models.protocols import BoundModel
from aevb.registry import Registry
from aevb.runtime import module_device, to_device

NLL_ESTIMATORS: Registry = Registry("marginal-likelihood estimator")
NLL_ESTIMATORS.register("is")(log_likelihood)


def _initial_state(model: nn.Module, x: torch.Tensor, chains: int, context: torch.Tensor | None):
    """Start the chains at draws from q_φ(z|x) when the model has an encoder (close to the posterior, so a short
    burn-in suffices), else from the prior; the first step size is half the encoder's mean posterior std."""
    if isinstance(model, BoundModel):
        q = model.encode(x, context)
        return q.sample((chains,)).float(), 0.5 * q.stddev.float().mean(-1)
    z = model.prior_distribution(context).sample((chains, x.shape[0])).float()
    return z, torch.full((x.shape[0],), 0.1, device=x.device)


def fit_gaussian(samples: torch.Tensor, ridge: float = 1e-3, shrink: float = 1.0) -> MultivariateNormal:
    """App. D stage 2, the density estimator q(z): a full-covariance Gaussian fitted to ``samples`` ``[L, B, D]`` by
    moments, one per datapoint, its covariance multiplied by ``shrink``; ``ridge`` × the mean variance is added to the
    diagonal so it stays positive definite with few samples."""
    mean = samples.mean(0)
    centred = (samples - mean).double()
    cov = torch.einsum("lbi,lbj->bij", centred, centred) / max(samples.shape[0] - 1, 1)
    var = cov.diagonal(dim1=-2, dim2=-1).mean(-1).clamp_min(1e-12)
    eye = torch.eye(samples.shape[-1], dtype=cov.dtype, device=cov.device)
    cov = shrink * cov + ridge * var[:, None, None] * eye
    return MultivariateNormal(mean.double(), scale_tril=torch.linalg.cholesky(cov))


@torch.no_grad()
def hmc_log_likelihood(
    model: nn.Module,
    x: torch.Tensor,
    num_samples: int = 50,
    context: torch.Tensor | None = None,
    *,
    chains: int = 5,
    burn_in: int = 100,
    thin: int = 2,
    n_leapfrog: int = 4,
    target_accept: float = 0.9,
    shrink: float = 0.8,
) -> torch.Tensor:
    """The marginal-likelihood estimator of Kingma & Welling (2014) App. D, per datapoint ``[B]``:

    1. draw L = ``num_samples`` values z_l ~ p_θ(z|x) by HMC (``n_leapfrog`` leapfrog steps, step size adapted
       during ``burn_in`` towards ``target_accept``; ``chains`` chains per datapoint, every ``thin``-th state kept);
    2. fit a density estimator q(z) to them (:func:`fit_gaussian`, its covariance × ``shrink``);
    3. draw L new posterior samples (from ``chains`` other, independent chains) and use the harmonic-mean-type
       identity E_p(z|x)[q(z) / p_θ(x, z)] = 1/p_θ(x), true for any normalized q:

       p_θ(x) ≈ ( (1/L) Σ_l q(z_l) / (p(z_l) p_θ(x|z_l)) )⁻¹,  z_l ~ p_θ(z|x).

    Reliable for low-dimensional z (the paper: ≤ 5; Nz = 3, L = 50 in Fig. 3). Computed in log space.
    """
    if num_samples < 2 or chains < 1 or thin < 1 or n_leapfrog < 1 or burn_in < 0:
        raise ConfigError(
            "the HMC estimator needs num_samples >= 2, chains >= 1, thin >= 1, n_leapfrog >= 1 and burn_in >= 0; "
            f"got num_samples={num_samples}, chains={chains}, thin={thin}, n_leapfrog={n_leapfrog}, burn_in={burn_in}"
        )
    device = module_device(model)
    x, context = to_device(x, device), to_device(context, device)
    chains = min(chains, num_samples)
    per_chain = math.ceil(num_samples / chains)
    log_density = log_joint(model, x, context)
    # Two independent sets of chains, one for stage 1 and one for stage 3: if the samples that q is fitted to were
    # also the ones it is evaluated at (or correlated with them, as successive states of one chain are), q would be
    # too high there and p(x) underestimated. Both sets share the adapted per-datapoint step size.
    z0, eps0 = _initial_state(model, x, 2 * chains, context)
    run = run_chains(
        log_density,
        z0,
        per_chain,
        burn_in=burn_in,
        thin=thin,
        n_leapfrog=n_leapfrog,
        step_size=eps0,
        target_accept=target_accept,
    )
    fit_z = run.samples[:, :chains].flatten(0, 1)[:num_samples]  # [L, B, D]
    z = run.samples[:, chains:].flatten(0, 1)[:num_samples]
    # Stage 2. The fitted covariance is shrunk: q must have lighter tails than p(z|x), or the ratio q/p(x, z) is
    # heavy-tailed under the posterior (infinite variance once q is twice as wide in some direction), and a fit to
    # L = 50 correlated samples is easily 1.5× too wide. A narrower q keeps the estimate unbiased for 1/p(x).
    q = fit_gaussian(fit_z, shrink=shrink)
    log_ratio = q.log_prob(z.double()) - log_density(z).double()  # log q(z_l) − log p_θ(x, z_l), [L, B]
    return -(torch.logsumexp(log_ratio, 0) - math.log(num_samples)).float()


NLL_ESTIMATORS.register("hmc")(hmc_log_likelihood)
