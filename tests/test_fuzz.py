"""Fuzzing the config/CLI parser and the user-data loaders: every failure is a clear AevbError, never a traceback.

Each test counts the inputs it tried and how many were refused (``FUZZ_COUNTS``, printed with ``pytest -s``).
"""

from __future__ import annotations

import io
import os
import string
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aevb.cli import _config_from_args, build_parser
from aevb.config import Config, ModelConfig, TrainConfig, load_config
from aevb.data import load_dataset
from aevb.errors import AevbError

FUZZ_COUNTS: Counter = Counter()
# A quick, reproducible pass in the suite; AEVB_FUZZ_EXAMPLES=2000 runs a longer randomized campaign.
_EXAMPLES = int(os.environ.get("AEVB_FUZZ_EXAMPLES", "0"))
FUZZ = settings(
    max_examples=_EXAMPLES or 60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=not _EXAMPLES
)


@pytest.fixture(scope="module", autouse=True)
def _report():
    yield
    print("\nfuzz inputs tried / refused with an AevbError:", dict(FUZZ_COUNTS))


def _expect_clear(kind: str, fn) -> object:
    """Run ``fn``; success or an AevbError (with a non-empty message) are the only allowed outcomes."""
    FUZZ_COUNTS[f"{kind} tried"] += 1
    try:
        return fn()
    except AevbError as err:
        assert str(err).strip(), "an AevbError without a message"
        FUZZ_COUNTS[f"{kind} refused"] += 1
        return None


# --- config and CLI ------------------------------------------------------------------------------------------
FIELDS = {"model": list(ModelConfig.__dataclass_fields__), "train": list(TrainConfig.__dataclass_fields__)}
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)


def _section(name: str):
    keys = st.sampled_from(FIELDS[name]) | st.text(max_size=8)
    return st.dictionaries(keys, values, max_size=5)


config_dicts = st.fixed_dictionaries(
    {},
    optional={"model": _section("model") | values, "train": _section("train") | values, "version": values},
) | st.dictionaries(st.text(max_size=6), values, max_size=3)


@FUZZ
@given(config_dicts)
def test_fuzz_config_from_dict(data):
    _expect_clear("config dict", lambda: Config.from_dict(data).validate())


FLAGS = ["--" + f.replace("_", "-") for fields in FIELDS.values() for f in fields] + ["--resume", "--bogus", "-x"]
flag_values = st.one_of(
    st.text(alphabet=string.printable, max_size=10),
    st.integers(-5, 10**6).map(str),
    st.floats(allow_nan=True).map(str),
    st.sampled_from(["", "nan", "inf", "-1", "0", "1e999", "true", "maybe", "1,2,x", "[1, 2]", "cuda:x", "bf16"]),
)


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(FLAGS), flag_values), max_size=6))
def test_fuzz_cli_train_flags(pairs):
    argv = ["train"]
    for flag, value in pairs:
        argv += [flag] if flag == "--resume" else [flag, value]
    _expect_clear("CLI argv", lambda: _config_from_args(build_parser().parse_args(argv)))


toml_texts = st.one_of(
    st.text(max_size=200),
    st.lists(
        st.tuples(
            st.sampled_from(["[model]", "[train]", "[other]", "version = 9", ""]), st.sampled_from(FLAGS), flag_values
        ),
        max_size=6,
    ).map(lambda rows: "\n".join(f"{h}\n{f[2:].replace('-', '_')} = {v}" for h, f, v in rows)),
)


@FUZZ
@given(toml_texts)
def test_fuzz_config_toml_files(text):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "c.toml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass") if text.isprintable() else path.write_bytes(
            text.encode("utf-8", "replace")
        )
        _expect_clear("config.toml", lambda: load_config(path))


# --- user data -----------------------------------------------------------------------------------------------
DTYPES = ["u1", "i1", "i2", "i4", "i8", "u8", "f2", "f4", "f8", "?", "c8", "U3", "S2", "M8[s]", "V4"]
arrays = st.tuples(
    st.sampled_from(DTYPES),
    st.lists(st.integers(0, 4), min_size=0, max_size=5),
    st.sampled_from(["ok", "nan", "inf", "huge", "neg"]),
    st.integers(0, 2**31),
)


