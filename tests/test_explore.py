"""aevb explore: the latent space's numbers (LatentSpace), the server's API, and the page in a real browser.

The browser test drives Debian's Chromium through Playwright against a served run of the README's 784-400-20 MLP
VAE: the decoded image on the page must equal the decoder's output for the page's z, pixel for pixel.
"""

from __future__ import annotations

import json
import shutil
import statistics
import threading
import time
import urllib.error
import urllib.request
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from aevb.cli import main
from aevb.config import ModelConfig
from aevb.errors import ConfigError
from aevb.explore import LatentSpace, bind, principal_axes, server, url
from aevb.models import build_model
from aevb.runs.explore import latent_spaces
from tests.conftest import CHROMIUM_FLAGS, toy_binary

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")


def _toy(n: int):
    """Rows of 36 binary features (the toy images, flattened) and their labels."""
    data = toy_binary(n)
    return data.x.reshape(n, 36), data.y


def _model(**kw) -> torch.nn.Module:
    cfg = ModelConfig(**({"latent_dim": 3, "hidden": [16]} | kw))
    return build_model(cfg, (36,), seed=0).eval()


# --- the numbers -------------------------------------------------------------------------------------------------
def test_decode_is_the_decoder_mean_and_points_are_the_posterior():
    x, y = _toy(64)
    model = _model()
    space = LatentSpace(model, x, y)
    with torch.no_grad():
        q = model.encode(x)
        z = torch.tensor([[0.3, -1.2, 2.0], [0.0, 0.0, 0.0]])
        expected = model.decode(z).mean
        recon = model.reconstruct(x[:1])
    np.testing.assert_allclose(space.means, q.mean.numpy(), rtol=1e-6)
    np.testing.assert_allclose(np.diagonal(space.covariances, axis1=1, axis2=2), q.variance.numpy(), rtol=1e-6)
    np.testing.assert_allclose(space.decode(z.numpy()), expected.numpy(), rtol=1e-6)
    point = space.point(0)
    np.testing.assert_allclose(point["reconstruction"], recon.reshape(-1).numpy(), rtol=1e-6)
    assert point["label"] == int(y[0]) and point["x"] == x[0].reshape(-1).tolist()
    strip = space.line(0, 5, steps=4)
    np.testing.assert_allclose(strip[0], space.decode(space.means[0])[0], rtol=1e-6)
    np.testing.assert_allclose(strip[-1], space.decode(space.means[5])[0], rtol=1e-6)
    # a draw is seeded: the same z and seed give the same sample, and it lies in the Bernoulli support
    a, b = space.decode(z[0].numpy(), sample=True, seed=3), space.decode(z[0].numpy(), sample=True, seed=3)
    assert np.array_equal(a, b) and set(np.unique(a)) <= {0.0, 1.0}


def test_principal_axes_are_orthonormal_and_maximize_the_variance():
    rng = np.random.default_rng(0)
    codes = rng.normal(size=(500, 4)) @ np.diag([3.0, 0.2, 1.5, 0.1]).astype(np.float64)
    center, axes = principal_axes(codes.astype(np.float32))
    np.testing.assert_allclose(axes @ axes.T, np.eye(2), atol=1e-5)
    eigenvalues, eigenvectors = np.linalg.eigh(np.cov(codes.T))
    top = eigenvectors[:, ::-1][:, :2].T  # the two largest, as rows
    np.testing.assert_allclose(np.abs(axes @ top.T), np.eye(2), atol=1e-3)
    np.testing.assert_allclose(center, codes.mean(0), atol=1e-5)


