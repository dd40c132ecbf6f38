"""``install()``: make ``import prometheus_client`` anywhere give the facade.

Two parts, both reversible by ``uninstall()``:

* every facade submodule that is already imported is placed in
  ``sys.modules`` under its ``prometheus_client`` name (``prometheus_client``,
  ``prometheus_client.metrics``, ``prometheus_client.openmetrics.parser``,
  ...), so ``import prometheus_client.x`` and ``from prometheus_client import
  x`` find the facade's module object itself: one registry, one set of
  classes, whichever name imported them;
* a meta path finder, first on ``sys.meta_path``, answers for any other
  ``prometheus_client[.x]`` (a submodule not imported yet, such as
  ``prometheus_client.twisted``) by importing ``atomicmetrics.prometheus_client[.x]``
  and aliasing it the same way; names the facade does not have fail with
  ``ModuleNotFoundError`` as usual.

The real prometheus_client is never imported after ``install()``. If it was
imported before, ``install()`` raises ``RuntimeError``: metrics already made
with it live in its registry, which the facade cannot take over.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import threading
from collections.abc import Sequence
from types import ModuleType

__all__ = ["install", "installed", "uninstall"]

_ALIAS = "prometheus_client"
_TARGET = "atomicmetrics.prometheus_client"
_lock = threading.Lock()  # guards install/uninstall


def _target_of(fullname: str) -> str | None:
    if fullname == _ALIAS or fullname.startswith(_ALIAS + "."):
        return _TARGET + fullname[len(_ALIAS) :]
    return None


class _AliasLoader(importlib.abc.Loader):
    """Loads ``prometheus_client.x`` as the already-imported facade module."""

    def __init__(self, module: ModuleType) -> None:
        self._module = module
        self._spec = module.__spec__

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        return self._module

    def exec_module(self, module: ModuleType) -> None:
        # importlib stamped the alias's spec on the module: give it back its own.
        module.__spec__ = self._spec


class _AliasFinder(importlib.abc.MetaPathFinder):
    """Finds ``prometheus_client[.x]`` as ``atomicmetrics.prometheus_client[.x]``."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None = None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        real = _target_of(fullname)
        if real is None:
            return None
        try:
            module = importlib.import_module(real)
        except ModuleNotFoundError as exc:
            if exc.name == real:
                return None  # the facade has no such module: the usual error follows
            raise
        is_package = hasattr(module, "__path__")
        return importlib.machinery.ModuleSpec(fullname, _AliasLoader(module), is_package=is_package)


_FINDER = _AliasFinder()


def _aliases() -> dict[str, ModuleType]:
    """Every imported facade module under its ``prometheus_client`` name."""
    return {
        _ALIAS + name[len(_TARGET) :]: module
        for name, module in list(sys.modules.items())
        if module is not None and (name == _TARGET or name.startswith(_TARGET + "."))
    }


def install() -> None:
    """After this, ``import prometheus_client`` (and its submodules) gives the facade.

    Idempotent and thread-safe. Raises ``RuntimeError`` when the real
    prometheus_client is already imported in this process.
    """
    with _lock:
        present = sys.modules.get(_ALIAS)
        if present is not None and present is not sys.modules.get(_TARGET):
            raise RuntimeError(
                "prometheus_client was imported before atomicmetrics.prometheus_client.install(): "
                "call install() first (for example at the top of your entry point)"
            )
        importlib.import_module(_TARGET)
        sys.modules.update(_aliases())
        if _FINDER not in sys.meta_path:
            sys.meta_path.insert(0, _FINDER)


def uninstall() -> None:
    """Undo ``install()``: the ``prometheus_client`` names are free again."""
    with _lock:
        if _FINDER in sys.meta_path:
            sys.meta_path.remove(_FINDER)
        for name in [n for n in sys.modules if n == _ALIAS or n.startswith(_ALIAS + ".")]:
            if (
                _target_of(name) in sys.modules
                and sys.modules[name] is sys.modules[_target_of(name) or ""]
            ):
                del sys.modules[name]


def installed() -> bool:
    """Whether ``install()`` is in effect."""
    return _FINDER in sys.meta_path
