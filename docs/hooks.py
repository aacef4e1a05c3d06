"""MkDocs hooks: serve the repository's measured results (``results/``) and figures as part of the site.

The reproductions pages link the CSVs, summaries and pictures that the experiments wrote into ``results/``; they
stay there (one copy, where the experiments write them) and this hook adds them to the site's files.
"""

from __future__ import annotations

from pathlib import Path

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[1]
SERVED = ("results",)  # folders of the repository served under their own path
KINDS = {".png", ".csv", ".md", ".json"}


def on_files(files: Files, config) -> Files:
    for folder in SERVED:
        for path in sorted((ROOT / folder).rglob("*")):
            if path.is_file() and path.suffix in KINDS:
                uri = path.relative_to(ROOT).as_posix()
                files.append(File.generated(config, uri, abs_src_path=str(path)))
    return files
