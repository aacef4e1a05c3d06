"""How long a user waits before anything happens: ``aevb --help``, ``aevb datasets``, and ``aevb train`` from process
start to the end of a one-step run (which is the time to the first step plus saving a small model), medians of
``--repeats`` fresh processes, next to ``python -c "import torch"`` measured the same way.

    AEVB_DATA_DIR=../shared/data python benchmarks/start_time.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time


def wall(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    aevb = [sys.executable, "-m", "aevb"]
    with tempfile.TemporaryDirectory() as tmp:
        train = ["train", "--epochs", "1", "--steps", "1", "--eval-every", "0", "--terms-points", "0",
                 "--picture-epochs", "", "--progress", "false", "--overwrite", "--out", f"{tmp}/run"]  # fmt: skip
        cases = {
            "python -c 'import torch'": [sys.executable, "-c", "import torch"],
            "aevb --help": [*aevb, "--help"],
            "aevb train --help": [*aevb, "train", "--help"],
            "aevb datasets": [*aevb, "datasets"],
            "aevb train (1 step, mnist-sample)": [*aevb, *train, "--dataset", "mnist-sample"],
            "aevb train (1 step, binarized-mnist)": [*aevb, *train, "--dataset", "binarized-mnist"],
            "aevb train (1 step, mnist)": [*aevb, *train, "--dataset", "mnist"],
        }
        times: dict[str, list[float]] = {k: [] for k in cases}
        for _ in range(args.repeats):  # interleaved, so a change of load hits every case alike
            for name, argv in cases.items():
                times[name].append(wall(argv))
    for name, values in times.items():
        print(f"{name:40s} median {statistics.median(values):6.2f} s  (min {min(values):.2f}, max {max(values):.2f})")


if __name__ == "__main__":
    main()
