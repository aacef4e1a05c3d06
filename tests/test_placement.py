"""Training on an accelerator without a host sync per step: the bound sums stay on the device and are read at
checkpoints, progress updates and the epoch's end; data stay resident where they fit. The deferred path and the
non-resident path are forced here on the CPU, where they must give exactly what the default path gives."""

from __future__ import annotations

import pytest
import torch

from aevb import ModelConfig, TrainConfig, build_model
from aevb.errors import TrainingError
from aevb.training.checkpoint import load_checkpoint
from aevb.training.placement import data_placement
from aevb.training.trainer import Trainer
from tests.conftest import toy_binary


def _trainer(run_dir=None, **kw) -> Trainer:
    torch.manual_seed(0)
    data = toy_binary(200)
    model = build_model(ModelConfig(latent_dim=2, hidden=[16]), data.event_shape, seed=0)
    settings = {"epochs": 3, "batch_size": 32, "lr": 3e-3, "seed": 0, "progress": False, "device": "cpu"}
    cfg = TrainConfig(**{**settings, **kw})  # the CPU also where a GPU is present: both paths forced on it
    cfg.picture_epochs = []
    return Trainer(model, data, cfg, run_dir=run_dir)


def test_the_deferred_sum_and_copied_batches_give_the_same_run():
    reference = _trainer().fit()
    deferred = _trainer()
    assert not deferred.defer_sync  # the CPU reads each step's sum at once
    deferred.defer_sync = True
    copied = _trainer()
    copied.resident = False  # batches gathered from host memory and copied (here: to the same CPU)
    bounds = [[r["train_bound"] for r in t.fit().history] for t in (deferred, copied)]
    assert bounds[0] == bounds[1] == [r["train_bound"] for r in reference.history]  # exactly: same sums, same order


def test_a_non_finite_bound_is_caught_at_the_next_read_and_never_checkpointed(tmp_path):
    trainer = _trainer(run_dir=tmp_path / "run", checkpoint_steps=2, epochs=1)
    trainer.defer_sync = True
    step = trainer.train_step

    def poisoned(xb, cb):
        total = step(xb, cb)
        return total * float("nan") if trainer.step == 2 else total  # the third step's sum is NaN

    trainer.train_step = poisoned
    with pytest.raises(TrainingError, match=r"non-finite \(nan\) at epoch 1, in steps 3–4"):
        trainer.fit()
    saved = load_checkpoint(tmp_path / "run" / "checkpoints")
    assert saved["step"] == 2 and saved["epoch_sum"] == saved["epoch_sum"]  # the last good one, finite


def test_data_stay_on_the_device_when_they_fit_in_half_its_free_memory():
    cuda = torch.device("cuda", 0)
    assert data_placement(10**9, torch.device("cpu")) == (True, "")
    resident, message = data_placement(47_040_000, cuda, free=140 * 10**9)
    assert resident and message == "data: 47.0 MB resident on cuda:0 (140.0 GB free): minibatches are gathered there"
    resident, message = data_placement(80 * 10**9, cuda, free=140 * 10**9)
    assert not resident and "kept in CPU memory" in message and "80,000.0 MB" in message
