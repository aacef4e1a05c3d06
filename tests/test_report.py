"""``aevb report``: one self-contained HTML file, checked by parsing and by rendering it in headless Chromium."""

from __future__ import annotations

import base64
import html.parser
import io
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image

from aevb.cli import main
from tests.conftest import CHROMIUM_FLAGS, toy_binary


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    data = toy_binary(300, side=8)
    npz = root / "toy.npz"
    np.savez(npz, x=data.x.numpy(), y=data.y.numpy())
    out = root / "run"
    argv = ["train", "--dataset", str(npz), "--hidden", "32", "--latent-dim", "2", "--epochs", "3"]
    assert main([*argv, "--batch-size", "50", "--progress", "false", "--picture-epochs", "1", "--out", str(out)]) == 0
    return out


class _Collect(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.sources: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("img", "script", "iframe") and "src" in attrs:
            self.sources.append(attrs["src"])
        if tag == "link" and "href" in attrs:
            self.links.append(attrs["href"])


def test_report_is_self_contained(run, tmp_path):
    out = tmp_path / "r.html"
    assert main(["report", str(run), "--out", str(out)]) == 0
    page = out.read_text()
    parser = _Collect()
    parser.feed(page)
    assert not parser.links  # no external style sheets
    # curves, samples, recon, scatter, manifold, interp, traverse + samples and recon at epochs 1 and 3
    assert len(parser.sources) == 11
    for src in parser.sources:
        assert src.startswith("data:image/png;base64,")  # nothing is fetched from anywhere
        with Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))) as img:
            assert img.size[0] > 10 and img.size[1] > 10
    assert "latent_dim = 2" in page  # the config
    assert page.count("<tr>") >= 4  # metrics: a header and three epochs
    assert "not drawn" not in page


def test_report_of_a_non_run_is_an_error(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "config.toml is missing" in capsys.readouterr().err


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        if path := shutil.which(name):
            return path
    return None


@pytest.mark.skipif(_chromium() is None, reason="headless Chromium is not installed (Debian package chromium)")
def test_report_renders_in_headless_chromium(run, tmp_path):
    out = tmp_path / "r.html"
    assert main(["report", str(run), "--out", str(out)]) == 0
    shot = tmp_path / "shot.png"
    cmd = [
        _chromium(),
        "--headless",
        *CHROMIUM_FLAGS,
        "--disable-dev-shm-usage",
        f"--user-data-dir={tmp_path / 'profile'}",
        f"--screenshot={shot}",
        "--window-size=1000,1600",
        out.resolve().as_uri(),
    ]
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    with Image.open(shot) as img:
        pixels = np.asarray(img.convert("L"), dtype=np.float64)
    assert pixels.shape == (1600, 1000)
    # A rendered page: mostly white background, with text and pictures making real contrast.
    assert pixels.std() > 10
    dark = pixels < 128
    assert 0.005 < dark.mean() < 0.6
    # The pictures are drawn: dark pixels appear well below the header, not just in the title line.
    assert dark[400:].mean() > 0.002


def test_report_without_the_data_says_once_what_it_left_out(run, tmp_path, capsys):
    """The run's dataset cannot be read here (moved away): the pictures that need no data are drawn, those that
    read datapoints are left out, and both the page and the terminal say so, once, with the reason."""
    moved = tmp_path / "run"
    shutil.copytree(run, moved)
    config = moved / "config.toml"
    gone = tmp_path / "gone.npz"
    config.write_text(config.read_text().replace(str(run.parent / "toy.npz"), str(gone)))
    capsys.readouterr()
    assert main(["report", str(moved), "--out", str(tmp_path / "r.html")]) == 0
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("left out of the report")]
    assert len(lines) == 1, err
    assert "recon, scatter, interp, traverse: not drawn" in lines[0] and str(gone) in lines[0]
    page = (tmp_path / "r.html").read_text()
    assert page.count("not drawn") == 1
    parser = _Collect()
    parser.feed(page)
    assert len(parser.sources) == 7  # curves, samples, manifold + the 4 pictures written during training
