"""The ``aevb`` command line. Every config field is a flag (``latent_dim`` ↔ ``--latent-dim``); a TOML file given
with ``--config`` is read first and flags override it."""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from pathlib import Path
from typing import Any

from aevb.config import (
    PRECISIONS,
    Config,
    ModelConfig,
    TrainConfig,
    boolean,
    field_help,
    field_types,
    load_toml,
)
from aevb.data import list_datasets
from aevb.errors import AevbError, ConfigError
from aevb.inference.marginal import NLL_ESTIMATORS
from aevb.io import read_meta
from aevb.presets import PRESETS, preset
from aevb.reproduce import run_experiment
from aevb.runs import (
    disentanglement_run,
    encode_run,
    evaluate_run,
    export_run,
    fid_run,
    ood_run,
    plot_run,
    reconstruct_run,
    run_demo,
    sample_run,
    score_run,
    train_fid_classifier,
    train_from_config,
    traverse_run,
    write_report,
)
from aevb.scoring import DEFAULT_SCORE, SCORES, ScoreSettings
from aevb.training.components import allowed_names
from aevb.training.distributed import env_world
from aevb.version import __version__

SECTIONS = {"model": ModelConfig, "train": TrainConfig}


class _Parser(argparse.ArgumentParser):
    """argparse that raises ConfigError (listing valid flags) instead of exiting on bad flags, and whose help shows
    each option's default."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", argparse.ArgumentDefaultsHelpFormatter)
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
            allowed = allowed_names(section, name)
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
def cmd_train(args: argparse.Namespace) -> int:
    base = None
    if args.resume:
        out = getattr(args, "train.out", None)
        if not out:
            raise ConfigError("--resume needs --out RUN (the run directory to continue)")
        base = load_toml(Path(out) / "config.toml")
    elif args.preset:
        base = preset(args.preset)  # --config and flags override it
    config = _config_from_args(args, base)
    result = train_from_config(config, resume=args.resume, overwrite=args.overwrite)
    code = 130 if result.interrupted else 0
    if env_world()[1] > 1:
        # Under torchrun every file is written and the process group is gone by now, but C++ static destructors at
        # interpreter exit can still abort ("terminate called without an active exception"; benchmarks/README.md has
        # how often), which torchrun reports as a failed run. Leave without running them.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


def cmd_evaluate(args: argparse.Namespace) -> int:
    ev = evaluate_run(
        args.run,
        split=args.split,
        nll_samples=args.nll_samples,
        elbo_samples=args.elbo_samples,
        batch_size=args.batch_size,
        seed=args.seed,
        limit=args.limit,
        estimator=_nll_estimator(args),
        precision=args.precision,
        compile=args.compile,
    )
    out = ev.as_dict()
    if args.json:
        print(json.dumps(out))
    else:
        print(f"{args.split}: n = {ev.n}")
        print(f"  ELBO          {ev.elbo:10.3f} ± {ev.elbo_stderr:.3f} nats per datapoint (lower bound on log p(x))")
        if ev.nll is not None:
            print(
                f"  -log p(x)     {ev.nll:10.3f} ± {ev.nll_stderr:.3f} nats (estimator {ev.nll_estimator}, "
                f"{'L' if ev.nll_estimator == 'hmc' else 'K'} = {ev.nll_samples})"
            )
        if ev.active_units is not None:
            print(f"  active units  {ev.active_units:10d} of {len(ev.activity)} (Var_x E_q[z_u] > 0.01)")
        if ev.kl_per_dim is not None:
            print("  KL per dim    " + " ".join(f"{k:.2f}" for k in ev.kl_per_dim) + " nats")
        if ev.kl is not None:
            print(f"  reconstruction {ev.reconstruction:9.3f} nats (−E_q[log p(x|z)])")
            print(f"  KL            {ev.kl:10.3f} nats (E_q[log q − log p]; ELBO = −reconstruction − KL)")
    return 0


def _nll_estimator(args: argparse.Namespace, default: str = "is") -> str:
    """``--nll-estimator``; ``--estimator`` is its old name, which still works and warns."""
    chosen, old = getattr(args, "nll_estimator", None), getattr(args, "estimator", None)
    if old is not None:
        warnings.warn(
            f"aevb {args.command} --estimator is deprecated (train's --estimator means SGVB A/B); use --nll-estimator",
            FutureWarning,
            stacklevel=2,
        )
        if chosen is not None and chosen != old:
            raise ConfigError(f"--nll-estimator {chosen} and its deprecated alias --estimator {old} disagree")
        return old
    return chosen or default


def cmd_sample(args: argparse.Namespace) -> int:
    path = sample_run(args.run, n=args.n, out=args.out, seed=args.seed, label=args.label)
    note = ""
    if (read_meta(args.run).get("model") or {}).get("model") == "ae":  # the model files, which may stand alone
        note = " (z drawn from a Gaussian fitted to the training codes: a plain autoencoder has no prior)"
    print(f"wrote {path}{note}")
    return 0


def cmd_traverse(args: argparse.Namespace) -> int:
    path = traverse_run(
        args.run, index=args.index, split=args.split, out=args.out, span=args.span, steps=args.steps, dims=args.dims
    )
    print(f"wrote {path} (row d: latent dimension d moved from −span to +span around the posterior mean)")
    return 0


def cmd_reconstruct(args: argparse.Namespace) -> int:
    path = reconstruct_run(args.run, split=args.split, n=args.n, out=args.out, seed=args.seed)
    layout = {
        ".png": "each row of data is followed by a row of its reconstructions",
        ".csv": "one line per datapoint and one per reconstruction, column kind",
        ".npy": "array [2, n, ...]: data, reconstructions",
    }
    print(f"wrote {path} ({layout[path.suffix.lower()]})")
    return 0


def cmd_encode(args: argparse.Namespace) -> int:
    path = encode_run(args.run, split=args.split, out=args.out, limit=args.limit)
    print(f"wrote {path}")
    return 0


def _score_settings(args: argparse.Namespace) -> ScoreSettings:
    return ScoreSettings(
        nll_samples=args.nll_samples,
        elbo_samples=args.elbo_samples,
        regret_steps=args.regret_steps,
        regret_lr=args.regret_lr,
        batch_size=args.batch_size,
    )


def _kinds(text: str) -> list[str]:
    return [k for k in text.replace(",", " ").split() if k]


def cmd_score(args: argparse.Namespace) -> int:
    path = score_run(
        args.run,
        data=args.data,
        split=args.split,
        kinds=_kinds(args.score),
        out=args.out,
        settings=_score_settings(args),
        limit=args.limit,
        seed=args.seed,
    )
    print(f"wrote {path} (one row per datapoint; higher scores are more anomalous)")
    return 0


def cmd_ood(args: argparse.Namespace) -> int:
    summary = ood_run(
        args.run,
        inlier=getattr(args, "in"),
        outlier=args.out,
        kinds=_kinds(args.score),
        out_dir=args.dir,
        settings=_score_settings(args),
        limit=args.limit,
        seed=args.seed,
    )
    if args.json:
        print(json.dumps(summary))
        return 0
    print(f"in: {summary['in']} ({summary['n_in']})   out: {summary['out']} ({summary['n_out']})")
    print(f"{'score':12s} {'AUROC':>7s} {'AUPRC':>7s} {'FPR@95TPR':>10s}")
    for kind, m in summary["metrics"].items():
        print(f"{kind:12s} {m['auroc']:7.3f} {m['auprc']:7.3f} {m['fpr_at_95_tpr']:10.3f}")
    print(f"({summary['seconds']:.1f} s of scoring; pictures and ood.json in {args.dir or Path(args.run) / 'ood'})")
    return 0


def _add_score_flags(p: argparse.ArgumentParser, default_scores: str) -> None:
    d = ScoreSettings()  # the defaults live in one place
    p.add_argument("--score", default=default_scores, help=f"comma-separated scores: {', '.join(SCORES.names())}")
    p.add_argument("--nll-samples", type=int, default=d.nll_samples, help="importance samples K of nll and complexity")
    p.add_argument(
        "--elbo-samples", type=int, default=d.elbo_samples, help="posterior samples of elbo, recon and regret's bound"
    )
    p.add_argument("--regret-steps", type=int, default=d.regret_steps, help="Adam steps that fit each posterior")
    p.add_argument("--regret-lr", type=float, default=d.regret_lr, help="their learning rate")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help="datapoints scored at once")
    p.add_argument("--limit", type=int, default=0, help="score N evenly spaced datapoints per set (0: all)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random draws (results are repeatable)")


def cmd_export(args: argparse.Namespace) -> int:
    out = args.out or str(Path(args.run) / "export")
    description = export_run(args.run, format=args.format, out=out)
    errors = description["max_abs_difference_vs_pytorch"]
    print(f"wrote {out}/encoder.onnx, decoder.onnx and model.onnx.json")
    if errors["encoder"] is not None:
        print(
            f"checked with ONNX Runtime on {description['checked_on']} random inputs: max |difference| to PyTorch "
            f"{errors['encoder']:.2e} (encoder), {errors['decoder']:.2e} (decoder)"
        )
    return 0


def cmd_disentanglement(args: argparse.Namespace) -> int:
    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()]
    result = disentanglement_run(args.run, metrics, num_train=args.num_train, num_eval=args.num_eval, seed=args.seed)
    if args.json:
        print(json.dumps(result))
        return 0
    for name, scores in result["metrics"].items():
        print(
            f"{name:11s} "
            + "  ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in scores.items())
        )
    print(
        f"({result['num_train']} training / {result['num_eval']} evaluation points per metric, seed {result['seed']}, "
        f"{result['seconds']:.0f} s; wrote {Path(args.run) / 'disentanglement'}/disentanglement.json and "
        "mutual_information.png)"
    )
    return 0


def cmd_datasets(args: argparse.Namespace) -> int:
    rows = list_datasets(args.data_dir or None)
    if args.json:
        print(json.dumps([r._asdict() for r in rows]))
        return 0
    for row in rows:
        r = row._asdict()
        status = "present" if r["present"] else "missing"
        print(f"{r['name']:16s} {status:8s} {r['location']}\n{'':16s} {r['description']}")
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    kinds = [k for k in args.kind.replace(",", " ").split() if k]
    skipped: list[str] = []
    paths = plot_run(
        args.run,
        kinds,
        args.out,
        split=args.split,
        limit=args.limit,
        projection=args.projection,
        seed=args.seed,
        skipped=skipped,
    )
    for path in paths:
        print(f"wrote {path}")
    for note in skipped:
        print(f"skipped {note}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    print(f"wrote {write_report(args.run, args.out, nll_samples=args.nll_samples)}")
    return 0


def cmd_reproduce(args: argparse.Namespace) -> int:
    options = {
        k: v for k, v in vars(args).items() if k not in ("func", "command", "name", "nll_estimator", "estimator")
    }
    options["estimator"] = _nll_estimator(args, default="hmc")
    summary = run_experiment(args.name, **options)
    print(f"wrote {summary}")
    return 0


def cmd_fid(args: argparse.Namespace) -> int:
    out = fid_run(args.run, args.features, args.fid_weights, n=args.n, split=args.split, seed=args.seed)
    if args.json:
        print(json.dumps(out))
    else:
        key = next(iter(out))
        print(f"{key} = {out[key]:.4f}  ({out['n']} samples vs {out['n']} {args.split} points; lower is better)")
    return 0


def cmd_fid_classifier(args: argparse.Namespace) -> int:
    out = train_fid_classifier(args.dataset, args.out, args.data_dir, epochs=args.epochs, seed=args.seed)
    print(json.dumps(out))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    run_demo(args.out, epochs=args.epochs, progress=not args.quiet, overwrite=args.overwrite)
    return 0


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
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="test ELBO and importance-sampled log-likelihood of a run")
    p.add_argument("run", help="a run directory (what aevb train --out wrote)")
    p.add_argument(
        "--split",
        default="test",
        help="which split of the run's dataset: train, test (valid, all where the dataset has them)",
    )
    p.add_argument(
        "--nll-samples", type=int, default=1000, help="importance samples K, or HMC posterior samples L (0: ELBO only)"
    )
    p.add_argument(
        "--nll-estimator",
        choices=NLL_ESTIMATORS.names(),
        default=argparse.SUPPRESS,
        help="log p(x) by importance sampling with the encoder (is, default) or Kingma & Welling App. D (hmc; small "
        "latents)",
    )
    p.add_argument(
        "--estimator",
        choices=NLL_ESTIMATORS.names(),
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
        help="bf16 autocast for the networks; log-densities and logsumexp stay fp32",
    )
    p.add_argument(
        "--compile",
        nargs="?",
        const=True,
        default=False,
        type=boolean,
        metavar="BOOL",
        help="torch.compile the importance-sampling chunks (faster for large K; compiles for some seconds first); "
        "a bare --compile means true, as for aevb train",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the random draws (results are repeatable)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("sample", help="draw z ~ p(z) and write a grid of decoded samples")
    p.add_argument("run", help="a run directory (what aevb train --out wrote)")
    p.add_argument("-n", type=int, default=64)
    p.add_argument(
        "--out",
        default=None,
        help="samples.png (a grid of images) or .csv/.npy rows; default: png for images, else csv",
    )
    p.add_argument(
        "--label", type=int, default=None, help="conditional models: draw this class (e.g. 2); default: cycle classes"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the random draws (results are repeatable)")
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("traverse", help="latent traversal: one row per latent dimension around one datapoint")
    p.add_argument("run", help="a run directory (what aevb train --out wrote)")
    p.add_argument("--index", type=int, default=0, help="which datapoint of --split")
    p.add_argument(
        "--split",
        default="test",
        help="which split of the run's dataset: train, test (valid, all where the dataset has them)",
    )
    p.add_argument("--out", default=None, help="a .png (images), or .csv/.npy rows (default: traversal.png or .csv)")
    p.add_argument("--span", type=float, default=3.0, help="offsets −span..span added to the posterior mean")
    p.add_argument("--steps", type=int, default=9)
    p.add_argument("--dims", type=int, default=0, help="first N latent dimensions only (0: all)")
    p.set_defaults(func=cmd_traverse)

    p = sub.add_parser("reconstruct", help="write data and their reconstructions as a grid")
    p.add_argument("run", help="a run directory (what aevb train --out wrote)")
    p.add_argument(
        "--split",
        default="test",
        help="which split of the run's dataset: train, test (valid, all where the dataset has them)",
    )
    p.add_argument("-n", type=int, default=16)
    p.add_argument(
        "--out", default=None, help="recon.png (a grid of images) or .csv/.npy rows; default: png for images, else csv"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the random draws (results are repeatable)")
    p.set_defaults(func=cmd_reconstruct)

    p = sub.add_parser("encode", help="write posterior means and standard deviations (and labels) to .npz")
    p.add_argument("run", help="a run directory (what aevb train --out wrote)")
    p.add_argument(
        "--split",
        default="test",
        help="which split of the run's dataset: train, test (valid, all where the dataset has them)",
    )
    p.add_argument("--out", default="latents.npz")
    p.add_argument("--limit", type=int, default=0)
    p.set_defaults(func=cmd_encode)

    p = sub.add_parser("score", help="anomaly scores per datapoint (higher = more anomalous), written as CSV")
    p.add_argument("run", help="a run directory (what aevb train --out wrote)")
    p.add_argument("--data", default=None, help="a dataset name or path (default: the run's dataset)")
    p.add_argument(
        "--split",
        default="test",
        help="which split of the run's dataset: train, test (valid, all where the dataset has them)",
    )
    p.add_argument("--out", default="scores.csv")
    _add_score_flags(p, DEFAULT_SCORE)
    p.set_defaults(func=cmd_score)

    p = sub.add_parser("ood", help="how well each score tells out-of-distribution data apart: AUROC, AUPRC, FPR@95")
    p.add_argument("run", help="a run directory (what aevb train --out wrote)")
    p.add_argument("--in", default=None, help="in-distribution data NAME[:split] (default: the run's test split)")
    p.add_argument("--out", required=True, help="out-of-distribution data NAME[:split] (e.g. fashion-mnist:test)")
    p.add_argument("--dir", default=None, help="folder for ood.json and the pictures (default: RUN/ood)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    _add_score_flags(p, ",".join(SCORES.names()))
    p.set_defaults(func=cmd_ood)

    p = sub.add_parser("export", help="the encoder and decoder as ONNX graphs, with a JSON that describes them")
    p.add_argument("run", help="a run directory (what aevb train --out wrote)")
    p.add_argument("--format", default="onnx", help="onnx (needs pip install 'aevb[export]')")
    p.add_argument("--out", default=None, help="folder (default: RUN/export)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser(
        "disentanglement",
        help="BetaVAE, FactorVAE, MIG and DCI scores of a run trained on data with known factors (dsprites)",
    )
    p.add_argument("run", help="a run directory (what aevb train --out wrote)")
    p.add_argument("--metrics", default="beta_vae,factor_vae,mig,dci", help="comma-separated metric names")
    p.add_argument(
        "--num-train", type=int, default=10_000, help="training points per metric (disentanglement_lib: 10000)"
    )
    p.add_argument(
        "--num-eval", type=int, default=5_000, help="evaluation points per metric (disentanglement_lib: 5000)"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the factor draws")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_disentanglement)

    p = sub.add_parser("datasets", help="list the datasets, where they live and whether they are present")
    p.add_argument("--data-dir", default="")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_datasets)

    p = sub.add_parser("plot", help="pictures of a run: latent scatter, samples, reconstructions, curves, ...")
    p.add_argument("run", help="a run directory (what aevb train --out wrote)")
    p.add_argument(
        "--kind",
        default="all",
        help="comma-separated: scatter, samples, recon, interp, traverse, manifold, curves, or all (default)",
    )
    p.add_argument("--out", default=None, help="folder for the PNGs (default: RUN/plots)")
    p.add_argument(
        "--split",
        default="test",
        help="which split of the run's dataset: train, test (valid, all where the dataset has them)",
    )
    p.add_argument("--limit", type=int, default=2000, help="datapoints in the latent scatter")
    p.add_argument("--projection", default="auto", help="scatter for Nz > 3: auto (PCA), pca or tsne")
    p.add_argument("--seed", type=int, default=0, help="seed of the random draws (results are repeatable)")
    p.set_defaults(func=cmd_plot)

    p = sub.add_parser("report", help="write one self-contained HTML report of a run (config, curves, pictures)")
    p.add_argument("run", help="a run directory (what aevb train --out wrote)")
    p.add_argument("--out", default=None, help="the HTML file (default: RUN/report.html)")
    p.add_argument("--nll-samples", type=int, default=0, help="also estimate -log p(x) on the test split (K)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser(
        "reproduce",
        help="reproduce a figure of Kingma & Welling (2014), fig2 … fig5; the lecture's ae-vs-vae; beta-vae-dsprites",
    )
    p.add_argument("name", help="fig2, fig3, fig4, fig5, ae-vs-vae or beta-vae-dsprites")
    p.add_argument("--out", default=None, help="output folder (default: runs/reproduce/NAME)")
    p.add_argument("--budget", type=int, default=None, help="training samples seen per model (default per figure)")
    p.add_argument("--nz", default=None, help="comma-separated latent sizes to run (default: the paper's)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random draws (results are repeatable)")
    p.add_argument("--data-dir", default="")
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
    p.add_argument("--seeds", type=int, default=3, help="beta-vae-dsprites: seeds per β, from --seed on")
    p.add_argument("--steps", type=int, default=0, help="beta-vae-dsprites: Adam steps per run (0: 3000)")
    p.add_argument(
        "--metric-points", type=int, default=2000, help="beta-vae-dsprites: training points per metric (eval: half)"
    )
    p.add_argument("--precision", default="fp32", help="beta-vae-dsprites: fp32 or bf16 (autocast of the networks)")
    p.add_argument("--dsprites", default="dsprites", help="beta-vae-dsprites: dsprites or dsprites-published")
    p.add_argument("--device", default="auto")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_reproduce)

    p = sub.add_parser("fid", help="FID between a run's samples and held-out data (key names the features)")
    p.add_argument("run", help="a run directory (what aevb train --out wrote)")
    p.add_argument("--features", default="aevb_classifier", help="aevb_classifier (default) or inception")
    p.add_argument("--fid-weights", default="", help="inception: the FID weights file; classifier: its directory")
    p.add_argument("-n", type=int, default=1000, help="samples and data points")
    p.add_argument(
        "--split",
        default="test",
        help="which split of the run's dataset: train, test (valid, all where the dataset has them)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the random draws (results are repeatable)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_fid)

    p = sub.add_parser("fid-classifier", help="train the aevb FID classifier on a labelled image dataset")
    p.add_argument("--dataset", required=True)
    p.add_argument("--out", default="", help="directory (default: <data dir>/fid/aevb_classifier_<dataset>)")
    p.add_argument("--data-dir", default="")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--seed", type=int, default=0, help="seed of the random draws (results are repeatable)")
    p.set_defaults(func=cmd_fid_classifier)

    p = sub.add_parser("demo", help="train on the offline MNIST sample and write pictures and metrics")
    p.add_argument("--out", default="runs/demo")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--overwrite", action="store_true", help="replace an earlier demo run in --out")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        parser = build_parser()
        args, extra = parser.parse_known_args(argv)
        if extra:  # report unknown flags against the subcommand, so the message lists its valid flags
            parser.subcommands[args.command].error(f"unrecognized arguments: {' '.join(extra)}")
        return args.func(args)
    except AevbError as err:
        print(f"aevb: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
