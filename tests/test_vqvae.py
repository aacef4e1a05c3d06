"""VQ-VAE: nearest-code assignment, straight-through gradients, EMA updates, dead-code restart, a causal and
normalized PixelCNN prior, training end to end, saving/loading and the CLI."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
import torch

from aevb import ConfigError, ModelConfig, TrainConfig, build_model, load_model
from aevb.cli import main
from aevb.config import Config
from aevb.models.pixelcnn import GatedPixelCNN
from aevb.models.quantizer import VectorQuantizer
from aevb.runtime import module_device
from aevb.training.trainer import Trainer
from tests.conftest import toy_binary

SMALL = dict(model="vqvae", hidden=[8, 16], codebook_size=16, code_dim=4, prior_channels=16, prior_layers=3)


def test_nearest_code_and_losses_match_brute_force():
    torch.manual_seed(0)
    vq = VectorQuantizer(10, 3, dead_threshold=0).eval()
    z_e = torch.randn(2, 3, 4, 5)
    out = vq(z_e)
    flat = z_e.permute(0, 2, 3, 1).reshape(-1, 3)
    expected = torch.cdist(flat, vq.codebook.detach()).argmin(1).view(2, 4, 5)
    assert torch.equal(out.indices, expected)
    e = vq.codebook.detach()[expected].permute(0, 3, 1, 2)
    torch.testing.assert_close(out.z_q, e)
    torch.testing.assert_close(out.commitment_loss, (z_e - e).pow(2).sum((1, 2, 3)))
    torch.testing.assert_close(out.codebook_loss, (z_e - e).pow(2).sum((1, 2, 3)))


def test_straight_through_and_loss_gradients_go_where_eq3_says():
    torch.manual_seed(0)
    vq = VectorQuantizer(6, 2, dead_threshold=0).eval()
    z_e = torch.randn(3, 2, 2, 2, requires_grad=True)
    g = torch.randn(3, 2, 2, 2)
    out = vq(z_e)
    (gz,) = torch.autograd.grad((out.z_q * g).sum(), z_e, retain_graph=True)
    torch.testing.assert_close(gz, g)  # the decoder's gradient is copied to z_e unchanged
    # ‖sg[z_e] − e‖² moves only the codebook; ‖z_e − sg[e]‖² only the encoder output.
    gz, gc = torch.autograd.grad(out.codebook_loss.sum(), [z_e, vq.codebook], allow_unused=True, retain_graph=True)
    assert gz is None and gc.abs().sum() > 0
    gz, gc = torch.autograd.grad(out.commitment_loss.sum(), [z_e, vq.codebook], allow_unused=True)
    assert gc is None and gz.abs().sum() > 0


def test_perplexity_counts_the_codes_in_use():
    vq = VectorQuantizer(4, 2, dead_threshold=0).eval()
    with torch.no_grad():
        vq.codebook.copy_(torch.tensor([[0.0, 0], [10, 0], [0, 10], [10, 10]]))
    z_all = vq.codebook.detach().t().reshape(1, 2, 2, 2)  # each code once
    out = vq(z_all)
    assert out.perplexity.item() == pytest.approx(4.0) and out.usage.item() == 1.0
    out = vq(torch.zeros(1, 2, 2, 2))  # all positions on code 0
    assert out.perplexity.item() == pytest.approx(1.0) and out.usage.item() == 0.25


def test_ema_update_matches_the_closed_form():
    gamma, eps = 0.9, 1e-5
    vq = VectorQuantizer(2, 1, ema=True, decay=gamma, dead_threshold=0, eps=eps).train()
    with torch.no_grad():
        vq.codebook.copy_(torch.tensor([[0.0], [5.0]]))
        vq.ema_sum.copy_(vq.codebook)  # N_i = 1 initially, so m_i = e_i
    z = torch.tensor([0.2, 0.4, 4.0]).view(1, 1, 1, 3)  # two points on code 0, one on code 1
    vq(z)
    count = torch.tensor([gamma + (1 - gamma) * 2, gamma + (1 - gamma) * 1])
    total = torch.tensor([gamma * 0 + (1 - gamma) * 0.6, gamma * 5 + (1 - gamma) * 4.0])
    n = count.sum()
    smoothed = (count + eps) / (n + 2 * eps) * n
    torch.testing.assert_close(vq.codebook.squeeze(1), total / smoothed)
    assert not vq.codebook.requires_grad


def test_dead_codes_restart_at_encoder_outputs():
    torch.manual_seed(0)
    vq = VectorQuantizer(8, 2, dead_threshold=1.0).train()
    z = torch.randn(4, 2, 3, 3)
    with torch.no_grad():
        vq.codebook.fill_(100.0)  # far from every encoder output: all codes are dead
    out = vq(z)
    assert out.restarted == 8
    flat = z.permute(0, 2, 3, 1).reshape(-1, 2)
    for code in vq.codebook.detach():
        assert (flat - code).abs().sum(1).min() < 1e-6  # each new code is one of the encoder outputs
    # Codes in use are not restarted; dead_threshold = 0 turns restarts off.
    assert vq(z).restarted == 0
    off = VectorQuantizer(8, 2, dead_threshold=0).train()
    assert off(z).restarted == 0


def test_pixelcnn_is_causal_in_raster_order():
    torch.manual_seed(0)
    net = GatedPixelCNN(5, dim=8, layers=3).eval()
    k = torch.randint(0, 5, (1, 4, 4))
    base = net(k)
    for p in range(16):
        changed = k.clone()
        changed.view(-1)[p] = (changed.view(-1)[p] + 1) % 5
        diff = (net(changed) - base).abs().amax(1).view(-1)  # per position
        assert torch.all(diff[: p + 1] == 0), f"position {p} leaks into positions <= {p}"
        if p < 15:
            assert diff[p + 1] > 0, f"position {p + 1} does not see its left neighbour"


def test_pixelcnn_is_a_normalized_distribution():
    torch.manual_seed(0)
    net = GatedPixelCNN(3, dim=8, layers=2).eval()
    grids = torch.tensor(list(itertools.product(range(3), repeat=4))).view(-1, 2, 2)  # all 81 grids of 2×2
    with torch.no_grad():
        total = torch.logsumexp(net.log_prob(grids), 0)
    assert total.item() == pytest.approx(0.0, abs=1e-5)
    assert net.sample(7, (2, 2)).shape == (7, 2, 2)


def _fit(tmp_path=None, prior_epochs=3, **model):
    torch.manual_seed(0)
    data = toy_binary(256, side=8)
    m = build_model(ModelConfig(**{**SMALL, **model}), data.event_shape)
    cfg = TrainConfig(
        objective="vqvae", epochs=5, batch_size=32, lr=3e-3, progress=False, prior_epochs=prior_epochs,
        picture_epochs=[], terms_points=0,
    )  # fmt: skip
    return m, Trainer(m, data, cfg, test=toy_binary(64, side=8, seed=1), run_dir=tmp_path).fit()


@pytest.mark.parametrize("ema", [False, True])
def test_vqvae_learns_and_its_prior_beats_uniform(tmp_path, ema):
    model, result = _fit(tmp_path, ema=ema)
    stage1 = [r for r in result.history if "prior_epoch" not in r]
    stage2 = [r for r in result.history if "prior_epoch" in r]
    assert stage1[-1]["train_recon_nll"] < stage1[0]["train_recon_nll"] - 3
    for key in ("train_perplexity", "train_codebook_usage", "test_recon_bits_per_dim", "test_elbo_uniform_prior"):
        assert key in stage1[-1]
    assert len(stage2) == 3
    assert stage2[-1]["test_prior_nats_per_code"] < math.log(16)  # the fitted prior beats the uniform one
    assert stage2[-1]["test_elbo_pixelcnn_prior"] > stage1[-1]["test_elbo_uniform_prior"]
    logged = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert len(logged) == 8
    # Saved and rebuilt from model.json + safetensors: same reconstructions and same prior.
    # Compared on the trained model's device (CUDA where there is one): CPU against GPU convolutions (TF32 in cuDNN)
    # differ by ~1e-4, which says nothing about the round trip.
    loaded = load_model(tmp_path).to(module_device(model))
    x = toy_binary(16, side=8, seed=3).x
    torch.testing.assert_close(loaded.reconstruct(x), model.eval().reconstruct(x))
    k = loaded.codes(x)
    torch.testing.assert_close(loaded.prior.log_prob(k), model.prior.log_prob(k))
    samples = loaded.sample(5)
    assert samples.shape == (5, 1, 8, 8) and samples.min() >= 0 and samples.max() <= 1


def test_vqvae_needs_its_objective():
    with pytest.raises(ConfigError, match="objective vqvae"):
        Config(ModelConfig(**SMALL), TrainConfig()).validate()
    with pytest.raises(ConfigError, match="objective vqvae"):
        Config(ModelConfig(), TrainConfig(objective="vqvae")).validate()
    with pytest.raises(ConfigError, match="not divisible"):
        build_model(ModelConfig(**SMALL), (1, 10, 10))


def test_cli_trains_samples_and_reconstructs(tmp_path):
    np.save(tmp_path / "toy.npy", toy_binary(128, side=8).x.numpy().astype(np.float32))
    args = (
        "--model vqvae --objective vqvae --hidden 8,8 --codebook-size 8 --code-dim 4 --prior-channels 8 "
        "--prior-layers 2 --epochs 1 --prior-epochs 1 --batch-size 64 --eval-every 0 --progress false --ema true"
    )
    run = tmp_path / "r"
    assert main(["train", "--dataset", str(tmp_path / "toy.npy"), *args.split(), "--out", str(run)]) == 0
    assert main(["sample", str(run), "-n", "4", "--out", str(tmp_path / "s.png")]) == 0
    assert (tmp_path / "s.png").stat().st_size > 0
    assert main(["reconstruct", str(run), "--split", "train", "-n", "4", "--out", str(tmp_path / "r.png")]) == 0
