"""Safety under faults: kill -9 mid-run then --resume, bad files through the CLI, and no unsafe torch.load."""

from __future__ import annotations

import ast
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from aevb import cli
from aevb.config import Config, ModelConfig, TrainConfig
from aevb.runs import train_from_config
from aevb.training.checkpoint import load_checkpoint

from .conftest import toy_binary

ROOT = Path(__file__).resolve().parents[1]


def _quiet_train_fields() -> dict:
    fields = {"eval_every": 0, "progress": False}
    if "terms_points" in TrainConfig.__dataclass_fields__:  # other engineers' per-epoch callbacks: off, for speed
        fields["terms_points"] = 0
    if "picture_epochs" in TrainConfig.__dataclass_fields__:
        fields["picture_epochs"] = []
    return fields


def _aevb(*args: str, cwd: Path) -> subprocess.Popen:
    # One thread: tiny kernels on a shared machine run fastest without OpenMP barriers, and the in-process reference
    # uses the same setting, so the weights can be compared bit for bit.
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "aevb", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _checkpoint_step(path: Path) -> int:
    try:
        return load_checkpoint(path)["step"]
    except Exception:  # not written yet
        return -1


def test_kill_9_at_a_random_step_then_resume_gives_the_uninterrupted_weights(tmp_path):
    np.save(tmp_path / "toy.npy", toy_binary(n=500, side=6).x.numpy().astype(np.float32))
    epochs, per_epoch = 20, 18  # 450 training points / 25
    model = ModelConfig(latent_dim=2, hidden=[16])
    train = TrainConfig(
        dataset=str(tmp_path / "toy.npy"), epochs=epochs, batch_size=25, checkpoint_steps=5, **_quiet_train_fields()
    )
    run = tmp_path / "run"
    (tmp_path / "run.toml").write_text(
        Config(model=model, train=TrainConfig(**{**train.__dict__, "out": str(run)})).to_toml()
    )

    seed = random.randrange(2**31)  # in the failure messages, so a failing kill point can be replayed
    target = random.Random(seed).randrange(10, epochs * per_epoch - 60)
    proc = _aevb("train", "--config", str(tmp_path / "run.toml"), cwd=tmp_path)
    deadline = time.monotonic() + 180
    while _checkpoint_step(run / "checkpoints") < target:  # kill at the first poll past a random step
        assert proc.poll() is None, f"run ended before the kill (seed {seed}): {proc.communicate()}"
        assert time.monotonic() < deadline
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = _checkpoint_step(run / "checkpoints")
    assert proc.returncode == -signal.SIGKILL and killed_at < epochs * per_epoch, f"not killed (seed {seed})"
    assert not (run / "model.safetensors").exists()

    resumed = _aevb("train", "--resume", "--out", str(run), cwd=tmp_path)
    out, err = resumed.communicate(timeout=240)
    assert resumed.returncode == 0, err[-3000:]

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        train_from_config(Config(model=model, train=TrainConfig(**{**train.__dict__, "out": str(tmp_path / "ref")})))
    finally:
        torch.set_num_threads(threads)
    got, want = load_file(run / "model.safetensors"), load_file(tmp_path / "ref" / "model.safetensors")
    for key in want:
        assert torch.equal(got[key], want[key]), f"{key} differs after a kill at step {killed_at} (seed {seed})"
    steps = [int(line.split('"step": ')[1].split(",")[0]) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == [per_epoch * (e + 1) for e in range(epochs)]  # each epoch logged exactly once across the kill


def _cli(argv: list[str], capsys) -> tuple[int, str]:
    code = cli.main(argv)
    return code, capsys.readouterr().err


def test_newer_config_version_refused_by_the_cli(tmp_path, capsys):
    (tmp_path / "c.toml").write_text("version = 99\n[model]\nlatent_dim = 2\n")
    code, err = _cli(["train", "--config", str(tmp_path / "c.toml"), "--out", str(tmp_path / "r")], capsys)
    assert code == 2 and "config version 99 is newer" in err and "upgrade aevb" in err


def test_resume_of_a_run_with_a_newer_config_refused(tmp_path, capsys):
    run = tmp_path / "r"
    run.mkdir()
    (run / "config.toml").write_text("version = 5\n[train]\nepochs = 1\n")
    code, err = _cli(["train", "--resume", "--out", str(run)], capsys)
    assert code == 2 and "newer" in err


def _trained_run(tmp_path: Path) -> Path:
    np.save(tmp_path / "toy.npy", toy_binary(n=60, side=4).x.numpy().astype(np.float32))
    run = tmp_path / "run"
    config = Config(
        model=ModelConfig(latent_dim=2, hidden=[8]),
        train=TrainConfig(dataset=str(tmp_path / "toy.npy"), epochs=1, out=str(run), **_quiet_train_fields()),
    )
    train_from_config(config)
    return run


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /tmp/aevb_faults_pwned",))


@pytest.mark.parametrize("fault", ["truncated-weights", "garbage-json", "malicious-checkpoint", "truncated-checkpoint"])
def test_damaged_run_files_refused_through_the_cli(tmp_path, capsys, fault):
    run = _trained_run(tmp_path)
    weights, ckpt = run / "model.safetensors", run / "checkpoints" / "last.pt"
    if fault == "truncated-weights":
        weights.write_bytes(weights.read_bytes()[:100])
        argv, expect = ["evaluate", str(run), "--nll-samples", "0"], "corrupted or truncated"
    elif fault == "garbage-json":
        (run / "model.json").write_bytes(os.urandom(64))
        argv, expect = ["sample", str(run), "--out", str(tmp_path / "s.png")], "corrupted"
    elif fault == "malicious-checkpoint":
        torch.save({"format_version": 1, "payload": _Evil()}, ckpt)
        argv, expect = ["train", "--resume", "--out", str(run), "--epochs", "2"], "refused"
    else:
        ckpt.write_bytes(ckpt.read_bytes()[:-200])
        argv, expect = ["train", "--resume", "--out", str(run), "--epochs", "2"], "corrupted or truncated"
    code, err = _cli(argv, capsys)
    assert code == 2 and expect in err and "Traceback" not in err
    assert not Path("/tmp/aevb_faults_pwned").exists()


def _unsafe_torch_loads(tree: ast.AST) -> list[int]:
    """Lines of ``torch.load(...)`` / ``load(...)``-from-torch calls without a literal ``weights_only=True``."""
    bad = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        is_torch_load = isinstance(f, ast.Attribute) and f.attr == "load" and getattr(f.value, "id", None) == "torch"
        if is_torch_load:
            ok = any(
                k.arg == "weights_only" and isinstance(k.value, ast.Constant) and k.value.value is True
                for k in node.keywords
            )
            if not ok:
                bad.append(node.lineno)
    return bad


def test_no_torch_load_without_weights_only():
    files = [p for d in ("src", "benchmarks", "scripts", "examples") for p in (ROOT / d).rglob("*.py")]
    assert any(p.name == "checkpoint.py" for p in files)
    offenders = {
        str(p.relative_to(ROOT)): lines for p in files if (lines := _unsafe_torch_loads(ast.parse(p.read_text())))
    }
    assert offenders == {}, f"torch.load without weights_only=True: {offenders}"
    # The check itself can fail: it flags a call without the flag, or with a non-literal one.
    assert _unsafe_torch_loads(ast.parse("import torch\ntorch.load('x')\ntorch.load('y', weights_only=flag)")) == [2, 3]
    # And a bare ``from torch import load`` is not allowed to sidestep it.
    sidestep = [
        str(p)
        for p in files
        if "from torch import load" in p.read_text() or "torch.serialization.load(" in p.read_text()
    ]
    assert sidestep == []
