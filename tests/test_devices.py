"""The device rule (``aevb.runtime``): a model's public methods take inputs on any device and compute on the model's.

CI has no GPU, so the other device here is PyTorch's ``meta`` device (shapes and dtypes, no data): an operation that
mixes a CPU tensor with a meta one raises just as a CPU/CUDA mix does ("Tensor on device cpu is not on the expected
device meta"), so every place where CPU data would meet a GPU model fails here too. With a GPU present the same tests
also run on CUDA.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from aevb.cli import main
from aevb.config import ModelConfig
from aevb.inference.hmc import log_joint
from aevb.inference.importance import log_likelihood
from aevb.models import build_model
from aevb.models.protocols import ConditionalModel
from tests.conftest import toy_binary

DEVICES = ["meta"] + (["cuda"] if torch.cuda.is_available() else [])
MODELS = {
    "vae": {},
    "ae": {},
    "cvae": {},
    "m2": {},
    "deep-vae": {"latent_dims": [4, 2]},
    "vae-full": {"posterior": "full"},
    "vae-conv": {"arch": "conv", "hidden": [4, 8]},
}


def _model(name: str, device: str) -> torch.nn.Module:
    settings = {"latent_dim": 4, "hidden": [16], "num_classes": 3, **MODELS[name]}
    config = ModelConfig(model=name.split("-")[0] if name.startswith("vae-") else name, **settings)
    shape = (1, 8, 8) if settings.get("arch") == "conv" else (36,)
    return build_model(config, shape, seed=0).to(device)


def _cpu_inputs(model: torch.nn.Module) -> tuple[torch.Tensor, torch.Tensor | None]:
    x = (torch.rand(5, *model.event_shape, generator=torch.Generator().manual_seed(0)) > 0.5).float()
    context = model.make_context(torch.tensor([0, 1, 2, 0, 1])) if isinstance(model, ConditionalModel) else None
    return x, context


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", sorted(MODELS))
def test_model_methods_take_cpu_inputs(name, device):
    model = _model(name, device)
    x, context = _cpu_inputs(model)  # on the CPU, as a user's data usually are
    here = torch.device(device).type
    assert model.encode(x, context).mean.device.type == here
    z = torch.randn(5, model.latent_dim)  # a CPU z
    assert model.decode(z, context).mean.device.type == here
    assert model.terms(x, 3, context).log_weight.shape == (3, 5)
    assert model.prior_distribution(context).sample().device.type == here
    assert model.sample(5, context).shape == (5, *model.event_shape)
    assert model.reconstruct(x, context).device.type == here


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", ["vae", "cvae", "m2"])
def test_estimators_take_cpu_inputs(name, device):
    """Importance sampling and the HMC target (one-layer models) read x and the context on any device."""
    model = _model(name, device).eval()
    x, context = _cpu_inputs(model)
    assert log_likelihood(model, x, 8, context).shape == (5,)
    z = model.encode(x, context).sample((2,))
    assert log_joint(model, x, context)(z).shape == (2, 5)


@pytest.mark.parametrize("device", ["cpu"] + DEVICES[1:])
def test_export_leaves_the_callers_model_as_it_was(tmp_path, device):
    """``export_onnx`` exports a CPU copy in eval mode: the caller's model keeps its device and its training mode (it
    used to be moved to the CPU and switched to eval in place)."""
    pytest.importorskip("onnxruntime")
    from aevb.export import export_onnx

    model = _model("vae", device).train()
    export_onnx(model, tmp_path, check_batch=4)
    assert model.training and next(model.parameters()).device.type == device


def test_tf32_and_fp32_set_cudas_matmul_and_conv_precision_for_the_block_only():
    """precision="tf32" puts CUDA's fp32 matmuls and convolutions on TF32 inside the block, "fp32" keeps both in IEEE
    fp32 (torch's default runs cuDNN convolutions on TF32), and the previous settings come back after it. The settings
    stay readable through torch's older API, which the compiler calls (the newer per-backend one alone made
    ``get_float32_matmul_precision`` raise "mix of the legacy and new APIs"). On a CPU, with no TF32 units, nothing
    changes: the same numbers."""
    from aevb.evaluation import evaluate
    from aevb.runtime import fp32_arithmetic
    from tests.conftest import toy_binary

    matmul, conv = torch.backends.cuda.matmul, torch.backends.cudnn.conv

    def settings() -> tuple:  # as torch's older API reads them (its newer one may say "ieee" for "none": both fp32)
        return torch.get_float32_matmul_precision(), torch.backends.cudnn.allow_tf32, conv.fp32_precision

    before = settings()
    with fp32_arithmetic(torch.device("cuda"), "tf32"):
        assert (matmul.fp32_precision, conv.fp32_precision) == ("tf32", "tf32")
        assert torch.get_float32_matmul_precision() == "high" and torch.backends.cudnn.allow_tf32
    with fp32_arithmetic(torch.device("cuda"), "fp32"):
        assert matmul.fp32_precision == "ieee" and not torch.backends.cudnn.allow_tf32
        assert torch.get_float32_matmul_precision() == "highest"
    assert settings() == before
    for precision in ("tf32", "fp32"):
        with fp32_arithmetic(torch.device("cpu"), precision):
            assert settings() == before
    model = build_model(ModelConfig(latent_dim=2, hidden=[8]), (1, 6, 6))
    x = toy_binary(40).x
    fp32 = evaluate(model, x, nll_samples=10, seed=0)
    tf32 = evaluate(model, x, nll_samples=10, seed=0, precision="tf32")
    assert (fp32.elbo, fp32.nll) == (tf32.elbo, tf32.nll)


def test_an_unconditional_vae_given_a_context_still_draws_n_samples():
    """The standard prior ignores a context; sample(n, context=c) used to draw a single z then (n ignored)."""
    model = build_model(ModelConfig(latent_dim=2, hidden=[8]), (4,))
    assert model.sample(5, context=torch.zeros(5, 3)).shape == (5, 4)
    cvae = build_model(ModelConfig(model="cvae", latent_dim=2, hidden=[8], num_classes=3), (4,))
    assert cvae.sample(1, context=torch.eye(3)[:1]).shape == (1, 4)  # one draw per context row, also for one row
    assert cvae.sample(3, context=torch.eye(3)).shape == (3, 4)


def test_evaluate_gives_the_model_back_in_its_mode_when_a_batch_fails():
    from aevb.evaluation import evaluate

    model = build_model(ModelConfig(latent_dim=2, hidden=[8]), (4,))
    model.train()

    def broken(*args, **kwargs):
        raise RuntimeError("out of memory")

    model.terms = broken
    with pytest.raises(RuntimeError, match="out of memory"):
        evaluate(model, torch.rand(3, 4))
    assert model.training


def test_what_was_made_on_a_gpu_loads_where_that_gpu_is_missing(monkeypatch, tmp_path):
    """`device` names a GPU this machine lacks: no CUDA at all → the CPU; fewer GPUs than its index → the current
    GPU. Each with a warning naming the device, never torch's raw "invalid device ordinal". An estimator loads so,
    and a run is read so (evaluate, plot, score, report: `Run`), while training there is refused (`resolve_device`)."""
    from aevb.runs.rundir import Run
    from aevb.runtime import available_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.warns(UserWarning, match="this estimator was set to device 'cuda:3', but CUDA is not available: load"):
        assert available_device("cuda:3", "this estimator") == torch.device("cpu")
    data = toy_binary(60, side=4)
    np.save(tmp_path / "toy.npy", data.x.numpy())
    run = tmp_path / "run"
    assert main(["train", "--dataset", str(tmp_path / "toy.npy"), "--hidden", "8", "--latent-dim", "2", "--epochs", "1",
                 "--progress", "false", "--device", "cpu", "--out", str(run)]) == 0  # fmt: skip
    config = run / "config.toml"
    config.write_text(config.read_text().replace('device = "cpu"', 'device = "cuda"'))
    with pytest.warns(UserWarning, match="this run was set to device 'cuda', but CUDA is not available"):
        assert Run(run).device == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    with pytest.warns(UserWarning, match=r"'cuda:3', but this machine has 2 GPU\(s\): loading on the current one"):
        assert available_device("cuda:3") == torch.device("cuda")
    assert available_device("cuda:1") == torch.device("cuda:1")
    assert available_device("cpu") == torch.device("cpu")


def test_building_a_seeded_model_leaves_the_gpus_random_streams_alone(monkeypatch):
    """The weights are drawn on the CPU from its seeded generator; reseeding every CUDA generator too (what
    torch.manual_seed does) would reset a user's GPU stream, which the CPU-only fork does not restore."""
    reseeded = []
    monkeypatch.setattr(torch.cuda, "manual_seed_all", lambda seed: reseeded.append(seed))
    state = torch.get_rng_state()
    a = build_model(ModelConfig(latent_dim=2, hidden=[8]), (4,), seed=3)
    b = build_model(ModelConfig(latent_dim=2, hidden=[8]), (4,), seed=np.int64(3))  # any integer, as torch.manual_seed
    assert reseeded == [] and torch.equal(torch.get_rng_state(), state)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))


