"""The optional extras the test set-up installs (``make test``: galmerge[all,test]) are importable.

Tests of the extras' features fail, not skip, when one is missing; this names the missing one.
"""

import importlib
import re
import sys
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PYPROJECT = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
IMPORT_NAMES = {"dask-jobqueue": "dask_jobqueue"}  # distribution name -> module name, where they differ


def extra_requirements():
    extras = PYPROJECT["project"]["optional-dependencies"]
    names = []
    for extra in re.findall(r"\[(.*)\]", extras["all"][0])[0].split(","):
        names += [re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0] for requirement in extras[extra.strip()]]
    return sorted(set(names))


def test_the_all_extra_lists_what_galmerge_uses():
    assert {"galsim", "captum", "onnx", "onnxruntime", "onnxscript", "pyarrow", "dask", "statmorph", "pyimfit"} <= set(extra_requirements())


@pytest.mark.parametrize("name", extra_requirements())
def test_every_extra_is_importable(name):
    importlib.import_module(IMPORT_NAMES.get(name, name))  # ImportError here: run `make install` (galmerge[all,test])
