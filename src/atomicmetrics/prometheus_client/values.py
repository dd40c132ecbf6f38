"""prometheus_client.values: the value cell of one series.

prometheus_client's metrics keep each series' number in a ``ValueClass``
object (a float behind a mutex, or a slot of a per-process mmap file). The
facade's metrics record into C cells directly (see ``metrics.py``); this
module keeps the value classes for code that uses them on its own:
``MutexValue`` is a lock-free ``AtomicFloat`` with the same methods.
Per-process files are not how the facade shares metrics between processes
(``atomicmetrics.prometheus_client.multiprocess`` uses the shared arena), so
``MultiProcessValue`` refuses with an explanation.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from atomicmetrics._core import AtomicFloat
from atomicmetrics.prometheus_client.samples import Exemplar

__all__ = ["MultiProcessValue", "MutexValue", "ValueClass", "get_value_class"]


class MutexValue:
    """One series' float: ``inc``, ``set``, ``get`` and the latest exemplar.

    Named after prometheus_client's class; here the float is an
    ``AtomicFloat`` (lock-free, no mutex). The constructor's arguments
    describe the series and are ignored in process.
    """

    _multiprocess = False

    def __init__(
        self,
        typ: str,
        metric_name: str,
        name: str,
        labelnames: Any,
        labelvalues: Any,
        help_text: str,
        **kwargs: Any,
    ) -> None:
        self._value = AtomicFloat()
        self._exemplar: Exemplar | None = None

    def inc(self, amount: float) -> None:
        """Add ``amount``."""
        self._value.add(float(amount))

    def set(self, value: float, timestamp: float | None = None) -> None:
        """Store ``value`` (``timestamp`` only matters across processes)."""
        self._value.store(float(value))

    def set_exemplar(self, exemplar: Exemplar) -> None:
        """Keep ``exemplar`` as the latest."""
        self._exemplar = exemplar

    def get(self) -> float:
        """The value."""
        return self._value.load()

    def get_exemplar(self) -> Exemplar | None:
        """The latest exemplar, if any."""
        return self._exemplar


def MultiProcessValue(process_identifier: Callable[[], int] = os.getpid) -> type[MutexValue]:
    """Refused: the facade shares metrics between processes through its arena.

    Raises ``NotImplementedError`` naming what to use instead
    (``PROMETHEUS_MULTIPROC_DIR`` with the facade's ``multiprocess`` module).
    """
    raise NotImplementedError(
        "atomicmetrics.prometheus_client does not write prometheus_client's per-process "
        "files: set PROMETHEUS_MULTIPROC_DIR before the first metric is created and read "
        "with multiprocess.MultiProcessCollector (a shared-memory arena; docs/migrating.md)"
    )


def get_value_class() -> type[MutexValue]:
    """The value class of this process: ``MutexValue``."""
    return MutexValue


ValueClass = get_value_class()
