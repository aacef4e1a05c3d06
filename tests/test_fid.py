"""FID: the Fréchet distance against closed forms, its behaviour under perturbation, and the feature extractors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aevb import CheckpointError, ConfigError, ModelConfig, TensorData, TrainConfig, build_model
from aevb.config import Config
from aevb.metrics import FEATURES, fid_from_features, frechet_distance
from aevb.metrics.classifier import classifier_for, load_classifier
from aevb.metrics.inception import FIDInceptionV3, load_fid_weights
from aevb.training.components import check_names
from aevb.training.trainer import Trainer
from tests.conftest import toy_binary


def _spd(d: int, rng: np.random.Generator) -> np.ndarray:
    a = rng.normal(size=(d, d))
    return a @ a.T + 0.1 * np.eye(d)


def test_closed_form_for_two_gaussians():
    rng = np.random.default_rng(0)
    mu1, mu2 = rng.normal(size=5), rng.normal(size=5)
    s1, s2 = _spd(5, rng), _spd(5, rng)
    # The symmetric form tr(Σ₁ + Σ₂ − 2 (Σ₁^{1/2} Σ₂ Σ₁^{1/2})^{1/2}), square roots by eigendecomposition.
    w, v = np.linalg.eigh(s1)
    r1 = v @ np.diag(np.sqrt(w)) @ v.T
    w, v = np.linalg.eigh(r1 @ s2 @ r1)
    middle = v @ np.diag(np.sqrt(np.clip(w, 0, None))) @ v.T
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * middle)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-9)
    # Diagonal (commuting) covariances: ‖Δμ‖² + Σ_i (σ₁ᵢ − σ₂ᵢ)².
    d1, d2 = rng.uniform(0.5, 2, 4), rng.uniform(0.5, 2, 4)
    expected = np.sum((mu1[:4] - mu2[:4]) ** 2) + np.sum((np.sqrt(d1) - np.sqrt(d2)) ** 2)
    assert frechet_distance(mu1[:4], np.diag(d1), mu2[:4], np.diag(d2)) == pytest.approx(expected, rel=1e-9)
    # Scalars: (μ₁ − μ₂)² + (σ₁ − σ₂)².
    assert frechet_distance(np.array(1.0), np.array(4.0), np.array(-1.0), np.array(1.0)) == pytest.approx(5.0)


def test_sample_estimate_converges_to_the_closed_form():
    rng = np.random.default_rng(1)
    mu1, mu2 = np.zeros(3), np.array([1.0, -0.5, 0.2])
    s1, s2 = _spd(3, rng), _spd(3, rng)
    a = rng.multivariate_normal(mu1, s1, size=200_000)
    b = rng.multivariate_normal(mu2, s2, size=200_000)
    exact = frechet_distance(mu1, s1, mu2, s2)
    assert fid_from_features(a, b) == pytest.approx(exact, rel=0.02)


def test_same_set_is_zero_and_singular_covariances_are_handled():
    rng = np.random.default_rng(2)
    f = rng.normal(size=(500, 16))
    assert abs(fid_from_features(f, f)) < 1e-8
    few = rng.normal(size=(10, 32))  # fewer samples than dimensions: singular covariances
    value = fid_from_features(few, few + 1e-3 * rng.normal(size=few.shape))
    assert np.isfinite(value) and abs(value) < 1e-2


def _toy(n: int, seed: int) -> TensorData:
    data = toy_binary(n, side=8, seed=seed)
    return TensorData(data.x, data.y, name="toy")


@pytest.fixture(scope="module")
def toy_classifier(tmp_path_factory):
    torch.manual_seed(0)
    directory = tmp_path_factory.mktemp("clf")
    clf = classifier_for(_toy(256, 0), directory)
    return clf, directory


def test_fid_grows_with_the_perturbation(toy_classifier):
    clf, directory = toy_classifier
    extractor = FEATURES.get("aevb_classifier")(str(directory), _toy(256, 0))
    assert extractor.key == "fid_aevb_classifier_toy"
    real, other = _toy(400, 1).x, _toy(400, 2).x
    g = torch.Generator().manual_seed(0)
    noise = torch.randn(other.shape, generator=g)
    values = [
        fid_from_features(extractor(real), extractor((other + s * noise).clamp(0, 1))) for s in (0, 0.1, 0.3, 0.6)
    ]
    assert all(a < b for a, b in zip(values, values[1:], strict=False)), values
    assert values[0] < 0.1 * values[-1]


def test_classifier_is_stored_and_reloaded(toy_classifier):
    clf, directory = toy_classifier
    assert (directory / "classifier.safetensors").is_file() and (directory / "classifier.json").is_file()
    again = load_classifier(directory)
    x = _toy(8, 3).x
    torch.testing.assert_close(again.features_net()(x), clf.features_net()(x))
    with pytest.raises(Exception, match="shape"):
        classifier_for(TensorData(torch.rand(4, 1, 12, 12), torch.zeros(4, dtype=torch.long), name="toy"), directory)


def test_inception_plumbing_with_random_weights(tmp_path):
    torch.manual_seed(0)
    net = FIDInceptionV3(resize=75).eval()
    x = torch.rand(2, 1, 20, 20)
    with torch.no_grad():
        feats = net(x)
    assert feats.shape == (2, 2048) and torch.isfinite(feats).all()
    # Through the registry with the standard 299×299 resize, from a .safetensors file.
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(tmp_path / "w.safetensors"))
    extractor = FEATURES.get("inception")(str(tmp_path / "w.safetensors"))
    assert extractor.key == "fid_inception" and extractor.net.resize == 299
    extractor.net.resize = 75
    torch.testing.assert_close(extractor(x).float(), feats)
    # A torch file is read with weights_only=True; the 1008-way classifier keys are allowed, missing layers are not.
    torch.save({"fc.weight": torch.zeros(1008, 2048), "fc.bias": torch.zeros(1008)}, tmp_path / "bad.pth")
    with pytest.raises(CheckpointError, match="missing"):
        load_fid_weights(extractor.net, tmp_path / "bad.pth")
    with pytest.raises(Exception, match="--fid-weights"):
        FEATURES.get("inception")("")
    with pytest.raises(CheckpointError, match="--fid-weights"):
        load_fid_weights(extractor.net, tmp_path / "missing.pth")


def test_fid_every_logs_named_fid(toy_classifier):
    _, directory = toy_classifier
    torch.manual_seed(0)
    data = _toy(256, 0)
    model = build_model(ModelConfig(arch="conv", hidden=[8, 8], latent_dim=2), data.event_shape)
    cfg = TrainConfig(
        epochs=2, batch_size=64, progress=False, fid_every=2, fid_weights=str(directory), fid_samples=200,
        picture_epochs=[], terms_points=0,
    )  # fmt: skip
    history = Trainer(model, data, cfg, test=_toy(200, 1)).fit().history
    assert "fid_aevb_classifier_toy" not in history[0] and np.isfinite(history[1]["fid_aevb_classifier_toy"])
    with pytest.raises(ConfigError, match="FID feature extractor"):
        check_names(Config(train=TrainConfig(fid_features="nope")))


def test_cli_fid_of_a_run_and_classifier_command(tmp_path, capsys):
    import json

    from aevb.cli import main

    data = toy_binary(160, side=8)
    np.savez(tmp_path / "toy.npz", x=data.x.numpy(), y=data.y.numpy())
    args = "--arch conv --hidden 4,8 --latent-dim 2 --epochs 1 --batch-size 64 --eval-every 0 --progress false"
    run = tmp_path / "run"
    assert main(["train", "--dataset", str(tmp_path / "toy.npz"), *args.split(), "--out", str(run)]) == 0
    assert main(["fid-classifier", "--dataset", str(tmp_path / "toy.npz"), "--out", str(tmp_path / "clf")]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["features"] == "aevb_classifier_toy"
    fid_args = ["fid", str(run), "--fid-weights", str(tmp_path / "clf"), "-n", "16", "--json"]
    assert main(fid_args) == 0
    out = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert out["features"] == "aevb_classifier_toy" and np.isfinite(out["fid_aevb_classifier_toy"])