def test_every_model_with_an_encoder_is_explorable_and_vq_vae_is_refused_clearly():
    x, y = _toy(32)
    ae = LatentSpace(_model(model="ae", posterior="point"), x, y)
    assert not ae.covariances.any()  # an autoencoder's code is a point: no ellipse
    full = LatentSpace(_model(posterior="full"), x)
    assert (
        np.allclose(full.covariances, full.covariances.transpose(0, 2, 1))
        and (np.linalg.eigvalsh(full.covariances) > 0).all()
    )
    deep = LatentSpace(_model(model="deep-vae", latent_dims=[4, 2]), x)
    assert deep.code.latent_dim == 2 and deep.means.shape == (32, 2) and deep.decode([0.1, 0.2]).shape == (1, 36)
    cvae = LatentSpace(_model(model="cvae", num_classes=4), x, y)
    with torch.no_grad():
        c = cvae.model.label_context(1, 1)
        expected = cvae.model.decode(torch.zeros(1, 3), c).mean
    np.testing.assert_allclose(cvae.decode([0, 0, 0], label=1), expected.numpy(), rtol=1e-6)
    with pytest.raises(ConfigError, match="choose a class in 0 … 3"):
        cvae.decode([0, 0, 0])
    m2 = LatentSpace(_model(model="m2", num_classes=4), x, y)
    assert m2.num_classes == 4 and m2.decode([0, 0, 0], label=2).shape == (1, 36)
    with pytest.raises(ConfigError, match="VQ-VAE"):
        vq = dict(hidden=[8, 16], codebook_size=16, code_dim=4, prior_channels=16, prior_layers=3)
        LatentSpace(build_model(ModelConfig(model="vqvae", **vq), (1, 8, 8), seed=0), torch.zeros(2, 1, 8, 8))
    with pytest.raises(ConfigError, match="3 finite numbers"):
        ae.decode([0.0, float("nan"), 1.0])


# --- the server --------------------------------------------------------------------------------------------------
class Served:
    def __init__(self, spaces: list[LatentSpace], host: str = "127.0.0.1") -> None:
        self.sock = bind(host, 0)
        self.server = server(spaces, self.sock)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        self.url = url(self.sock)

    def get(self, path: str, body: dict | None = None) -> tuple[int, object]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url + path.lstrip("/"), data=data, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=20) as response:
                raw = response.read()
                return response.status, json.loads(raw) if path.startswith("/api") else raw
        except urllib.error.HTTPError as error:
            raw = error.read()
            return error.code, json.loads(raw) if raw.startswith(b"{") else raw

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


@pytest.fixture
def served():
    x, y = _toy(64)
    model = _model()
    instance = Served([LatentSpace(model, x, y, name="toy")])
    yield instance, model
    instance.close()


def test_api_decodes_and_answers_bad_requests_with_their_reason(served):
    app, model = served
    status, spaces = app.get("/api/spaces")
    assert status == 200 and spaces[0]["latent_dim"] == 3 and len(spaces[0]["means"]) == 64
    assert spaces[0]["image_shape"] is None  # 36 features: a 6×6 square, but too small to be taken for an image
    status, body = app.get("/api/decode", {"space": 0, "z": [0.5, -0.5, 1.0]})
    with torch.no_grad():
        expected = model.decode(torch.tensor([[0.5, -0.5, 1.0]])).mean
    assert status == 200 and np.allclose(body["values"], expected.numpy(), atol=1e-6)
    status, body = app.get("/api/point?space=0&index=3")
    assert status == 200 and body["index"] == 3 and len(body["covariance"]) == 3
    status, body = app.get("/api/line", {"space": 0, "i": 0, "j": 1, "steps": 5})
    assert status == 200 and len(body["values"]) == 5
    for path, body, message in [
        ("/api/decode", {"space": 0, "z": [1.0]}, "3 finite numbers"),
        ("/api/decode", {"space": 4, "z": [1, 2, 3]}, "space must be an index in 0 … 0"),
        ("/api/point?space=0&index=64", None, "not among the 64"),
        ("/api/line", {"space": 0, "i": 0, "j": 1, "steps": 1000}, "steps must be in 2 … 64"),
    ]:
        status, answer = app.get(path, body)
        assert status == 400 and message in answer["error"], (path, answer)
    # what any web page could send to a local port is refused: too many z, not JSON, not an object, another Host
    status, answer = app.get("/api/decode", {"space": 0, "z": [[0.0, 0.0, 0.0]] * 65})
    assert status == 400 and "at most 64" in answer["error"]
    plain = urllib.request.Request(app.url + "api/decode", data=b'{"space": 0, "z": [0, 0, 0]}',
                                   headers={"Content-Type": "text/plain"})  # fmt: skip
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(plain, timeout=20)
    assert refused.value.code == 415
    status, answer = app.get("/api/decode", [1, 2, 3])
    assert status == 400 and "JSON object" in answer["error"]
    status, answer = app.get("/api/decode", {"space": 0, "z": [0, 0, 0], "sample": True, "seed": 10**30})
    assert status == 400 and "seed must be" in answer["error"]
    rebound = urllib.request.Request(app.url + "api/spaces", headers={"Host": "attacker.example"})
    with pytest.raises(urllib.error.HTTPError) as wrong_host:
        urllib.request.urlopen(rebound, timeout=20)
    assert wrong_host.value.code == 400
    assert app.get("/")[0] == 200 and b"aevb explore" in app.get("/")[1]
    # the page names no file: only the fixed routes exist
    for path in ("/../pyproject.toml", "/static/explorer.js", "/explorer.js/../../errors.py", "/api/../../x"):
        assert app.get(path)[0] == 404, path


