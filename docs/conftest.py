"""The documentation's code blocks are tests: Sybil collects the ``sh``, ``python`` and ``toml`` blocks of the user
pages and runs them on small data (tests/doc_blocks.py says how). The reproductions pages hold measurement recipes
of minutes to hours; their commands are checked against the parser instead (tests/test_docs.py)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from sybil import Sybil
from sybil.parsers.markdown import CodeBlockParser, SkipParser

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.doc_blocks import evaluate_python, evaluate_sh, evaluate_toml, setup, teardown  # noqa: E402

if not os.environ.get("AEVB_DATA_DIR"):  # the pages train on the real datasets, as the rest of the suite does
    collect_ignore_glob = ["*.md", "*/*.md"]

pytest_collect_file = Sybil(
    parsers=[
        CodeBlockParser("sh", evaluate_sh),
        CodeBlockParser("python", evaluate_python),
        CodeBlockParser("toml", evaluate_toml),
        SkipParser(),
    ],
    patterns=["*.md"],
    excludes=["reproductions/*.md", "changelog.md", "architecture.md"],
    setup=setup,
    teardown=teardown,
).pytest()
