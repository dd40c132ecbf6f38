"""The registry: makes metric families by name and collects them for exposition.

``Registry()`` holds families (made by its factories) and custom collectors
(``register``); ``REGISTRY`` is the default one. Rules:

* Asking again for a family with the same name, type and label names (and
  the same buckets / window / cardinality settings) returns the same family
  object; the help text of later calls is ignored. The same name with
  another type, other label names or other settings raises ``ValueError``.
* Names are validated by ``atomicmetrics.names``; a counter asked for as
  ``x`` or ``x_total`` is the family ``x``, exposed as ``x_total``.
* A family also refuses names that would collide *in the exposition* with
  another family's: each family claims its family names and sample names
  (histogram ``a`` claims ``a``, ``a_bucket``, ``a_count``, ``a_sum``; a
  rule-execution family claims the names of its five exposed families), and a
  new family whose claims meet existing ones raises ``ValueError``. Custom
  collectors are not checked (their names are only known at scrape time).
* Factories take the registry's lock; recording never does, and
  ``collect()`` only copies lists, so reading never blocks recording.

Storage seam: a registry asks ``self._storage`` (a
``atomicmetrics.storage.CellStorage``) for every cell; a subclass such as the
multi-process registry assigns its own storage in ``__init__``.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from atomicmetrics import _fork
from atomicmetrics._lifetime import pin
from atomicmetrics._numeric import as_bounds, as_int64
from atomicmetrics.counter import CounterFamily
from atomicmetrics.family import Family, FamilySpec, OnOverflow
from atomicmetrics.gauge import GaugeFamily
from atomicmetrics.histogram import DEFAULT_BUCKETS_S, HistogramFamily, native_config
from atomicmetrics.json_export import snapshot_families
from atomicmetrics.names import (
    counter_family_name,
    counter_names,
    gauge_names,
    histogram_names,
    validate_labelnames,
    validate_metric_name,
    validate_text,
)
from atomicmetrics.rule_family import RuleExecutionFamily, rule_execution_names
from atomicmetrics.rule_metric import DEFAULT_DURATION_BUCKETS_NS
from atomicmetrics.samples import Collector, MetricFamily
from atomicmetrics.storage import (
    MULTIPROCESS_MODES,
    CellStorage,
    InProcessStorage,
    MultiprocessMode,
)
from atomicmetrics.throughput import ThroughputMetric
from atomicmetrics.throughput_family import ThroughputFamily, throughput_names

if TYPE_CHECKING:
    from atomicmetrics.prometheus_bridge import PrometheusCollector

__all__ = ["REGISTRY", "Registry"]

F = TypeVar("F", bound=Family[Any])


class Registry:
    """A set of metric families and collectors, collected together for exposition.

    Thread-safe: factories, ``register`` and ``unregister`` serialize on one
    lock; ``collect()`` and ``snapshot()`` take no lock that recording uses.
    Factories raise ``ValueError`` for invalid or conflicting names, labels
    and settings, ``TypeError`` for wrongly typed arguments.
    """

    def __init__(self) -> None:
        self._storage: CellStorage = InProcessStorage()  # set once, before any family
        # Guards the fields below; renewed after fork. Reentrant, with
        # _generation re-checked before a factory publishes, so a signal
        # handler or a GC finalizer may make a family while this thread is in
        # a factory (tests/stress/test_reentrancy.py).
        self._lock = threading.RLock()
        self._generation = 0  # guarded by _lock: bumped by every change below
        _fork.register(self)
        self._families: dict[str, Family[Any]] = {}  # by family name
        self._claims: dict[str, str] = {}  # exposed name -> family name claiming it
        self._settings: dict[str, dict[str, Any]] = {}  # family name -> factory settings
        # Families and custom collectors in registration order; replaced, never
        # mutated, so collect() can iterate a reference without the lock.
        self._collectors: tuple[Collector, ...] = ()

    # ---- factories ---------------------------------------------------------

    def counter(
        self,
        name: str,
        help: str = "",
        labelnames: Iterable[str] = (),
        *,
        max_series: int | None = None,
        on_overflow: OnOverflow = "raise",
    ) -> CounterFamily:
        """A counter family, exposed as ``<name>_total`` (``name`` may end in ``_total``)."""
        family_name = counter_family_name(validate_metric_name(name))
        spec = self._spec(family_name, help, labelnames, max_series, on_overflow)
        return self._get_or_create(CounterFamily, counter_names(family_name), spec)

    def gauge(
        self,
        name: str,
        help: str = "",
        labelnames: Iterable[str] = (),
        *,
        max_series: int | None = None,
        on_overflow: OnOverflow = "raise",
        multiprocess_mode: MultiprocessMode = "all",
    ) -> GaugeFamily:
        """A gauge family. ``multiprocess_mode`` (prometheus_client's names:
        ``all``, ``liveall``, ``min``, ``livemin``, ``max``, ``livemax``,
        ``sum``, ``livesum``, ``mostrecent``, ``livemostrecent``) matters only
        in a multi-process registry."""
        validate_metric_name(name)
        spec = self._spec(name, help, labelnames, max_series, on_overflow)
        if multiprocess_mode not in MULTIPROCESS_MODES:
            raise ValueError(
                f"multiprocess_mode must be one of {MULTIPROCESS_MODES}, not {multiprocess_mode!r}"
            )
        return self._get_or_create(
            GaugeFamily, gauge_names(name), spec, multiprocess_mode=multiprocess_mode
        )

    def histogram(
        self,
        name: str,
        help: str = "",
        labelnames: Iterable[str] = (),
        buckets: Sequence[float] = DEFAULT_BUCKETS_S,
        *,
        max_series: int | None = None,
        on_overflow: OnOverflow = "raise",
        native: bool = False,
        native_schema: int = 3,
        native_zero_threshold: float = 2.0**-128,
        native_max_buckets: int = 160,
    ) -> HistogramFamily:
        """A histogram family; ``buckets`` are upper bounds in seconds
        (``AtomicHistogram``'s rules; default 5 ms to 10 s). ``le`` is reserved.

        With ``native=True`` each child also keeps an ``AtomicNativeHistogram``
        (``native_schema``, ``native_zero_threshold``, ``native_max_buckets``:
        its arguments and rules, errors naming the ``native_`` argument), sent
        in the protobuf format; ``buckets=()`` then means native only (the
        text formats show ``_count``, ``_sum`` and the ``+Inf`` bucket)."""
        validate_metric_name(name)
        spec = self._spec(name, help, labelnames, max_series, on_overflow, le_reserved=True)
        if not isinstance(native, bool):
            raise TypeError(f"native must be a bool, not {type(native).__name__}")
        config = None
        if native:
            config = native_config(native_schema, native_zero_threshold, native_max_buckets)
        bounds = () if config is not None and len(buckets) == 0 else as_bounds(buckets)
        return self._get_or_create(
            HistogramFamily, histogram_names(name), spec, bounds=bounds, native=config
        )

    def rule_execution(
        self,
        name: str,
        help: str = "",
        labelnames: Iterable[str] = (),
        buckets: Sequence[float] = DEFAULT_DURATION_BUCKETS_NS,
        *,
        max_series: int | None = None,
        on_overflow: OnOverflow = "raise",
    ) -> RuleExecutionFamily:
        """A family of ``RuleExecutionMetric``; ``buckets`` in nanoseconds.
        Exposed as five families (see ``atomicmetrics.rule_family``)."""
        validate_metric_name(name)
        spec = self._spec(name, help, labelnames, max_series, on_overflow, le_reserved=True)
        bounds = _rule_bounds(buckets)
        return self._get_or_create(
            RuleExecutionFamily, rule_execution_names(name), spec, bounds=bounds
        )

    def throughput(
        self,
        name: str,
        help: str = "",
        labelnames: Iterable[str] = (),
        window_s: float = 60.0,
        resolution_s: float = 1.0,
        sla_ns: int | None = None,
        *,
        max_series: int | None = None,
        on_overflow: OnOverflow = "raise",
    ) -> ThroughputFamily:
        """A family of ``ThroughputMetric`` (``ThroughputMetric``'s rules for the
        window and SLA). Exposed as five families (see ``atomicmetrics.throughput_family``)."""
        validate_metric_name(name)
        spec = self._spec(name, help, labelnames, max_series, on_overflow)
        ThroughputMetric(window_s=window_s, resolution_s=resolution_s, sla_ns=sla_ns)  # validates
        return self._get_or_create(
            ThroughputFamily,
            throughput_names(name),
            spec,
            window_s=window_s,
            resolution_s=resolution_s,
            sla_ns=sla_ns,
        )

    def _spec(
        self,
        name: str,
        help: str,
        labelnames: Iterable[str],
        max_series: int | None,
        on_overflow: OnOverflow,
        *,
        le_reserved: bool = False,
    ) -> FamilySpec:
        """The validated spec of every factory (``le`` is reserved in histograms)."""
        labels = validate_labelnames(labelnames, histogram=le_reserved)
        if max_series is not None:
            max_series = as_int64(max_series, "max_series")
            if max_series < 1:
                raise ValueError(f"max_series must be >= 1 or None, not {max_series}")
        if on_overflow not in ("raise", "collapse"):
            raise ValueError(f"on_overflow must be 'raise' or 'collapse', not {on_overflow!r}")
        if not isinstance(help, str):
            raise TypeError(f"help must be a str, not {type(help).__name__}")
        validate_text(help, "help text")
        return FamilySpec(name, help, labels, self._storage, max_series, on_overflow)

    def _get_or_create(
        self, cls: type[F], claims: frozenset[str], spec: FamilySpec, **own: Any
    ) -> F:
        """The family ``spec.name``: the existing one if it matches, else a new one.

        ``own`` are the family type's own settings (buckets, window, mode);
        they, the type, the label names and the series limits must match an
        existing family's.
        """
        name, labelnames = spec.name, spec.labelnames
        settings = {"max_series": spec.max_series, "on_overflow": spec.on_overflow, **own}
        with self._lock:
            while True:
                existing = self._families.get(name)
                if existing is not None:
                    known = self._settings[name]
                    break
                clash = sorted(claims & self._claims.keys())
                if clash:
                    owner = self._claims[clash[0]]
                    raise ValueError(
                        f"{name}: exposed name {clash[0]!r} is already used by family {owner!r}"
                    )
                generation = self._generation
                # Building may run a signal handler or a GC finalizer on this
                # thread that makes families itself (the lock is reentrant).
                family = cls(spec, **own)
                claimed = {**self._claims, **dict.fromkeys(claims, name)}
                collectors: tuple[Collector, ...] = (*self._collectors, family)
                # The commit: stores only, nothing can re-enter between the
                # check and them. Re-entered meanwhile: check everything again.
                if self._generation == generation:
                    self._families[name] = family
                    self._settings[name] = settings
                    self._claims = claimed
                    self._collectors = collectors
                    self._generation = generation + 1
                    return family
        if not isinstance(existing, cls):
            raise ValueError(f"{name} is already registered as a {type(existing).__name__}")
        if existing.labelnames != labelnames:
            raise ValueError(
                f"{name} is already registered with labels {list(existing.labelnames)}, "
                f"not {list(labelnames)}"
            )
        if known != settings:
            raise ValueError(f"{name} is already registered with other settings: {known}")
        return existing

    # ---- collectors --------------------------------------------------------

    def register(self, collector: Collector) -> None:
        """Add a custom collector (anything with ``collect()``); collected in order.

        Raises ``TypeError`` if it has no ``collect``, ``ValueError`` if it is
        already registered. Its names are not checked against the families'.
        """
        if not isinstance(collector, Collector):
            raise TypeError(f"{type(collector).__name__} has no collect() method")
        with self._lock:
            if any(c is collector for c in self._collectors):
                raise ValueError(f"{collector!r} is already registered")
            self._collectors = (*self._collectors, collector)
            self._generation += 1

    def unregister(self, collector: Collector) -> None:
        """Remove a collector or a family of this registry (its names become free).

        Raises ``ValueError`` if it is not registered.
        """
        with self._lock:
            if not any(c is collector for c in self._collectors):
                raise ValueError(f"{collector!r} is not registered")
            self._collectors = tuple(c for c in self._collectors if c is not collector)
            self._generation += 1
            if isinstance(collector, Family) and self._families.get(collector.name) is collector:
                del self._families[collector.name]
                del self._settings[collector.name]
                self._claims = {k: v for k, v in self._claims.items() if v != collector.name}

    def _after_fork_in_child(self) -> None:
        """In a fork child: the parent thread that held ``_lock`` is gone."""
        self._lock = threading.RLock()

    # ---- reading -----------------------------------------------------------

    def collect(self) -> Iterator[MetricFamily]:
        """Yield every family's exposed ``MetricFamily`` objects, in registration order.

        Takes no lock: it iterates the collector tuple current at the call
        (collectors registered later are not seen by this iteration), and
        each family reads its children without blocking recorders.
        """
        return _collect_all(self._collectors)

    def snapshot(self) -> dict[str, Any]:
        """Everything ``collect()`` yields as strict JSON data.

        Shape: ``{family name: {"type", "help", "samples": [{"name",
        "labels", "value"}]}}`` (see ``atomicmetrics.json_export``);
        non-finite values are the strings ``"NaN"``, ``"+Inf"``, ``"-Inf"``.
        """
        return snapshot_families(self.collect())

    def as_prometheus_collector(self) -> PrometheusCollector:
        """A prometheus_client collector reading this registry at each scrape.

        Register it with ``prometheus_client.REGISTRY.register(...)`` to serve
        atomicmetrics families from an existing prometheus_client endpoint.
        Imports ``atomicmetrics.prometheus_bridge`` (and so prometheus_client,
        ``pip install atomicmetrics[prometheus]``) on first call only;
        ``ImportError`` without it.
        """
        from atomicmetrics.prometheus_bridge import PrometheusCollector

        return PrometheusCollector(self)


def _collect_all(collectors: tuple[Collector, ...]) -> Iterator[MetricFamily]:
    for collector in collectors:
        yield from collector.collect()


def _rule_bounds(buckets: Sequence[float]) -> tuple[float, ...]:
    """``as_bounds`` of nanosecond buckets that stay strictly increasing in seconds.

    They are exposed divided by 1e9: two bounds a few ULPs apart, or -5e-324
    and 0.0, become one ``le`` value (``-0.0`` and ``0.0`` are equal), which
    OpenMetrics parsers refuse as buckets out of order (found by
    scripts/fuzz_api.py).
    """
    bounds = as_bounds(buckets)
    seconds = [b / 1e9 for b in bounds]
    for lower, upper in itertools.pairwise(seconds):
        if not lower < upper:
            raise ValueError(
                f"buckets {bounds!r} (ns) are not strictly increasing once in seconds "
                f"({lower!r} then {upper!r})"
            )
    return bounds


REGISTRY = Registry()
"""The default registry (what ``generate_text()`` and the HTTP server read by default)."""
pin(REGISTRY)  # module-level: every thread may load it (atomicmetrics._lifetime)