def test_another_host_than_this_machine_is_served_only_with_a_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        bind("127.0.0.1", 0).close()  # the default: no warning
    with pytest.warns(UserWarning, match="anyone who can reach this machine"):
        bind("0.0.0.0", 0).close()
    sock = bind("127.0.0.1", 0)
    try:
        with pytest.raises(ConfigError, match="cannot listen on 127.0.0.1"):
            bind("127.0.0.1", sock.getsockname()[1])
    finally:
        sock.close()


def test_cli_refuses_three_runs_and_a_missing_run(tmp_path, capsys):
    assert main(["explore", str(tmp_path / "nope")]) == 2
    assert "not a run directory" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="one run or two"):
        latent_spaces([tmp_path, tmp_path, tmp_path])


# --- the page in a real browser ----------------------------------------------------------------------------------
def _chromium() -> str | None:
    return next((shutil.which(n) for n in ("chromium", "chromium-browser") if shutil.which(n)), None)


CHROMIUM_ARGS = CHROMIUM_FLAGS


def _click_point_and_check_reconstruction(page, box: dict, space: LatentSpace, point: int) -> int:
    """Click datapoint ``point`` of the first map; the page shows a datapoint's reconstruction whose pixels are the
    model's (±1 of 255). Returns the index the page selected (the nearest point under the click)."""
    u, v = page.evaluate(f"window.explorer.panels[0].toPixel(...window.explorer.panels[0].uv[{point}])")
    page.mouse.click(box["x"] + u, box["y"] + v)
    page.wait_for_function("document.querySelector('.point h3').textContent.startsWith('datapoint')")
    index = int(page.locator(".point h3").first.text_content().split()[1].rstrip(","))
    recon = page.evaluate("""() => { const c = document.querySelectorAll('canvas.thumb')[1];
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        const g = []; for (let i = 0; i < d.length; i += 4) g.push(d[i]); return g; }""")
    expected = np.round(255 * np.clip(space.reconstruct(index).reshape(-1), 0, 1)).astype(int)
    assert np.abs(np.array(recon) - expected).max() <= 1
    return index


@pytest.fixture(scope="module")
def mnist_run(tmp_path_factory, data_dir):
    """The README's 784-400-20 ReLU VAE, one epoch on 3,000 MNIST training images (its test split: 300 rows)."""
    from aevb.data import load_dataset

    folder = tmp_path_factory.mktemp("explore")
    images = load_dataset("mnist", split="train", data_dir=str(data_dir)).spread(3000).x.reshape(3000, 784)
    np.save(folder / "mnist3000.npy", images.numpy())
    rc = main(
        [
            "train",
            "--dataset",
            str(folder / "mnist3000.npy"),
            "--epochs",
            "1",
            "--latent-dim",
            "20",
            "--hidden",
            "400",
            "--activation",
            "relu",
            "--progress",
            "false",
            "--out",
            str(folder / "vae"),
        ]
    )
    assert rc == 0
    return folder / "vae"


