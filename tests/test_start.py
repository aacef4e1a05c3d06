"""A fast start: ``import aevb``, ``aevb --help`` and ``aevb datasets`` load no torch, and the names the help lists
are the registries'."""

from __future__ import annotations

import subprocess
import sys

import pytest

from aevb.inference.marginal import NLL_ESTIMATORS
from aevb.names import DEFAULT_SCORE, EXPERIMENT_NAMES, FIELD_NAMES, NLL_ESTIMATOR_NAMES, SCORE_NAMES
from aevb.reproduce import EXPERIMENTS
from aevb.scoring import SCORES
from aevb.training.components import NAMED_FIELDS, allowed_names


def test_the_names_help_lists_are_the_registries_names():
    assert set(FIELD_NAMES) == set(NAMED_FIELDS)
    for key in NAMED_FIELDS:
        assert list(FIELD_NAMES[key]) == allowed_names(*key), key
    assert list(SCORE_NAMES) == SCORES.names() and DEFAULT_SCORE == "auto"  # auto resolves to one of SCORE_NAMES
    assert list(NLL_ESTIMATOR_NAMES) == NLL_ESTIMATORS.names()
    assert list(EXPERIMENT_NAMES) == EXPERIMENTS.names()


def _modules_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys\nprint(' '.join(sys.modules))"],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    return set(out.split())


LIGHT_COMMANDS = [["--help"], ["train", "--help"], ["evaluate", "--help"], ["--version"], ["datasets", "--json"]]


@pytest.mark.parametrize("argv", LIGHT_COMMANDS)
def test_help_imports_no_torch(argv):
    code = f"from aevb.cli import main\ntry:\n    main({argv!r})\nexcept SystemExit:\n    pass"
    loaded = _modules_after(code)
    assert "aevb.cli" in loaded and "torch" not in loaded and "matplotlib" not in loaded
    if argv[0] != "datasets":  # help and version read no data: not even NumPy
        assert "numpy" not in loaded and "aevb.data" not in loaded


def test_import_aevb_is_light_and_its_names_load_on_use():
    assert "torch" not in _modules_after("import aevb")
    loaded = _modules_after("import aevb\nassert aevb.TensorData.__name__ == 'TensorData'\nfrom aevb import fit")
    assert "torch" in loaded
    import aevb

    assert {"fit", "TensorData", "score", "__version__"} <= set(dir(aevb)) and set(aevb.__all__) <= set(dir(aevb))
    with pytest.raises(AttributeError, match="no attribute 'nonsense'"):
        aevb.nonsense  # noqa: B018


def test_aevb_data_lists_without_torch_and_loads_its_tensor_names_on_use():
    assert "torch" not in _modules_after("from aevb.data import DATASETS, list_datasets\nlist_datasets()")
    assert "torch" in _modules_after("from aevb.data import TensorData\nassert TensorData.__name__ == 'TensorData'")
    import aevb.data

    assert set(aevb.data.__all__) <= set(dir(aevb.data)) and callable(aevb.data.download)
    with pytest.raises(AttributeError, match="no attribute 'nonsense'"):
        aevb.data.nonsense  # noqa: B018
