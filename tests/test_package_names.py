"""The names each package exports lazily are what they say, even after every submodule is imported."""

import importlib
import pkgutil
import types

import pytest

import galmerge

PACKAGES = ["galmerge", "galmerge.adapt", "galmerge.models", "galmerge.training", "galmerge.pipeline"]


@pytest.mark.parametrize("name", PACKAGES)
def test_no_exported_name_is_shadowed_by_a_submodule(name):
    package = importlib.import_module(name)
    for module in pkgutil.walk_packages(galmerge.__path__, "galmerge."):
        importlib.import_module(module.name)  # importing a submodule sets it as an attribute of its package
    for exported in package.__all__:
        value = getattr(package, exported)
        assert not isinstance(value, types.ModuleType), f"{name}.{exported} is a module; rename the submodule or the export"
