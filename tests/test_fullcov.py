"""The full-covariance Gaussian posterior: its density, its reparameterization and its analytic KL."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats
import torch
from torch.distributions import Independent, MultivariateNormal, Normal, kl_divergence

from aevb import ConfigError, ModelConfig, TrainConfig, build_model
from aevb.estimators import Terms, elbo
from aevb.evaluation import log_likelihood
from aevb.posteriors import DiagonalGaussian, FullCovarianceGaussian
from aevb.priors import StandardNormalPrior
from aevb.training.trainer import Trainer
from tests.conftest import toy_binary
from tests.sum_to_one import total_probability

D = 4


def _raw(batch: int = 3, seed: int = 0) -> torch.Tensor:
    return torch.randn(batch, FullCovarianceGaussian.n_params(D), generator=torch.Generator().manual_seed(seed))


def _tril_by_hand(raw: np.ndarray) -> np.ndarray:
    """L = L_mask ⊙ L′ + diag(σ), filling the strictly lower triangle row by row, written with loops."""
    d = D
    log_sigma, lower = raw[d : 2 * d], raw[2 * d :]
    tril = np.zeros((d, d))
    k = 0
    for i in range(d):
        for j in range(i):
            tril[i, j] = lower[k]
            k += 1
        tril[i, i] = math.exp(log_sigma[i])
    return tril


def test_n_params():
    assert [FullCovarianceGaussian.n_params(d) for d in (1, 2, 3, 20)] == [2, 5, 9, 230]


def test_density_matches_an_independent_multivariate_normal():
    raw = _raw()
    q = FullCovarianceGaussian(D)(raw)
    z = torch.randn(5, 3, D, generator=torch.Generator().manual_seed(1))
    got = q.log_prob(z)
    for b in range(3):
        r = raw[b].double().numpy()
        tril = _tril_by_hand(r)
        np.testing.assert_allclose(q.scale_tril[b].double().numpy(), tril, rtol=1e-6, atol=1e-6)
        ref = scipy.stats.multivariate_normal(mean=r[:D], cov=tril @ tril.T).logpdf(z[:, b].double().numpy())
        np.testing.assert_allclose(got[:, b].double().numpy(), ref, rtol=1e-5, atol=1e-4)
        mvn = MultivariateNormal(torch.from_numpy(r[:D]), scale_tril=torch.from_numpy(tril))
        torch.testing.assert_close(got[:, b].double(), mvn.log_prob(z[:, b].double()), rtol=1e-5, atol=1e-4)


def test_reparameterization_and_epsilon_formula():
    """z = μ + L ε and log q(z) = log N(ε; 0, I) − Σ log |L_ii|."""
    q = FullCovarianceGaussian(D)(_raw())
    torch.manual_seed(7)
    z = q.rsample((6,))
    torch.manual_seed(7)
    eps = torch.randn(6, 3, D)
    torch.testing.assert_close(z, q.loc + (q.scale_tril @ eps.unsqueeze(-1)).squeeze(-1))
    log_eps = Independent(Normal(0.0, torch.ones(D)), 1).log_prob(eps)
    log_det = q.scale_tril.diagonal(dim1=-2, dim2=-1).abs().log().sum(-1)
    torch.testing.assert_close(q.log_prob(z), log_eps - log_det, rtol=1e-5, atol=1e-4)


def test_gradients_reach_every_parameter():
    raw = _raw().requires_grad_()
    q = FullCovarianceGaussian(D)(raw)
    z = q.rsample((4,))
    # log q(z(ε)) alone does not depend on μ or L′ (it is log N(ε) − Σ log σ_i); the prior term does.
    (StandardNormalPrior(D)().log_prob(z) - q.log_prob(z)).sum().backward()
    assert (raw.grad.abs() > 0).all()


def test_analytic_kl_closed_form_and_monte_carlo():
    torch.manual_seed(0)
    q = FullCovarianceGaussian(D)(_raw(seed=3))
    p = StandardNormalPrior(D)()
    kl = Terms(*(torch.zeros(1, 3),) * 3, posterior=q, prior=p).kl()
    tril, mu = q.scale_tril, q.loc
    closed = 0.5 * ((tril**2).sum((-1, -2)) + (mu**2).sum(-1) - D - 2 * tril.diagonal(dim1=-2, dim2=-1).log().sum(-1))
    torch.testing.assert_close(kl, closed, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(kl, kl_divergence(q, MultivariateNormal(torch.zeros(D), torch.eye(D))))
    z = q.sample((200_000,))
    mc = q.log_prob(z) - p.log_prob(z)
    stderr = mc.std(0) / math.sqrt(mc.shape[0])
    assert ((mc.mean(0) - kl).abs() < 5 * stderr).all(), (mc.mean(0), kl)


def test_analytic_kl_to_a_non_standard_diagonal_prior():
    q = FullCovarianceGaussian(D)(_raw(seed=4))
    loc, scale = torch.randn(D), torch.rand(D) + 0.5
    p = Independent(Normal(loc, scale), 1)
    ref = kl_divergence(q, MultivariateNormal(loc, scale_tril=torch.diag(scale)))
    torch.testing.assert_close(kl_divergence(q, p), ref, rtol=1e-5, atol=1e-5)


def test_zero_off_diagonal_is_the_diagonal_posterior():
    raw = _raw()
    raw[:, 2 * D :] = 0
    full = FullCovarianceGaussian(D)(raw)
    diag = DiagonalGaussian(D)(torch.cat([raw[:, :D], 2 * raw[:, D : 2 * D]], -1))  # log σ² = 2 log σ
    z = torch.randn(5, 3, D)
    torch.testing.assert_close(full.log_prob(z), diag.log_prob(z))
    p = StandardNormalPrior(D)()
    torch.testing.assert_close(kl_divergence(full, p), kl_divergence(diag, p))


def test_marginals_of_a_full_covariance_vae_sum_to_one():
    torch.manual_seed(0)
    model = build_model(ModelConfig(latent_dim=3, hidden=[8], posterior="full"), (3,))
    assert abs(total_probability(model, 3, 20_000) - 1) < 0.03


@pytest.mark.parametrize(
    ("likelihood", "objective", "estimator"),
    [("bernoulli", "elbo", "B"), ("gaussian", "elbo", "B"), ("bernoulli", "iwae", "A"), ("gaussian", "iwae", "A")],
)
def test_trains_with_every_likelihood_and_iwae(likelihood, objective, estimator):
    torch.manual_seed(0)
    data, test = toy_binary(256), toy_binary(128, seed=1)
    model = build_model(ModelConfig(latent_dim=3, hidden=[32], posterior="full", likelihood=likelihood), (1, 6, 6))
    torch.manual_seed(1)
    before = float(log_likelihood(model, test.x, 50).mean())
    cfg = TrainConfig(epochs=6, batch_size=32, lr=3e-3, samples=3, objective=objective, estimator=estimator)
    cfg.progress, cfg.eval_every = False, 0
    Trainer(model, data, cfg).fit()
    torch.manual_seed(1)
    after = float(log_likelihood(model, test.x, 50).mean())
    assert math.isfinite(after) and after > before + 5, (before, after)


def test_estimator_b_works_for_full_covariance():
    torch.manual_seed(0)
    model = build_model(ModelConfig(latent_dim=3, hidden=[8], posterior="full"), (1, 6, 6))
    terms = model.terms(toy_binary(8).x, 2)
    assert elbo(terms, "B").shape == (8,)
    with pytest.raises(ConfigError, match="free bits"):
        elbo(terms, "B", free_bits=0.1)
