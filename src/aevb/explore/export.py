"""``aevb explore RUN --export DIR``: the explorer as a static page that decodes in the browser, shareable without
Python.

The page is the same one the server sends (``static/``); ``data.js`` beside it carries what the server would answer:
each run's map (:meth:`LatentSpace.summary`), its datapoints, and its decoder p_θ(x|z) as plain numbers — the weights
of an MLP decoder, layer by layer, its activation and its likelihood's mean function (Bernoulli: sigmoid of the
logits; Gaussian: the first half of the output, squashed when the model squashes it). ``explorer.js`` runs that MLP
itself when ``data.js`` is present. What the static page cannot do, it says: draws x ~ p(x|z) (their noise lives in
torch) and the full posterior covariance (it draws the diagonal's ellipse).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import numpy as np
from torch import nn

from aevb.errors import ConfigError
from aevb.explore.space import LatentSpace
from aevb.likelihoods import BernoulliLikelihood, GaussianLikelihood
from aevb.nets import MLPNet

# torch module → the name explorer.js knows (the activations it implements exactly)
ACTIVATIONS = {nn.ReLU: "relu", nn.Tanh: "tanh", nn.Softplus: "softplus", nn.ELU: "elu", nn.LeakyReLU: "leaky_relu"}


def _b64(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array).tobytes()).decode("ascii")


def decoder_spec(space: LatentSpace) -> dict:
    """The decoder of ``space`` as numbers for explorer.js, or a :class:`ConfigError` naming what it cannot carry."""
    model = space.model
    decoder = getattr(model, "decoder", None)
    if space.code.layer != "z" or decoder is None or not isinstance(decoder.net, MLPNet):
        raise ConfigError(
            f"{space.name}: --export writes a page that runs an MLP decoder p(x|z) in the browser; this model's "
            f"decoder is {type(getattr(decoder, 'net', model)).__name__} ({space.code.layer}). Serve it with "
            "aevb explore instead, or export its graphs with aevb export --format onnx"
        )
    layers, activation = [], None
    for module in decoder.net.net:
        if isinstance(module, nn.Linear):
            weight = module.weight.detach().float().cpu().numpy()
            bias = module.bias.detach().float().cpu().numpy()
            layers.append({"in": weight.shape[1], "out": weight.shape[0], "w": _b64(weight), "b": _b64(bias)})
        elif type(module) in ACTIVATIONS and (activation in (None, ACTIVATIONS[type(module)])):
            if isinstance(module, nn.LeakyReLU) and module.negative_slope != 0.01:
                raise ConfigError(f"{space.name}: leaky_relu with slope {module.negative_slope}: the page knows 0.01")
            activation = ACTIVATIONS[type(module)]
        else:
            raise ConfigError(f"{space.name}: the page cannot run the decoder layer {type(module).__name__}")
    family = decoder.family
    if isinstance(family, BernoulliLikelihood):
        likelihood = {"kind": "bernoulli"}
    elif isinstance(family, GaussianLikelihood):
        likelihood = {"kind": "gaussian", "squash": bool(family.squash_mean)}
        if family.standardization is not None:  # the network's mean is of x̃ = (x − c) / s: the page shows c + s μ
            likelihood["center"] = family.standardization.center.flatten().tolist()
            likelihood["scale"] = family.standardization.scale.flatten().tolist()
    else:
        raise ConfigError(
            f"{space.name}: the page knows Bernoulli and Gaussian likelihoods, not {type(family).__name__}"
        )
    return {"layers": layers, "activation": activation or "relu", "likelihood": likelihood,
            "event_size": int(np.prod(space.event_shape)), "context_dim": int(decoder.net.context_dim)}  # fmt: skip


def _points(space: LatentSpace) -> dict:
    """The datapoints: 8-bit for images in [0, 1] (the page shows 8-bit pixels anyway), float32 otherwise."""
    x = space.x.reshape(len(space.x), -1).numpy()
    if space.image_shape is not None and x.min() >= 0 and x.max() <= 1:
        return {"dtype": "uint8", "data": _b64(np.round(x * 255).astype(np.uint8))}
    return {"dtype": "float32", "data": _b64(x.astype(np.float32))}


def export_page(spaces: Sequence[LatentSpace], folder: str | Path) -> Path:
    """Write the static explorer of ``spaces`` into ``folder`` (index.html, explorer.js, explorer.css, data.js);
    returns the path of index.html. Nothing already in ``folder`` but these four files is touched."""
    specs = [decoder_spec(space) for space in spaces]  # every refusal before anything is written
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    static = resources.files("aevb.explore").joinpath("static")
    for name in ("explorer.js", "explorer.css"):
        (folder / name).write_bytes(static.joinpath(name).read_bytes())
    page = static.joinpath("index.html").read_text()
    marker = '<script src="/explorer.js"></script>'
    page = page.replace(marker, '<script src="data.js"></script>\n<script src="explorer.js"></script>')
    page = page.replace('href="/explorer.css"', 'href="explorer.css"')
    (folder / "index.html").write_text(page)
    data = [
        {"summary": space.summary(), "decoder": spec, "points": _points(space)}
        for space, spec in zip(spaces, specs, strict=True)
    ]
    (folder / "data.js").write_text("window.AEVB_STATIC = " + json.dumps(data, separators=(",", ":")) + ";\n")
    return folder / "index.html"
