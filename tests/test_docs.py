"""The documentation site builds, holds what it promises, and cannot drift from the code.

The pages' code blocks themselves run as tests through Sybil (docs/conftest.py, tests/doc_blocks.py); here: the
strict build, every ``aevb`` command on every page (the skipped and reproduction ones too) against the parser, every
public name on an API page, the README's length and links, and a site that needs no network.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from aevb.cli import build_parser
from aevb.errors import ConfigError

from .doc_blocks import commands, logical_lines, without_env

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.rglob("*.md"))
API_PACKAGES = ("aevb", "aevb.data", "aevb.sklearn", "aevb.pyod", "aevb.plots")


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The site, built as ``make docs`` builds it (``--strict``: any warning fails)."""
    out = tmp_path_factory.mktemp("site")
    mkdocs = [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)]
    done = subprocess.run(
        mkdocs, cwd=ROOT, capture_output=True, text=True, timeout=300, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return out


def test_the_site_builds_strictly_with_every_page(site):
    for page in PAGES:
        rel = page.relative_to(DOCS)
        html = site / rel.parent / "index.html" if rel.name == "index.md" else site / rel.with_suffix("") / "index.html"
        assert html.is_file(), f"{page} was not built"


def test_the_search_index_finds_score(site):
    index = json.loads((site / "search" / "search_index.json").read_text())
    titles = {doc["location"] for doc in index["docs"] if re.search(r"\bscore\b", doc["title"] + doc["text"])}
    assert "api/scoring/#aevb.score" in titles  # the API entry of aevb.score
    assert any(location.startswith("guide/anomaly/") for location in titles)


def test_the_site_loads_nothing_from_the_network(site):
    """Fonts, scripts and styles are local: the site works offline (theme.font is off; no CDN)."""
    remote = re.compile(r"""<(?:script|img|link|iframe|source)\b[^>]*\b(?:src|href)=["'](?:https?:)?//""")
    for html in site.rglob("*.html"):
        text = html.read_text()
        found = [m.group(0) for m in remote.finditer(text)]
        assert not found, f"{html.relative_to(site)} loads {found[:3]}"


def reference_object(path: str) -> object:
    """The object a ``::: path`` directive renders."""
    module, _, name = path.rpartition(".")
    try:
        return getattr(importlib.import_module(module), name)
    except ModuleNotFoundError:
        return reference_object(module).__dict__[name]


def test_every_public_name_has_a_reference_entry():
    """The API pages document what __all__ exports: each name's object is rendered by a ``::: path`` directive."""
    rendered = []
    for page in (DOCS / "api").glob("*.md"):
        rendered += [reference_object(path) for path in re.findall(r"^::: (\S+)$", page.read_text(), re.M)]
    missing = [
        f"{package}.{name}"
        for package in API_PACKAGES
        for name in importlib.import_module(package).__all__
        if not name.startswith("__")
        and not any(obj is getattr(importlib.import_module(package), name) for obj in rendered)
    ]
    assert not missing, missing


def aevb_invocations(text: str) -> list[tuple[str, list[str]]]:
    """Every ``aevb`` command line in the ``sh`` blocks of ``text`` (also the ones launched by torchrun)."""
    found = []
    for block in re.findall(r"```(?:sh|bash)\n(.*?)```", text, re.S):
        for line in logical_lines(block):
            for argv in map(without_env, commands(line)):
                if argv[:1] == ["aevb"]:
                    found.append((line, argv[1:]))
                elif argv[:1] == ["torchrun"] and "-m" in argv:
                    found.append((line, argv[argv.index("-m") + 2 :]))
    return found


@pytest.mark.parametrize("page", [*PAGES, ROOT / "README.md"], ids=lambda p: str(p.relative_to(ROOT)))
def test_every_command_on_the_page_parses(page):
    """A renamed flag or command breaks the page that shows it, including blocks too long to run here."""
    parser = build_parser()
    for line, args in aevb_invocations(page.read_text()):
        try:
            parser.parse_args(args)
        except (SystemExit, ConfigError):
            pytest.fail(f"{page.relative_to(ROOT)}: `{line.strip()}` does not parse: aevb {shlex.join(args)}")


@pytest.mark.parametrize("page", [*PAGES, ROOT / "README.md"], ids=lambda p: str(p.relative_to(ROOT)))
def test_scripts_the_page_runs_exist(page):
    for script in re.findall(r"python (\S+\.(?:py|sh))", page.read_text()):
        assert (ROOT / script).is_file(), f"{page.relative_to(ROOT)} runs {script}, which does not exist"


def test_the_readme_is_a_front_door():
    """At most 150 lines, and every link into the docs leads to a page that exists."""
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 150
    links = re.findall(r"\]\(((?:docs/|ARCHITECTURE)[^)#]*)", readme)
    assert links and all((ROOT / link).is_file() for link in links), [l for l in links if not (ROOT / l).is_file()]
