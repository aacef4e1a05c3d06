"""The public API's docstrings are complete: every name users import is documented in numpydoc style, with every
parameter (and, for a class, every public method's parameters) and a Returns section wherever something is returned.

ruff's D and DOC rules (pyproject.toml) check style, returns and raised errors file by file; this test checks what
ruff cannot: that each parameter is documented, and that ruff's list of public modules covers every public name.
The reference pages (docs/api/) render these docstrings through mkdocstrings, which parses them with the same griffe.
"""

from __future__ import annotations

import importlib
import re
import tomllib
from pathlib import Path

import griffe
import pytest

ROOT = Path(__file__).resolve().parents[1]
# The packages whose __all__ is the public API (docs/api/ has a page per group of these names).
PUBLIC = ("aevb", "aevb.data", "aevb.sklearn", "aevb.pyod", "aevb.plots")


def public_names() -> list[tuple[str, str]]:
    return [
        (package, name)
        for package in PUBLIC
        for name in importlib.import_module(package).__all__
        if not name.startswith("__")
    ]


@pytest.fixture(scope="module")
def api() -> griffe.Module:
    return griffe.load("aevb", search_paths=[str(ROOT / "src")], docstring_parser="numpy", resolve_aliases=True)


def resolve(api: griffe.Module, package: str, name: str) -> griffe.Object:
    """The object ``package.name`` stands for (following the lazy re-exports to their definition)."""
    obj = api[f"{package}.{name}".removeprefix("aevb.") if package != "aevb" else name]
    obj = obj.final_target if obj.is_alias else obj
    if obj.is_module and name in obj.members:  # aevb.data.download: the function of the module of that name
        obj = obj.members[name]
        obj = obj.final_target if obj.is_alias else obj
    return obj


def sections(obj: griffe.Object) -> dict[str, list]:
    parsed = obj.docstring.parse("numpy", warnings=False) if obj.docstring else []
    return {section.kind.value: section.value for section in parsed}


def undocumented_parameters(function: griffe.Function, documented: set[str]) -> list[str]:
    names = [p.name.lstrip("*") for p in function.parameters if p.name not in ("self", "cls")]
    return [n for n in names if n not in documented]


def defects(obj: griffe.Object) -> list[str]:
    """What the docstring of one public function or class lacks."""
    if not obj.docstring:
        return [f"{obj.path}: no docstring"]
    found: list[str] = []
    if obj.is_function:
        params = {p.name.lstrip("*") for p in sections(obj).get("parameters", [])}
        found += [f"{obj.path}: parameter {n!r} undocumented" for n in undocumented_parameters(obj, params)]
        returns = obj.returns is not None and str(obj.returns) not in ("None", "NoReturn")
        if returns and "returns" not in sections(obj) and "property" not in obj.labels:
            found.append(f"{obj.path}: no Returns section")
    elif obj.is_class:
        init = obj.members.get("__init__")
        if init is not None and init.is_function:
            params = {p.name.lstrip("*") for p in sections(obj).get("parameters", [])}
            init_params = {p.name.lstrip("*") for p in sections(init).get("parameters", [])}
            found += [
                f"{obj.path}: parameter {n!r} undocumented" for n in undocumented_parameters(init, params | init_params)
            ]
        for member in obj.members.values():
            member = member.final_target if member.is_alias else member
            if member.is_function and not member.name.startswith("_") and member.parent is obj:
                found += defects(member)
    return found


def test_every_public_name_documents_its_parameters_and_returns(api):
    problems = [d for package, name in public_names() for d in defects(resolve(api, package, name))]
    assert not problems, "\n".join(problems)


def test_ruff_docstring_rules_cover_every_public_module(api):
    """The per-file ignore in pyproject.toml lists the public modules; a new public name must not escape the rules."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["ruff"]["lint"]["per-file-ignores"]
    (pattern,) = (k for k in config if k.startswith("!src/aevb/"))
    covered = set(re.search(r"\{(.*)\}", pattern).group(1).split(","))
    files = {
        str(resolve(api, package, name).relative_filepath.relative_to("src/aevb")) for package, name in public_names()
    }
    assert files <= covered, sorted(files - covered)
