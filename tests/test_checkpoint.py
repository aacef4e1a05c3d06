"""Model files and checkpoints: round trips, atomic writes, and refusal of corrupted or malicious files."""

from __future__ import annotations

import json
import os
import pickle
import zipfile

import pytest
import torch

from aevb import CheckpointError, ModelConfig, build_model, load_model, save_model
from aevb.training.checkpoint import load_checkpoint, save_checkpoint


def _model():
    torch.manual_seed(0)
    return build_model(ModelConfig(latent_dim=3, hidden=[8]), (1, 4, 4))


def test_model_round_trip_is_exact(tmp_path):
    model = _model()
    save_model(model, tmp_path)
    assert {p.name for p in tmp_path.iterdir()} == {"model.safetensors", "model.json"}
    loaded = load_model(tmp_path)
    for (k, a), (k2, b) in zip(model.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert k == k2 and torch.equal(a, b)


def test_truncated_weights_refused(tmp_path):
    save_model(_model(), tmp_path)
    w = tmp_path / "model.safetensors"
    w.write_bytes(w.read_bytes()[:-50])
    with pytest.raises(CheckpointError, match="corrupted or truncated"):
        load_model(tmp_path)


def test_newer_model_format_refused(tmp_path):
    save_model(_model(), tmp_path)
    meta = json.loads((tmp_path / "model.json").read_text())
    meta["format_version"] = 99
    (tmp_path / "model.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="newer"):
        load_model(tmp_path)


def test_weights_not_matching_config_refused(tmp_path):
    save_model(_model(), tmp_path)
    meta = json.loads((tmp_path / "model.json").read_text())
    meta["model"]["latent_dim"] = 4
    (tmp_path / "model.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError):
        load_model(tmp_path)


def test_checkpoint_round_trip(tmp_path):
    model = _model()
    opt = torch.optim.Adam(model.parameters())
    model.elbo(torch.rand(2, 1, 4, 4).round()).mean().backward()
    opt.step()
    state = {
        "model": model.state_dict(),
        "optimizer": opt.state_dict(),
        "step": 3,
        "rng": torch.get_rng_state(),
    }
    save_checkpoint(state, tmp_path)
    loaded = load_checkpoint(tmp_path)
    assert loaded["step"] == 3
    assert torch.equal(loaded["rng"], state["rng"])
    opt2 = torch.optim.Adam(_model().parameters())
    opt2.load_state_dict(loaded["optimizer"])


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /tmp/aevb_pwned",))


def test_malicious_pickle_checkpoint_refused(tmp_path):
    path = tmp_path / "last.pt"
    torch.save({"format_version": 1, "payload": _Evil()}, path)
    with pytest.raises(CheckpointError, match="refused"):
        load_checkpoint(path)
    assert not os.path.exists("/tmp/aevb_pwned")


def test_raw_pickle_file_refused(tmp_path):
    path = tmp_path / "last.pt"
    path.write_bytes(pickle.dumps({"format_version": 1, "evil": _Evil()}))
    with pytest.raises(CheckpointError):
        load_checkpoint(path)
    assert not os.path.exists("/tmp/aevb_pwned")


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_corrupted_checkpoint_refused(tmp_path, damage):
    save_checkpoint({"step": 1, "w": torch.randn(100)}, tmp_path)
    path = tmp_path / "last.pt"
    data = path.read_bytes()
    path.write_bytes({"truncate": data[: len(data) // 2], "garbage": os.urandom(len(data)), "empty": b""}[damage])
    with pytest.raises(CheckpointError):
        load_checkpoint(path)


def test_newer_checkpoint_refused(tmp_path):
    torch.save({"format_version": 7}, tmp_path / "last.pt")
    with pytest.raises(CheckpointError, match="newer"):
        load_checkpoint(tmp_path)


def test_crash_during_checkpoint_write_keeps_previous(tmp_path, monkeypatch):
    save_checkpoint({"step": 1}, tmp_path)

    def crash(obj, f, *a, **k):
        with open(f, "wb") as fh:
            fh.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(OSError):
        save_checkpoint({"step": 2}, tmp_path)
    monkeypatch.undo()
    assert load_checkpoint(tmp_path)["step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]  # no temporary file left behind
    assert zipfile.is_zipfile(tmp_path / "last.pt")
