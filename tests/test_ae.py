"""The plain autoencoder: a point-mass posterior, trained on reconstruction alone, sampled from a Gaussian fitted to
its training codes; what it refuses (a bound it does not have); the lecture's objectives; the ae-vs-vae figure."""

import json

import numpy as np
import torch

import aevb
from aevb.cli import main
from aevb.posteriors import PointMass
from aevb.priors import FittedGaussianPrior
from aevb.training.objectives import KLObjective, ReconstructionObjective


def test_point_mass_samples_its_location_and_passes_gradients():
    loc = torch.randn(3, 2, requires_grad=True)
    q = PointMass(loc)
    z = q.rsample((4,))
    assert z.shape == (4, 3, 2) and torch.equal(z[2], loc.detach())
    z.sum().backward()
    assert torch.equal(loc.grad, torch.full((3, 2), 4.0))
    assert torch.equal(q.log_prob(z), torch.zeros(4, 3)) and torch.equal(q.stddev, torch.zeros(3, 2))


def test_fitted_prior_has_the_codes_moments():
    codes = torch.randn(5000, 2, generator=torch.Generator().manual_seed(0)) @ torch.tensor([[2.0, 0.0], [1.0, 0.5]])
    codes += torch.tensor([3.0, -1.0])
    prior = FittedGaussianPrior(2)
    prior.fit(codes)
    p = prior()
    torch.testing.assert_close(p.loc, codes.mean(0), atol=1e-5, rtol=0)
    torch.testing.assert_close(p.covariance_matrix, torch.cov(codes.T), atol=1e-4, rtol=1e-4)


def _toy(tmp_path):
    rng = np.random.default_rng(0)
    x = (rng.random((400, 16)) < np.linspace(0.1, 0.9, 16)).astype(np.float32)
    np.save(tmp_path / "toy.npy", x)
    return tmp_path / "toy.npy"


def test_ae_trains_samples_and_refuses_what_it_lacks(tmp_path, capsys):
    data, run = _toy(tmp_path), tmp_path / "ae"
    base = ["train", "--dataset", str(data), "--model", "ae", "--latent-dim", "2", "--hidden", "16", "--out", str(run)]
    assert main(base) == 2
    assert "--objective reconstruction" in capsys.readouterr().err
    assert main([*base, "--objective", "reconstruction", "--epochs", "30", "--batch-size", "40"]) == 0
    out = capsys.readouterr().out
    assert "train objective" in out and "train bound" not in out  # log p(x|f(x)) is no bound
    history = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert history[-1]["train_bound"] > history[0]["train_bound"] and "test_recon" in history[-1]
    model = aevb.load(run)
    train = aevb.load_dataset(str(data), "train")
    codes = model.encode(train.x).mean
    torch.testing.assert_close(model.prior.loc, codes.mean(0), atol=1e-4, rtol=0)  # fitted after training, saved
    assert main(["sample", str(run), "-n", "8", "--out", str(tmp_path / "s.npy")]) == 0
    assert "fitted to the training codes" in capsys.readouterr().out
    assert main(["evaluate", str(run)]) == 2
    assert "not variational" in capsys.readouterr().err
    assert main(["score", str(run), "--score", "recon", "--out", str(tmp_path / "r.csv")]) == 0
    assert main(["score", str(run), "--score", "nll", "--out", str(tmp_path / "n.csv")]) == 2
    assert "only recon, relerr, sqerr apply" in capsys.readouterr().err


def test_reconstruction_and_kl_objectives_are_the_elbos_two_terms():
    model = aevb.build_model(aevb.ModelConfig(latent_dim=3, hidden=[8]), (6,), seed=0)
    x = (torch.rand(10, 6, generator=torch.Generator().manual_seed(1)) < 0.5).float()
    config = aevb.TrainConfig()
    with torch.random.fork_rng():
        torch.manual_seed(0)
        recon = ReconstructionObjective(config)(model, x)
    kl = KLObjective(config)(model, x)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        elbo = model.elbo(x)  # estimator B: E_q[log p(x|z)] − KL, the same ε
    torch.testing.assert_close(recon + kl, elbo)


def test_ae_vs_vae_reproduction_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("AEVB_CACHE_DIR", str(tmp_path / "cache"))  # the judge classifier is trained into a temp cache
    argv = ["reproduce", "ae-vs-vae", "--out", str(tmp_path / "avv"), "--mnist", "mnist-sample", "--budget", "9000"]
    assert main([*argv, "--quiet"]) == 0
    summary = (tmp_path / "avv" / "summary.md").read_text()
    assert "| ae |" in summary and "| vae |" in summary
    for name in ("codes.png", "grid_ae.png", "grid_vae.png", "objectives.png", "ae_vs_vae.csv"):
        assert (tmp_path / "avv" / name).is_file(), name
