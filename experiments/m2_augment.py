"""What generated labelled data are worth with 100 labels: a classifier on the 100 real labelled MNIST digits alone,
and on them plus labelled samples of an M2 (or M1+M2) trained with those same 100 labels and the unlabelled rest.

For each seed S, RUNS/<prefix>S is a run of ``aevb train --model m2 --labels-per-class 10 --seed S`` (the script
m2_mnist.py makes them); its labelled subset is recomputed from the seed exactly as training chose it. The generated
data come from ``aevb augment RUN --per-class G`` (decoder means; for M1+M2 through M1's decoder). Classifiers:
scikit-learn's, as ``aevb probe`` uses them (logistic regression on standardized pixels, 3-NN), on gray pixels;
test error on the 10,000 MNIST test digits, mean ± sd over seeds, next to the M2 classifier's own test error.

    AEVB_DATA_DIR=../shared/data python experiments/m2_augment.py --runs /work/m2-sample --prefix seed --seeds 0 1 2
        [--per-class 500] [--out runs/m2-augment]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from aevb.config import load_config
from aevb.data import load_dataset
from aevb.data.labels import labelled_indices
from aevb.metrics.probe import probe_classifier


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", required=True, help="folder holding one M2 run per seed")
    ap.add_argument("--prefix", default="seed", help="run folder name before the seed number")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--per-class", type=int, default=500, help="generated samples per class")
    ap.add_argument("--out", default="runs/m2-augment")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    train, test = load_dataset("mnist", "train"), load_dataset("mnist", "test")
    x_train, y_train = train.flat().numpy(), train.y.numpy()
    x_test, y_test = test.flat().numpy(), test.y.numpy()
    errors: dict[str, list[float]] = {}
    for seed in args.seeds:
        run = Path(args.runs) / f"{args.prefix}{seed}"
        cfg = load_config(run / "config.toml").train
        if cfg.dataset != "mnist" or cfg.seed != seed or not cfg.labels_per_class:
            sys.exit(f"{run}: expected an M2 run on mnist with --labels-per-class and --seed {seed}")
        keep = labelled_indices(y_train, cfg.labels_per_class, cfg.labeled, cfg.seed)
        aug_path = out / f"aug_seed{seed}.npz"
        augment = ["augment", str(run), "--per-class", str(args.per_class), "--out", str(aug_path), "--seed", str(seed)]
        subprocess.run([sys.executable, "-m", "aevb", *augment], check=True, stdout=subprocess.DEVNULL)
        aug = np.load(aug_path)
        x_gen, y_gen = aug["x"].reshape(len(aug["y"]), -1), aug["y"]
        sets = {
            "real": (x_train[keep], y_train[keep]),
            "real + generated": (np.concatenate([x_train[keep], x_gen]), np.concatenate([y_train[keep], y_gen])),
            "generated only": (x_gen, y_gen),
        }
        for clf in ("logistic", "knn"):
            for name, (x, y) in sets.items():
                model = probe_classifier(clf)().fit(x, y)
                err = float(np.mean(model.predict(x_test) != y_test))
                errors.setdefault(f"{clf} | {name}", []).append(err)
                print(f"seed {seed} {clf:8s} {name:17s} test error {100 * err:.2f} %", flush=True)
        records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
        own = [r["test_error"] for r in records if "test_error" in r][-1]
        errors.setdefault("M2's classifier q(y|x) | (semi-supervised)", []).append(own)
    lines = [
        f"| classifier | training data | test error (%), mean ± sd over {len(args.seeds)} label seeds |",
        "|---|---|---|",
    ]
    for key, values in errors.items():
        clf, data = key.split(" | ")
        e = 100 * np.array(values)
        sd = e.std(ddof=1) if len(e) > 1 else 0.0
        lines.append(f"| {clf} | {data} | {e.mean():.2f} ± {sd:.2f} |")
    note = f"\n\n{args.per_class} generated per class (decoder means), runs {args.runs}/{args.prefix}S\n"
    (out / "summary.md").write_text("\n".join(lines) + note)
    (out / "errors.json").write_text(json.dumps(errors, indent=1))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
