"""``aevb evaluate RUN --nll-samples 5000`` as a user runs it (no flags: aevb decides to compile), timed as a whole
process, as a fraction of the fp32 GEMM peak measured in this run just before and just after it.

FLOPs counted: the encoder once per test point and the decoder once per (point, sample) pair (the GEMMs; the
elementwise work is what makes the fraction < 1). RUN must hold a 784-400-20 MLP VAE (the README's `aevb train`).

    AEVB_DATA_DIR=../shared/data python benchmarks/evaluate_default.py RUN [-k 5000] [--limit 0]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _common import gemm_peak, machine, mlp_vae_flops  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run")
    ap.add_argument("-k", type=int, default=5000)
    ap.add_argument("--limit", type=int, default=0, help="evenly spaced test points (0: all)")
    ap.add_argument("--flags", default="", help="extra flags for aevb evaluate (default none), e.g. '--compile false'")
    args = ap.parse_args()
    print(f"machine: {machine()}")
    before = gemm_peak(torch.float32)
    argv = [
        sys.executable,
        "-m",
        "aevb",
        "evaluate",
        args.run,
        "--nll-samples",
        str(args.k),
        "--limit",
        str(args.limit),
    ]
    argv += [*args.flags.split(), "--json"]
    start = time.perf_counter()
    out = subprocess.run(argv, check=True, capture_output=True, text=True).stdout
    seconds = time.perf_counter() - start
    after = gemm_peak(torch.float32)
    ev = json.loads(out.strip().splitlines()[-1])
    enc, dec = mlp_vae_flops(784, [400], 20)
    flops = ev["n"] * (enc + args.k * dec)
    peak = (before + after) / 2
    print(
        f"aevb evaluate {' '.join(argv[4:-1])}: {seconds:.1f} s for {ev['n']} points "
        f"at K = {args.k} (compiled: {ev['compiled']}, chosen automatically: {ev['compile_auto']}); "
        f"{flops / seconds / 1e9:.0f} GFLOP/s "
        f"= {flops / seconds / 1e9 / peak:.0%} of the fp32 peak ({before:.0f} before, {after:.0f} after, GFLOP/s); "
        f"NLL {ev['nll']:.3f} ± {ev['nll_stderr']:.3f} nats"
    )


if __name__ == "__main__":
    main()
