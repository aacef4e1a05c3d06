"""The SGVB estimators and the densities they use, against closed forms."""

from __future__ import annotations

import math

import pytest
import scipy.stats
import torch
from torch.distributions import Independent, Normal

from aevb import ModelConfig, build_model
from aevb.estimators import Terms, elbo, iwae_bound, sgvb_a, sgvb_b
from aevb.likelihoods import MAX_LOG_VARIANCE, BernoulliLikelihood, GaussianLikelihood
from aevb.posteriors import DiagonalGaussian
from aevb.priors import StandardNormalPrior


def _gaussian(mu: torch.Tensor, log_var: torch.Tensor):
    return DiagonalGaussian(mu.shape[-1])(torch.cat([mu, log_var], -1))


def test_analytic_kl_matches_monte_carlo():
    torch.manual_seed(0)
    mu, log_var = torch.randn(4, 6), torch.randn(4, 6)
    q, p = _gaussian(mu, log_var), StandardNormalPrior(6)()
    z = q.sample((200_000,))
    mc = q.log_prob(z) - p.log_prob(z)
    analytic = Terms(mc, mc, mc, posterior=q, prior=p).kl()
    # App. B: −KL = ½ Σ (1 + log σ² − μ² − σ²)
    closed = -0.5 * (1 + log_var - mu**2 - log_var.exp()).sum(-1)
    torch.testing.assert_close(analytic, closed, rtol=1e-5, atol=1e-5)
    stderr = mc.std(0) / math.sqrt(mc.shape[0])
    assert ((mc.mean(0) - analytic).abs() < 5 * stderr).all()


def test_estimators_a_and_b_agree_in_expectation():
    torch.manual_seed(1)
    model = build_model(ModelConfig(latent_dim=5, hidden=[32], activation="tanh"), (1, 8, 8))
    x = torch.rand(3, 1, 8, 8).round()
    with torch.no_grad():
        terms = model.terms(x, num_samples=100_000)
        a, b = sgvb_a(terms), sgvb_b(terms)
        # Per-sample variances for a standard error of the difference of the two means.
        per_a = terms.log_weight
        stderr = per_a.std(0) / math.sqrt(per_a.shape[0])
    assert ((a - b).abs() < 5 * stderr + 1e-3).all(), (a, b, stderr)
    assert torch.equal(elbo(terms, "A"), a) and torch.equal(elbo(terms, "B"), b)


def test_iwae_bound_with_one_sample_is_estimator_a():
    torch.manual_seed(2)
    model = build_model(ModelConfig(latent_dim=3, hidden=[16]), (10,))
    x = torch.rand(7, 10).round()
    terms = model.terms(x, num_samples=1)
    torch.testing.assert_close(iwae_bound(terms), sgvb_a(terms))


def test_beta_scales_only_the_kl_term():
    torch.manual_seed(3)
    model = build_model(ModelConfig(latent_dim=3, hidden=[16]), (10,))
    terms = model.terms(torch.rand(5, 10).round(), num_samples=4)
    rec = terms.log_likelihood.mean(0)
    torch.testing.assert_close(sgvb_b(terms, beta=4.0), rec - 4.0 * terms.kl())
    torch.testing.assert_close(sgvb_a(terms, beta=0.0), rec)


