"""ONNX export: the encoder and decoder graphs run in ONNX Runtime and agree with PyTorch on 100 inputs, for the MLP
and conv architectures and a conditional model; the JSON describes them."""

import json

import numpy as np
import pytest
import torch

import aevb
from aevb.cli import main
from aevb.export import export_onnx

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")


@pytest.mark.parametrize(
    ("config", "shape"),
    [
        (aevb.ModelConfig(latent_dim=4, hidden=[64, 32]), (1, 28, 28)),
        (aevb.ModelConfig(latent_dim=4, hidden=[16, 32], arch="conv"), (1, 28, 28)),
        (aevb.ModelConfig(latent_dim=3, hidden=[32], likelihood="gaussian", posterior="full"), (10,)),
        (aevb.ModelConfig(model="cvae", latent_dim=2, hidden=[32], num_classes=3), (12,)),
    ],
    ids=["mlp", "conv", "gaussian-fullcov", "cvae"],
)
def test_exported_graphs_match_pytorch(tmp_path, config, shape):
    model = aevb.build_model(config, shape, seed=0).eval()
    description = export_onnx(model, tmp_path)
    g = torch.Generator().manual_seed(1)
    x = torch.rand(100, *shape, generator=g)
    z = torch.randn(100, config.latent_dim, generator=g)
    feeds_x, feeds_z, context = {"x": x.numpy()}, {"z": z.numpy()}, None
    if config.model == "cvae":
        context = model.make_context(torch.arange(100) % 3)
        feeds_x["context"] = feeds_z["context"] = context.numpy()
    encoder = ort.InferenceSession(str(tmp_path / "encoder.onnx"), providers=["CPUExecutionProvider"])
    decoder = ort.InferenceSession(str(tmp_path / "decoder.onnx"), providers=["CPUExecutionProvider"])
    with torch.no_grad():
        q, p = model.encode(x, context), model.decode(z, context)
    q_params = (q.loc, q.scale_tril) if config.posterior == "full" else (q.base_dist.loc, q.base_dist.scale)
    p_params = (p.base_dist.logits,) if config.likelihood == "bernoulli" else (p.base_dist.loc, p.base_dist.scale)
    for got, want in zip(encoder.run(None, feeds_x), q_params, strict=True):
        assert np.abs(got - want.numpy()).max() <= 1e-5
    for got, want in zip(decoder.run(None, feeds_z), p_params, strict=True):
        assert np.abs(got - want.numpy()).max() <= 1e-5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["decoder.onnx", "encoder.onnx", "model.onnx.json"]
    assert encoder.get_inputs()[0].shape[0] == "N"  # the dynamic batch axis, named as in the JSON
    saved = json.loads((tmp_path / "model.onnx.json").read_text())
    assert saved["encoder"]["inputs"]["x"]["shape"] == ["N", *shape] and saved["latent_dim"] == config.latent_dim
    assert list(saved["decoder"]["outputs"]) == [
        n for n in ("logits", "loc", "scale") if n in saved["decoder"]["outputs"]
    ]
    assert description["max_abs_difference_vs_pytorch"]["encoder"] <= 1e-5
    # what a user of the ONNX files needs: the dtype (onnxruntime refuses float64) and only this model's settings
    assert saved["dtype"] == "float32" and saved["encoder"]["inputs"]["x"]["dtype"] == "float32"
    outputs = [*saved["encoder"]["outputs"].values(), *saved["decoder"]["outputs"].values()]
    assert outputs and all(o["dtype"] == "float32" for o in outputs)  # and of what each graph gives back
    assert all(got.dtype == np.float32 for got in decoder.run(None, feeds_z))
    assert "codebook_size" not in saved["model"] and "latent_dim" in saved["model"]
    assert ("num_classes" in saved["model"]) == (config.model == "cvae")


def test_export_command_and_what_it_refuses(tmp_path, capsys):
    data = tmp_path / "d.npy"
    np.save(data, (np.random.default_rng(0).random((60, 9)) < 0.3).astype(np.float32))
    run = tmp_path / "run"
    assert main(["train", "--dataset", str(data), "--hidden", "8", "--latent-dim", "2", "--epochs", "1",
                 "--out", str(run), "--progress", "false"]) == 0  # fmt: skip
    assert main(["export", str(run)]) == 0
    assert (run / "export" / "decoder.onnx").is_file()
    assert "max |difference| to PyTorch" in capsys.readouterr().out
    assert main(["export", str(run), "--format", "tflite"]) == 2
    assert "choose one of: onnx" in capsys.readouterr().err
