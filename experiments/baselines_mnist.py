"""AEVB vs the paper's baselines (Wake-Sleep, Monte Carlo EM) on binarized MNIST, briefly: the marginal likelihood of
each, estimated the same way for all three (Kingma & Welling 2014 App. D, HMC + fitted density), on held-out points,
at a few points during training. The setting of Fig. 3 (Nz = 3, 100 hidden units, N_train = 1000), shortened.

    AEVB_DATA_DIR=shared/data OMP_NUM_THREADS=1 python experiments/baselines_mnist.py --epochs 100 --eval-at 1 20 100

Prints one row per (method, epoch): the App. D estimate of log p(x) (mean ± standard error over ``--eval-points`` test
points, nats, higher is better) and, for the methods with an encoder, the IS estimate (K = 1000) at the end.
"""

from __future__ import annotations

import argparse
import time

import torch

from aevb import ModelConfig, TrainConfig, build_model, load_dataset
from aevb.evaluation import log_likelihood
from aevb.inference.marginal import hmc_log_likelihood
from aevb.training.trainer import Trainer


def mean_se(v: torch.Tensor) -> str:
    return f"{float(v.mean()):8.2f} ± {float(v.std() / len(v) ** 0.5):.2f}"


class MarginalLikelihoodAt:
    """Trainer callback: the App. D estimate of log p(x) on ``x`` after the chosen epochs (forked RNG)."""

    def __init__(self, x: torch.Tensor, epochs: list[int], method: str) -> None:
        self.x, self.epochs, self.method = x, set(epochs), method

    def __call__(self, model: torch.nn.Module, epoch: int) -> None:
        with torch.random.fork_rng():
            torch.manual_seed(0)
            was = model.training
            start = time.perf_counter()
            est = hmc_log_likelihood(model.eval(), self.x, num_samples=50)
            model.train(was)
        print(
            f"{self.method:11s} epoch {epoch:4d}  log p(x) [HMC, App. D] {mean_se(est)}  "
            f"({time.perf_counter() - start:.0f} s to estimate)",
            flush=True,
        )

    def on_epoch_end(self, trainer: Trainer, record: dict) -> None:
        if record["epoch"] in self.epochs:
            self(trainer.model, record["epoch"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", default=["aevb", "wake-sleep", "mcem"])
    parser.add_argument("--n-train", type=int, default=1000)
    parser.add_argument("--eval-points", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--eval-at", type=int, nargs="+", default=[1, 20, 100])
    parser.add_argument("--lr", type=float, default=3e-3)
    args = parser.parse_args()
    train = load_dataset("binarized-mnist", "train", download=False).subset(args.n_train)
    test = load_dataset("binarized-mnist", "test", download=False).subset(args.eval_points)
    for method in args.methods:
        torch.manual_seed(0)
        model = build_model(ModelConfig(latent_dim=3, hidden=[100], activation="tanh"), train.event_shape)
        probe = MarginalLikelihoodAt(test.x, args.eval_at, method)
        probe(model, 0)
        cfg = TrainConfig(
            epochs=args.epochs,
            batch_size=100,
            lr=args.lr,
            method=method,
            progress=False,
            eval_every=0,
            terms_points=0,
            picture_epochs=[],
        )
        start = time.perf_counter()
        Trainer(model, train, cfg, callbacks=[probe]).fit()
        print(f"{method:11s} trained {args.epochs} epochs in {time.perf_counter() - start:.0f} s (incl. estimates)")
        if method != "mcem":
            torch.manual_seed(0)
            est = log_likelihood(model.eval(), test.x, 1000)
            print(f"{method:11s} final    log p(x) [IS, K = 1000]      {mean_se(est)}")


if __name__ == "__main__":
    main()
