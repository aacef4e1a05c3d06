"""The conv arch: shapes and layout for any divisible image size, sample dims, clear errors, and it learns."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aevb import ConfigError, ModelConfig, TrainConfig, build_model, load_model
from aevb.cli import main
from aevb.models.conv import ConvDecoderNet
from aevb.runtime import module_device
from aevb.training.trainer import Trainer
from tests.conftest import toy_binary


def test_rgb_64_shapes_and_parameter_major_layout():
    torch.manual_seed(0)
    cfg = ModelConfig(arch="conv", hidden=[8, 8, 16, 16], latent_dim=6, likelihood="gaussian")
    model = build_model(cfg, (3, 64, 64))
    x = torch.rand(4, 3, 64, 64)
    q = model.encode(x)
    assert q.mean.shape == (4, 6)
    z = torch.randn(5, 4, 6)  # [S, B, Dz]
    p = model.decode(z)
    assert p.mean.shape == (5, 4, 3, 64, 64) and p.log_prob(x).shape == (5, 4)
    # The flat output is [n_params·C, H, W] flattened: channels 0..2 are the mean, 3..5 the log-variance.
    net: ConvDecoderNet = model.decoder.net
    maps = net.deconvs(net.inp(z[0]).reshape(-1, 16, 4, 4))
    assert maps.shape == (4, 6, 64, 64)
    torch.testing.assert_close(p.mean[0], torch.sigmoid(maps[:, :3]))
    assert model.elbo(x, num_samples=2).shape == (4,)


def test_sample_dims_are_independent_of_each_other():
    torch.manual_seed(0)
    model = build_model(ModelConfig(arch="conv", hidden=[4, 8], latent_dim=3), (1, 28, 28))
    z = torch.randn(3, 2, 3)
    joint = model.decode(z).mean
    for s in range(3):
        torch.testing.assert_close(joint[s], model.decode(z[s]).mean)
    x = torch.rand(3, 2, 1, 28, 28)  # the encoder folds leading dims too
    torch.testing.assert_close(model.encoder.net(x)[1], model.encoder.net(x[1]))


def test_conditional_context_changes_the_output():
    from aevb.models.conv import ConvArch

    torch.manual_seed(0)
    net = ConvArch.decoder_net(3, 16, [4], "relu", context_dim=2, event_shape=(1, 4, 4))
    z = torch.randn(5, 3)
    a, b = net(z, torch.tensor([[1.0, 0.0]]).expand(5, 2)), net(z, torch.tensor([[0.0, 1.0]]).expand(5, 2))
    assert a.shape == (5, 16) and not torch.allclose(a, b)
    enc = ConvArch.encoder_net((1, 4, 4), 6, [4], "relu", context_dim=2)
    assert enc(torch.rand(5, 1, 4, 4), torch.eye(2)[[0, 1, 0, 1, 0]]).shape == (5, 6)


@pytest.mark.parametrize("shape", [(1, 30, 28), (3, 28, 30)])
def test_indivisible_size_is_a_clear_error(shape):
    with pytest.raises(ConfigError, match=r"not divisible by .* total stride 4") as err:
        build_model(ModelConfig(arch="conv", hidden=[8, 8]), shape)
    assert f"{shape[1]}×{shape[2]}" in str(err.value)


def test_flat_data_is_refused():
    with pytest.raises(ConfigError, match="needs image data"):
        build_model(ModelConfig(arch="conv", hidden=[8]), (784,))


def test_conv_vae_learns_and_round_trips(tmp_path):
    torch.manual_seed(0)
    data = toy_binary(256, side=8)
    model = build_model(ModelConfig(arch="conv", hidden=[8, 16], latent_dim=4), data.event_shape)
    cfg = TrainConfig(epochs=6, batch_size=32, lr=3e-3, progress=False, eval_every=3)
    result = Trainer(model, data, cfg, test=toy_binary(64, side=8, seed=1), run_dir=tmp_path).fit()
    bounds = [r["train_bound"] for r in result.history]
    assert bounds[-1] > bounds[0] + 5, bounds
    # Compared on the trained model's device (CUDA where there is one): CPU against GPU convolutions (TF32 in cuDNN)
    # differ by ~1e-4, which says nothing about the round trip.
    loaded = load_model(tmp_path).to(module_device(model))
    x = data.x[:8]
    torch.testing.assert_close(loaded.reconstruct(x), model.eval().reconstruct(x))


def test_cli_trains_a_conv_vae(tmp_path):
    x = toy_binary(128, side=8).x.numpy().astype(np.float32)
    np.save(tmp_path / "toy.npy", x)
    args = "--arch conv --hidden 4,8 --latent-dim 2 --epochs 1 --batch-size 64 --eval-every 0 --progress false"
    rc = main(["train", "--dataset", str(tmp_path / "toy.npy"), *args.split(), "--out", str(tmp_path / "r")])
    assert rc == 0 and (tmp_path / "r" / "model.safetensors").exists()
    assert load_model(tmp_path / "r").decoder.net.__class__ is ConvDecoderNet
