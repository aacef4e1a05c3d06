"""Figs. 4 and 5 of Kingma & Welling (2014): what the trained generative models look like.

- Fig. 4: learned 2-D manifolds of Frey Face and MNIST — decoder means over a grid of z = Φ⁻¹(u), u on an
  equally spaced grid of the unit square (:func:`aevb.plots.grids.manifold_grid`).
- Fig. 5: random samples from MNIST models with Nz ∈ {2, 5, 10, 20} (decoder means at z ~ p(z); the z are the
  run's fixed draws, so reruns show the same samples).
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from aevb.errors import ConfigError
from aevb.io import load_model
from aevb.plots.common import fixed_z, pyplot, save_figure
from aevb.plots.grids import manifold_grid, sample_grid
from aevb.reproduce.common import (
    Options,
    RunResult,
    epochs_for,
    load_pair,
    machine,
    markdown_table,
    paper_model,
    paper_train,
    train_run,
    write_csv,
)

FIG4_PANELS = (("frey", "Frey Face", 200, "gaussian"), ("mnist", "MNIST", 500, "bernoulli"))
FIG5_SIZES = [2, 5, 10, 20]
FIG4_BUDGET = 300_000
FIG5_BUDGET = 300_000


def _table_rows(title: str, nz: int, res: RunResult) -> dict:
    return {
        "dataset": title,
        "nz": nz,
        "samples_seen": res.history[-1]["samples_seen"],
        "train_bound": res.last("train_bound"),
        "test_elbo": res.last("test_elbo"),
        "seconds": round(res.seconds, 1),
        "run_dir": str(res.run_dir),
    }


def _combine(images: list[tuple[str, Path]], path: Path, title: str) -> Path:
    plt = pyplot()
    fig, axes = plt.subplots(1, len(images), figsize=(4.2 * len(images), 4.6), squeeze=False)
    for ax, (caption, image) in zip(axes[0], images, strict=True):
        with Image.open(image) as img:
            ax.imshow(img.convert("L"), cmap="gray", vmin=0, vmax=255, interpolation="nearest")
        ax.set_title(caption, fontsize=10)
        ax.axis("off")
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return save_figure(fig, path, dpi=130)


def _summary(out: Path, title: str, budget: int, rows: list[dict], body: str) -> Path:
    table = [[r["dataset"], r["nz"], r["samples_seen"], r["train_bound"], r["test_elbo"], r["seconds"]] for r in rows]
    text = "\n".join(
        [
            f"# {title}",
            "",
            f"About {budget} training samples per model; the paper's hyper-parameters (tanh MLP, Adagrad lr 0.02, "
            "M = 100, L = 1, N(0, I) parameter prior, N(0, 0.01²) init). Bounds per datapoint in nats (higher is "
            "better).",
            "",
            f"Machine: {machine()}.",
            "",
            markdown_table(["dataset", "Nz", "samples seen", "train bound", "test ELBO", "seconds"], table),
            "",
            body,
            "",
        ]
    )
    path = out / "summary.md"
    path.write_text(text)
    return path


def run_fig4(opts: Options, out: Path) -> Path:
    budget = opts.budget or FIG4_BUDGET
    rows, images = [], []
    for key, title, hidden, likelihood in FIG4_PANELS:
        dataset = getattr(opts, key)
        train, test = load_pair(dataset, opts)
        epochs = epochs_for(budget, len(train))
        opts.log(f"fig4 {title}: Nz = 2, {hidden} hidden, {epochs} epochs on {len(train)} points")
        res = train_run(
            f"{key}-nz2", paper_model(2, hidden, likelihood), paper_train(opts, dataset, epochs), train, test, out, opts
        )
        image = manifold_grid(load_model(res.run_dir), out / f"fig4_{key}.png", n=20 if key == "mnist" else 15)
        images.append((f"{title} (Nz = 2)", image))
        rows.append(_table_rows(title, 2, res))
    write_csv(out / "fig4.csv", rows)
    _combine(images, out / "fig4.png", "Learned 2-D manifolds: decoder means at z = Φ⁻¹(u) over a grid of u ∈ (0, 1)²")
    body = (
        "Each tile is the decoder mean E[x|z] at z = Φ⁻¹(u), u = ((i + ½)/n, (j + ½)/n), z₁ left to right, z₂ bottom "
        "to top, so equal areas of the picture carry equal prior mass. Files: `fig4.png` (both), `fig4_frey.png`, "
        "`fig4_mnist.png`, `fig4.csv`, `runs/*`."
    )
    return _summary(out, "Fig. 4 — learned 2-D manifolds", budget, rows, body)


def run_fig5(opts: Options, out: Path) -> Path:
    budget = opts.budget or FIG5_BUDGET
    nzs = opts.latent_sizes(FIG5_SIZES)
    if not nzs:
        raise ConfigError(f"--nz {opts.nz} matches none of fig5's latent sizes 2, 5, 10, 20")
    train, test = load_pair(opts.mnist, opts)
    epochs = epochs_for(budget, len(train))
    rows, images = [], []
    for nz in nzs:
        opts.log(f"fig5 MNIST: Nz = {nz}, 500 hidden, {epochs} epochs on {len(train)} points")
        res = train_run(
            f"mnist-nz{nz}",
            paper_model(nz, 500, "bernoulli"),
            paper_train(opts, opts.mnist, epochs),
            train,
            test,
            out,
            opts,
        )
        model = load_model(res.run_dir)
        image = sample_grid(model, fixed_z(model, res.run_dir, opts.seed, n=100), out / f"fig5_nz{nz}.png", nrow=10)
        images.append((f"{nz}-D latent space", image))
        rows.append(_table_rows("MNIST", nz, res))
    write_csv(out / "fig5.csv", rows)
    _combine(images, out / "fig5.png", "Random samples (decoder means at z ~ p(z)) from MNIST models")
    body = "Files: `fig5.png` (all), `fig5_nzN.png` (one per latent size), `fig5.csv`, `runs/*`."
    return _summary(out, "Fig. 5 — random samples for different latent sizes", budget, rows, body)
