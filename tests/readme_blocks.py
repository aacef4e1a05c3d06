"""The README's code blocks, found by the heading above them (the tests run them as a user would)."""

import re
from pathlib import Path

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def block(heading: str, lang: str) -> str:
    """The first ``lang`` code block after the line ``heading``."""
    section = README.split(heading, 1)[1]
    return re.search(rf"```{lang}\n(.*?)```", section, re.S).group(1)
