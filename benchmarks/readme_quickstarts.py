"""Run the README's two quickstarts exactly as written (full size: binarized MNIST, 10 epochs, K = 1000), on whatever
device ``auto`` picks, and print what they print.

``tests/test_first_hour.py`` runs the same blocks on small data in every ``make test``; this script is the full-size
run a user would make, for a machine the tests never see (a GPU: ``benchmarks/gpu_check.sh`` calls it) and for the
README's measured figures (test ELBO and IS-NLL of the 10-epoch run). Each block runs in a fresh folder; ``aevb`` in
the shell block is this interpreter's ``python -m aevb``. Exit status 1 if any command fails.

    AEVB_DATA_DIR=../shared/data python benchmarks/readme_quickstarts.py [--out DIR] [--only cli|python]
"""

from __future__ import annotations

import argparse
import re
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def block(heading: str, lang: str) -> str:
    """The first ``lang`` code block after ``heading`` in the README."""
    section = README.read_text().split(heading, 1)[1]
    return re.search(rf"```{lang}\n(.*?)```", section, re.S).group(1)


def run(cmd: list[str], cwd: Path) -> bool:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    shown = " ".join(shlex.quote(c) for c in cmd[2:] if c != "-m")
    print(f"$ {shown}   # {seconds:.1f} s, exit {proc.returncode}", flush=True)
    print(proc.stdout.strip()[-2000:])
    if proc.returncode:
        print(proc.stderr.strip()[-4000:])
    return proc.returncode == 0


def cli(folder: Path) -> bool:
    lines = block("## Quickstart: command line", "sh").replace("\\\n", " ").splitlines()
    ok = True
    for line in lines:
        words = shlex.split(line.split("#")[0])
        if words:
            assert words[0] == "aevb", line
            ok = run([sys.executable, "-m", "aevb", *words[1:]], folder) and ok
    return ok


def python(folder: Path) -> bool:
    script = folder / "quickstart.py"
    script.write_text(block("## Quickstart: Python", "python"))
    return run([sys.executable, str(script)], folder)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="folder for the runs (default: a temporary one, removed after)")
    parser.add_argument("--only", choices=["cli", "python"])
    args = parser.parse_args()
    import torch  # after argparse, so --help is fast

    device = "cuda" if torch.cuda.is_available() else "cpu"
    print(f"Python {sys.version.split()[0]}, torch {torch.__version__}, device auto -> {device}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.out or tmp)
        results = {}
        for name, fn in (("cli", cli), ("python", python)):
            if args.only in (None, name):
                folder = root / name
                folder.mkdir(parents=True, exist_ok=True)
                print(f"== README quickstart: {name} (in {folder})", flush=True)
                results[name] = fn(folder)
    print("quickstarts:", ", ".join(f"{k} {'ok' if v else 'FAILED'}" for k, v in results.items()))
    return 0 if all(results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
