"""β-VAE options shared by every model: β, KL warm-up, free bits; the latent traversal; KL and reconstruction in the
evaluation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aevb import ConfigError, ModelConfig, TrainConfig, build_model, save_model
from aevb.cli import main
from aevb.config import Config
from aevb.estimators import Terms, elbo, free_bits_kl
from aevb.evaluation import evaluate
from aevb.plots.traversal import latent_traversal
from aevb.posteriors import DiagonalGaussian
from aevb.priors import StandardNormalPrior
from aevb.training.objectives import ELBOObjective, IWAEObjective
from aevb.training.trainer import Trainer
from tests.conftest import toy_binary

SHAPE = (1, 6, 6)


def _model(**kw):
    torch.manual_seed(0)
    return build_model(ModelConfig(latent_dim=3, hidden=[32], activation="tanh", **kw), SHAPE)


def _cfg(**kw) -> TrainConfig:
    cfg = TrainConfig(**kw)
    cfg.progress, cfg.eval_every = False, 0
    return cfg


def test_warmup_anneals_beta_linearly():
    objective = ELBOObjective(_cfg(beta=4.0, warmup_steps=100))
    betas = []
    for step in (0, 25, 50, 100, 1000):
        objective.step = step
        betas.append(objective.current_beta())
    assert betas == [0.0, 1.0, 2.0, 4.0, 4.0]
    assert ELBOObjective(_cfg(beta=4.0)).current_beta() == 4.0  # no warm-up: β from the first step


def test_warmup_objective_is_the_beta_weighted_elbo_at_each_step():
    model, x = _model(), toy_binary(16).x
    objective = ELBOObjective(_cfg(beta=2.0, warmup_steps=10, samples=2))
    for step, beta in ((0, 0.0), (5, 1.0), (20, 2.0)):
        objective.step = step
        torch.manual_seed(0)
        got = objective(model, x)
        torch.manual_seed(0)
        terms = model.terms(x, 2)
        torch.testing.assert_close(got, terms.log_likelihood.mean(0) - beta * terms.kl())


def test_trainer_tells_the_objective_its_step():
    seen = []

    class Recording(ELBOObjective):
        def __call__(self, model, x, context=None):
            seen.append(self.step)
            return super().__call__(model, x, context)

    trainer = Trainer(_model(), toy_binary(64), _cfg(epochs=2, batch_size=32, warmup_steps=3))
    trainer.objective = Recording(trainer.config)
    trainer.fit()
    assert seen == [0, 1, 2, 3]


def _diag_terms(mu: torch.Tensor, log_var: torch.Tensor) -> Terms:
    q, p = DiagonalGaussian(mu.shape[-1])(torch.cat([mu, log_var], -1)), StandardNormalPrior(mu.shape[-1])()
    zeros = torch.zeros(1, mu.shape[0])
    return Terms(zeros, zeros, zeros, posterior=q, prior=p)


def test_per_dimension_kl_sums_to_the_kl():
    torch.manual_seed(0)
    terms = _diag_terms(torch.randn(5, 4), torch.randn(5, 4))
    per_dim = terms.kl_per_dim()
    assert per_dim.shape == (5, 4)
    torch.testing.assert_close(per_dim.sum(-1), terms.kl())


def test_free_bits_floor_each_dimension_on_the_minibatch_average():
    """Σ_d max(λ, E_M[KL_d]) (Kingma et al. 2016): inactive dimensions cost λ and get no gradient."""
    mu = torch.tensor([[2.0, 0.01, 0.0], [1.0, -0.01, 0.0]], requires_grad=True)
    log_var = torch.zeros(2, 3)
    terms = _diag_terms(mu, log_var)
    per_dim = terms.kl_per_dim()  # KL_d = μ_d²/2 here: dim 0 ≈ 1.25 on average, dims 1 and 2 ≈ 0
    lam = 0.5
    fb = free_bits_kl(per_dim, lam)
    expected = torch.maximum(torch.tensor(lam), per_dim.mean(0)).sum()
    torch.testing.assert_close(fb.mean(), expected)
    fb.sum().backward()
    assert mu.grad[:, 0].abs().min() > 0 and torch.equal(mu.grad[:, 1:], torch.zeros(2, 2))
    # λ = 0 is the plain KL, and the elbo with free bits subtracts exactly this term.
    torch.testing.assert_close(free_bits_kl(per_dim, 0.0), terms.kl())
    torch.testing.assert_close(elbo(terms, "B", beta=3.0, free_bits=lam), -3.0 * fb)


def test_free_bits_and_warmup_need_a_compatible_setup():
    with pytest.raises(ConfigError, match="estimator B"):
        ELBOObjective(_cfg(free_bits=0.1, estimator="A"))
    with pytest.raises(ConfigError, match="elbo only"):
        IWAEObjective(_cfg(objective="iwae", warmup_steps=10))
    with pytest.raises(ConfigError, match="elbo only"):
        IWAEObjective(_cfg(objective="iwae", beta=4.0))
    with pytest.raises(ConfigError, match="per-dimension KL"):
        ELBOObjective(_cfg(free_bits=0.1))(_model(posterior="full"), toy_binary(4).x)
    with pytest.raises(ConfigError, match="warmup_steps must be >= 0"):
        _cfg(warmup_steps=-1).validate()


def test_free_bits_keep_dimensions_from_collapsing():
    """With a large β and no free bits the KL collapses; free bits keep every dimension at ≥ λ on average."""
    kls = {}
    for lam in (0.0, 1.0):
        model = _model()
        Trainer(model, toy_binary(256), _cfg(epochs=15, batch_size=32, lr=3e-3, beta=8.0, free_bits=lam)).fit()
        with torch.no_grad():
            kls[lam] = model.terms(toy_binary(128, seed=1).x).kl_per_dim().mean(0)
    assert float(kls[0.0].sum()) < 1.0, kls
    assert float(kls[1.0].min()) > 0.5, kls


def test_evaluation_splits_the_elbo_into_reconstruction_and_kl():
    ev = evaluate(_model(), toy_binary(32).x, elbo_samples=3)
    assert ev.kl > 0 and ev.reconstruction > 0
    assert abs(ev.elbo + ev.reconstruction + ev.kl) < 1e-6


def test_larger_beta_lowers_kl_and_raises_reconstruction_error():
    results = {}
    for beta in (1.0, 4.0):
        model = _model()
        Trainer(model, toy_binary(256), _cfg(epochs=10, batch_size=32, lr=3e-3, beta=beta)).fit()
        results[beta] = evaluate(model, toy_binary(128, seed=1).x, elbo_samples=5)
    assert results[4.0].kl < results[1.0].kl and results[4.0].reconstruction > results[1.0].reconstruction


def test_traversal_moves_one_coordinate_per_row():
    model = _model()
    x = toy_binary(1).x
    images = latent_traversal(model, x, steps=5, span=2.0)
    assert images.shape == (3, 5, *SHAPE)
    # The middle column is the posterior mean itself: the reconstruction, in every row.
    for d in range(3):
        torch.testing.assert_close(images[d, 2], model.reconstruct(x)[0])
    # A decoder blind to z_1 draws a constant row 1 and varying rows 0 and 2.
    with torch.no_grad():
        model.decoder.net.net[0].weight[:, 1] = 0
    images = latent_traversal(model, x, steps=5)
    assert torch.allclose(images[1], images[1, :1].expand_as(images[1]))
    assert not torch.allclose(images[0], images[0, :1].expand_as(images[0]))
    assert latent_traversal(model, x, dims=2).shape[0] == 2
    # order: the rows of the named dimensions, in that order (the β-VAE figure sorts them by KL)
    ordered = latent_traversal(model, x, steps=5, order=[2, 1])
    torch.testing.assert_close(ordered, images[[2, 1]])
    with pytest.raises(ConfigError, match="order must list dimensions in 0..2"):
        latent_traversal(model, x, order=[3])
    with pytest.raises(ConfigError, match="one datapoint"):
        latent_traversal(model, toy_binary(2).x)


def test_traverse_cli_writes_one_row_per_dimension(tmp_path, capsys):
    data = toy_binary(8)
    np.save(tmp_path / "data.npy", data.x.numpy())
    run = tmp_path / "run"
    save_model(_model(), run)
    config = Config(model=ModelConfig(latent_dim=3, hidden=[32], activation="tanh"))
    config.train.dataset, config.train.test_split = str(tmp_path / "data.npy"), "train"
    (run / "config.toml").write_text(config.to_toml())
    out = tmp_path / "trav.png"
    assert main(["traverse", str(run), "--split", "train", "--index", "3", "--steps", "7", "--out", str(out)]) == 0
    from PIL import Image

    # 3 rows × 7 columns of 6×6 images with 2 px padding, upscaled 2×, and a margin on the left naming each row
    width, height = Image.open(out).size
    assert height == 2 * (3 * 8 + 2) and width > 2 * (7 * 8 + 2) + 40
    assert main(["traverse", str(run), "--split", "train", "--index", "99", "--out", str(out)]) == 2
    assert "--index must be in 0..7" in capsys.readouterr().err
