"""Marginal likelihood estimators against a closed form, and against each other; active units and KL per dim.

The linear-Gaussian model x = W z + b + σ ε, z ~ N(0, I) (probabilistic PCA) has p(x) = N(b, W Wᵀ + σ² I) and the
Gaussian posterior p(z|x) = N(Λ⁻¹ Wᵀ(x − b)/σ², Λ⁻¹), Λ = I + Wᵀ W/σ², so every estimate can be checked exactly. It
is built from the library's own parts: linear MLPNets (no hidden layer), the Gaussian likelihood with a fixed
variance, the diagonal or full-covariance posterior family, the standard normal prior, composed in a VAE.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from torch.distributions import MultivariateNormal

from aevb import ModelConfig, build_model, evaluate
from aevb.cli import main
from aevb.config import TrainConfig
from aevb.evaluation import log_likelihood
from aevb.inference.marginal import NLL_ESTIMATORS, fit_gaussian, hmc_log_likelihood
from aevb.likelihoods import Decoder, GaussianLikelihood
from aevb.models import VAE
from aevb.nets import MLPNet
from aevb.posteriors import POSTERIORS, Encoder
from aevb.priors import StandardNormalPrior
from aevb.training.trainer import Trainer
from tests.conftest import toy_binary

DX, DZ, SIGMA = 6, 2, 0.5


def _linear(in_dim: int, weight: torch.Tensor, bias: torch.Tensor) -> MLPNet:
    net = MLPNet((in_dim,), [], weight.shape[0], "tanh")  # no hidden layer: one nn.Linear
    with torch.no_grad():
        net.net[0].weight.copy_(weight)
        net.net[0].bias.copy_(bias)
    return net


def linear_gaussian(posterior: str, var_scale: float = 1.0, seed: int = 0):
    """A VAE whose decoder is x = Wz + b + σε and whose encoder is the exact posterior (``posterior="full"``) or its
    diagonal with the variances scaled by ``var_scale`` (``"diagonal"``). Returns (model, exact p(x))."""
    g = torch.Generator().manual_seed(seed)
    w, b = torch.randn(DX, DZ, generator=g), 0.5 * torch.randn(DX, generator=g)
    likelihood = GaussianLikelihood((DX,), squash_mean=False)
    # The family reads (mean, log σ'²) with σ² = min_variance + exp(log σ'²): a fixed σ² is a bias.
    dec_w = torch.cat([w, torch.zeros(DX, DZ)])
    dec_b = torch.cat([b, torch.full((DX,), math.log(SIGMA**2 - likelihood.min_variance))])
    decoder = Decoder(_linear(DZ, dec_w, dec_b), likelihood)

    cov = torch.linalg.inv(torch.eye(DZ) + w.T @ w / SIGMA**2)  # Λ⁻¹
    a = cov @ w.T / SIGMA**2  # posterior mean = A (x − b)
    family = POSTERIORS.get(posterior)(DZ)
    if posterior == "full":
        chol = torch.linalg.cholesky(cov)
        rows, cols = torch.tril_indices(DZ, DZ, offset=-1)
        consts = torch.cat([-a @ b, chol.diagonal().log(), chol[rows, cols]])
    else:
        consts = torch.cat([-a @ b, (var_scale * cov.diagonal()).log()])
    enc_w = torch.cat([a, torch.zeros(consts.shape[0] - DZ, DX)])
    encoder = Encoder(_linear(DX, enc_w, consts), family)
    model = VAE(encoder, decoder, StandardNormalPrior(DZ), (DX,)).eval()
    exact = MultivariateNormal(b, covariance_matrix=w @ w.T + SIGMA**2 * torch.eye(DX))
    return model, exact


def test_is_with_the_exact_posterior_is_exact():
    torch.manual_seed(0)
    model, exact = linear_gaussian("full")
    x = exact.sample((50,))
    # With q = p(z|x) every importance weight equals p(x): the estimate is exact for any K.
    torch.testing.assert_close(log_likelihood(model, x, 3), exact.log_prob(x), atol=1e-4, rtol=0)


def test_is_estimate_within_005_nats_and_increasing_in_k():
    torch.manual_seed(1)
    model, exact = linear_gaussian("diagonal", var_scale=3.0)  # a proposal wider than the posterior, uncorrelated
    x = exact.sample((100,))
    truth = exact.log_prob(x)
    l1, l50, l5000 = (log_likelihood(model, x, k) for k in (1, 50, 5000))
    assert (l5000 - truth).abs().max() < 0.05, (l5000 - truth).abs().max()
    # E[L_k] increases with k (Burda et al. Thm 1); averaged over 100 points the gaps dwarf the noise.
    assert l1.mean() < l50.mean() - 0.2 and l50.mean() <= l5000.mean() + 0.01
    assert float((truth - l1).mean()) > 0.5  # the proposal is inexact, so the test above is not vacuous


def test_hmc_estimator_matches_the_exact_marginal():
    torch.manual_seed(2)
    model, exact = linear_gaussian("diagonal", var_scale=1.5)
    x = exact.sample((40,))
    est = hmc_log_likelihood(model, x, num_samples=50)
    err = est - exact.log_prob(x)
    assert err.abs().mean() < 0.15 and err.mean().abs() < 0.06, err


def test_fit_gaussian_recovers_moments():
    torch.manual_seed(3)
    target = MultivariateNormal(torch.tensor([1.0, -1.0]), covariance_matrix=torch.tensor([[2.0, 0.5], [0.5, 1.0]]))
    q = fit_gaussian(target.sample((20000, 1)))
    torch.testing.assert_close(q.mean[0].float(), target.mean, atol=0.05, rtol=0)
    torch.testing.assert_close(q.covariance_matrix[0].float(), target.covariance_matrix, atol=0.08, rtol=0)


@pytest.fixture(scope="module")
def trained_toy():
    """A small VAE (Nz = 2) trained briefly on toy binary images, and held-out points."""
    torch.manual_seed(0)
    data = toy_binary(256)
    model = build_model(ModelConfig(latent_dim=2, hidden=[32], activation="tanh"), data.event_shape)
    config = TrainConfig(epochs=15, batch_size=32, lr=3e-3, progress=False, eval_every=0, terms_points=0)
    config.picture_epochs = []
    Trainer(model, data, config).fit()
    return model.eval(), toy_binary(60, seed=1).x


def test_hmc_and_is_agree_on_a_trained_model(trained_toy):
    model, x = trained_toy
    torch.manual_seed(4)
    is_est = log_likelihood(model, x, 5000)
    hmc_est = hmc_log_likelihood(model, x, num_samples=50)
    # Each within the other's standard error over datapoints, and per datapoint the paired difference is small.
    stderr = math.hypot(is_est.std() / math.sqrt(len(x)), hmc_est.std() / math.sqrt(len(x)))
    assert abs(float(is_est.mean() - hmc_est.mean())) < stderr, (is_est.mean(), hmc_est.mean(), stderr)
    diff = hmc_est - is_est
    assert diff.mean().abs() < 3 * diff.std() / math.sqrt(len(x)) + 0.02, diff


def test_evaluate_reports_the_chosen_estimator(trained_toy):
    model, x = trained_toy
    ev = evaluate(model, x, nll_samples=30, nll_estimator="hmc")
    assert ev.nll_estimator == "hmc" and ev.nll > 0 and -ev.nll > ev.elbo - 3 * ev.nll_stderr
    assert set(NLL_ESTIMATORS) == {"hmc", "is"}


def test_active_units_and_kl_per_dim():
    torch.manual_seed(5)
    model, exact = linear_gaussian("diagonal")
    x = exact.sample((500,))
    ev = evaluate(model, x)
    assert ev.active_units == DZ and all(a > 0.01 for a in ev.activity)
    # KL per dimension sums to the analytic KL(q(z|x) ‖ p(z)), averaged over x.
    analytic = model.terms(x).kl().mean().detach()
    assert len(ev.kl_per_dim) == DZ
    assert sum(ev.kl_per_dim) == pytest.approx(float(analytic), rel=1e-5)

    with torch.no_grad():  # an encoder that ignores x in dimension 1: that unit collapses to inactive
        model.encoder.net.net[0].weight[1].zero_()
    ev = evaluate(model, x)
    assert ev.active_units == DZ - 1 and ev.activity[1] == 0.0 and ev.activity[0] > 0.01


def test_full_covariance_posterior_has_active_units_but_no_kl_per_dim():
    model, exact = linear_gaussian("full")
    ev = evaluate(model, exact.sample((200,)))
    assert ev.active_units == DZ and ev.kl_per_dim is None


def test_cli_evaluate_with_hmc_estimator_prints_json(tmp_path, capsys):
    path = tmp_path / "toy.npy"
    np.save(path, toy_binary(200).x.numpy())
    run = tmp_path / "run"
    argv = ["train", "--dataset", str(path), "--hidden", "16", "--latent-dim", "2", "--epochs", "1"]
    assert main([*argv, "--progress", "false", "--picture-epochs", "", "--out", str(run)]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(run), "--nll-estimator", "hmc", "--nll-samples", "10", "--limit", "8", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["nll_estimator"] == "hmc" and out["n"] == 8 and out["nll"] > 0
    assert out["active_units"] is not None and len(out["kl_per_dim"]) == 2
    assert main(["evaluate", str(run), "--nll-estimator", "bogus"]) == 2
    assert "bogus" in capsys.readouterr().err
