"""A trained model out of Python: its encoder and decoder as ONNX graphs with a dynamic batch axis.

``encoder.onnx`` maps x (and, for a conditional model, its one-hot context) to the parameters of q_φ(z|x);
``decoder.onnx`` maps z (and the context) to the parameters of p_θ(x|z). ``model.onnx.json`` beside them names the
families, the inputs and outputs with their shapes and value ranges, so another runtime can rebuild both
distributions. The graphs are traced by ``torch.onnx.export`` (the dynamo exporter; needs the ``onnx`` and
``onnxscript`` packages, ``pip install aevb[export]``) and, when ``onnxruntime`` is installed, checked against
PyTorch on a random batch.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import logging
import math
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.distributions import Bernoulli, Distribution, Independent, MultivariateNormal, Normal

from aevb.atomic import write_text_atomic
from aevb.errors import ConfigError
from aevb.models.protocols import BoundModel, ConditionalModel
from aevb.version import __version__

EXPORT_FORMAT = "aevb-onnx"


def _parameters(dist: Distribution) -> dict[str, torch.Tensor]:
    """The named parameters that determine ``dist`` (what the exported graph outputs)."""
    base = dist.base_dist if isinstance(dist, Independent) else dist
    if isinstance(base, Normal):
        return {"loc": base.loc, "scale": base.scale}
    if isinstance(base, MultivariateNormal):
        return {"loc": base.loc, "scale_tril": base.scale_tril}
    if isinstance(base, Bernoulli):
        return {"logits": base.logits}
    raise ConfigError(f"export: no ONNX parameterization for {type(base).__name__} distributions")


_FAMILIES = {
    ("loc", "scale"): "diagonal Gaussian N(loc, diag scale²)",
    ("loc", "scale_tril"): "full-covariance Gaussian N(loc, scale_tril scale_trilᵀ)",
    ("logits",): "Bernoulli(sigmoid(logits)) per dimension",
}


class _Graph(nn.Module):
    """``inputs → distribution → its parameters``, the module that is traced."""

    def __init__(self, distribution: Callable[..., Distribution], names: tuple[str, ...]) -> None:
        super().__init__()
        self.distribution, self.names = distribution, names

    def forward(self, value: torch.Tensor, context: torch.Tensor | None = None) -> tuple[torch.Tensor, ...]:
        params = _parameters(self.distribution(value, context))
        return tuple(params[name] for name in self.names)


def _export_one(graph: _Graph, example: tuple[torch.Tensor, ...], input_names: list[str], path: Path) -> None:
    batch = torch.export.Dim("N", min=1)  # the batch axis, named as in model.onnx.json
    dynamic = {"value": {0: batch}}
    if len(example) > 1:
        dynamic["context"] = {0: batch}
    # The exporter's notices (torchvision ops it skips, pytree deprecations) say nothing about this model.
    registration = logging.getLogger("torch.onnx._internal.exporter._registration")
    level = registration.level
    registration.setLevel(logging.ERROR)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        torch.onnx.export(
            graph,
            example,
            str(path),
            input_names=input_names,
            output_names=list(graph.names),
            dynamic_shapes=dynamic,
            dynamo=True,
            external_data=False,  # weights inside the .onnx file: one file per graph
            verbose=False,
        )
    registration.setLevel(level)


def _check(path: Path, graph: _Graph, inputs: tuple[torch.Tensor, ...], input_names: list[str]) -> float | None:
    """Max |ONNX Runtime − PyTorch| over the outputs, or None without onnxruntime."""
    try:
        import onnxruntime  # optional
    except ImportError:
        return None
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {name: t.numpy() for name, t in zip(input_names, inputs, strict=True)})
    with torch.no_grad():
        want = graph(*inputs)
    return max(float(np.abs(g - w.numpy()).max()) for g, w in zip(got, want, strict=True))


def export_onnx(model: BoundModel, out_dir: str | Path, *, check_batch: int = 100, seed: int = 0) -> dict[str, Any]:
    """Write ``encoder.onnx``, ``decoder.onnx`` and ``model.onnx.json`` for ``model`` into ``out_dir``; returns the
    description (with the largest ONNX Runtime − PyTorch difference on ``check_batch`` random inputs)."""
    try:
        import onnx  # noqa: F401  (the exporter needs it)
        import onnxscript  # noqa: F401
    except ImportError as err:
        raise ConfigError(
            f"export needs the onnx and onnxscript packages ({err}); pip install 'aevb[export]'"
        ) from None
    if not isinstance(model, BoundModel):
        raise ConfigError(
            f"export covers models with an encoder q(z|x) and a decoder p(x|z); got {type(model).__name__}"
        )
    # A CPU copy in eval mode: the caller's model keeps its device and mode (ONNX export and the check run on the CPU).
    model = copy.deepcopy(model).cpu().eval()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    generator = torch.Generator().manual_seed(seed)
    event_shape, latent = tuple(model.event_shape), model.latent_dim
    support = model.decoder.family.support
    draw = torch.randn if support == "real" else torch.rand  # inputs inside the likelihood's support
    x = draw(check_batch, *event_shape, generator=generator)
    standardization = getattr(model.decoder.family, "standardization", None)
    if standardization is not None:  # inputs on the data's own scale, as the model standardizes them
        x = standardization.center + standardization.scale * x
    z = torch.randn(check_batch, latent, generator=generator)
    context: tuple[torch.Tensor, ...] = ()
    names = ["x"]
    if isinstance(model, ConditionalModel):
        context = (model.make_context(torch.arange(check_batch) % model.num_classes),)
        names.append("context")
    with torch.no_grad():
        enc_names = tuple(_parameters(model.encode(x[:2], *(c[:2] for c in context))))
        dec_names = tuple(_parameters(model.decode(z[:2], *(c[:2] for c in context))))
    encoder, decoder = _Graph(model.encode, enc_names), _Graph(model.decode, dec_names)
    _export_one(encoder, (x[:2], *(c[:2] for c in context)), names, out / "encoder.onnx")
    _export_one(decoder, (z[:2], *(c[:2] for c in context)), ["z", *names[1:]], out / "decoder.onnx")
    errors = {
        "encoder": _check(out / "encoder.onnx", encoder, (x, *context), names),
        "decoder": _check(out / "decoder.onnx", decoder, (z, *context), ["z", *names[1:]]),
    }
    value_range = {"unit": "[0, 1]", "binary": "{0, 1}", "real": "any real number"}[support]
    context_input = (
        {"context": {"shape": ["N", model.num_classes], "dtype": "float32", "range": "one-hot rows of the class label"}}
        if context
        else {}
    )
    description = {
        "format": EXPORT_FORMAT,
        "aevb_version": __version__,
        "model": None if model.config is None else model.config.applicable(),
        "dtype": "float32",  # of every input and output: onnxruntime refuses float64 arrays
        "event_shape": list(event_shape),
        "latent_dim": latent,
        "prior": "N(0, I)" if not context else "p(z|c): see the model config (conditional_prior)",
        "encoder": {
            "file": "encoder.onnx",
            "inputs": {"x": {"shape": ["N", *event_shape], "dtype": "float32", "range": value_range}, **context_input},
            "outputs": {
                name: {"shape": ["N", latent] + ([latent] if name == "scale_tril" else []), "dtype": "float32"}
                for name in enc_names
            },
            "family": f"q(z|x): {_FAMILIES[enc_names]}",
        },
        "decoder": {
            "file": "decoder.onnx",
            "inputs": {"z": {"shape": ["N", latent], "dtype": "float32", "range": "any real number"}, **context_input},
            "outputs": {name: {"shape": ["N", *event_shape], "dtype": "float32"} for name in dec_names},
            "family": f"p(x|z): {_FAMILIES[dec_names]}",
        },
        "max_abs_difference_vs_pytorch": errors,
        "checked_on": check_batch,
        "data_dim": math.prod(event_shape),
    }
    write_text_atomic(out / "model.onnx.json", json.dumps(description, indent=2) + "\n")
    return description