@pytest.mark.skipif(_chromium() is None, reason="headless Chromium is not installed (Debian package chromium)")
def test_page_decodes_under_the_cursor_in_a_real_browser(mnist_run):
    playwright = pytest.importorskip("playwright.sync_api")
    (space,) = latent_spaces([mnist_run], points=300)
    app = Served([space])
    try:
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=_chromium(), args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(app.url)
            page.wait_for_function("window.explorer && window.explorer.ready && window.explorer.drawn >= 1")
            box = page.locator("canvas.map").bounding_box()
            read = """() => { const p = window.explorer.panels[0], c = document.querySelector('canvas.decoded');
                const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                const gray = []; for (let i = 0; i < d.length; i += 4) gray.push(d[i]);
                return {z: p.decodedZ, gray, drawn: window.explorer.drawn}; }"""

            def settle(before: int) -> dict:
                page.wait_for_function(
                    f"window.explorer.drawn > {before} && !window.explorer.panels[0].inflight "
                    "&& !window.explorer.panels[0].pending"
                )
                return page.evaluate(read)

            def decoder_pixels(z: list[float]) -> np.ndarray:
                return np.round(255 * np.clip(space.decode(z)[0].reshape(-1), 0, 1)).astype(int)

            # moving across the map: the image changes, and is the decoder's output at the page's z
            shown = []
            for k, fx in enumerate((0.2, 0.5, 0.8)):
                before = page.evaluate("window.explorer.drawn")
                page.mouse.move(box["x"] + fx * box["width"], box["y"] + (0.3 + 0.2 * k) * box["height"])
                state = settle(before)
                assert np.abs(np.array(state["gray"]) - decoder_pixels(state["z"])).max() <= 1
                shown.append(state["gray"])
            assert shown[0] != shown[1] != shown[2]
            # a slider moves the same point: z₀ changes, the rest stays, the image follows
            z_before = page.evaluate(read)["z"]
            before = page.evaluate("window.explorer.drawn")
            page.locator("input[data-dim='0']").fill(str(z_before[0] + 1.0))
            state = settle(before)
            assert abs(state["z"][0] - (z_before[0] + 1.0)) < 0.05 and state["z"][1:] == pytest.approx(z_before[1:])
            assert np.abs(np.array(state["gray"]) - decoder_pixels(state["z"])).max() <= 1
            # the plane of two chosen dimensions: the cursor sets exactly those two coordinates, the rest stay
            page.select_option("#plane", "dims")
            page.select_option("#dim-a", "2")
            page.select_option("#dim-b", "5")
            page.wait_for_function("!window.explorer.panels[0].inflight && !window.explorer.panels[0].pending")
            z_before = page.evaluate("window.explorer.panels[0].z.slice()")
            before = page.evaluate("window.explorer.drawn")
            page.mouse.move(box["x"] + 0.25 * box["width"], box["y"] + 0.75 * box["height"])
            state = settle(before)
            u, v = page.evaluate(f"window.explorer.panels[0].fromPixel({0.25 * box['width']}, {0.75 * box['height']})")
            # to within one pixel of the map (the browser reports the mouse at whole or half pixels)
            du, dv = page.evaluate(
                "(([a, b, c, d]) => [(b - a) / 360, (d - c) / 360])(window.explorer.panels[0].extent)"
            )
            assert state["z"][2] == pytest.approx(u, abs=du) and state["z"][5] == pytest.approx(v, abs=dv)
            kept = [k for k in range(20) if k not in (2, 5)]
            assert [state["z"][k] for k in kept] == pytest.approx([z_before[k] for k in kept], abs=1e-6)
            page.select_option("#plane", "pca")
            # clicking a datapoint shows it and its reconstruction
            index = _click_point_and_check_reconstruction(page, box, space, 7)
            # its 1-σ ellipse sits at its code on the map, and follows a change of plane
            for plane in ("pca", "dims"):
                page.select_option("#plane", plane)
                center, mean = page.evaluate(
                    "[window.explorer.panels[0].ellipse.center, window.explorer.panels[0].posterior.mean]"
                )
                assert np.allclose(mean, space.means[index], atol=1e-4)
                expected_center = page.evaluate(f"project(window.explorer.panels[0].basis, {list(map(float, mean))})")
                assert center == pytest.approx(expected_center, abs=1e-6)
            assert center == pytest.approx([mean[2], mean[5]], abs=1e-6)  # the dims plane (z2, z5) chosen above
            page.select_option("#plane", "pca")
            # latency: 100 cursor moves, each waited for; the page times event → image drawn
            page.evaluate("window.explorer.latencies = []")
            for k in range(100):
                before = page.evaluate("window.explorer.drawn")
                page.mouse.move(box["x"] + (0.1 + 0.008 * k) * box["width"], box["y"] + 0.5 * box["height"])
                settle(before)
            latencies = page.evaluate("window.explorer.latencies")
            print(
                f"\nexplore latency, cursor move → decoded image: median {statistics.median(latencies):.1f} ms "
                f"over {len(latencies)} moves (784-400-20 MLP, this CPU)"
            )
            assert len(latencies) >= 100 and not errors, errors
            browser.close()
    finally:
        app.close()


