"""MNIST with 100 labels (10 per class): M2 on pixels and M1+M2, test error mean ± sd over label seeds, with the
training time on this machine. Everything goes through the CLI; the labelled subset of seed S is
``--labels-per-class 10 --seed S`` (the other 59,900 training labels are hidden from the model).

    AEVB_DATA_DIR=../shared/data python experiments/m2_mnist.py --out runs/m2-mnist [--m1-epochs 30]
        [--m2-epochs 50] [--seeds 3] [--skip-pixels | --skip-m1m2] [--features-sample] [--m1 RUN]

M1: 784-600-600-50 softplus VAE, Bernoulli, Adam 3e-4 (the paper: 600-600, 50 latents, softplus). M2 on M1's 50-d
posterior (its means, or with --features-sample a fresh draw of q(z|x) per minibatch, as the paper): Gaussian
likelihood, 500 hidden units, 50 latents, Adam 3e-4, batch 100, alpha = 0.1 N. ``--m1 RUN`` reuses a trained M1.
M2 on pixels: Bernoulli, 500 hidden units, 50 latents, the same optimizer.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def aevb(*args: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "aevb", *args], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def last_error(run: Path) -> float:
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
    return [r["test_error"] for r in records if "test_error" in r][-1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="runs/m2-mnist")
    ap.add_argument("--m1-epochs", type=int, default=30)
    ap.add_argument("--m2-epochs", type=int, default=50)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--skip-pixels", action="store_true", help="only M1+M2")
    ap.add_argument("--skip-m1m2", action="store_true", help="only M2 on pixels (no M1 is trained)")
    ap.add_argument("--features-sample", action="store_true", help="M1+M2 on draws of M1's posterior, not means")
    ap.add_argument("--m1", default="", help="an M1 run to reuse instead of training one")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    common = ["--dataset", "mnist", "--optimizer", "adam", "--lr", "3e-4", "--batch-size", "100", "--progress", "false"]
    common += ["--picture-epochs", "", "--terms-points", "0", "--overwrite"]
    m1, t_m1 = Path(args.m1) if args.m1 else out / "m1", 0.0
    if not args.m1 and not args.skip_m1m2:
        t_m1 = aevb("train", *common, "--hidden", "600,600", "--latent-dim", "50", "--activation", "softplus",
                    "--epochs", str(args.m1_epochs), "--out", str(m1))  # fmt: skip
        print(f"M1: {args.m1_epochs} epochs in {t_m1:.0f} s", flush=True)
    rows: dict[str, list[tuple[float, float]]] = {}
    variants: dict[str, list[str]] = {"M1+M2": ["--features", str(m1), "--likelihood", "gaussian"]}
    if args.features_sample:
        variants["M1+M2"] += ["--features-sample", "true"]
    if not args.skip_pixels:
        variants["M2"] = []
    if args.skip_m1m2:
        del variants["M1+M2"]
    for seed in range(args.seeds):
        for name, extra in variants.items():
            run = out / f"{name.replace('+', '')}_seed{seed}"
            seconds = aevb("train", *common, *extra, "--model", "m2", "--objective", "m2", "--labels-per-class", "10",
                           "--hidden", "500", "--latent-dim", "50", "--epochs", str(args.m2_epochs),
                           "--seed", str(seed), "--out", str(run))  # fmt: skip
            rows.setdefault(name, []).append((last_error(run), seconds))
            print(f"{name} seed {seed}: test error {100 * rows[name][-1][0]:.2f} % ({seconds:.0f} s)", flush=True)
    lines = ["| model | test error (%), mean ± sd | seeds | training time per seed |", "|---|---|---|---|"]
    for name, values in rows.items():
        errors = 100 * np.array([e for e, _ in values])
        sd = errors.std(ddof=1) if len(errors) > 1 else 0.0
        lines.append(
            f"| {name} | {errors.mean():.2f} ± {sd:.2f} | {len(errors)} | {np.mean([s for _, s in values]):.0f} s |"
        )
    m1_line = "" if args.skip_m1m2 else f"\n\nM1: {args.m1_epochs} epochs, {t_m1:.0f} s"
    (out / "summary.md").write_text("\n".join(lines) + m1_line + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
