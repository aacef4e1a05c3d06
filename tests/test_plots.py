"""Pictures of a run: the geometry behind them (slerp, the manifold grid, the fixed z), the trainer's epoch-end
hooks, and ``aevb plot`` end to end on a tiny run."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

from aevb.cli import main
from aevb.config import ModelConfig, TrainConfig
from aevb.errors import ConfigError
from aevb.models import build_model
from aevb.plots.common import fixed_z
from aevb.plots.curves import training_curves
from aevb.plots.grids import interpolate, manifold_z, slerp
from aevb.plots.scatter import latent_scatter
from aevb.training.trainer import Trainer
from tests.conftest import toy_binary


def _image(path) -> np.ndarray:
    with Image.open(path) as img:
        return np.asarray(img.convert("L"), dtype=np.float64)


def _not_blank(path) -> bool:
    return _image(path).std() > 1.0


def test_slerp_endpoints_and_constant_norm():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(8, generator=g)
    b = torch.randn(8, generator=g)
    b = b * a.norm() / b.norm()  # equal norms: the great circle keeps the norm all the way
    path = slerp(a, b, torch.linspace(0, 1, 11))
    torch.testing.assert_close(path[0], a)
    torch.testing.assert_close(path[-1], b)
    torch.testing.assert_close(path.norm(dim=1), torch.full((11,), float(a.norm())))
    # Equal angular steps: consecutive points are equally far apart.
    steps = (path[1:] - path[:-1]).norm(dim=1)
    torch.testing.assert_close(steps, steps.mean().expand_as(steps), rtol=1e-4, atol=1e-5)
    lin = interpolate(a, b, 3, "linear")
    torch.testing.assert_close(lin[1], (a + b) / 2)
    with pytest.raises(ConfigError, match="linear or spherical"):
        interpolate(a, b, 3, "cubic")


def test_manifold_grid_is_inverse_cdf_of_a_uniform_grid():
    n = 5
    z = manifold_z(n).reshape(n, n, 2)
    u = torch.distributions.Normal(0.0, 1.0).cdf(z.double())
    expected = (torch.arange(n, dtype=torch.float64) + 0.5) / n
    torch.testing.assert_close(u[0, :, 0], expected, atol=1e-6, rtol=0)  # z1 grows left to right
    torch.testing.assert_close(u[:, 0, 1], expected.flip(0), atol=1e-6, rtol=0)  # z2 shrinks top to bottom
    assert torch.all(z[:, :, 0] == z[0:1, :, 0]) and torch.all(z[:, :, 1] == z[:, 0:1, 1])
    torch.testing.assert_close(z.mean((0, 1)), torch.zeros(2), atol=1e-6, rtol=0)  # symmetric about 0


def test_fixed_z_is_drawn_once_and_reused(tmp_path):
    model = build_model(ModelConfig(latent_dim=3, hidden=[8]), (1, 4, 4))
    z1 = fixed_z(model, tmp_path, seed=1)
    assert z1.shape == (128, 3) and (tmp_path / "fixed_z.safetensors").is_file()
    torch.testing.assert_close(fixed_z(model, tmp_path, seed=99), z1)  # the file wins over the seed
    torch.testing.assert_close(fixed_z(model, None, seed=1), z1)  # and the draw depends on the seed alone
    assert not torch.equal(fixed_z(model, None, seed=2), z1)


@pytest.mark.parametrize("dim,method", [(1, "auto"), (3, "auto"), (6, "auto"), (6, "tsne")])
def test_latent_scatter(tmp_path, dim, method):
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(24) % 3
    means = torch.randn(24, dim, generator=g) + 3 * labels[:, None].float()
    path = latent_scatter(means, labels, tmp_path / "s.png", method=method)
    assert _not_blank(path)


def test_latent_scatter_rejects_bad_input(tmp_path):
    with pytest.raises(ConfigError, match="pca, tsne"):
        latent_scatter(torch.zeros(5, 4), None, tmp_path / "s.png", method="umap")


def test_training_curves_need_records(tmp_path):
    with pytest.raises(ConfigError, match="no metrics"):
        training_curves([], tmp_path / "c.png")
    records = [{"epoch": e, "train_bound": -50.0 + e, "test_elbo": -51.0 + e} for e in range(1, 4)]
    assert _not_blank(training_curves(records, tmp_path / "c.png"))


def test_trainer_hooks_log_terms_and_write_pictures(tmp_path):
    train, test = toy_binary(200), toy_binary(60, seed=1)
    torch.manual_seed(0)
    model = build_model(ModelConfig(latent_dim=2, hidden=[16]), train.event_shape)
    cfg = TrainConfig(epochs=3, batch_size=50, progress=False, picture_epochs=[2], terms_points=40, seed=3)
    Trainer(model, train, cfg, test=test, run_dir=tmp_path).fit()
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert all({"train_recon", "train_kl", "test_recon", "test_kl"} <= set(r) for r in records)
    # The logged terms are the two halves of estimator B on 40 evenly spaced test points, with the callback's seed.
    model.eval()
    with torch.random.fork_rng():
        torch.manual_seed(3)
        bound = model.elbo(test.spread(40).x, 1, "B").mean().item()
    assert math.isclose(records[-1]["test_recon"] - records[-1]["test_kl"], bound, rel_tol=1e-5)
    assert all(r["test_kl"] >= 0 for r in records)
    pictures = sorted(p.name for p in (tmp_path / "pictures").iterdir())
    assert pictures == ["recon_epoch0002.png", "recon_epoch0003.png", "samples_epoch0002.png", "samples_epoch0003.png"]
    assert (tmp_path / "fixed_z.safetensors").is_file()


def test_hooks_leave_the_training_stream_unchanged(tmp_path):
    """Pictures and term logging run under a forked RNG: the trained weights are identical with and without them."""
    weights = []
    for run, extra in (("a", {}), ("b", {"picture_epochs": [], "terms_points": 0})):
        torch.manual_seed(0)
        model = build_model(ModelConfig(latent_dim=2, hidden=[16]), (1, 6, 6))
        cfg = TrainConfig(epochs=2, batch_size=50, progress=False, **extra)
        Trainer(model, toy_binary(100), cfg, test=toy_binary(30, seed=1), run_dir=tmp_path / run).fit()
        weights.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
    torch.testing.assert_close(weights[0], weights[1], rtol=0, atol=0)


def test_aevb_plot_all(tmp_path, capsys):
    data = toy_binary(300)
    npz = tmp_path / "toy.npz"
    np.savez(npz, x=data.x.numpy(), y=data.y.numpy())
    run = tmp_path / "run"
    argv = ["train", "--dataset", str(npz), "--hidden", "32", "--latent-dim", "2", "--epochs", "2"]
    assert main([*argv, "--batch-size", "50", "--progress", "false", "--out", str(run)]) == 0
    assert main(["plot", str(run), "--out", str(tmp_path / "p")]) == 0
    names = {"scatter", "samples", "recon", "interp", "traverse", "manifold", "curves"}
    for name in names:
        assert _not_blank(tmp_path / "p" / f"{name}.png"), name
    assert main(["plot", str(run), "--kind", "samples,bogus", "--out", str(tmp_path / "q")]) == 2
    assert "unknown plot kind 'bogus'" in capsys.readouterr().err
    assert not (tmp_path / "q" / "samples.png").exists()  # nothing drawn before the bad kind was found


def test_training_curves_draw_mcems_log_joint_and_refuse_records_without_curves(tmp_path):
    """MCEM logs no bound, only log p(x, z) at its chains' samples: that is its panel. Records holding no known key
    are refused with the keys that would do, not with matplotlib's error about zero columns."""
    records = [{"epoch": 1, "train_log_joint": -150.0}, {"epoch": 2, "train_log_joint": -140.0}]
    assert _not_blank(training_curves(records, tmp_path / "m.png"))
    with pytest.raises(ConfigError, match="train_log_joint"):
        training_curves([{"epoch": 1, "lr": 0.1}], tmp_path / "none.png")