@pytest.mark.skipif(_chromium() is None, reason="headless Chromium is not installed (Debian package chromium)")
def test_two_runs_side_by_side_move_together_and_tables_show_as_bars():
    """Two panels (a 3-d and a 2-d model of a 36-feature table): one move over the first map decodes in both, each
    at its own z, and a row of features is drawn as bars."""
    playwright = pytest.importorskip("playwright.sync_api")
    x, y = _toy(64)
    spaces = [LatentSpace(_model(), x, y, name="a"), LatentSpace(_model(latent_dim=2), x, name="b")]
    app = Served(spaces)
    try:
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=_chromium(), args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(app.url)
            page.wait_for_function("window.explorer && window.explorer.ready && window.explorer.drawn >= 2")
            assert page.locator("section.panel").count() == 2 and page.locator("canvas.decoded").count() == 0
            assert page.locator("canvas.bars").count() >= 2
            box = page.locator("canvas.map").first.bounding_box()
            page.mouse.move(box["x"] + 0.7 * box["width"], box["y"] + 0.3 * box["height"])
            page.wait_for_function("window.explorer.panels.every(p => p.decodedZ && !p.inflight && !p.pending)")
            panels = page.evaluate("window.explorer.panels.map(p => ({z: p.decodedZ, values: p.values}))")
            for space, shown in zip(spaces, panels, strict=True):
                assert len(shown["z"]) == space.code.latent_dim
                np.testing.assert_allclose(shown["values"], space.decode(shown["z"])[0], atol=1e-5)
            # both cursors sit at the same fraction of their maps
            fractions = page.evaluate("""window.explorer.panels.map(p => {
                const [x, y] = p.toPixel(...project(p.basis, p.z)); return [x, y]; })""")
            assert fractions[0] == pytest.approx(fractions[1], abs=0.5)
            browser.close()
    finally:
        app.close()


def test_explore_command_serves_until_interrupted(tmp_path, monkeypatch, capsys):
    """`aevb explore RUN` prints its URL and serves; Ctrl-C (KeyboardInterrupt) ends it with exit 0."""
    from aevb.runs import explore as module

    data = toy_binary(64)
    run = tmp_path / "toy.npy"
    np.save(run, data.x.numpy())
    assert (
        main(
            [
                "train",
                "--dataset",
                str(run),
                "--epochs",
                "1",
                "--latent-dim",
                "2",
                "--hidden",
                "8",
                "--progress",
                "false",
                "--out",
                str(tmp_path / "r"),
            ]
        )
        == 0
    )

    class Interrupting:
        def __init__(self, *a, **k) -> None: ...

        def run(self, sockets) -> None:
            raise KeyboardInterrupt

    monkeypatch.setattr(module, "server", lambda spaces, sock: Interrupting())
    assert main(["explore", str(tmp_path / "r"), "--port", "0"]) == 0
    assert "aevb explore: http://127.0.0.1:" in capsys.readouterr().out
    assert Path(tmp_path / "r" / "config.toml").is_file()  # nothing saved was touched


# --- the static page (--export) ----------------------------------------------------------------------------------
def test_export_refuses_what_the_page_cannot_run(tmp_path):
    from aevb.explore import export_page

    x, _ = _toy(16)
    deep = LatentSpace(_model(model="deep-vae", latent_dims=[4, 2]), x)
    with pytest.raises(ConfigError, match="MLP decoder"):
        export_page([deep], tmp_path / "page")
    assert not (tmp_path / "page").exists()  # refused before anything was written
    gelu = LatentSpace(_model(activation="gelu"), x)
    with pytest.raises(ConfigError, match="cannot run the decoder layer GELU"):
        export_page([gelu], tmp_path / "page")


