"""The bounds, written once for every model.

A model runs its encoder and decoder on x with S posterior samples per datapoint and returns ``Terms``,
the per-sample log densities; every objective and evaluator is a function of those terms.

Notation (Kingma & Welling 2014): ``log w_s = log p_θ(x, z_s) − log q_φ(z_s|x)``, ``z_s = g_φ(ε_s, x)``,
``ε_s ~ p(ε)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch.distributions import Distribution, Independent, Normal, kl_divergence

from aevb.errors import ConfigError


class Terms:
    """Log densities of S posterior samples for each of B datapoints (all ``[S, B]``, fp32).

    ``B`` may be several batch dims, e.g. M2's ``[C, B]`` of every label for every datapoint.

    ``posterior``/``prior`` are kept so that estimator B can ask for the analytic KL; models whose KL has no
    closed form (several stochastic layers, learned priors without one) leave them ``None``.

    ``log_prior`` and ``log_posterior`` may be given as tensors or as zero-argument functions that compute them; a
    function runs when an estimator first reads the value (``of_samples``). Estimator B reads neither, so a
    training step on it does not compute two densities it would throw away.

    Parameters
    ----------
    log_likelihood : torch.Tensor
        ``log p_θ(x|z_s)``, ``[S, B]``.
    log_prior : torch.Tensor or Callable[[], torch.Tensor]
        ``log p_θ(z_s)`` (summed over stochastic layers), ``[S, B]``, or a function that computes it.
    log_posterior : torch.Tensor or Callable[[], torch.Tensor]
        ``log q_φ(z_s|x)``, ``[S, B]``, or a function that computes it.
    posterior : torch.distributions.Distribution or None, default None
        ``q_φ(z|x)``, for estimator B's analytic KL; None when the model's KL has no closed form.
    prior : torch.distributions.Distribution or None, default None
        p(z), for estimator B's analytic KL; None when the model's KL has no closed form.
    """

    def __init__(
        self,
        log_likelihood: torch.Tensor,
        log_prior: torch.Tensor | Callable[[], torch.Tensor],
        log_posterior: torch.Tensor | Callable[[], torch.Tensor],
        posterior: Distribution | None = None,
        prior: Distribution | None = None,
    ) -> None:
        self.log_likelihood = log_likelihood  # log p_θ(x | z_s)
        self._log_prior = log_prior  # log p_θ(z_s)  (summed over stochastic layers)
        self._log_posterior = log_posterior  # log q_φ(z_s | x)
        self.posterior = posterior
        self.prior = prior

    @classmethod
    def of_samples(
        cls, log_likelihood: torch.Tensor, z: torch.Tensor, posterior: Distribution, prior: Distribution
    ) -> Terms:
        """The terms of samples ``z`` of ``posterior`` under ``prior``, their log densities computed on first use.

        Parameters
        ----------
        log_likelihood : torch.Tensor
            ``log p_θ(x|z_s)``, ``[S, B]``.
        z : torch.Tensor
            The samples ``z_s ~ q_φ(z|x)``, ``[S, B, latent_dim]``.
        posterior : torch.distributions.Distribution
            ``q_φ(z|x)``, which drew ``z``; ``log_posterior`` is its ``log_prob(z)``.
        prior : torch.distributions.Distribution
            p(z); ``log_prior`` is its ``log_prob(z)``.

        Returns
        -------
        Terms
            The terms, keeping ``posterior`` and ``prior`` for estimator B's analytic KL.
        """
        return cls(log_likelihood, lambda: prior.log_prob(z), lambda: posterior.log_prob(z), posterior, prior)

    @property
    def log_prior(self) -> torch.Tensor:
        """The log prior density ``log p_θ(z_s)``, ``[S, B]`` (computed when first read)."""
        if callable(self._log_prior):
            self._log_prior = self._log_prior()
        return self._log_prior

    @property
    def log_posterior(self) -> torch.Tensor:
        """The log posterior density ``log q_φ(z_s | x)``, ``[S, B]`` (computed when first read)."""
        if callable(self._log_posterior):
            self._log_posterior = self._log_posterior()
        return self._log_posterior

    @property
    def log_weight(self) -> torch.Tensor:
        """The log importance weights ``log w_s = log p(x, z_s) − log q(z_s|x)``, ``[S, B]``."""
        return self.log_likelihood + self.log_prior - self.log_posterior

    @property
    def num_samples(self) -> int:
        """S, the number of posterior samples per datapoint."""
        return self.log_likelihood.shape[0]

    def kl(self) -> torch.Tensor:
        """Analytic ``KL(q_φ(z|x) ‖ p(z))`` per datapoint, ``[B]`` (App. B for the Gaussian case).

        Returns
        -------
        torch.Tensor
            The KL of each datapoint's posterior from the prior, ``[B]``, in nats.

        Raises
        ------
        ConfigError
            If the terms carry no posterior or prior (this model has no analytic KL), or torch has no closed-form
            KL between their families; use estimator A.
        """
        if self.posterior is None or self.prior is None:
            raise ConfigError("estimator B needs an analytic KL, which this model does not have; use estimator A")
        try:
            return kl_divergence(self.posterior, self.prior)
        except NotImplementedError:
            raise ConfigError(
                f"no closed-form KL between {type(self.posterior).__name__} and {type(self.prior).__name__}; "
                "use estimator A"
            ) from None

    def kl_per_dim(self) -> torch.Tensor:
        """Analytic KL per latent dimension, ``[B, d]``, for a factorized posterior and prior.

        Both must be ``Independent(Normal)``: the KL of a product of independent factors is the sum of the factors'
        KLs.

        Returns
        -------
        torch.Tensor
            ``KL(q_φ(z_j|x) ‖ p(z_j))`` of each datapoint and latent dimension j, ``[B, d]``, in nats.

        Raises
        ------
        ConfigError
            If the posterior and prior are not both diagonal Gaussians over one latent axis (free bits need
            ``--posterior diagonal``, a one-stochastic-layer model, with estimator B).
        """
        q, p = self.posterior, self.prior
        factorized = all(isinstance(d, Independent) and isinstance(d.base_dist, Normal) for d in (q, p))
        if not factorized or len(q.event_shape) != 1:
            raise ConfigError(
                "free bits need a per-dimension KL: a diagonal-Gaussian posterior and prior (--posterior diagonal, "
                "a one-stochastic-layer model) with estimator B"
            )
        return kl_divergence(q.base_dist, p.base_dist)


def free_bits_kl(kl_per_dim: torch.Tensor, free_bits: float) -> torch.Tensor:
    """The KL term with free bits λ (Kingma et al. 2016, IAF paper, eq. 15), per datapoint ``[B]``.

    Over a minibatch M the penalty is ``Σ_d max(λ, E_{x∈M}[KL_d(x)])``: a dimension whose minibatch-average KL is
    below λ nats is charged the constant λ (no gradient pushes it further towards the prior). Per datapoint this is
    ``Σ_d (KL_d(x) if E_M[KL_d] > λ else λ)``, whose minibatch mean is exactly the penalty above.

    Parameters
    ----------
    kl_per_dim : torch.Tensor
        The KL of each datapoint of the minibatch per latent dimension, ``[B, d]``, in nats
        (``Terms.kl_per_dim``).
    free_bits : float
        λ, in nats per latent dimension.

    Returns
    -------
    torch.Tensor
        The free-bits KL term of each datapoint, ``[B]``, in nats.
    """
    active = kl_per_dim.detach().mean(0) > free_bits  # [d], decided on the minibatch average
    return torch.where(active, kl_per_dim, torch.full_like(kl_per_dim, free_bits)).sum(-1)


def sgvb_a(terms: Terms, beta: float = 1.0) -> torch.Tensor:
    """SGVB estimator A (eq. 6): ``L̃^A = (1/L) Σ_l [log p(x|z_l) + β (log p(z_l) − log q(z_l|x))]``. Shape ``[B]``.

    β = 1 gives the ELBO; β ≠ 1 the β-VAE objective (Higgins et al. 2017) with the KL estimated by Monte Carlo.

    Parameters
    ----------
    terms : Terms
        The log densities of L posterior samples ``z_l`` per datapoint.
    beta : float, default 1.0
        β, the weight of the Monte Carlo KL.

    Returns
    -------
    torch.Tensor
        ``L̃^A`` of each datapoint, ``[B]``, in nats.
    """
    return _sample_mean(terms.log_likelihood + beta * (terms.log_prior - terms.log_posterior))


def sgvb_b(terms: Terms, beta: float = 1.0, free_bits: float = 0.0) -> torch.Tensor:
    """SGVB estimator B (eq. 7): ``L̃^B = −β KL(q(z|x) ‖ p(z)) + (1/L) Σ_l log p(x|z_l)``. Shape ``[B]``.

    ``free_bits`` λ > 0 replaces the KL by its free-bits form ``free_bits_kl`` (then it is no longer a bound). The
    KL is analytic (``Terms.kl``, or ``Terms.kl_per_dim`` with free bits): a model without one is a ``ConfigError``.

    Parameters
    ----------
    terms : Terms
        The log densities of L posterior samples ``z_l`` per datapoint, with the posterior and prior.
    beta : float, default 1.0
        β, the weight of the KL (β-VAE; 1: the ELBO).
    free_bits : float, default 0.0
        λ, in nats per latent dimension (0: off).

    Returns
    -------
    torch.Tensor
        ``L̃^B`` of each datapoint, ``[B]``, in nats.
    """
    kl = free_bits_kl(terms.kl_per_dim(), free_bits) if free_bits > 0 else terms.kl()
    return _sample_mean(terms.log_likelihood) - (kl if beta == 1.0 else beta * kl)


def _sample_mean(t: torch.Tensor) -> torch.Tensor:
    """``(1/L) Σ_l`` over the leading sample dim; for L = 1 the one sample itself, as a view (no op to run or undo).

    Returns
    -------
    torch.Tensor
        ``t`` averaged over its first dim.
    """
    return t.squeeze(0) if t.shape[0] == 1 else t.mean(0)


def elbo(terms: Terms, estimator: str = "B", beta: float = 1.0, free_bits: float = 0.0) -> torch.Tensor:
    """The (β-weighted) evidence lower bound per datapoint, in nats, by estimator ``"A"`` or ``"B"``.

    ``L(θ, φ; x) = E_q[log p(x|z)] − KL(q(z|x) ‖ p(z))`` (Kingma & Welling 2014, eq. 3), by ``sgvb_a`` (eq. 6) or
    ``sgvb_b`` (eq. 7).

    Parameters
    ----------
    terms : Terms
        The log densities of L posterior samples per datapoint.
    estimator : {"B", "A"}, default "B"
        ``"A"``: the KL estimated by Monte Carlo; ``"B"``: the KL analytic.
    beta : float, default 1.0
        β, the weight of the KL (β-VAE; 1: the ELBO).
    free_bits : float, default 0.0
        λ, in nats per latent dimension (0: off); estimator B only (``free_bits_kl``).

    Returns
    -------
    torch.Tensor
        The bound of each datapoint, ``[B]``, in nats (higher is better).

    Raises
    ------
    ConfigError
        If ``free_bits`` > 0 with estimator ``"A"`` (free bits need estimator B's per-dimension analytic KL), or
        ``estimator`` is neither ``"A"`` (Monte Carlo KL) nor ``"B"`` (analytic KL).
    """
    if estimator == "A":
        if free_bits > 0:
            raise ConfigError("free bits need the per-dimension analytic KL of estimator B; use --estimator B")
        return sgvb_a(terms, beta)
    if estimator == "B":
        return sgvb_b(terms, beta, free_bits)
    raise ConfigError(f"unknown estimator {estimator!r}; choose 'A' (Monte Carlo KL) or 'B' (analytic KL)")


def iwae_bound(terms: Terms) -> torch.Tensor:
    """Importance-weighted bound (Burda et al. 2015): ``L_k = log (1/k) Σ_i w_i``, per datapoint ``[B]``.

    Its gradient is ``Σ_i w̃_i ∇ log w_i`` with normalized weights ``w̃_i = w_i / Σ_j w_j``, which autograd through
    ``logsumexp`` gives exactly. k = 1 equals estimator A.

    Parameters
    ----------
    terms : Terms
        The log densities of k posterior samples per datapoint (k = ``terms.num_samples``).

    Returns
    -------
    torch.Tensor
        ``L_k`` of each datapoint, ``[B]``, in nats.
    """
    return torch.logsumexp(terms.log_weight, dim=0) - math.log(terms.num_samples)
