"""β-VAE (Higgins et al. 2017): β > 1 buys a smaller KL with a worse reconstruction. Trains one VAE per β and prints
the held-out decomposition ELBO = −reconstruction − KL (nats per datapoint, the β = 1 bound for every model).

    AEVB_DATA_DIR=shared/data OMP_NUM_THREADS=1 python experiments/beta_vae_table.py --betas 1 4 --epochs 5

Runs go to ``--out``/beta-<β>; each is an ordinary run directory (``aevb sample``, ``aevb traverse`` work on it).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from aevb.config import Config, ModelConfig, TrainConfig
from aevb.runs import evaluate_run, train_from_config, traverse_run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--betas", type=float, nargs="+", default=[1.0, 4.0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--latent-dim", type=int, default=10)
    parser.add_argument("--warmup-steps", type=int, default=0)
    parser.add_argument("--out", default="runs/beta-vae")
    args = parser.parse_args()
    rows = []
    for beta in args.betas:
        run = Path(args.out) / f"beta-{beta:g}"
        config = Config(
            model=ModelConfig(latent_dim=args.latent_dim, hidden=[400], activation="relu"),
            train=TrainConfig(
                dataset=args.dataset,
                epochs=args.epochs,
                beta=beta,
                warmup_steps=args.warmup_steps,
                eval_every=0,
                progress=False,
                out=str(run),
            ),
        )
        if not (run / "model.safetensors").exists():
            train_from_config(config)
        ev = evaluate_run(run, nll_samples=0, elbo_samples=10)
        traverse_run(run, index=0, out=run / "traversal.png")
        rows.append((beta, ev))
        print(f"beta {beta:g}: KL {ev.kl:.2f}  reconstruction {ev.reconstruction:.2f}  ELBO {ev.elbo:.2f}", flush=True)
    print(f"\n{args.dataset} test set, {args.epochs} epochs, Nz = {args.latent_dim}, nats per datapoint")
    print("| β | KL(q‖p) | reconstruction −E_q[log p(x|z)] | ELBO (β = 1) | active units |")
    print("|---|---|---|---|---|")
    for beta, ev in rows:
        au = getattr(ev, "active_units", None)
        print(f"| {beta:g} | {ev.kl:.2f} | {ev.reconstruction:.2f} | {ev.elbo:.2f} | {au if au is not None else '–'} |")


if __name__ == "__main__":
    main()