def test_bernoulli_log_likelihood_matches_scipy():
    torch.manual_seed(4)
    logits = torch.randn(5, 12) * 3
    x = torch.rand(5, 12).round()
    ours = BernoulliLikelihood((12,))(logits).log_prob(x)
    p = torch.sigmoid(logits).double().numpy()
    ref = scipy.stats.bernoulli.logpmf(x.numpy(), p).sum(-1)
    torch.testing.assert_close(ours.double(), torch.from_numpy(ref), rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("squash", [True, False])
def test_gaussian_log_likelihood_matches_scipy(squash: bool):
    torch.manual_seed(5)
    raw = torch.randn(4, 2 * 2 * 3)
    x = torch.rand(4, 2, 3)
    lik = GaussianLikelihood((2, 3), squash_mean=squash, min_variance=1e-3)
    ours = lik(raw).log_prob(x)
    mean, log_var = raw.unflatten(-1, (2, 2, 3)).unbind(1)
    mean = torch.sigmoid(mean) if squash else mean
    scale = torch.sqrt(1e-3 + log_var.exp())
    ref = scipy.stats.norm.logpdf(x.numpy(), mean.numpy(), scale.numpy()).sum((-1, -2))
    torch.testing.assert_close(ours.double(), torch.from_numpy(ref), rtol=1e-5, atol=1e-4)


def test_gaussian_variance_floor_bounds_the_density():
    lik = GaussianLikelihood((3,), squash_mean=False, min_variance=1e-2)
    raw = torch.tensor([[0.0, 0.0, 0.0, -1e4, -1e4, -1e4]])  # log σ'² → −∞
    d = lik(raw)
    assert torch.allclose(d.base_dist.scale, torch.full((1, 3), 0.1))
    assert torch.isfinite(d.log_prob(torch.zeros(1, 3))).all()


def test_reparameterized_gradient_matches_analytic():
    """∇ E_q[Σ z²] with z = μ + σε: ∂/∂μ = 2μ, ∂/∂(log σ²) = σ² (since E[z²] = μ² + σ²)."""
    torch.manual_seed(6)
    mu = torch.randn(8, requires_grad=True)
    log_var = torch.randn(8, requires_grad=True)
    q = _gaussian(mu, log_var)
    z = q.rsample((400_000,))
    (z.pow(2).sum(-1).mean()).backward()
    torch.testing.assert_close(mu.grad, 2 * mu.detach(), atol=0.03, rtol=0.02)
    torch.testing.assert_close(log_var.grad, log_var.detach().exp(), atol=0.03, rtol=0.02)


def test_posterior_sample_is_mu_plus_sigma_eps():
    mu, log_var = torch.tensor([[1.0, -2.0]]), torch.tensor([[0.0, math.log(4.0)]])
    q = _gaussian(mu, log_var)
    torch.manual_seed(7)
    z = q.rsample()
    torch.manual_seed(7)
    eps = torch.randn(1, 2)
    torch.testing.assert_close(z, mu + torch.tensor([[1.0, 2.0]]) * eps)
    assert isinstance(q, Independent) and isinstance(q.base_dist, Normal)


def test_standard_normal_prior_density_and_kl_equal_the_general_normal_formulas():
    torch.manual_seed(4)
    prior, general = StandardNormalPrior(3)(), Independent(Normal(torch.zeros(3), torch.ones(3)), 1)
    z = torch.randn(7, 5, 3) * 3
    torch.testing.assert_close(prior.log_prob(z), general.log_prob(z))
    torch.testing.assert_close(prior.log_prob(z[0, 0]), torch.tensor(scipy.stats.norm.logpdf(z[0, 0]).sum().item()))
    q = _gaussian(torch.randn(5, 3), torch.randn(5, 3))
    kl = torch.distributions.kl_divergence(q, prior)
    assert kl.shape == (5,)
    torch.testing.assert_close(kl, torch.distributions.kl_divergence(q, general))
    wide = prior.base_dist.expand((5, 3))  # N(0, 1) whatever it is built from: its loc and scale are made here
    assert type(wide).__name__ == "StandardNormal" and (wide.loc == 0).all() and (wide.scale == 1).all()
    torch.testing.assert_close(wide.log_prob(z[0]), general.base_dist.log_prob(z[0]))


def test_estimator_b_reads_no_sample_density_and_a_reads_both():
    torch.manual_seed(5)
    q, p = _gaussian(torch.randn(4, 2), torch.randn(4, 2)), StandardNormalPrior(2)()
    z, log_lik = q.rsample((1,)), torch.randn(1, 4)
    read = []

    def density(name, dist):
        return lambda: read.append(name) or dist.log_prob(z)

    terms = Terms(log_lik, density("prior", p), density("posterior", q), posterior=q, prior=p)
    sgvb_b(terms)
    assert read == []
    a = sgvb_a(terms)
    assert sorted(read) == ["posterior", "prior"]
    torch.testing.assert_close(a, (log_lik + p.log_prob(z) - q.log_prob(z)).mean(0))
    sgvb_a(terms)
    assert len(read) == 2  # computed once, then kept
    lazy = Terms.of_samples(log_lik, z, q, p)
    torch.testing.assert_close(lazy.log_weight, terms.log_weight)


def test_gaussian_likelihoods_variance_is_capped_below_float32_overflow():
    # A decoder fed an extreme z drove log σ'² past 88 (exp overflows float32): the bound became -inf mid-training
    # (a Hawks table, step 2,111). Capped at MAX_LOG_VARIANCE, the density stays finite and ordinary values unchanged.
    family = GaussianLikelihood((3,), squash_mean=False, min_variance=1e-4)
    raw = torch.tensor([[0.0, 1.0, -2.0, 0.5, 100.0, 2.0]])  # means (0, 1, -2), log σ'² (0.5, 100, 2)
    p = family(raw)
    expected = torch.sqrt(1e-4 + torch.exp(torch.tensor([0.5, MAX_LOG_VARIANCE, 2.0])))
    torch.testing.assert_close(p.base_dist.scale[0], expected)
    assert torch.isfinite(p.log_prob(torch.tensor([[0.3, 1e6, -2.0]]))).all()


def test_posterior_variance_is_kept_inside_float32():
    # An input ~170 sd out drove log σ² to -112 on scikit-learn's digits: σ² underflowed to 0 and log q was NaN.
    from aevb.posteriors import LOG_VARIANCE_RANGE, FullCovarianceGaussian

    z = torch.tensor([[0.1, -0.2]])
    q = DiagonalGaussian(2)(torch.tensor([[0.0, 0.0, -300.0, 0.3]]))
    torch.testing.assert_close(q.base_dist.scale, torch.exp(0.5 * torch.tensor([[LOG_VARIANCE_RANGE[0], 0.3]])))
    assert torch.isfinite(q.log_prob(z)).all() and q.base_dist.scale[0, 1] == math.exp(0.15)  # ordinary: unchanged
    full = FullCovarianceGaussian(2)(torch.tensor([[0.0, 0.0, -300.0, 0.1, 0.5]]))
    assert torch.isfinite(full.log_prob(z)).all() and full.scale_tril[0, 0, 0] > 0
