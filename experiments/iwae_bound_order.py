"""Burda et al. (2015), Thm. 1 on a trained run: L_1 ≤ L_5 ≤ L_50 ≤ log p̂(x) (IS, K = ``--nll-samples``), averaged
over ``--limit`` evenly spaced test datapoints, nats per datapoint.

    AEVB_DATA_DIR=shared/data OMP_NUM_THREADS=1 python experiments/iwae_bound_order.py RUN --limit 500
"""

from __future__ import annotations

import argparse

import torch

from aevb.estimators import iwae_bound
from aevb.evaluation import log_likelihood
from aevb.runs import Run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run")
    parser.add_argument("--limit", type=int, default=500)
    parser.add_argument("--ks", type=int, nargs="+", default=[1, 5, 50])
    parser.add_argument("--nll-samples", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    run = Run(args.run)
    model = run.model
    x, context, _ = run.points("test", args.limit)
    torch.manual_seed(args.seed)
    with torch.no_grad():
        for k in args.ks:
            values = torch.cat(
                [
                    iwae_bound(model.terms(x[i : i + 100], k, None if context is None else context[i : i + 100]))
                    for i in range(0, x.shape[0], 100)
                ]
            )
            print(f"L_{k:<5d} {float(values.mean()):9.3f} ± {float(values.std() / len(values) ** 0.5):.3f}")
        ll = log_likelihood(model, x, args.nll_samples, context)
    print(f"log p̂(x) {float(ll.mean()):9.3f} ± {float(ll.std() / len(ll) ** 0.5):.3f}  (IS, K = {args.nll_samples})")


if __name__ == "__main__":
    main()
