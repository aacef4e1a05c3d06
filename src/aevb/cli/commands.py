"""The commands of ``aevb``: each ``cmd_NAME(args)`` runs one subcommand parsed by :func:`aevb.cli.build_parser`."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import warnings
from pathlib import Path

from aevb.cli.parser import _config_from_args
from aevb.config import (
    AUTO_COMPILE_PAIRS,
    load_toml,
)
from aevb.errors import ConfigError
from aevb.explore import require_server
from aevb.io import read_meta
from aevb.presets import preset
from aevb.reproduce import run_experiment
from aevb.runs import (
    augment_run,
    disentanglement_run,
    encode_run,
    evaluate_run,
    explore_run,
    export_explorer,
    export_run,
    fid_run,
    ood_run,
    plot_run,
    probe_run,
    reconstruct_run,
    run_demo,
    sample_run,
    score_run,
    train_fid_classifier,
    train_from_config,
    traverse_run,
    write_report,
)
from aevb.scoring import ScoreSettings
from aevb.training.distributed import env_world


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
        if ev.classification_error is not None:
            print(
                f"  classification error {100 * ev.classification_error:.2f} % (argmax q(y|x), {ev.n} labelled points)"
            )
        if ev.compiled and ev.compile_auto:
            print(
                f"  (importance sampling ran compiled: {ev.n} × {ev.nll_samples} pairs ≥ {AUTO_COMPILE_PAIRS:,} pay "
                "for the compilation; --compile false runs eager)"
            )
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
    rows = path.read_text().splitlines()[1:]
    split = rows[0].split(",")[1] if rows else "none"
    print(f"wrote {path}: {len(rows)} rows of split {split!r} (index = the row; higher scores are more anomalous)")
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


def cmd_augment(args: argparse.Namespace) -> int:
    info = augment_run(args.run, args.per_class, args.out, mean=args.mean, seed=args.seed)
    through = f", through the decoder of {info['decoded_by']}" if "decoded_by" in info else ""
    print(f"wrote {info['out']}: {info['n']} samples ({args.per_class} of each of {info['classes']} classes; "
          f"pixels: decoder {info['pixels']}s{through})")  # fmt: skip
    return 0


def cmd_probe(args: argparse.Namespace) -> int:
    classifiers = [c.strip() for c in args.classifier.split(",") if c.strip()]
    result = probe_run(args.run, args.labels, seeds=args.seeds, classifiers=classifiers, out=args.out)
    if args.json:
        print(json.dumps({k: v for k, v in result.items() if k != "markdown"}))
        return 0
    print(f"test error (%), mean ± sd over {result['seeds']} labelled subsets of the training set:")
    print(result["markdown"])
    print(f"(wrote probe.json, probe.md and probe.png in {args.out or Path(args.run) / 'probe'})")
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


def cmd_explore(args: argparse.Namespace) -> int:
    runs = [args.run] + ([args.run2] if args.run2 else [])
    if args.export:
        page = export_explorer(runs, args.export, split=args.split, points=args.points, color_by=args.color_by)
        print(f"wrote {page} (open it in a browser; it decodes there, without a server)")
        return 0
    require_server()  # before the runs are opened: a missing library is said at once
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how a user stops the server: not an error
        explore_run(runs, host=args.host, port=args.port, split=args.split, points=args.points, color_by=args.color_by)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    skipped: list[str] = []
    print(f"wrote {write_report(args.run, args.out, nll_samples=args.nll_samples, skipped=skipped)}")
    for note in skipped:  # the page says it too; a user who does not open it should not miss it
        print(f"left out of the report: {note}", file=sys.stderr)
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