GPU = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA: on a CPU the data are where the model is")


def _gpu_trainer(x: torch.Tensor):  # noqa: ANN202
    from aevb import TrainConfig
    from aevb.data import TensorData
    from aevb.training.trainer import Trainer

    model = build_model(ModelConfig(latent_dim=2, hidden=[8]), x.shape[1:], seed=0)
    config = TrainConfig(device="cuda", epochs=2, batch_size=16, progress=False, picture_epochs=[], terms_points=0)
    return Trainer(model, TensorData(x, None, name="array"), config)


def _not_resident(monkeypatch: pytest.MonkeyPatch) -> None:
    import aevb.training.trainer as trainer_module

    monkeypatch.setattr(trainer_module, "data_placement", lambda nbytes, device: (False, "forced: not resident"))


@GPU
def test_training_data_already_on_the_gpu_stay_there(monkeypatch):
    """A user's tensors already on the GPU are used in place, even where the placement rule would keep a set of their
    size on the CPU (it used to pin them: a CUDA tensor cannot be pinned)."""
    _not_resident(monkeypatch)
    x = (torch.rand(64, 36, device="cuda") > 0.5).float()
    trainer = _gpu_trainer(x)
    assert trainer.resident and trainer.x.data_ptr() == x.data_ptr()
    trainer.fit()


