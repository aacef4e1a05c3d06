"""The pictures of the documentation's guide pages (docs/assets/figures/), drawn by aevb's own commands from real runs.

Trains the guides' MNIST VAE (784-400-20 ReLU, Bernoulli, Adam 1e-3, 10 epochs of gray MNIST, seed 0), a 2-d one for
the manifold, scores Fashion-MNIST against the first, and runs the AE-vs-VAE reproduction; then copies the pictures
those commands wrote into docs/assets/figures/ and writes there the commands that made them (COMMANDS.txt).

    AEVB_DATA_DIR=../shared/data python experiments/docs_figures.py [--runs runs/docs] [--out docs/assets/figures]

About 10 minutes on 2 CPU cores. Finished runs are reused (delete --runs to start again).
"""

from __future__ import annotations

import argparse
import shlex
import shutil
from pathlib import Path

from aevb.cli import main as aevb

# (run name, aevb train arguments)
RUNS = {
    "mnist": "--dataset mnist --hidden 400 --latent-dim 20 --activation relu --epochs 10 --seed 0",
    "mnist-2d": "--dataset mnist --hidden 400 --latent-dim 2 --activation relu --epochs 10 --seed 0",
}


def run(commands: list[str], args: str) -> None:
    commands.append("aevb " + args)
    code = aevb(shlex.split(args))
    if code != 0:
        raise SystemExit(f"aevb {args} exited with {code}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, default=Path("runs/docs"))
    parser.add_argument("--out", type=Path, default=Path("docs/assets/figures"))
    args = parser.parse_args()
    runs, out = args.runs, args.out
    out.mkdir(parents=True, exist_ok=True)
    commands: list[str] = []

    for name, train in RUNS.items():
        if (runs / name / "model.safetensors").is_file():
            commands.append(f"aevb train {train} --progress false --out {runs / name}")
        else:
            run(commands, f"train {train} --progress false --overwrite --out {runs / name}")
    run(
        commands,
        f"plot {runs / 'mnist'} --kind scatter,samples,recon,interp,traverse,curves --out {runs / 'mnist/plots'}",
    )
    run(commands, f"plot {runs / 'mnist-2d'} --kind manifold,scatter --out {runs / 'mnist-2d/plots'}")
    run(commands, f"ood {runs / 'mnist'} --out fashion-mnist:test --limit 2000 --score nll,relerr")
    if not (runs / "ae-vs-vae" / "codes.png").is_file():
        run(commands, f"reproduce ae-vs-vae --out {runs / 'ae-vs-vae'} --quiet")
    else:
        commands.append(f"aevb reproduce ae-vs-vae --out {runs / 'ae-vs-vae'} --quiet")

    copies = {
        runs / "mnist/plots": ("scatter.png", "samples.png", "recon.png", "interp.png", "traverse.png", "curves.png"),
        runs / "mnist-2d/plots": ("manifold.png",),
        runs / "mnist/ood": ("roc.png", "hist_nll.png", "hist_relerr.png"),
        runs / "ae-vs-vae": ("codes.png", "grid_ae.png", "grid_vae.png", "objectives.png"),
    }
    for folder, names in copies.items():
        prefix = {"mnist-2d/plots": "2d_", "mnist/ood": "ood_", "ae-vs-vae": "ae_vs_vae_"}.get(
            folder.relative_to(runs).as_posix(), ""
        )
        for name in names:
            if not (folder / name).is_file():
                raise SystemExit(f"{folder / name} was not written; found {sorted(p.name for p in folder.iterdir())}")
            shutil.copyfile(folder / name, out / (prefix + name))
    (out / "COMMANDS.txt").write_text(
        "# Written by experiments/docs_figures.py: the commands whose pictures these are.\n"
        + "\n".join(commands)
        + "\n"
    )
    print(f"wrote {len(list(out.glob('*.png')))} pictures to {out}")


if __name__ == "__main__":
    main()
