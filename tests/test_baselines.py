"""The paper's baselines (``--method wake-sleep|mcem``): they learn, they log what they mean, they resume exactly."""

from __future__ import annotations

import json

import pytest
import torch

from aevb import ConfigError, ModelConfig, TrainConfig, build_model
from aevb.cli import main
from aevb.config import Config
from aevb.evaluation import log_likelihood
from aevb.inference.marginal import hmc_log_likelihood
from aevb.training.checkpoint import load_checkpoint
from aevb.training.components import check_names
from aevb.training.methods import METHODS
from aevb.training.trainer import Trainer
from tests.conftest import toy_binary

MODEL = ModelConfig(latent_dim=2, hidden=[32], activation="tanh")
TEST = toy_binary(40, seed=1)


def _trainer(method: str, run_dir=None, **kw) -> Trainer:
    torch.manual_seed(0)
    data = toy_binary(256)
    model = build_model(MODEL, data.event_shape)
    base = dict(epochs=12, batch_size=32, lr=3e-3, seed=0, progress=False, method=method, terms_points=50)
    cfg = TrainConfig(**{**base, **kw})
    cfg.picture_epochs = []
    return Trainer(model, data, cfg, test=TEST, run_dir=run_dir)


def _hmc_log_px(model) -> float:
    torch.manual_seed(0)
    return float(hmc_log_likelihood(model.eval(), TEST.x, num_samples=20, burn_in=60).mean())


def test_methods_are_registered():
    assert {"aevb", "wake-sleep", "mcem"} <= set(METHODS)


def test_wake_sleep_improves_the_marginal_likelihood():
    trainer = _trainer("wake-sleep")
    torch.manual_seed(0)
    before = float(log_likelihood(trainer.model.eval(), TEST.x, 500).mean())
    history = trainer.fit().history
    torch.manual_seed(0)
    after = float(log_likelihood(trainer.model.eval(), TEST.x, 500).mean())
    assert after > before + 5, (before, after)
    # It logs the same lower bound as AEVB (ELBO at the wake sample), on train and test, and it rises.
    assert history[-1]["train_bound"] > history[0]["train_bound"] + 3
    assert history[-1]["test_elbo"] > history[0]["test_elbo"] + 3
    assert history[-1]["test_elbo"] <= after + 0.5  # a lower bound on the IS estimate of log p(x)


def test_mcem_improves_the_marginal_likelihood_and_logs_no_encoder_bound():
    trainer = _trainer("mcem")
    before = _hmc_log_px(trainer.model)
    history = trainer.fit().history
    after = _hmc_log_px(trainer.model)
    assert after > before + 5, (before, after)
    first, last = history[0], history[-1]
    assert last["train_log_joint"] > first["train_log_joint"] + 3
    assert "train_bound" not in last and "test_elbo" not in last and "test_kl" not in last
    assert 0 < last["hmc_step_size"] < 1
    # The encoder is never trained (no gradient reaches it).
    fresh = _trainer("mcem").model
    for name, p in trainer.model.encoder.state_dict().items():
        assert torch.equal(p, fresh.encoder.state_dict()[name]), name


@pytest.mark.parametrize("method", ["wake-sleep", "mcem"])
def test_resume_mid_epoch_is_exact(method, tmp_path):
    full = _trainer(method, tmp_path / "full", epochs=3)
    full.fit()
    part = _trainer(method, tmp_path / "part", epochs=3)
    step = part.train_step

    def stop_after_13(xb, cb):
        out = step(xb, cb)
        if part.step + 1 == 13:
            part.stop_requested = True
        return out

    part.train_step = stop_after_13
    assert part.fit().interrupted
    state = load_checkpoint(tmp_path / "part" / "checkpoints")  # weights_only=True: method state is plain tensors
    if method == "mcem":
        assert state["method"]["chains"].shape == (256, 2)
    resumed = _trainer(method, tmp_path / "part", epochs=3)
    resumed.resume()
    resumed.fit()
    for k, v in full.model.state_dict().items():
        assert torch.equal(v, resumed.model.state_dict()[k]), k
    for k, v in full.method.state_dict().items():
        assert torch.equal(torch.as_tensor(v), torch.as_tensor(resumed.method.state_dict()[k])), k


def test_method_config_errors():
    with pytest.raises(ConfigError, match="aevb, mcem, wake-sleep"):
        check_names(Config(train=TrainConfig(method="em")))
    with pytest.raises(ConfigError, match="objective"):
        TrainConfig(method="mcem", objective="iwae").validate()


def test_cli_train_with_method(tmp_path, capsys):
    import numpy as np

    path = tmp_path / "toy.npy"
    np.save(path, toy_binary(100).x.numpy())
    run = tmp_path / "run"
    argv = ["train", "--dataset", str(path), "--hidden", "16", "--latent-dim", "2", "--epochs", "2"]
    argv += ["--method", "wake-sleep", "--progress", "false", "--picture-epochs", "", "--out", str(run)]
    assert main(argv) == 0
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert len(records) == 2 and "train_bound" in records[-1]
    assert main(["train", "--dataset", str(path), "--method", "bogus", "--out", str(tmp_path / "r2")]) == 2
    assert "wake-sleep" in capsys.readouterr().err