@GPU
def test_minibatches_pinned_and_copied_train_as_resident_data_do(monkeypatch):
    """The path for data too large for the GPU (gathered on the CPU, pinned, copied without waiting) gives the run
    the resident path gives, bit for bit."""
    x = (torch.rand(64, 36, generator=torch.Generator().manual_seed(0)) > 0.5).float()
    resident = _gpu_trainer(x)
    resident.fit()
    _not_resident(monkeypatch)
    copied = _gpu_trainer(x)
    assert not copied.resident and copied.x.device.type == "cpu" and not copied.x.is_pinned()
    copied.fit()
    assert [r["train_bound"] for r in copied.history] == [r["train_bound"] for r in resident.history]
    assert all(torch.equal(p, q) for p, q in zip(copied.model.parameters(), resident.model.parameters(), strict=True))


@pytest.mark.parametrize(
    "setting",
    ["torch.backends.cuda.matmul.fp32_precision = 'tf32'", "torch.backends.cudnn.conv.fp32_precision = 'ieee'",
     "torch.backends.fp32_precision = 'ieee'"],
)  # fmt: skip
def test_fp32_arithmetic_works_where_the_process_set_torchs_newer_precision_settings(setting):
    """Once a process sets torch's newer per-backend settings, the older getters raise ("mix of the legacy and new
    APIs"); fp32_arithmetic then works through the newer ones and restores them (its own process: the state sticks)."""
    code = f"""
import torch
from aevb.runtime import fp32_arithmetic
matmul, conv = torch.backends.cuda.matmul, torch.backends.cudnn.conv
{setting}
try:
    torch.get_float32_matmul_precision(), torch.backends.cudnn.allow_tf32
    raise SystemExit("the older getters read this state: the test no longer tests the case it names")
except RuntimeError:
    pass
before = matmul.fp32_precision, conv.fp32_precision
with fp32_arithmetic(torch.device("cuda"), "tf32"):
    assert matmul.fp32_precision == conv.fp32_precision == "tf32"
with fp32_arithmetic(torch.device("cuda"), "fp32"):
    assert matmul.fp32_precision == conv.fp32_precision == "ieee"
assert (matmul.fp32_precision, conv.fp32_precision) == before
print("ok")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr + out.stdout


def test_a_device_this_process_cannot_use_is_refused_by_name(monkeypatch):
    """``resolve_device`` (every trainer, run and estimator) names the device asked for and what to use instead,
    where torch would fail later with "Torch not compiled with CUDA enabled" or "Invalid device string"."""
    from aevb.errors import ConfigError
    from aevb.runtime import resolve_device

    with pytest.raises(ConfigError, match="'cuda:x' is not a device name; choose auto, cpu, cuda or cuda:N"):
        resolve_device("cuda:x")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError, match="'cuda' asks for a GPU, but this process has none .*use device auto"):
        resolve_device("cuda")
    assert resolve_device("auto") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    with pytest.raises(ConfigError, match=r"'cuda:2': this machine has 2 GPU\(s\), cuda:0 to cuda:1"):
        resolve_device("cuda:2")
    assert resolve_device("cuda:1") == torch.device("cuda:1")


def test_a_setting_that_is_no_number_is_named():
    from aevb.config import TrainConfig
    from aevb.errors import ConfigError

    with pytest.raises(ConfigError, match="lr must be a number > 0, got 'fast'"):
        TrainConfig(lr="fast")
    with pytest.raises(ConfigError, match="beta must be a number >= 0, got True"):
        TrainConfig(beta=True)
    assert TrainConfig(lr=np.float32(1e-3)).lr == np.float32(1e-3)  # NumPy's numbers are numbers