def _make_array(dtype: str, shape: list[int], fill: str, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = (rng.random(shape) * 300).astype(dtype) if np.dtype(dtype).kind not in "UMSV" else np.zeros(shape, dtype)
    if a.size and np.dtype(dtype).kind == "f":
        a.flat[0] = {"ok": a.flat[0], "nan": np.nan, "inf": np.inf, "huge": 1e30, "neg": -5}[fill]
    return a


def _load(path: Path, split: str):
    return load_dataset(str(path), split=split, download=False)


@FUZZ
@given(arrays, st.sampled_from([".npy", ".npz"]), st.sampled_from(["all", "train", "test", "bogus"]), st.data())
def test_fuzz_user_arrays(spec, suffix, split, data):
    x = _make_array(*spec)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / f"data{suffix}"
        if suffix == ".npy":
            np.save(path, x)
        else:
            keys = data.draw(st.lists(st.sampled_from(["x", "y", "z", "data"]), min_size=0, max_size=3, unique=True))
            arrays_ = {k: x if k != "y" else _make_array(*data.draw(arrays)) for k in keys}
            np.savez(path, **arrays_)
        # Damage the file half of the time: truncation or flipped bytes.
        raw = bytearray(path.read_bytes())
        damage = data.draw(st.sampled_from(["none", "none", "truncate", "flip"]))
        if damage == "truncate" and raw:
            raw = raw[: data.draw(st.integers(0, len(raw) - 1))]
        elif damage == "flip" and raw:
            for i in data.draw(st.lists(st.integers(0, len(raw) - 1), min_size=1, max_size=8)):
                raw[i] ^= 0xFF
        path.write_bytes(bytes(raw))
        _expect_clear("user array", lambda: _load(path, split))


cells = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-1000, 1000).map(str),
    st.sampled_from(["", "nan", "x", "1e999", "--", '"1"', "#", "0x1F", "1,5", " "]),
    st.text(max_size=4),
)


@FUZZ
@given(
    st.lists(st.lists(cells, min_size=0, max_size=5), min_size=0, max_size=8),
    st.sampled_from([",", ";", "\t", " "]),
    st.sampled_from(["all", "train", "test"]),
    st.binary(max_size=16),
)
def test_fuzz_csv(rows, sep, split, junk):
    text = "\n".join(sep.join(r) for r in rows)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "data.csv"
        path.write_bytes(text.encode("utf-8", "surrogatepass") + (junk if junk[:1] == b"\xff" else b""))
        _expect_clear("CSV", lambda: _load(path, split))


@FUZZ
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["L", "RGB", "RGBA", "1", "P", "I;16", "F", "garbage", "empty", "truncated"]),
            st.integers(1, 6),
            st.integers(1, 6),
            st.sampled_from([".png", ".jpg", ".bmp", ".gif", ".txt"]),
        ),
        min_size=0,
        max_size=5,
    ),
    st.binary(min_size=0, max_size=40),
)
def test_fuzz_image_folders(images, junk):
    from PIL import Image

    with tempfile.TemporaryDirectory() as d:
        folder = Path(d) / "imgs"
        folder.mkdir()
        for i, (mode, h, w, suffix) in enumerate(images):
            path = folder / f"{i}{suffix}"
            if mode == "garbage":
                path.write_bytes(junk)
            elif mode == "empty":
                path.write_bytes(b"")
            else:
                buf = io.BytesIO()
                fmt = {".png": "PNG", ".jpg": "JPEG", ".bmp": "BMP", ".gif": "GIF", ".txt": "PNG"}[suffix]
                img = Image.new("L" if mode == "truncated" else mode, (w, h))
                try:
                    img.save(buf, fmt)
                except (OSError, ValueError, KeyError):  # this mode cannot be written in this format
                    img.convert("L").save(buf, fmt)
                raw = buf.getvalue()
                path.write_bytes(raw[: len(raw) // 2] if mode == "truncated" else raw)
        _expect_clear("image folder", lambda: _load(folder, "all"))