def test_exported_decoder_of_a_standardizing_model_gives_the_datas_units():
    """The page's decoder spec of a model with ``standardize``: run as ``explorer.js`` runs it (the MLP, then
    c + s μ), it gives the model's decoder mean in the data's units, not the standardized features' mean."""
    import base64

    from aevb.explore.export import decoder_spec

    rows = torch.randn(80, 5, generator=torch.Generator().manual_seed(0)) * torch.tensor([1, 10, 100, 0.1, 900.0])
    cfg = ModelConfig(latent_dim=2, hidden=[8], likelihood="gaussian", standardize=True)
    model = build_model(cfg, (5,), seed=0, data=rows + 2000).eval()
    spec = decoder_spec(LatentSpace(model, rows + 2000))
    z = torch.tensor([[0.3, -1.2], [0.0, 0.0]])
    h = z.double().numpy()
    for k, layer in enumerate(spec["layers"]):
        w = np.frombuffer(base64.b64decode(layer["w"]), np.float32).reshape(layer["out"], layer["in"])
        h = h @ w.T + np.frombuffer(base64.b64decode(layer["b"]), np.float32)
        h = h if k == len(spec["layers"]) - 1 else np.maximum(h, 0)  # relu, the default activation
    like = spec["likelihood"]
    page = np.asarray(like["center"]) + np.asarray(like["scale"]) * h[:, :5]
    with torch.no_grad():
        expected = model.decode(z).mean.double().numpy()
    np.testing.assert_allclose(page, expected, rtol=1e-5, atol=1e-3)
    assert expected[:, 4].min() > 1000  # the data's units: around 2000, not around 0


@pytest.mark.skipif(_chromium() is None, reason="headless Chromium is not installed (Debian package chromium)")
def test_exported_page_decodes_in_the_browser_as_the_model_does(mnist_run, tmp_path):
    """`aevb explore RUN --export DIR` writes a page that runs the decoder itself (file://, no server): its image at
    the cursor and a datapoint's reconstruction are the model's, pixel for pixel; a CVAE decodes per class."""
    playwright = pytest.importorskip("playwright.sync_api")
    assert main(["explore", str(mnist_run), "--points", "200", "--export", str(tmp_path / "page")]) == 0
    assert {p.name for p in (tmp_path / "page").iterdir()} == {"index.html", "explorer.js", "explorer.css", "data.js"}
    (space,) = latent_spaces([mnist_run], points=200)
    x, y = _toy(32)
    cvae = LatentSpace(_model(model="cvae", num_classes=4), x, y, name="cvae")
    from aevb.explore import export_page

    export_page([cvae], tmp_path / "cvae")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=_chromium(), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto((tmp_path / "page" / "index.html").as_uri())
        page.wait_for_function("window.explorer && window.explorer.ready && window.explorer.drawn >= 1")
        box = page.locator("canvas.map").bounding_box()
        page.mouse.move(box["x"] + 0.3 * box["width"], box["y"] + 0.6 * box["height"])
        page.wait_for_function("window.explorer.drawn >= 2 && !window.explorer.panels[0].pending")
        z, values = page.evaluate("[window.explorer.panels[0].decodedZ, window.explorer.panels[0].values]")
        np.testing.assert_allclose(values, space.decode(z)[0], atol=1e-5)
        _click_point_and_check_reconstruction(page, box, space, 11)
        assert page.locator("#decode-mode option[value=sample]").is_disabled()  # draws need the server
        # a conditional model: the class selector changes what is decoded, as the model's label context does
        page.goto((tmp_path / "cvae" / "index.html").as_uri())
        page.wait_for_function("window.explorer && window.explorer.ready && window.explorer.drawn >= 1")
        page.select_option("#label", "2")
        page.wait_for_function("window.explorer.drawn >= 2 && !window.explorer.panels[0].pending")
        z, values = page.evaluate("[window.explorer.panels[0].decodedZ, window.explorer.panels[0].values]")
        np.testing.assert_allclose(values, cvae.decode(z, label=2)[0], atol=1e-5)
        assert not errors, errors
        browser.close()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("kind", ["vae", "deep-vae", "cvae"])
def test_a_model_on_the_gpu_decodes_what_it_does_on_the_cpu(kind):
    x, y = _toy(16)
    extra = {"deep-vae": {"latent_dims": [4, 2]}, "cvae": {"num_classes": 4}}.get(kind, {})
    cpu = _model(model=kind, **extra)
    gpu = _model(model=kind, **extra).to("cuda")
    spaces = [LatentSpace(m, x, y) for m in (cpu, gpu)]
    label = 1 if kind == "cvae" else None
    z = np.linspace(-1, 1, spaces[0].code.latent_dim, dtype=np.float32)
    np.testing.assert_allclose(spaces[1].decode(z, label), spaces[0].decode(z, label), atol=1e-4)
    np.testing.assert_allclose(spaces[1].means, spaces[0].means, atol=1e-4)
    assert spaces[1].point(3)["index"] == 3 and spaces[1].line(0, 1, 4).shape[0] == 4
