"""Fig. 3 of Kingma & Welling (2014): the estimated marginal log-likelihood log p_θ(x) against the number of
training samples seen, for AEVB, Wake-Sleep and Monte Carlo EM, with Nz = 3 and 100 hidden units, for N_train =
1000 and 50000 MNIST digits, estimated on 1000 training and 1000 test points.

The paper estimated log p(x) with its HMC estimator (App. D: :func:`aevb.inference.marginal.hmc_log_likelihood`),
which needs no encoder and so also measures MCEM, which learns none. ``--estimator is`` uses importance sampling
with the encoder as proposal instead (faster, but meaningless for MCEM, whose encoder is untrained).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from aevb.errors import ConfigError
from aevb.inference.marginal import NLL_ESTIMATORS
from aevb.plots.common import pyplot, save_figure
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
from aevb.runtime import fork_rng
from aevb.training.hooks import Hooks, TrainingRun

METHODS_COMPARED = ("aevb", "wake-sleep", "mcem")
N_TRAINS = (1000, 50000)
NZ, HIDDEN = 3, 100
DEFAULT_BUDGET = 200_000
HMC_SAMPLES, IS_SAMPLES = 50, 1000  # the paper's 50 posterior samples for HMC; K for importance sampling


def marginal_estimator(name: str) -> tuple[Any, int, str]:
    """The estimator ``name`` from :data:`aevb.inference.marginal.NLL_ESTIMATORS`, its sample count (the paper's 50
    posterior samples for HMC, K for importance sampling) and how the summary names it."""
    estimator = NLL_ESTIMATORS.get(name)
    if name == "hmc":
        return estimator, HMC_SAMPLES, f"the HMC estimator of App. D ({HMC_SAMPLES} posterior samples)"
    if name == "is":
        return estimator, IS_SAMPLES, f"importance sampling with the encoder as proposal (K = {IS_SAMPLES})"
    return estimator, IS_SAMPLES, f"{name} (K = {IS_SAMPLES})"


class MarginalProbe(Hooks):
    """Trainer callback: at the chosen epochs (and the last) adds ``train_marginal`` and ``test_marginal``, the mean
    estimated log p(x) in nats over fixed training and test points, under a forked RNG (training is unaffected)."""

    def __init__(
        self, epochs: set[int], estimator: Any, num_samples: int, x_train: torch.Tensor, x_test: torch.Tensor, seed: int
    ) -> None:
        self.epochs, self.estimator, self.num_samples = epochs, estimator, num_samples
        self.x = {"train": x_train, "test": x_test}
        self.seed = seed

    def on_epoch_end(self, trainer: TrainingRun, record: dict[str, Any]) -> None:
        if record["epoch"] not in self.epochs and trainer.epoch != trainer.config.epochs:
            return
        model = trainer.model
        was_training = model.training
        model.eval()
        try:
            with fork_rng(trainer.device):
                torch.manual_seed(self.seed)
                for split, x in self.x.items():
                    values = self.estimator(model, x.to(trainer.device), self.num_samples, None)
                    record[f"{split}_marginal"] = float(values.double().mean())
        finally:
            model.train(was_training)


def probe_epochs(epochs: int, probes: int) -> set[int]:
    """About ``probes`` epochs spread evenly on a log scale of samples seen (the last is always probed)."""
    return {int(e) for e in np.unique(np.round(np.geomspace(1, epochs, max(probes, 1))))}


def run(opts: Options, out: Path) -> Path:
    budget = opts.budget or DEFAULT_BUDGET
    if opts.latent_sizes([NZ]) != [NZ]:
        raise ConfigError(f"fig3 uses Nz = {NZ} only (the paper's); --nz {opts.nz} excludes it")
    estimator, num_samples, estimator_name = marginal_estimator(opts.estimator)
    results: list[tuple[int, str, RunResult]] = []
    for n_train in N_TRAINS:
        train, test = load_pair(opts.mnist, opts, n_train=n_train)
        if any(n == len(train) for n, _, _ in results):
            continue  # --train-limit (or a small dataset) made this N_train the same as one already run
        epochs = epochs_for(budget, len(train))
        points = min(opts.eval_points, len(train), len(test))
        opts.log(
            f"fig3 N_train = {len(train)}: {epochs} epochs, log p(x) by {opts.estimator} on {points}+{points} points"
        )
        for method in METHODS_COMPARED:
            cfg = paper_train(opts, opts.mnist, epochs, method)
            probe = MarginalProbe(
                # evenly spaced points: some splits are stored grouped by class
                probe_epochs(epochs, opts.probes),
                estimator,
                num_samples,
                train.spread(points).x,
                test.spread(points).x,
                opts.seed,
            )
            name = f"mnist-ntrain{len(train)}-{method}"
            res = train_run(name, paper_model(NZ, HIDDEN, "bernoulli"), cfg, train, test, out, opts, callbacks=[probe])
            results.append((len(train), method, res))
    rows = [
        {
            "n_train": n,
            "method": m,
            "epoch": r["epoch"],
            "samples_seen": r["samples_seen"],
            "train_marginal": r["train_marginal"],
            "test_marginal": r["test_marginal"],
        }
        for n, m, res in results
        for r in res.history
        if "train_marginal" in r
    ]
    write_csv(out / "fig3.csv", rows)
    _plot(results, out / "fig3.png", estimator_name)
    return _summary(results, budget, out, estimator_name, opts)


def _plot(results: list[tuple[int, str, RunResult]], path: Path, estimator_name: str) -> Path:
    plt = pyplot()
    n_trains = sorted({n for n, _, _ in results})
    fig, axes = plt.subplots(1, len(n_trains), figsize=(5 * len(n_trains), 3.8), squeeze=False)
    colors = {"aevb": "tab:red", "wake-sleep": "tab:blue", "mcem": "tab:green"}
    labels = {"aevb": "AEVB", "wake-sleep": "Wake-Sleep", "mcem": "MCEM"}
    for ax, n in zip(axes[0], n_trains, strict=True):
        for n_, method, res in results:
            if n_ != n:
                continue
            probed = [r for r in res.history if "train_marginal" in r]
            xs = [r["samples_seen"] for r in probed]
            for split, ls in (("train", "-"), ("test", "--")):
                ys = [r[f"{split}_marginal"] for r in probed]
                ax.plot(xs, ys, color=colors[method], marker="o", ms=3, ls=ls, label=f"{labels[method]} ({split})")
        ax.set_xscale("log")
        ax.set_title(f"MNIST, N_train = {n}, Nz = {NZ}", fontsize=10)
        ax.set_xlabel("training samples evaluated")
        ax.set_ylabel("marginal log-likelihood (nats)")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.suptitle(f"log p(x) estimated by {estimator_name}", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)


def _summary(
    results: list[tuple[int, str, RunResult]], budget: int, out: Path, estimator_name: str, opts: Options
) -> Path:
    table = [
        [n, m, res.history[-1]["samples_seen"], res.last("train_marginal"), res.last("test_marginal"), res.seconds]
        for n, m, res in results
    ]
    verdicts = []
    for n in sorted({n for n, _, _ in results}):
        final = {m: res.last("test_marginal") for n_, m, res in results if n_ == n}
        best = max(final, key=lambda m: final[m] if math.isfinite(final[m]) else -math.inf)
        verdicts.append(
            f"- N_train = {n}: highest final test log p(x): {best} "
            f"({', '.join(f'{m} {v:.2f}' for m, v in final.items())})"
        )
    text = "\n".join(
        [
            "# Fig. 3 — marginal log-likelihood vs training samples seen: AEVB, Wake-Sleep, MCEM",
            "",
            f"Nz = {NZ}, {HIDDEN} hidden units (tanh), Adagrad lr 0.02, M = 100; "
            f"about {budget} training samples per model "
            f"(the paper: up to 10⁸). log p(x) estimated by **{estimator_name}** on {opts.eval_points} training and "
            f"{opts.eval_points} test points (fewer when the data have fewer), "
            f"at about {opts.probes} points of training "
            "spread on a log scale. Per datapoint in nats, higher is better.",
            "",
            f"Machine: {machine()}.",
            "",
            markdown_table(["N_train", "method", "samples seen", "train log p(x)", "test log p(x)", "seconds"], table),
            "",
            "The paper: AEVB ahead of Wake-Sleep and MCEM, and MCEM overfitting least with N_train = 1000.",
            ""
            if opts.estimator == "hmc"
            else "\nNote: MCEM learns no encoder, so an encoder-proposal estimate of its log p(x) is far too low; "
            "use the HMC estimator (the default) to compare MCEM.",
            "",
            *verdicts,
            "",
            "Files: `fig3.png`, `fig3.csv` (every probe of every run), `runs/*` (run directories).",
            "",
        ]
    )
    path = out / "summary.md"
    path.write_text(text)
    return path
