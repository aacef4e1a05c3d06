"""The code blocks of the README and the docs' pages, found by the heading above them (the tests run them as a user
would), and what makes them small enough to run in the suite."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()

# What makes the blocks small: the offline 5,000-digit sample, one epoch, few importance samples.
SMALL = {
    '"binarized-mnist"': '"mnist-sample"',
    "binarized-mnist": "mnist-sample",
    "--epochs 10": "--epochs 1",
    "--epochs 20": "--epochs 2",
    "epochs=10": "epochs=1",
    "--nll-samples 1000": "--nll-samples 20",
    "num_samples=1000": "num_samples=20",
    "nll_samples=1000": "nll_samples=20",
}


def small(text: str) -> str:
    """``text`` with every substitution of ``SMALL`` made."""
    for old, new in SMALL.items():
        text = text.replace(old, new)
    return text


def block(heading: str, lang: str, page: str | None = None) -> str:
    """The first ``lang`` code block after the line ``heading`` of the README (or of ``page``, relative to the root)."""
    text = README if page is None else (ROOT / page).read_text()
    section = text.split(heading, 1)[1]
    return re.search(rf"```{lang}\n(.*?)```", section, re.S).group(1)
