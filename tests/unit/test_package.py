"""The package as users import it: one version, every public name, stable import paths."""

from __future__ import annotations

import importlib
import importlib.metadata

import pytest

import atomicmetrics


def test_the_installed_version_is_the_package_version() -> None:
    assert importlib.metadata.version("atomicmetrics") == atomicmetrics.__version__


def test_every_name_of_all_resolves() -> None:
    for name in atomicmetrics.__all__:
        assert getattr(atomicmetrics, name) is not None, name
    assert sorted(atomicmetrics.__all__) == sorted(set(atomicmetrics.__all__))


@pytest.mark.parametrize(
    ("module", "names"),
    [
        ("atomicmetrics.multiprocess", ("MultiProcessRegistry", "ArenaError", "ENV_VAR")),
        (
            "atomicmetrics.reference",
            ("MutexCounter", "MutexFloat", "MutexHistogram", "MutexRuleExecutionMetric"),
        ),
        ("atomicmetrics.bench", ("add_arguments", "run_command", "select")),
        ("atomicmetrics.cli", ("main",)),
    ],
)
def test_public_import_paths(module: str, names: tuple[str, ...]) -> None:
    imported = importlib.import_module(module)
    for name in names:
        assert name in imported.__all__, f"{module}.{name}"
        assert getattr(imported, name) is not None
