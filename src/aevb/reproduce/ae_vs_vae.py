"""The lecture's contrast of the plain autoencoder and the VAE, on MNIST with 2-D codes, measured as well as shown.

Four models, 784-512-2 ReLU MLPs with a Bernoulli decoder, Adam 1e-3, M = 100 (the same except the objective):

- ``ae``: the plain autoencoder, −log p(x|z = f(x)) (``--model ae --objective reconstruction``);
- ``vae``: the VAE, the ELBO ("both terms");
- ``recon-only``: the VAE's stochastic encoder trained on the reconstruction term alone (no KL);
- ``kl-only``: the same trained on −KL(q‖p) alone.

Pictures: (a) the test digits' codes of AE and VAE coloured by label; (b) each model decoded over a 15 × 15 grid
spanning its codes' region (1st to 99th percentile per axis); (c) the codes under the three objectives.
Numbers: 1,000 draws from each model's latent distribution (the VAE's prior N(0, I); a Gaussian fitted to the AE's
training codes) are decoded and judged by aevb's MNIST classifier (the one behind ``fid_aevb_classifier_mnist``):
its mean confidence (max softmax) and the FID in its features against 1,000 test digits; and, for 1,000 random pairs
of test digits with different labels, the fraction of decoded midpoints of the linear interpolation between their
codes that the judge labels as one of the two endpoints' digits.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from aevb.config import ModelConfig
from aevb.data import TensorData
from aevb.io import load_model
from aevb.metrics.classifier import classifier_for
from aevb.metrics.fid import FEATURES, model_fid
from aevb.models.protocols import BoundModel
from aevb.plots.common import pyplot, save_figure
from aevb.plots.grids import decode_mean, encode_mean
from aevb.plots.png import save_grid, to_images
from aevb.reproduce.common import (
    Options,
    epochs_for,
    load_pair,
    load_split,
    machine,
    markdown_table,
    quiet_train,
    train_run,
    write_csv,
)

DEFAULT_BUDGET = 600_000  # 10 epochs of MNIST's 60,000 training digits
MODELS = (
    ("ae", "plain autoencoder", "ae", "reconstruction"),
    ("vae", "VAE (reconstruction + KL)", "vae", "elbo"),
    ("recon-only", "VAE encoder, reconstruction only", "vae", "reconstruction"),
    ("kl-only", "VAE encoder, KL only", "vae", "kl"),
)
HIDDEN = [512]


@torch.no_grad()
def _judge(judge: torch.nn.Module, images: torch.Tensor) -> torch.Tensor:
    """Class probabilities ``[N, 10]`` of images ``[N, 1, 28, 28]`` in [0, 1]."""
    return torch.cat([judge(images[i : i + 500].clamp(0, 1)).softmax(-1) for i in range(0, len(images), 500)])


def _scatter(ax, codes: torch.Tensor, labels: torch.Tensor, title: str):  # noqa: ANN001,ANN201 - matplotlib objects
    points = ax.scatter(codes[:, 0], codes[:, 1], c=labels, cmap="tab10", s=3, vmin=-0.5, vmax=9.5)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("z₁")
    ax.set_ylabel("z₂")
    return points


def _region_grid(model: BoundModel, codes: torch.Tensor, path: Path, n: int = 15) -> Path:
    lo, hi = np.percentile(codes.numpy(), 1, axis=0), np.percentile(codes.numpy(), 99, axis=0)
    u = torch.tensor(np.stack(np.meshgrid(np.linspace(lo[0], hi[0], n), np.linspace(hi[1], lo[1], n)), -1))
    return save_grid(to_images(decode_mean(model, u.reshape(-1, 2).float()), model.event_shape), path, nrow=n)


def _interpolation_hits(model: BoundModel, judge: torch.nn.Module, test: TensorData, n: int, seed: int) -> float:
    g = torch.Generator().manual_seed(seed)
    a, b = torch.randint(len(test), (4 * n,), generator=g), torch.randint(len(test), (4 * n,), generator=g)
    keep = test.y[a] != test.y[b]
    a, b = a[keep][:n], b[keep][:n]
    codes = encode_mean(model, test.x[torch.cat([a, b])])
    midpoints = decode_mean(model, 0.5 * (codes[: len(a)] + codes[len(a) :]))
    predicted = _judge(judge, midpoints).argmax(-1)
    return float(((predicted == test.y[a]) | (predicted == test.y[b])).float().mean())


def run(opts: Options, out: Path) -> Path:
    budget = opts.budget or DEFAULT_BUDGET
    train, test = load_pair(opts.mnist, opts)
    epochs = epochs_for(budget, len(train))
    runs = {}
    for key, _, model_name, objective in MODELS:
        opts.log(f"ae-vs-vae {key}: {epochs} epochs on {len(train)} points")
        model_cfg = ModelConfig(model=model_name, latent_dim=2, hidden=HIDDEN, activation="relu")
        train_cfg = quiet_train(
            opts, opts.mnist, epochs, objective=objective, terms_points=0 if objective == "kl" else 1000
        )
        runs[key] = train_run(key, model_cfg, train_cfg, train, test, out, opts)
    models = {key: load_model(res.run_dir) for key, res in runs.items()}
    shown = test.spread(5000)
    codes = {key: encode_mean(model, shown.x) for key, model in models.items()}
    # The judge is trained on (and cached for) the whole training split, whatever --train-limit cut for the models.
    full = load_split(opts.mnist, "train", opts)
    judge = classifier_for(full).eval()
    extractor = FEATURES.get("aevb_classifier")("", full, "cpu")
    plt = pyplot()

    # (a) codes of AE and VAE; (b) decoded grids over each one's region; (c) the three objectives.
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.6))
    titles = {key: title for key, title, *_ in MODELS}
    for ax, key in zip(axes, ("ae", "vae"), strict=True):
        points = _scatter(ax, codes[key], shown.y, titles[key])
    fig.colorbar(points, ax=axes, ticks=range(10), label="digit")
    save_figure(fig, out / "codes.png")
    for key in ("ae", "vae"):
        _region_grid(models[key], codes[key], out / f"grid_{key}.png")
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.6))
    for ax, key in zip(axes, ("recon-only", "kl-only", "vae"), strict=True):
        points = _scatter(ax, codes[key], shown.y, titles[key])
    fig.colorbar(points, ax=axes, ticks=range(10), label="digit")  # the colours are the test digits' labels
    save_figure(fig, out / "objectives.png")

    rows = []
    for key in ("ae", "vae"):
        model = models[key]
        with torch.random.fork_rng():
            torch.manual_seed(opts.seed)
            samples = model.sample(1000)
        confidence = float(_judge(judge, samples).max(-1).values.mean())
        fid = model_fid(model, test, extractor, 1000, opts.seed)
        hits = _interpolation_hits(model, judge, test, 1000, opts.seed)
        rows.append(
            {
                "model": key,
                "judge_confidence": confidence,
                f"fid_{extractor.name}": fid,
                "midpoint_is_an_endpoint_digit": hits,
                "test_log_p_x_given_z": runs[key].last("test_recon"),  # E_q[log p(x|z)] on 1,000 test digits
                "seconds": round(runs[key].seconds, 1),
            }
        )
    write_csv(out / "ae_vs_vae.csv", rows)
    columns = ["model", "judge_confidence", f"fid_{extractor.name}", "midpoint_is_an_endpoint_digit"]
    table = markdown_table(
        [
            "model",
            "judge confidence",
            f"FID ({extractor.name})",
            "midpoints labelled as an endpoint's digit",
            "test E_q[log p(x|z)], nats",
        ],
        [[r[c] for c in columns] + [r["test_log_p_x_given_z"]] for r in rows],
    )
    text = "\n".join(
        [
            f"# The plain autoencoder against the VAE (2-D codes, {opts.mnist})",
            "",
            f"{epochs} epochs per model on {len(train)} training digits; 784-512-2 ReLU MLPs, Bernoulli decoder, Adam "
            "1e-3, M = 100. Samples: 1,000 draws from each model's latent distribution (the VAE's prior N(0, I); a "
            f"Gaussian fitted to the autoencoder's training codes), judged by aevb's classifier for {opts.mnist} "
            f"({len(full)} training digits; its features give {extractor.key}).",
            "",
            f"Machine: {machine()}.",
            "",
            table,
            "",
            "Pictures: `codes.png` (a), `grid_ae.png` and `grid_vae.png` (b), `objectives.png` (c); numbers in "
            "`ae_vs_vae.csv`; the four runs in `runs/`.",
            "",
        ]
    )
    path = out / "summary.md"
    path.write_text(text)
    return path
