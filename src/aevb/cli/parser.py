"""The parser of the ``aevb`` command line. Every config field is a flag (``latent_dim`` ↔ ``--latent-dim``); a TOML
file given with ``--config`` is read first and flags override it.

It needs no torch: it reads the config's fields (:mod:`aevb.config`) and the names a user can type
(:mod:`aevb.names`), so ``aevb --help`` and every ``aevb COMMAND --help`` start at once.
"""

from __future__ import annotations

import argparse
from typing import Any

from aevb.config import (
    AUTO_COMPILE_PAIRS,
    PRECISIONS,
    Config,
    ModelConfig,
    ScoreSettings,
    TrainConfig,
    boolean,
    field_help,
    field_types,
    load_toml,
)
from aevb.errors import ConfigError
from aevb.names import DEFAULT_SCORE, EXPERIMENT_NAMES, FIELD_NAMES, NLL_ESTIMATOR_NAMES, SCORE_NAMES
from aevb.presets import PRESETS
from aevb.version import __version__

SECTIONS = {"model": ModelConfig, "train": TrainConfig}
# Commands that cli/light.py runs without torch (the rest are in cli/commands.py).
LIGHT_COMMANDS = frozenset({"cmd_datasets"})


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Appends "(default: …)" only where it says something: not when the help already names the default, not for a
    default of None (the help says what happens then), not for flags that take no value (--mean / --sample)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text or action.default in (None, argparse.SUPPRESS) or action.nargs == 0:
            return text
        return f"{text} (default: %(default)s)"


class _Parser(argparse.ArgumentParser):
    """argparse that raises ConfigError (listing valid flags) instead of exiting on bad flags, and whose help shows
    each option's default."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        flags = sorted({s for a in self._actions for s in a.option_strings if s.startswith("--")})
        raise ConfigError(f"{self.prog}: {message}\nvalid flags: {' '.join(flags)}")


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


# The flag groups of `aevb train --help`, in order; each config field names its group (aevb.config).
FLAG_GROUPS = ("model", "data", "objective", "optimizer", "run", "evaluation")


def _default_text(default: Any) -> str:
    if default is None:
        return "auto"
    if isinstance(default, bool):
        return str(default).lower()
    if isinstance(default, list):
        return ",".join(map(str, default)) or "none"
    return repr(default) if isinstance(default, str) else str(default)


def _add_config_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per config field, grouped, each with its description, allowed values and default."""
    groups = {g: parser.add_argument_group(f"{g} (TOML: {_section_of(g)})") for g in FLAG_GROUPS}
    for section, cls in SECTIONS.items():
        defaults = cls()
        helps = field_help(cls)
        for name, typ in field_types(cls).items():
            group, text = helps[name]
            default = getattr(defaults, name)
            allowed = FIELD_NAMES.get((section, name))
            if allowed:
                text += f"; one of: {', '.join(allowed)}"
            switch = typ is bool or default is None
            metavar = "N,N,..." if isinstance(default, list) else "BOOL" if switch else typ.__name__.upper()
            groups[group].add_argument(
                _flag(name),
                dest=f"{section}.{name}",
                default=argparse.SUPPRESS,
                metavar=metavar,
                # a bare switch means true: --compile is --compile true (as for aevb evaluate --compile)
                nargs="?" if switch else None,
                const="true" if switch else None,
                help=f"{text} (default: {_default_text(default)})",
            )


def _section_of(group: str) -> str:
    return "[model]" if group == "model" else "[train]"


def _config_from_args(args: argparse.Namespace, base: dict[str, Any] | None = None) -> Config:
    data: dict[str, Any] = {"model": {}, "train": {}}
    for src in (base or {}, load_toml(args.config) if getattr(args, "config", None) else {}):
        if not isinstance(src, dict):
            raise ConfigError("a config must be a TOML table")
        unknown = [k for k in src if k not in ("model", "train", "version")]
        if unknown:
            raise ConfigError(f"unknown section(s) {unknown} in config; valid sections: model, train")
        for section in ("model", "train"):
            data[section].update(src.get(section, {}))
        if "version" in src:
            data["version"] = src["version"]
    for key, value in vars(args).items():
        if "." in key:
            section, name = key.split(".", 1)
            data[section][name] = value
    return Config.from_dict(data)


