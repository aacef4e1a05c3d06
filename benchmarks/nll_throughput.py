"""IS-NLL throughput: log p(x) by importance sampling (K = 5000) over the static-MNIST test set, 784-400-20 ReLU VAE.

Prints the time, the achieved GFLOP/s as a fraction of the fp32 GEMM peak measured in this process, the speed-up over
the previous implementation (256 MiB chunks, encoder per chunk, torch's Bernoulli log-density) on the same points, and
with ``--precision both`` the bf16 autocast path and its NLL difference to fp32 on the same samples, and with
``--compile`` each precision again through ``log_likelihood(..., compile=True)`` (compilation timed apart).

The model has random (PyTorch default) weights: the FLOP count and the kernels are those of a trained model.
``--limit N`` evaluates N points and extrapolates linearly to 10 000 (the work is the same for every point).

    python benchmarks/nll_throughput.py --limit 500            # quick check (~30 s)
    python benchmarks/nll_throughput.py                        # the whole test set (~3-4 min per precision)
    python benchmarks/nll_throughput.py --limit 200 --compile --threads 1
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from pathlib import Path

import torch
from torch.distributions import Bernoulli

sys.path.insert(0, str(Path(__file__).parent))
from _common import gemm_peak, machine, median_time, mlp_vae_flops  # noqa: E402

from aevb import ModelConfig, build_model  # noqa: E402
from aevb.evaluation import log_likelihood  # noqa: E402
from aevb.likelihoods import BernoulliLogits  # noqa: E402

FULL = 10_000


def test_points(limit: int) -> tuple[torch.Tensor, str]:
    try:
        from aevb.data import load_dataset

        data = load_dataset("binarized-mnist", split="test", data_dir=os.environ.get("AEVB_DATA_DIR"), download=False)
        return data.x[:limit], "binarized-mnist test"
    except Exception as err:  # no staged data: random binary images have the same cost
        print(f"(binarized-mnist not available: {err}; using random binary images)")
        g = torch.Generator().manual_seed(0)
        return (torch.rand(limit, 1, 28, 28, generator=g) < 0.13).float(), "random binary 28x28"


@contextlib.contextmanager
def legacy_bernoulli():
    """The previous Bernoulli log-density (torch's BCE-with-logits), for the reference timing."""
    saved = BernoulliLogits.log_prob
    BernoulliLogits.log_prob = Bernoulli.log_prob
    try:
        yield
    finally:
        BernoulliLogits.log_prob = saved


@torch.no_grad()
def legacy_log_likelihood(model, x, k, batch=100):
    """The foundation's evaluator: per batch of 100 points, 256 MiB chunks of samples, ``terms`` (encoder) per chunk."""
    out = []
    per = 4 * (3 * 784 + 2 * 400 + 8 * 20) * batch
    chunk = max(1, min(k, (256 * 2**20) // per))
    with legacy_bernoulli():
        for start in range(0, x.shape[0], batch):
            xb = x[start : start + batch]
            parts, done = [], 0
            while done < k:
                s = min(chunk, k - done)
                parts.append(torch.logsumexp(model.terms(xb, s).log_weight.float(), 0))
                done += s
            out.append(torch.logsumexp(torch.stack(parts), 0) - torch.log(torch.tensor(float(k))))
    return torch.cat(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=FULL, help="number of test points (extrapolated to 10 000)")
    ap.add_argument("-k", type=int, default=5000, help="importance samples per point")
    ap.add_argument("--precision", choices=["fp32", "bf16", "both"], default="both")
    ap.add_argument("--reference-limit", type=int, default=100, help="points for the previous implementation's timing")
    ap.add_argument("--compile", action="store_true", help="also time log_likelihood(..., compile=True)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    print(f"machine: {machine()}")
    peak32 = gemm_peak(torch.float32)
    peak16 = gemm_peak(torch.bfloat16)
    print(f"measured GEMM peak (2048^3, median of 5): fp32 {peak32:.0f} GFLOP/s, bf16 {peak16:.0f} GFLOP/s")

    torch.manual_seed(0)
    model = build_model(ModelConfig(latent_dim=20, hidden=[400], activation="relu"), (1, 28, 28)).eval()
    x, source = test_points(args.limit)
    n = x.shape[0]
    enc, dec = mlp_vae_flops(784, [400], 20)
    flops = n * (enc + args.k * dec)
    bound_s = FULL / n * flops / (peak32 * 1e9)
    print(
        f"data: {n} points of {source}; K = {args.k}; {flops / 1e12:.2f} TFLOP "
        f"(decoder {dec / 1e3:.0f} kFLOP per sample, encoder {enc / 1e3:.0f} kFLOP per point)"
    )
    print(f"fp32 FLOP bound for 10 000 points: {bound_s:.0f} s")

    results = {}
    precisions = ["fp32", "bf16"] if args.precision == "both" else [args.precision]
    for precision, compiled in [(p, c) for p in precisions for c in ([False, True] if args.compile else [False])]:
        name = precision + (" compiled" if compiled else "")
        autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16")
        if compiled:  # compile on the same points with K = 3 (its chunk shapes, then dynamic ones), timed apart
            torch.manual_seed(1)
            start = time.perf_counter()
            with autocast:
                log_likelihood(model, x, 3, compile=True)
            print(f"[{name}] compilation (a call with K = 3): {time.perf_counter() - start:.1f} s")
        # The machine is shared: re-measure the peak right before each timed section (outside autocast: the fp32
        # peak), and report against it.
        peak32 = gemm_peak(torch.float32)
        with autocast:
            torch.manual_seed(1)
            start = time.perf_counter()
            ll = log_likelihood(model, x, args.k, compile=compiled)
            t = time.perf_counter() - start
        results[name] = ll
        gflops = flops / t / 1e9
        print(
            f"[{name}] {t:.1f} s for {n} points -> {t * FULL / n:.0f} s for 10 000; {gflops:.0f} GFLOP/s = "
            f"{gflops / peak32:.0%} of the fp32 peak"
            + (f", {gflops / peak16:.0%} of bf16 peak" if precision == "bf16" else "")
            + f" (fp32 peak just before: {peak32:.0f} GFLOP/s); mean log p(x) = {ll.mean():.3f} nats"
        )
    if "bf16" in results and "fp32" in results:
        d = results["bf16"] - results["fp32"]
        print(f"bf16 - fp32 on the same samples: mean {d.mean():+.4f} nats, max |.| {d.abs().max():.4f} nats")

    m = min(args.reference_limit, n)
    xr = x[:m]
    t_new, t_old = [], []
    for _ in range(3):  # interleaved, so a change of load on the shared machine hits both alike
        t_new.append(median_time(lambda: log_likelihood(model, xr, args.k), repeats=1, warmup=0))
        t_old.append(median_time(lambda: legacy_log_likelihood(model, xr, args.k), repeats=1, warmup=0))
    new, old = sorted(t_new)[1], sorted(t_old)[1]
    print(
        f"vs previous implementation on {m} points (interleaved, median of 3): {old:.2f} s -> {new:.2f} s, "
        f"speed-up {old / new:.2f}x"
    )


if __name__ == "__main__":
    main()
