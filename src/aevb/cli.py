"""The ``aevb`` command line. Every config field is a flag (``latent_dim`` ↔ ``--latent-dim``); a TOML file given
with ``--config`` is read first and flags override it."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from aevb.config import Config, ModelConfig, TrainConfig, field_types, load_toml
from aevb.errors import AevbError, ConfigError

SECTIONS = {"model": ModelConfig, "train": TrainConfig}


class _Parser(argparse.ArgumentParser):
    """argparse that raises ConfigError (listing valid flags) instead of exiting on bad flags."""

    def error(self, message: str) -> None:  # type: ignore[override]
        flags = sorted({s for a in self._actions for s in a.option_strings if s.startswith("--")})
        raise ConfigError(f"{self.prog}: {message}\nvalid flags: {' '.join(flags)}")


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _add_config_flags(parser: argparse.ArgumentParser) -> None:
    for section, cls in SECTIONS.items():
        group = parser.add_argument_group(f"[{section}] (TOML section)")
        defaults = cls()
        for name, typ in field_types(cls).items():
            default = getattr(defaults, name)
            metavar = "N,N,..." if isinstance(default, list) else typ.__name__.upper()
            group.add_argument(
                _flag(name),
                dest=f"{section}.{name}",
                default=argparse.SUPPRESS,
                metavar=metavar,
                help=f"default: {default!r}",
            )


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
    return Config.from_dict(data).validate()


# --- commands ------------------------------------------------------------------------------------------------
def cmd_train(args: argparse.Namespace) -> int:
    from aevb.api import train_from_config

    base = None
    if args.resume:
        out = getattr(args, "train.out", None)
        if not out:
            raise ConfigError("--resume needs --out RUN (the run directory to continue)")
        base = load_toml(Path(out) / "config.toml")
    config = _config_from_args(args, base)
    result = train_from_config(config, resume=args.resume)
    return 130 if result.interrupted else 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from aevb.api import evaluate_run

    ev = evaluate_run(
        args.run,
        split=args.split,
        nll_samples=args.nll_samples,
        elbo_samples=args.elbo_samples,
        batch_size=args.batch_size,
        seed=args.seed,
        limit=args.limit,
    )
    out = ev.as_dict()
    if args.json:
        print(json.dumps(out))
    else:
        print(f"{args.split}: n = {ev.n}")
        print(f"  ELBO          {ev.elbo:10.3f} ± {ev.elbo_stderr:.3f} nats per datapoint (lower bound on log p(x))")
        if ev.nll is not None:
            print(
                f"  -log p(x)     {ev.nll:10.3f} ± {ev.nll_stderr:.3f} nats (importance sampling, K = {ev.nll_samples})"
            )
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    from aevb.api import sample_run

    path = sample_run(args.run, n=args.n, out=args.out, seed=args.seed)
    print(f"wrote {path}")
    return 0


def cmd_reconstruct(args: argparse.Namespace) -> int:
    from aevb.api import reconstruct_run

    path = reconstruct_run(args.run, split=args.split, n=args.n, out=args.out, seed=args.seed)
    print(f"wrote {path} (top rows: data, bottom rows: reconstructions)")
    return 0


def cmd_encode(args: argparse.Namespace) -> int:
    from aevb.api import encode_run

    path = encode_run(args.run, split=args.split, out=args.out, limit=args.limit)
    print(f"wrote {path}")
    return 0


def cmd_datasets(args: argparse.Namespace) -> int:
    from aevb.data import list_datasets

    rows = list_datasets(args.data_dir or None)
    if args.json:
        print(json.dumps([r._asdict() for r in rows]))
        return 0
    for row in rows:
        r = row._asdict()
        status = "present" if r["present"] else "missing"
        print(f"{r['name']:16s} {status:8s} {r['location']}\n{'':16s} {r['description']}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from aevb.api import run_demo

    run_demo(args.out, epochs=args.epochs, progress=not args.quiet)
    return 0


def build_parser() -> argparse.ArgumentParser:
    from aevb import __version__

    parser = _Parser(prog="aevb", description="Auto-Encoding Variational Bayes and the VAE family.")
    parser.add_argument("--version", action="version", version=f"aevb {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    parser.subcommands = sub.choices  # type: ignore[attr-defined]

    p = sub.add_parser("train", help="train a model (config from --config TOML, flags override)")
    p.add_argument("--config", help="TOML file with [model] and [train] sections")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    _add_config_flags(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="test ELBO and importance-sampled log-likelihood of a run")
    p.add_argument("run")
    p.add_argument("--split", default="test")
    p.add_argument("--nll-samples", type=int, default=1000, help="importance samples K (0: ELBO only)")
    p.add_argument("--elbo-samples", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--limit", type=int, default=0, help="evaluate on the first N datapoints only")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("sample", help="draw z ~ p(z) and write a grid of decoded samples")
    p.add_argument("run")
    p.add_argument("-n", type=int, default=64)
    p.add_argument("--out", default="samples.png")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("reconstruct", help="write data and their reconstructions as a grid")
    p.add_argument("run")
    p.add_argument("--split", default="test")
    p.add_argument("-n", type=int, default=16)
    p.add_argument("--out", default="recon.png")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_reconstruct)

    p = sub.add_parser("encode", help="write posterior means and standard deviations (and labels) to .npz")
    p.add_argument("run")
    p.add_argument("--split", default="test")
    p.add_argument("--out", default="latents.npz")
    p.add_argument("--limit", type=int, default=0)
    p.set_defaults(func=cmd_encode)

    p = sub.add_parser("datasets", help="list the datasets, where they live and whether they are present")
    p.add_argument("--data-dir", default="")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_datasets)

    p = sub.add_parser("demo", help="train on the offline MNIST sample and write pictures and metrics")
    p.add_argument("--out", default="runs/demo")
    p.add_argument("--epochs", type=int, default=30)
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
