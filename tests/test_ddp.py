"""Data-parallel training under torchrun (2 CPU processes, gloo over loopback): same weights as one process.

The reference is computed here in one process by the update distributed.py promises: each global batch is cut into
the same two slices, slice r draws its posterior noise from rank r's stream, and the gradient of the global-batch mean
is applied. The torchrun run is interrupted after one epoch and resumed, so the per-rank RNG states in the checkpoint
are checked too.
"""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from aevb.config import load_config
from aevb.data import load_dataset
from aevb.models import build_model
from aevb.training.checkpoint import load_checkpoint
from aevb.training.distributed import RANK_SEED_STRIDE
from aevb.training.trainer import Trainer

from .conftest import toy_binary

WORLD = 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _torchrun(args: list[str], cwd: Path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for _attempt in range(3):  # a port picked free can be taken before torchrun binds it: pick another and retry
        cmd = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            f"--nproc_per_node={WORLD}",
            "--master_addr",
            "127.0.0.1",
            "--master_port",
            str(_free_port()),
            "-m",
            "aevb",
            "train",
            *args,
        ]
        proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=240)
        if proc.returncode == 0 or "address already in use" not in (proc.stdout + proc.stderr).lower():
            break
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]


def _reference_weights(run: Path, epochs: int) -> dict[str, torch.Tensor]:
    """One process, the same global batches, slice r's ε from rank r's stream, the global-mean gradient."""
    config = load_config(run / "config.toml")
    cfg = config.train
    train = load_dataset(cfg.dataset, split="train", download=False)
    torch.manual_seed(cfg.seed)
    model = build_model(config.model, train.event_shape)
    trainer = Trainer(model, train, cfg)  # for its objective, optimizer and seeded generators
    streams = [torch.Generator().manual_seed(cfg.seed + 2 + RANK_SEED_STRIDE * r).get_state() for r in range(WORLD)]
    n_total = train.x.shape[0]
    saved = torch.get_rng_state()
    for _ in range(epochs):
        perm = torch.randperm(n_total, generator=trainer.shuffle_gen)
        for b in range(math.ceil(n_total / cfg.batch_size)):
            idx = perm[b * cfg.batch_size : (b + 1) * cfg.batch_size]
            xb = train.transform_batch(train.x[idx], trainer.data_gen)
            n = xb.shape[0]
            trainer.optimizer.zero_grad(set_to_none=True)
            for r in range(WORLD):
                lo, hi = n * r // WORLD, n * (r + 1) // WORLD
                if hi == lo:
                    continue
                torch.set_rng_state(streams[r])
                (-trainer.objective(model, xb[lo:hi]).sum() / n).backward()
                streams[r] = torch.get_rng_state()
            trainer.optimizer.step()
    torch.set_rng_state(saved)
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_torchrun_two_ranks_match_one_process_and_resume(tmp_path):
    data = toy_binary(n=90, side=6)
    np.save(tmp_path / "toy.npy", data.x.numpy().astype(np.float32))
    run = tmp_path / "run"
    # 81 training points in global batches of 20: the last batch (1 point) leaves rank 0 with an empty slice.
    # --device cpu: the test is about gloo over loopback, also on a machine with fewer GPUs than ranks
    common = ["--eval-every", "0", "--batch-size", "20", "--progress", "false", "--device", "cpu", "--out", str(run)]
    model_flags = ["--dataset", str(tmp_path / "toy.npy"), "--hidden", "16", "--latent-dim", "2", "--seed", "3"]
    extra = []
    from aevb.config import TrainConfig

    if "terms_points" in TrainConfig.__dataclass_fields__:  # other per-epoch callbacks: off, for speed
        extra += ["--terms-points", "0"]
    if "picture_epochs" in TrainConfig.__dataclass_fields__:
        extra += ["--picture-epochs", ""]
    _torchrun([*model_flags, *common, *extra, "--epochs", "1"], tmp_path)
    state = load_checkpoint(run / "checkpoints")
    assert state["torch_rng_ranks"].shape[0] == WORLD  # every rank's ε stream is in rank 0's checkpoint
    assert not torch.equal(state["torch_rng_ranks"][0], state["torch_rng_ranks"][1])
    _torchrun([*common, "--resume", "--epochs", "2"], tmp_path)

    got = load_file(run / "model.safetensors")
    want = _reference_weights(run, epochs=2)
    assert got.keys() == want.keys()
    for key in want:
        torch.testing.assert_close(got[key], want[key], atol=2e-5, rtol=1e-4, msg=key)
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2]  # written once (rank 0), not once per rank
    assert records[-1]["step"] == 2 * math.ceil(81 / 20)


def test_shards_cover_the_global_batch_and_weights_sum_to_one():
    from aevb.training.distributed import Distributed

    for n in (1, 5, 20):
        rows = torch.arange(n)
        parts, fractions = [], []
        for r in range(3):
            d = Distributed(rank=r, world=3)
            (part,) = d.shard(rows)
            parts.append(part)
            fractions.append(d.local_fraction)
        assert torch.equal(torch.cat(parts), rows)  # contiguous, disjoint, complete
        assert math.isclose(sum(fractions), 1.0)


def test_resume_with_another_number_of_processes_refused():
    from aevb.errors import ConfigError
    from aevb.training.distributed import Distributed

    state = {"torch_rng": torch.get_rng_state(), "torch_rng_ranks": torch.stack([torch.get_rng_state()] * 2)}
    assert torch.equal(Distributed(rank=1, world=2).pick_rng(state), state["torch_rng_ranks"][1])
    with pytest.raises(ConfigError, match="2 process"):
        Distributed(rank=0, world=3).pick_rng(state)
    with pytest.raises(ConfigError, match="1 process"):
        Distributed(rank=0, world=2).pick_rng({"torch_rng": torch.get_rng_state(), "torch_rng_ranks": None})


def test_more_ranks_than_gpus_is_a_clear_error(monkeypatch):
    """torchrun --nproc_per_node=2 on a machine with fewer GPUs: a ConfigError naming the counts and the two ways out,
    not NCCL's "invalid device ordinal" (checked before any process group is joined)."""
    from aevb.errors import ConfigError
    from aevb.training.distributed import Distributed

    gpus = torch.cuda.device_count()
    world = gpus + 2  # at least two processes (one process never joins a group), one more than the GPUs
    monkeypatch.setenv("WORLD_SIZE", str(world))
    monkeypatch.setenv("RANK", str(world - 1))
    monkeypatch.setenv("LOCAL_RANK", str(world - 1))
    monkeypatch.setenv("LOCAL_WORLD_SIZE", str(world))
    with pytest.raises(ConfigError, match=rf"started {world} processes .* has {gpus} CUDA .*--device cpu"):
        Distributed.from_env(torch.device("cuda"))
