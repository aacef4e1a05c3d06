"""Run the documentation's code blocks as a user would, on small data (collected by docs/conftest.py through Sybil).

Each page runs in a fresh temporary folder, its blocks in order, so a later block can use the run an earlier one
trained (``RUN``) and Python blocks share one namespace per page. What makes them small, without changing what they
do: ``aevb train`` stops after a few optimizer steps (``--steps``), sample counts, evaluated points, seeds and label
counts are cut (``SHRINK``), and the Python blocks take the substitutions of ``tests/readme_blocks.py`` (the offline
MNIST sample for binarized MNIST, one epoch, few importance samples).

In a ``sh`` block: ``aevb ...`` runs in this process (``aevb.cli.main``, exit status 0 required), ``python -c`` and
``torchrun`` run as subprocesses, ``export`` sets variables for the rest of the page (not ``AEVB_DATA_DIR``: the
suite's data stay), and ``pip``, ``make`` and ``source`` lines are set-up the test environment has already done.
Anything else is an error, so a new kind of command is noticed. A ``toml`` block whose first line is
``# NAME.toml ...`` is written to ``NAME.toml``. A block that cannot run here (a server, GPUs, hours of compute) is
marked ``<!-- skip: next "why" -->`` on the page; its commands are still checked against the parser
(tests/test_docs.py).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch

from .readme_blocks import small

ROOT = Path(__file__).resolve().parents[1]
TRAIN_STEPS = 20  # optimizer steps of every `aevb train` of the docs
# flag → the most a page's command may ask for here (a list flag keeps its first value)
SHRINK: dict[str, int] = {
    "--steps": TRAIN_STEPS,
    "--nll-samples": 20,
    "--limit": 200,
    "--points": 200,
    "--per-class": 20,
    "--seeds": 1,
    "--prior-epochs": 1,
    "--num-train": 500,
    "--num-eval": 200,
    "--fid-samples": 100,
}
# training sets too large for a few steps to matter: the pages' runs train on the 4,500-digit offline sample instead
# (their test splits, pictures and scores stay the named dataset's where a later command reads them)
SMALLER_DATA = {"mnist": "mnist-sample", "binarized-mnist": "mnist-sample"}
LIST_FLAGS = {"--labels"}  # nargs="+" flags: only the first value is kept
# commands that get --limit when they have none: every datapoint of a 10,000-image test split is not needed here
LIMITED = {"evaluate", "score", "ood"}
SETUP = {"pip", "make", "source", "git", "cd"}
CLEANUP_ENV = "_doc_env"


def shrink(args: list[str]) -> list[str]:
    """``aevb`` arguments with every flag of ``SHRINK`` capped and training stopped after ``TRAIN_STEPS`` steps."""
    out: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        flag, eq, value = arg.partition("=")
        if flag in SHRINK and (eq or i + 1 < len(args)):
            value = value if eq else args[i + 1]
            capped = min(int(float(value)), SHRINK[flag]) if value.replace(".", "").isdigit() else value
            out += [flag, str(capped)]
            i += 1 if eq else 2
            continue
        if arg in LIST_FLAGS:
            out += [arg, args[i + 1]]
            i += 2
            while i < len(args) and not args[i].startswith("-"):
                i += 1
            continue
        out.append(arg)
        i += 1
    command = out[0] if out else ""
    if command == "train":
        out = [SMALLER_DATA.get(a, a) if i and out[i - 1] == "--dataset" else a for i, a in enumerate(out)]
        out += [] if "--steps" in out else ["--steps", str(TRAIN_STEPS)]
        out += ["--progress", "false"]
    if command in LIMITED and "--limit" not in out:
        out += ["--limit", str(SHRINK["--limit"])]
    if command == "disentanglement" and "--num-train" not in out:
        out += ["--num-train", str(SHRINK["--num-train"]), "--num-eval", str(SHRINK["--num-eval"])]
    return out


def logical_lines(source: str) -> list[str]:
    """The commands of a shell block: continuation lines joined, blank and comment-only lines dropped."""
    joined = re.sub(r"\\\n\s*", " ", source)
    return [line for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def commands(line: str) -> list[list[str]]:
    """One shell line split into its commands at ``&&`` and ``;`` (comments removed, quotes respected)."""
    tokens = shlex.split(line, comments=True)
    split: list[list[str]] = [[]]
    for token in tokens:
        if token in ("&&", ";"):
            split.append([])
        elif token.endswith(";"):
            split[-1].append(token[:-1])
            split.append([])
        else:
            split[-1].append(token)
    return [c for c in split if c]


def without_env(argv: list[str]) -> list[str]:
    """``argv`` without its leading ``VAR=value`` words (a shell command's own environment)."""
    while argv and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", argv[0]):
        argv = argv[1:]
    return argv


def run_command(argv: list[str], namespace: dict[str, Any]) -> None:
    """Run one command of a shell block (see the module docstring for what each kind does)."""
    from aevb.cli import main

    argv = without_env(argv)
    if not argv:
        return
    program = argv[0]
    if program in SETUP:
        return
    if program == "export":
        for assignment in argv[1:]:
            name, _, value = assignment.partition("=")
            if name != "AEVB_DATA_DIR":
                namespace[CLEANUP_ENV].setdefault(name, os.environ.get(name))
                os.environ[name] = value
        return
    if program == "aevb":
        code = main(shrink(argv[1:]))
        assert code == 0, f"{shlex.join(argv)} exited with {code}"
        return
    if program == "python" and argv[1:2] == ["-c"]:
        subprocess.run([sys.executable, *argv[1:]], check=True, timeout=300)
        return
    if program == "torchrun":
        module = argv.index("-m")
        torchrun = [sys.executable, "-m", "torch.distributed.run", *argv[1:module]]
        command = [*torchrun, "-m", "aevb", *shrink(argv[module + 2 :])]
        subprocess.run(command, check=True, timeout=600)
        return
    raise AssertionError(f"the docs' test harness does not know how to run {program!r}: {shlex.join(argv)}")


def evaluate_sh(example: Any) -> None:
    for line in logical_lines(example.parsed):
        for argv in commands(line):
            run_command(argv, example.namespace)


def evaluate_python(example: Any) -> None:
    code = compile(small(example.parsed), f"{example.path}:{example.line}", "exec")
    exec(code, example.namespace)


def evaluate_toml(example: Any) -> None:
    first = example.parsed.splitlines()[0]
    name = re.match(r"#\s*(\S+\.toml)", first)
    if name:
        Path(name.group(1)).write_text(example.parsed)


def setup(namespace: dict[str, Any]) -> None:
    """A fresh folder per page, one intra-op thread (the models are small; see tests/conftest.py)."""
    namespace["_doc_dir"] = tempfile.mkdtemp(prefix="aevb-doc-")
    namespace["_doc_cwd"] = os.getcwd()
    namespace["_doc_threads"] = torch.get_num_threads()
    namespace[CLEANUP_ENV] = {}
    torch.set_num_threads(1)
    os.chdir(namespace["_doc_dir"])


def teardown(namespace: dict[str, Any]) -> None:
    os.chdir(namespace["_doc_cwd"])
    torch.set_num_threads(namespace["_doc_threads"])
    for name, value in namespace[CLEANUP_ENV].items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    shutil.rmtree(namespace["_doc_dir"], ignore_errors=True)
