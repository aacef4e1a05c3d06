"""Initialization and optimizer settings: Glorot weights, the data-mean output bias, Adam's β and ε."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from aevb import ConfigError, ModelConfig, TrainConfig, build_model, load_model
from aevb.config import Config
from aevb.presets import preset
from aevb.runs import load_data, train_from_config
from aevb.training.components import check_names
from aevb.training.trainer import Trainer
from tests.conftest import toy_binary


def _linears(model: nn.Module) -> list[nn.Linear]:
    return [m for m in model.modules() if isinstance(m, nn.Linear)]


@pytest.mark.parametrize("model", ["vae", "deep-vae", "cvae"])
def test_glorot_init_draws_uniform_weights_in_the_glorot_range_and_zero_biases(model):
    torch.manual_seed(0)
    config = ModelConfig(model=model, latent_dim=8, hidden=[300, 200], activation="tanh", init="glorot")
    for layer in _linears(build_model(config, (1, 28, 28))):
        bound = math.sqrt(6 / (layer.in_features + layer.out_features))
        w = layer.weight
        assert w.abs().max() <= bound
        # U(−a, a) has standard deviation a/√3; PyTorch's default (a = 1/√fan_in) is far from it for these shapes.
        assert w.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.05)
        assert torch.all(layer.bias == 0)


def test_pytorch_default_init_is_not_glorot():
    torch.manual_seed(0)
    first = _linears(build_model(ModelConfig(hidden=[200]), (784,)))[0]
    assert first.weight.std().item() < 0.6 * math.sqrt(6 / (784 + 200)) / math.sqrt(3)
    assert first.bias.abs().sum() > 0


def test_init_choices_are_checked():
    with pytest.raises(ConfigError, match="init = 'xavier' is not allowed; choose one of: pytorch, glorot"):
        check_names(Config(ModelConfig(init="xavier")))
    with pytest.raises(ConfigError, match="both choose the initialization"):
        ModelConfig(init="glorot", init_std=0.01).validate()
    with pytest.raises(ConfigError, match="Bernoulli MLP decoder"):
        ModelConfig(likelihood="gaussian", data_bias=True).validate()


def test_data_bias_starts_the_decoder_at_the_pixel_marginals(tmp_path):
    data = toy_binary(n=200, side=6)
    np.save(tmp_path / "toy.npy", data.x.numpy())
    config = Config(
        model=ModelConfig(latent_dim=2, hidden=[16], init="glorot", data_bias=True),
        train=TrainConfig(
            dataset=str(tmp_path / "toy.npy"),
            epochs=1,
            batch_size=50,
            lr=1e-12,
            eval_every=0,
            picture_epochs=[],
            terms_points=0,
            progress=False,
            out=str(tmp_path / "run"),
        ),
    )
    train_from_config(config)
    model = load_model(tmp_path / "run")
    train = load_data(config.train, "train")  # the file's training split
    assert len(train) < len(data)
    mean = train.x.float().mean(0).flatten().clamp(1e-3, 1 - 1e-3)
    torch.testing.assert_close(model.decoder.net.net[-1].bias, torch.logit(mean), atol=1e-6, rtol=0)
    # With the last layer's weights removed, every z decodes to exactly the data's pixel means.
    with torch.no_grad():
        model.decoder.net.net[-1].weight.zero_()
        p_x = model.decode(torch.randn(3, 2))
    torch.testing.assert_close(p_x.mean.flatten(1), mean.expand(3, -1), atol=1e-6, rtol=1e-6)


def test_adam_betas_and_eps_reach_the_optimizer():
    model = build_model(ModelConfig(latent_dim=2, hidden=[8]), (1, 6, 6))
    trainer = Trainer(model, toy_binary(n=40), TrainConfig(betas=[0.99, 0.999], eps=5e-6, progress=False))
    (group,) = trainer.optimizer.param_groups
    assert group["betas"] == (0.99, 0.999) and group["eps"] == 5e-6
    with pytest.raises(ConfigError, match="betas and eps are Adam's settings"):
        TrainConfig(optimizer="sgd", eps=1e-4).validate()
    with pytest.raises(ConfigError, match=r"betas must be two numbers in \[0, 1\)"):
        TrainConfig(betas=[0.9, 1.0]).validate()


@pytest.mark.parametrize("name", ["vae-iwae-schedule", "iwae-1layer", "iwae-2layer"])
def test_iwae_presets_use_burda_et_al_code_settings(name):
    config = Config.from_dict(preset(name)).validate()
    assert (config.model.init, config.model.data_bias) == ("glorot", True)
    # ε = 1e-4 on the gradient of a sum over 20 datapoints is 5e-6 on the gradient of their mean.
    assert config.train.betas == [0.99, 0.999] and config.train.eps == pytest.approx(1e-4 / config.train.batch_size)