# --- commands ------------------------------------------------------------------------------------------------
def _add_score_flags(p: argparse.ArgumentParser, default_scores: str) -> None:
    d = ScoreSettings()  # the defaults live in one place
    p.add_argument(
        "--score",
        default=default_scores,
        help=f"comma-separated scores: {', '.join(SCORE_NAMES)}; auto (relerr for images, nll for tables); all (every "
        "score that applies to the model and data)",
    )
    p.add_argument("--nll-samples", type=int, default=d.nll_samples, help="importance samples K of nll and complexity")
    p.add_argument(
        "--elbo-samples", type=int, default=d.elbo_samples, help="posterior samples of elbo, recon and regret's bound"
    )
    p.add_argument("--regret-steps", type=int, default=d.regret_steps, help="Adam steps that fit each posterior")
    p.add_argument("--regret-lr", type=float, default=d.regret_lr, help="their learning rate")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help="datapoints scored at once")
    p.add_argument("--limit", type=int, default=0, help="score N evenly spaced datapoints per set (0: all)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random draws (results are repeatable)")


def _add_run(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", help="a run directory (what aevb train --out wrote)")


def _add_split(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--split",
        default="test",
        help="which split of the run's dataset: train, test (valid, all where the dataset has them)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="aevb", description="Auto-Encoding Variational Bayes and the VAE family.")
    parser.add_argument("--version", action="version", version=f"aevb {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    parser.subcommands = sub.choices  # type: ignore[attr-defined]

    p = sub.add_parser("train", help="train a model (config from --config TOML, flags override)")
    p.add_argument("--config", help="TOML file with [model] and [train] sections")
    p.add_argument("--preset", help=f"start from a named configuration (aevb.presets: {', '.join(sorted(PRESETS))})")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    p.add_argument("--overwrite", action="store_true", help="replace a run that --out already holds")
    _add_config_flags(p)
    p.set_defaults(func="cmd_train")

    p = sub.add_parser("evaluate", help="test ELBO and importance-sampled log-likelihood of a run")
    _add_run(p)
    _add_split(p)
    p.add_argument(
        "--nll-samples", type=int, default=1000, help="importance samples K, or HMC posterior samples L (0: ELBO only)"
    )
    p.add_argument(
        "--nll-estimator",
        choices=NLL_ESTIMATOR_NAMES,
        default=argparse.SUPPRESS,
        help="log p(x) by importance sampling with the encoder (is, default) or Kingma & Welling App. D (hmc; small "
        "latents)",
    )
    p.add_argument(
        "--estimator",
        choices=NLL_ESTIMATOR_NAMES,
        default=argparse.SUPPRESS,
        help="deprecated alias of --nll-estimator",
    )
    p.add_argument("--elbo-samples", type=int, default=1, help="posterior samples per datapoint of the ELBO")
    p.add_argument("--batch-size", type=int, default=100, help="datapoints per evaluation batch")
    p.add_argument("--limit", type=int, default=0, help="evaluate on N evenly spaced datapoints only (0: all)")
    p.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="fp32",
        help="fp32; tf32: TF32 matmuls on CUDA (fp32 on a CPU); bf16: autocast of the networks; log-densities and "
        "logsumexp stay fp32",
    )
    p.add_argument(
        "--compile",
        nargs="?",
        const=True,
        default=None,
        type=boolean,
        metavar="BOOL",
        help="torch.compile the importance-sampling chunks (faster for large K; compiles for some seconds first); "
        f"default: compiled when datapoints × K >= {AUTO_COMPILE_PAIRS:,}; a bare --compile means true",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the random draws (results are repeatable)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func="cmd_evaluate")

    p = sub.add_parser("sample", help="draw z ~ p(z) and write a grid of decoded samples")
    _add_run(p)
    p.add_argument("-n", type=int, default=64, help="how many samples to draw")
    p.add_argument(
        "--out",
        default=None,
        help="samples.png (a grid of images) or .csv/.npy rows; default: png for images, else csv",
    )
    p.add_argument(
        "--label", type=int, default=None, help="conditional models: draw this class (e.g. 2); default: cycle classes"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the random draws (results are repeatable)")
    p.set_defaults(func="cmd_sample")

    p = sub.add_parser("traverse", help="latent traversal: one row per latent dimension around one datapoint")
    _add_run(p)
    p.add_argument("--index", type=int, default=0, help="which datapoint of --split")
    _add_split(p)
    p.add_argument("--out", default=None, help="a .png (images), or .csv/.npy rows (default: traversal.png or .csv)")
    p.add_argument("--span", type=float, default=3.0, help="offsets −span..span added to the posterior mean")
    p.add_argument("--steps", type=int, default=9, help="decoded points per latent dimension, over −span..span")
    p.add_argument("--dims", type=int, default=0, help="first N latent dimensions only (0: all)")
    p.set_defaults(func="cmd_traverse")

    p = sub.add_parser("reconstruct", help="write data and their reconstructions as a grid")
    _add_run(p)
    _add_split(p)
    p.add_argument("-n", type=int, default=16, help="how many datapoints to reconstruct (evenly spaced)")
    p.add_argument(
        "--out", default=None, help="recon.png (a grid of images) or .csv/.npy rows; default: png for images, else csv"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the random draws (results are repeatable)")
    p.set_defaults(func="cmd_reconstruct")

    p = sub.add_parser("encode", help="write posterior means and standard deviations (and labels) to .npz")
    _add_run(p)
    _add_split(p)
    p.add_argument("--out", default="latents.npz", help="the .npz file: mean, stddev (of q(z|x)) and labels when known")
    p.add_argument("--limit", type=int, default=0, help="encode this many evenly spaced datapoints (0: all)")
    p.set_defaults(func="cmd_encode")

    p = sub.add_parser("score", help="anomaly scores per datapoint (higher = more anomalous), written as CSV")
    _add_run(p)
    p.add_argument("--data", default=None, help="a dataset name or path (default: the run's dataset)")
    p.add_argument(
        "--split",
        default=None,
        help="train, test or all (default: every row of your own file, the test split of a named dataset); the CSV's "
        "index is the row of your file whatever the split",
    )
    p.add_argument("--out", default="scores.csv", help="the CSV file: one row per datapoint, one column per score")
    _add_score_flags(p, DEFAULT_SCORE)
    p.set_defaults(func="cmd_score")

    p = sub.add_parser("ood", help="how well each score tells out-of-distribution data apart: AUROC, AUPRC, FPR@95")
    _add_run(p)
    p.add_argument(
        "--in",
        default=None,
        help="in-distribution data NAME[:split] or a file (every row) (default: the run's held-out test split)",
    )
    p.add_argument(
        "--out",
        required=True,
        help="out-of-distribution data NAME[:split] (e.g. fashion-mnist:test; a named dataset: its test split) or "
        "a file (every row)",
    )
    p.add_argument("--dir", default=None, help="folder for ood.json and the pictures (default: RUN/ood)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    _add_score_flags(p, "all")
    p.set_defaults(func="cmd_ood")

    p = sub.add_parser("export", help="the encoder and decoder as ONNX graphs, with a JSON that describes them")
    _add_run(p)
    p.add_argument("--format", default="onnx", help="onnx (needs pip install 'aevb[export]')")
    p.add_argument("--out", default=None, help="folder (default: RUN/export)")
    p.set_defaults(func="cmd_export")

    p = sub.add_parser(
        "disentanglement",
        help="BetaVAE, FactorVAE, MIG and DCI scores of a run trained on data with known factors (dsprites)",
    )
    _add_run(p)
    p.add_argument("--metrics", default="beta_vae,factor_vae,mig,dci", help="comma-separated metric names")
    p.add_argument(
        "--num-train", type=int, default=10_000, help="training points per metric (disentanglement_lib: 10000)"
    )
    p.add_argument(
        "--num-eval", type=int, default=5_000, help="evaluation points per metric (disentanglement_lib: 5000)"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the factor draws")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func="cmd_disentanglement")

    p = sub.add_parser("augment", help="labelled samples of every class from a conditional model, as an .npz (x, y)")
    p.add_argument("run", help="a run directory (what aevb train --out wrote) of a conditional model")
    p.add_argument("--per-class", type=int, required=True, help="samples of each class")
    p.add_argument("--out", required=True, help="the .npz to write (x, y); --dataset reads it back")
    pixels = p.add_mutually_exclusive_group()
    pixels.add_argument("--mean", dest="mean", action="store_true", default=True, help="decoder means (default)")
    pixels.add_argument("--sample", dest="mean", action="store_false", help="draws from p(x|z,c)")
    p.add_argument("--seed", type=int, default=0, help="seed of the z draws")
    p.set_defaults(func="cmd_augment")

    p = sub.add_parser(
        "probe", help="test error of classifiers on a run's posterior means with few labels, vs pixels and PCA"
    )
    _add_run(p)
    p.add_argument(
        "--labels", type=int, nargs="+", default=[100, 600, 1000, 3000], help="labelled training points (balanced)"
    )
    p.add_argument("--seeds", type=int, default=5, help="labelled subsets per count (mean ± sd over them)")
    p.add_argument("--classifier", default="logistic,knn", help="comma-separated: logistic, knn")
    p.add_argument("--out", default=None, help="folder for probe.json, probe.md, probe.png (default: RUN/probe)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func="cmd_probe")

    p = sub.add_parser("datasets", help="list the datasets, where they live and whether they are present")
    p.add_argument("--data-dir", default="", help="where the datasets live (default: $AEVB_DATA_DIR or ~/.cache/aevb)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func="cmd_datasets")  # in LIGHT_COMMANDS

    p = sub.add_parser("plot", help="pictures of a run: latent scatter, samples, reconstructions, curves, ...")
    _add_run(p)
    p.add_argument(
        "--kind",
        default="all",
        help="comma-separated: scatter, samples, recon, interp, traverse, manifold, curves, or all (default)",
    )
    p.add_argument("--out", default=None, help="folder for the PNGs (default: RUN/plots)")
    _add_split(p)
    p.add_argument("--limit", type=int, default=2000, help="datapoints in the latent scatter")
    p.add_argument("--projection", default="auto", help="scatter for Nz > 3: auto (PCA), pca or tsne")
    p.add_argument("--seed", type=int, default=0, help="seed of the random draws (results are repeatable)")
    p.set_defaults(func="cmd_plot")

    p = sub.add_parser(
        "explore",
        help="serve a local page that decodes the latent space as the cursor moves (one run, or two side by side)",
    )
    p.add_argument("run", help="a run directory (what aevb train --out wrote)")
    p.add_argument("run2", nargs="?", default=None, help="a second run, shown beside the first with linked controls")
    p.add_argument("--host", default="127.0.0.1", help="address to serve on (default: 127.0.0.1, this machine only)")
    p.add_argument("--port", type=int, default=8765, help="port to serve on (default: 8765; 0: any free port)")
    _add_split(p)
    p.add_argument("--points", type=int, default=2000, help="datapoints on the map, evenly spaced (default: 2000)")
    p.add_argument(
        "--color-by",
        default=None,
        choices=SCORE_NAMES,
        help="colour the datapoints by this anomaly score instead of their labels (default: labels)",
    )
    p.add_argument(
        "--export",
        default=None,
        metavar="DIR",
        help="write a static page into DIR that decodes in the browser (MLP decoders; no server, no Python) and exit",
    )
    p.set_defaults(func="cmd_explore")

    p = sub.add_parser("report", help="write one self-contained HTML report of a run (config, curves, pictures)")
    _add_run(p)
    p.add_argument("--out", default=None, help="the HTML file (default: RUN/report.html)")
    p.add_argument("--nll-samples", type=int, default=0, help="also estimate -log p(x) on the test split (K)")
    p.set_defaults(func="cmd_report")

    p = sub.add_parser(
        "reproduce",
        help="reproduce a figure of Kingma & Welling (2014), fig2 … fig5; the lecture's ae-vs-vae; beta-vae-dsprites; "
        "the anomaly benchmarks one-class and one-class-tabular",
    )
    p.add_argument("name", help=", ".join(EXPERIMENT_NAMES))
    p.add_argument("--out", default=None, help="output folder (default: runs/reproduce/NAME)")
    p.add_argument("--budget", type=int, default=None, help="training samples seen per model (default per figure)")
    p.add_argument("--nz", default=None, help="comma-separated latent sizes to run (default: the paper's)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random draws (results are repeatable)")
    p.add_argument("--data-dir", default="", help="where the datasets live (default: $AEVB_DATA_DIR or ~/.cache/aevb)")
    p.add_argument("--mnist", default="mnist", help="dataset used for the MNIST panels")
    p.add_argument("--frey", default="frey-faces", help="dataset used for the Frey Face panels")
    p.add_argument("--train-limit", type=int, default=0, help="use only the first N training points (0: all)")
    p.add_argument("--test-limit", type=int, default=0, help="use only the first N test points (0: all)")
    p.add_argument(
        "--nll-estimator",
        default=argparse.SUPPRESS,
        help="fig3: marginal-likelihood estimator, hmc (the paper's, default) or is",
    )
    p.add_argument("--estimator", default=argparse.SUPPRESS, help="deprecated alias of --nll-estimator")
    p.add_argument("--eval-points", type=int, default=1000, help="fig3: train and test points log p(x) is estimated on")
    p.add_argument("--probes", type=int, default=5, help="fig3: how many times during training log p(x) is estimated")
    p.add_argument("--betas", nargs="+", default=None, help="beta-vae-dsprites: the β values (default 1 4 16)")
    p.add_argument(
        "--seeds",
        type=int,
        default=None,
        help="seeds from --seed on: beta-vae-dsprites per β (default 3), one-class-tabular per table (default 5)",
    )
    p.add_argument("--steps", type=int, default=0, help="beta-vae-dsprites: Adam steps per run (0: 3000)")
    p.add_argument(
        "--metric-points", type=int, default=2000, help="beta-vae-dsprites: training points per metric (eval: half)"
    )
    p.add_argument("--precision", default="fp32", help="beta-vae-dsprites: fp32 or bf16 (autocast of the networks)")
    p.add_argument("--dsprites", default="dsprites", help="beta-vae-dsprites: dsprites or dsprites-published")
    p.add_argument(
        "--arch",
        default="mlp",
        help="beta-vae-dsprites: mlp (Higgins et al.'s 1200-1200, default) or conv (Burgess et al.'s 32-channel convs)",
    )
    p.add_argument(
        "--datasets",
        default=None,
        help="one-class: comma-separated datasets (default mnist,fashion-mnist); one-class-tabular: tables "
        "(breast-cancer,wine)",
    )
    p.add_argument("--classes", default=None, help="one-class: comma-separated normal classes (default 0..9)")
    p.add_argument("--epochs", type=int, default=0, help="one-class(-tabular): aevb's training epochs (0: 20 / 100)")
    p.add_argument(
        "--validation",
        action="store_true",
        help="one-class: fit on 90 %% of the normal class's training images and score the other 10 %% with other "
        "classes' training images (to choose a detector without touching the test set)",
    )
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda or cuda:N")
    p.add_argument("--quiet", action="store_true", help="print only the results, not the progress")
    p.set_defaults(func="cmd_reproduce")

    p = sub.add_parser("fid", help="FID between a run's samples and held-out data (key names the features)")
    _add_run(p)
    p.add_argument("--features", default="aevb_classifier", help="aevb_classifier (default) or inception")
    p.add_argument("--fid-weights", default="", help="inception: the FID weights file; classifier: its directory")
    p.add_argument("-n", type=int, default=1000, help="samples and data points")
    _add_split(p)
    p.add_argument("--seed", type=int, default=0, help="seed of the random draws (results are repeatable)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func="cmd_fid")

    p = sub.add_parser("fid-classifier", help="train the aevb FID classifier on a labelled image dataset")
    p.add_argument("--dataset", required=True, help="the labelled image dataset the classifier learns (e.g. mnist)")
    p.add_argument("--out", default="", help="directory (default: <data dir>/fid/aevb_classifier_<dataset>)")
    p.add_argument("--data-dir", default="", help="where the datasets live (default: $AEVB_DATA_DIR or ~/.cache/aevb)")
    p.add_argument("--epochs", type=int, default=2, help="training epochs of the classifier")
    p.add_argument("--seed", type=int, default=0, help="seed of the random draws (results are repeatable)")
    p.set_defaults(func="cmd_fid_classifier")

    p = sub.add_parser("demo", help="train on the offline MNIST sample and write pictures and metrics")
    p.add_argument(
        "--out",
        default="runs/demo",
        help="the run directory to write (an earlier run there is kept unless --overwrite)",
    )
    p.add_argument("--epochs", type=int, default=30, help="training epochs")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier demo run in --out")
    p.add_argument("--quiet", action="store_true", help="print only the results, not the progress")
    p.set_defaults(func="cmd_demo")
    return parser
