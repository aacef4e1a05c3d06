"""The deep VAE (several stochastic layers) and the ordering of the importance-weighted bounds."""

from __future__ import annotations

import math

import pytest
import torch

from aevb import ConfigError, ModelConfig, TrainConfig, build_model, load_model, save_model
from aevb.cli import _config_from_args, build_parser
from aevb.estimators import elbo, iwae_bound
from aevb.evaluation import evaluate, log_likelihood
from aevb.models import DeepVAE
from aevb.training.trainer import Trainer
from tests.conftest import toy_binary
from tests.sum_to_one import total_probability

SHAPE = (1, 6, 6)
DEEP = ModelConfig(model="deep-vae", latent_dims=[4, 2], hidden=[32], upper_hidden=[16], activation="tanh")


def _train(model, epochs: int = 15, objective: str = "elbo", samples: int = 1, estimator: str = "B"):
    cfg = TrainConfig(
        epochs=epochs, batch_size=32, lr=3e-3, samples=samples, objective=objective, estimator=estimator, seed=0
    )
    cfg.progress, cfg.eval_every = False, 0
    return Trainer(model, toy_binary(256), cfg).fit()


def test_one_layer_deep_vae_is_the_vae():
    cfg = dict(latent_dim=4, hidden=[32, 16], activation="tanh")
    torch.manual_seed(0)
    vae = build_model(ModelConfig(**cfg), SHAPE)
    deep = build_model(ModelConfig(model="deep-vae", **cfg), SHAPE)
    # Same parts, so the VAE's weights load into the one-layer deep VAE under its names.
    deep.load_state_dict({k.replace("encoder.", "encoders.0.", 1): v for k, v in vae.state_dict().items()})
    x = toy_binary(16).x
    torch.manual_seed(1)
    t_vae = vae.terms(x, 5)
    torch.manual_seed(1)
    t_deep = deep.terms(x, 5)
    torch.testing.assert_close(t_deep.log_weight, t_vae.log_weight)
    for est in ("A", "B"):
        torch.testing.assert_close(elbo(t_deep, est), elbo(t_vae, est))


@pytest.mark.parametrize("dims", [[2, 2], [2, 2, 1]])
def test_marginals_of_a_deep_vae_sum_to_one(dims):
    """Σ_x p̂(x) = 1 needs every layer's log p(h^l|h^{l+1}) and log q(h^l|h^{l−1}) in the weight exactly once."""
    torch.manual_seed(0)
    model = build_model(ModelConfig(model="deep-vae", latent_dims=dims, hidden=[8], upper_hidden=[8]), (3,))
    assert abs(total_probability(model, 3, 50_000) - 1) < 0.05


def test_two_layers_have_no_analytic_kl_but_every_other_bound():
    torch.manual_seed(0)
    model = build_model(DEEP, SHAPE)
    assert isinstance(model, DeepVAE) and model.num_layers == 2
    x = toy_binary(8).x
    terms = model.terms(x, 3)
    assert terms.log_weight.shape == (3, 8)
    with pytest.raises(ConfigError, match="estimator A"):
        elbo(terms, "B")
    assert elbo(terms, "A").shape == iwae_bound(terms).shape == (8,)
    assert log_likelihood(model, x, 20).shape == (8,)
    assert model.sample(5).shape == (5, *SHAPE)
    assert model.reconstruct(x).shape == x.shape
    assert model.encode(x).mean.shape == (8, 4)


def test_save_load_round_trip(tmp_path):
    torch.manual_seed(0)
    model = build_model(DEEP, SHAPE)
    save_model(model, tmp_path)
    loaded = load_model(tmp_path)
    assert isinstance(loaded, DeepVAE) and loaded.config.latent_dims == [4, 2]
    x = toy_binary(8).x
    torch.manual_seed(3)
    a = model.terms(x, 4).log_weight
    torch.manual_seed(3)
    b = loaded.terms(x, 4).log_weight
    torch.testing.assert_close(a, b)


def test_iwae_preset_is_the_papers_architecture():
    args = build_parser().parse_args(["train", "--preset", "iwae-2layer", "--out", "x", "--epochs", "1"])
    config = _config_from_args(args, __import__("aevb.presets").presets.preset("iwae-2layer"))
    assert config.train.objective == "iwae" and config.train.samples == 50 and config.train.epochs == 1
    model = build_model(config.model, (1, 28, 28))
    linear = lambda m: [(l.in_features, l.out_features) for l in m.modules() if isinstance(l, torch.nn.Linear)]  # noqa: E731
    assert linear(model.encoders[0]) == [(784, 200), (200, 200), (200, 200)]  # → μ, log σ² of h¹ (100)
    assert linear(model.encoders[1]) == [(100, 100), (100, 100), (100, 100)]  # → μ, log σ² of h² (50)
    assert linear(model.conditionals[0]) == [(50, 100), (100, 100), (100, 200)]  # p(h¹|h²)
    assert linear(model.decoder) == [(100, 200), (200, 200), (200, 784)]  # p(x|h¹)
    assert isinstance(model.encoders[0].net.net[1], torch.nn.Tanh)
    with pytest.raises(ConfigError, match="unknown preset"):
        __import__("aevb.presets").presets.preset("nope")


def _bounds(model, x: torch.Tensor, repeats: int = 20) -> dict[str, float]:
    """L_k averaged over datapoints and ``repeats`` independent draws, and log p̂(x) with K = 2000."""
    out = {}
    with torch.no_grad():
        torch.manual_seed(0)
        for k in (1, 5, 50):
            out[f"L{k}"] = float(torch.stack([iwae_bound(model.terms(x, k)) for _ in range(repeats)]).mean())
        out["logp"] = float(log_likelihood(model, x, 2000).mean())
    return out


@pytest.mark.parametrize(
    "config",
    [ModelConfig(latent_dim=4, hidden=[32], activation="tanh"), DEEP],
    ids=["vae", "deep-vae"],
)
def test_bounds_are_ordered_on_a_trained_model(config):
    """Burda et al. (2015), Thm. 1: L_1 ≤ L_5 ≤ L_50 ≤ log p(x) in expectation (strictly, off the true posterior)."""
    torch.manual_seed(0)
    model = build_model(config, SHAPE)
    _train(model, estimator="A" if config.model == "deep-vae" else "B")
    b = _bounds(model.eval(), toy_binary(128, seed=1).x)
    assert b["L1"] < b["L5"] < b["L50"] < b["logp"] + 0.05, b
    assert b["logp"] - b["L1"] > 0.1, b  # a real gap: q is not the exact posterior


def test_deep_vae_trains_with_elbo_and_iwae():
    for objective, samples in (("elbo", 1), ("iwae", 5)):
        torch.manual_seed(0)
        model = build_model(DEEP, SHAPE)
        before = evaluate(model, toy_binary(64, seed=1).x, elbo_samples=10).elbo
        _train(model, epochs=6, objective=objective, samples=samples, estimator="A")
        after = evaluate(model, toy_binary(64, seed=1).x, elbo_samples=10).elbo
        assert math.isfinite(after) and after > before + 5, (objective, before, after)
