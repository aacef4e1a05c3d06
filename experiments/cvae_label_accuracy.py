"""How faithfully a trained conditional VAE draws the requested class: a classifier trained here on the full MNIST
training set (an MLP 784-512-10, ~98 % test accuracy) labels ``--per-class`` samples of every class.

    AEVB_DATA_DIR=shared/data OMP_NUM_THREADS=1 aevb train --model cvae --dataset mnist --latent-dim 2 \\
        --hidden 500 --epochs 10 --out runs/cvae
    AEVB_DATA_DIR=shared/data OMP_NUM_THREADS=1 python experiments/cvae_label_accuracy.py runs/cvae

Samples are decoder means at z ~ p(z|c), exactly what ``aevb sample RUN --label c`` draws.
"""

from __future__ import annotations

import argparse

import torch
from torch import nn

from aevb import load, load_dataset


def train_classifier(epochs: int, seed: int = 0) -> tuple[nn.Module, float]:
    train = load_dataset("mnist", "train", download=False)
    test = load_dataset("mnist", "test", download=False)
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 10))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        for idx in torch.randperm(len(train), generator=g).split(128):
            loss = nn.functional.cross_entropy(net(train.x[idx]), train.y[idx].long())
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        acc = float((net(test.x).argmax(-1) == test.y.long()).float().mean())
    return net.eval(), acc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--per-class", type=int, default=1000)
    parser.add_argument("--classifier-epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    classifier, test_acc = train_classifier(args.classifier_epochs, args.seed)
    print(f"classifier (MLP 784-512-10) test accuracy on MNIST: {test_acc:.4f}")
    for run in args.runs:
        model = load(run)
        labels = torch.arange(model.num_classes).repeat_interleave(args.per_class)
        torch.manual_seed(args.seed)
        with torch.no_grad():
            pred = classifier(model.sample(len(labels), model.make_context(labels))).argmax(-1)
        per_class = (pred == labels).float().reshape(model.num_classes, -1).mean(1)
        cfg = model.config
        print(
            f"{run}: Nz = {cfg.latent_dim}, prior {cfg.conditional_prior}: samples labelled as requested "
            f"{float(per_class.mean()):.4f} (per class: {' '.join(f'{a:.2f}' for a in per_class.tolist())})"
        )


if __name__ == "__main__":
    main()
