"""Screenshots of `aevb explore` for the README, from real runs (results/explore/).

Trains the lecture's pair (784-512-2 ReLU plain autoencoder and VAE, Bernoulli, 5 epochs of MNIST) and a 2-d VAE of
scikit-learn's breast-cancer table, serves them as `aevb explore` does, drives the page in headless Chromium
(Playwright) — a cursor in a gap of the autoencoder's codes, two datapoints clicked — and saves the page.

    AEVB_DATA_DIR=../shared/data python experiments/explore_screenshots.py [--out results/explore] [--epochs 5]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import threading
import time
from pathlib import Path

import numpy as np

from aevb.cli import main as aevb
from aevb.explore import bind, server, url
from aevb.runs.explore import latent_spaces

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def train(out: Path, *flags: str) -> Path:
    if not (out / "model.safetensors").is_file():
        assert aevb(["train", *flags, "--progress", "false", "--out", str(out), "--overwrite"]) == 0
    return out


def shoot(
    runs: list[Path], picture: Path, clicks: list[int], cursor: tuple[float, float], split: str = "test"
) -> list[float]:
    from playwright.sync_api import sync_playwright

    spaces = latent_spaces(runs, split=split, points=2000)
    sock = bind("127.0.0.1", 0)
    app = server(spaces, sock)
    thread = threading.Thread(target=app.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not app.started:
        time.sleep(0.05)
    try:
        with sync_playwright() as p:
            chromium = shutil.which("chromium") or shutil.which("chromium-browser")
            browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1420, "height": 900})
            page.goto(url(sock))
            page.wait_for_function("window.explorer && window.explorer.ready")
            box = page.locator("canvas.map").first.bounding_box()
            for i in clicks:
                u, v = page.evaluate(f"window.explorer.panels[0].toPixel(...window.explorer.panels[0].uv[{i}])")
                page.mouse.click(box["x"] + u, box["y"] + v)
                page.wait_for_timeout(300)
            page.evaluate("window.explorer.latencies = []")
            page.mouse.move(box["x"] + cursor[0] * box["width"], box["y"] + cursor[1] * box["height"], steps=20)
            page.wait_for_function("window.explorer.panels.every(p => !p.inflight && !p.pending)")
            page.wait_for_timeout(300)
            latencies = page.evaluate("window.explorer.latencies")
            page.screenshot(path=str(picture), full_page=True)
            browser.close()
    finally:
        app.should_exit = True
        thread.join(10)
        sock.close()
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="results/explore")
    parser.add_argument("--runs", default="runs/explore")
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()
    out, runs = Path(args.out), Path(args.runs)
    out.mkdir(parents=True, exist_ok=True)
    common = [
        "--dataset",
        "mnist",
        "--latent-dim",
        "2",
        "--hidden",
        "512",
        "--activation",
        "relu",
        "--epochs",
        str(args.epochs),
    ]
    ae = train(runs / "ae", *common, "--model", "ae", "--objective", "reconstruction")
    vae = train(runs / "vae", *common)
    latencies = shoot([ae, vae], out / "ae_vs_vae.png", clicks=[3, 120], cursor=(0.5, 0.12))

    from sklearn.datasets import load_breast_cancer

    table = load_breast_cancer(as_frame=True).frame.drop(columns="target")
    csv = runs / "breast_cancer.csv"
    runs.mkdir(parents=True, exist_ok=True)
    ((table - table.mean()) / table.std(ddof=0)).to_csv(csv, index=False)  # standardized, as the README's table
    flags = ["--likelihood", "gaussian", "--latent-dim", "2", "--hidden", "64", "--epochs", "100", "--batch-size", "32"]
    tab = train(runs / "table", "--dataset", str(csv), *flags)
    shoot([tab], out / "tabular.png", clicks=[5, 300], cursor=(0.6, 0.4), split="all")  # all 569 rows
    print(
        f"wrote {out}/ae_vs_vae.png, {out}/tabular.png; median latency of the last moves "
        f"{statistics.median(latencies):.1f} ms over {len(latencies)} decodes ({np.round(latencies, 1).tolist()})"
    )


if __name__ == "__main__":
    main()
