"""prometheus_client.metrics: Counter, Gauge, Summary, Histogram, Info, Enum.

Same constructors, defaults, methods and errors as prometheus_client 0.21;
what differs is where values live. Each series (an unlabelled metric, or one
child of a labelled parent) records into this project's C cells:

* ``Counter``: an ``AtomicCounter`` for integral amounts (exact) and an
  ``AtomicFloat`` for the others; ``inc()`` without arguments is
  ``_core._DefaultCall`` straight into ``AtomicCounter.inc`` (two C calls, no
  Python frame).
* ``Gauge``: an ``AtomicFloat``; ``inc()``, ``dec()`` and ``set(x)`` of
  ints and floats are C calls the same way.
* ``Histogram``: an ``AtomicHistogram`` (buckets and sum in one lock-free
  cell, consistent on read); ``observe(x)`` of an int or float is
  ``AtomicHistogram.observe`` through ``_DefaultCall``; other numbers and
  exemplars take the Python path.
* ``Summary``: an ``AtomicCounter`` (count) and an ``AtomicFloat`` (sum).
* ``labels(...)`` with ``str`` values is ``_core._FastLookup``: one dict read
  in C, no lock, for a child that exists; creation takes the parent's lock.

The fast paths are installed only for these classes' own methods: a subclass
that overrides ``inc``, ``observe``, ``set`` or ``labels`` keeps its method.
Every recording call is thread-safe and lock-free; reads are one atomic
load per cell. Names and labels are validated as prometheus_client does.
"""

from __future__ import annotations

import bisect
import functools
import os
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar, cast, get_args

from atomicmetrics._core import (
    AtomicCounter,
    AtomicFloat,
    _DefaultCall,
    _FastLookup,
)
from atomicmetrics.atomic_histogram import AtomicHistogram
from atomicmetrics.prometheus_client import multiprocess
from atomicmetrics.prometheus_client._text import (
    escape,
    escape_help_text,
    exemplar_text,
    label_text,
)
from atomicmetrics.prometheus_client.context_managers import (
    ExceptionCounter,
    InprogressTracker,
    Timer,
)
from atomicmetrics.prometheus_client.metrics_core import (
    METRIC_LABEL_NAME_RE,
    METRIC_NAME_RE,
    RESERVED_METRIC_LABEL_NAME_RE,
    Metric,
)
from atomicmetrics.prometheus_client.registry import REGISTRY, Collector, CollectorRegistry
from atomicmetrics.prometheus_client.samples import Exemplar, Sample
from atomicmetrics.prometheus_client.utils import INF, floatToGoString
from atomicmetrics.storage import MultiprocessMode

__all__ = [
    "Counter",
    "Enum",
    "Gauge",
    "Histogram",
    "Info",
    "MetricWrapperBase",
    "Summary",
    "disable_created_metrics",
    "enable_created_metrics",
]

T = TypeVar("T", bound="MetricWrapperBase")


def _build_full_name(
    metric_type: str | None, name: str, namespace: str, subsystem: str, unit: str
) -> str:
    full_name = "_".join([part for part in (namespace, subsystem) if part] + [name])
    if metric_type == "counter" and full_name.endswith("_total"):
        full_name = full_name[: -len("_total")]  # the family name, OpenMetrics style
    if unit and not full_name.endswith("_" + unit):
        full_name += "_" + unit
    if unit and metric_type in ("info", "stateset"):
        raise ValueError("Metric name is of a type that cannot have a unit: " + full_name)
    return full_name


def _validate_labelname(name: str) -> None:
    if not METRIC_LABEL_NAME_RE.match(name):
        raise ValueError("Invalid label metric name: " + name)
    if RESERVED_METRIC_LABEL_NAME_RE.match(name):
        raise ValueError("Reserved label metric name: " + name)


def _validate_labelnames(cls: Any, labelnames: Iterable[str]) -> tuple[str, ...]:
    names = tuple(labelnames)
    for name in names:
        _validate_labelname(name)
        if name in cls._reserved_labelnames:
            raise ValueError("Reserved label metric name: " + name)
    return names


def _validate_exemplar(exemplar: dict[str, str]) -> None:
    """Label names valid, at most 128 characters of names and values in all."""
    runes = 0
    for name, value in exemplar.items():
        _validate_labelname(name)
        runes += len(name) + len(value)
    if runes > 128:
        raise ValueError(
            f"Exemplar labels have {runes} UTF-8 characters, exceeding the limit of 128"
        )


def _get_use_created() -> bool:
    flag = os.environ.get("PROMETHEUS_DISABLE_CREATED_SERIES", "False")
    return flag.lower() not in ("true", "1", "t")


_use_created = _get_use_created()


def disable_created_metrics() -> None:
    """Stop exposing ``_created`` series of counters, histograms and summaries."""
    global _use_created
    _use_created = False


def enable_created_metrics() -> None:
    """Expose ``_created`` series again (the default, unless the environment says)."""
    global _use_created
    _use_created = True


def _amount(amount: Any) -> float:
    """``float(amount)`` for an amount to add or observe; text is not a number.

    prometheus_client adds amounts to a float (``TypeError`` for a ``str``);
    ``Gauge.set`` alone converts with ``float(value)`` and accepts text.
    """
    if isinstance(amount, (str, bytes, bytearray)):
        raise TypeError(f"amount must be a number, not {type(amount).__name__}")
    return float(amount)


class MetricWrapperBase(Collector):
    """Base of the metric classes: a parent with label names, or one series.

    A metric constructed without label names is one series and records
    directly; with label names it is a *parent* whose ``labels(...)`` returns
    (creating once) the child series for those values, converted with
    ``str``. Recording on a parent raises ``ValueError`` ("missing label
    values"). The parent (or the unlabelled metric) registers itself with
    ``registry`` unless that is ``None``.
    """

    _type: str | None = None
    _reserved_labelnames: Sequence[str] = ()

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Iterable[str] = (),
        namespace: str = "",
        subsystem: str = "",
        unit: str = "",
        registry: CollectorRegistry | None = REGISTRY,
        _labelvalues: Sequence[str] | None = None,
    ) -> None:
        self._name = _build_full_name(self._type, name, namespace, subsystem, unit)
        self._labelnames = _validate_labelnames(self, labelnames)
        self._labelvalues = tuple(_labelvalues or ())
        self._kwargs: dict[str, Any] = {}
        self._documentation = documentation
        self._unit = unit
        if not METRIC_NAME_RE.match(self._name):
            raise ValueError("Invalid metric name: " + self._name)
        # This series' labels as exposed, sorted by name (read side; immutable;
        # "" on a parent, which has no values).
        self._ltext = label_text(zip(self._labelnames, self._labelvalues, strict=False))
        if self._is_parent():
            self._lock = threading.Lock()  # guards creation and removal of children
            # Children by label values; written under _lock only, with built
            # children; never replaced (clear() empties it).
            self._metrics: dict[tuple[str, ...], Any] = {}
            # What _FastLookup reads: keyed by the value itself for one label
            # (no tuple to build), else the same dict as _metrics.
            self._lookup: dict[Any, Any] = {} if len(self._labelnames) == 1 else self._metrics
            if type(self).labels is MetricWrapperBase.labels:
                self.__dict__["labels"] = _FastLookup(self._lookup, self._child)
        if self._is_observable():
            self._metric_init()
        if not self._labelvalues and registry:
            registry.register(self)

    # ---- shape -------------------------------------------------------------

    def _is_observable(self) -> bool:
        return not self._labelnames or bool(self._labelvalues)

    def _raise_if_not_observable(self) -> None:
        if not self._is_observable():
            raise ValueError(f"{self._type} metric is missing label values")

    def _is_parent(self) -> bool:
        return bool(self._labelnames) and not self._labelvalues

    def _get_metric(self) -> Metric:
        return Metric(self._name, self._documentation, self._type or "unknown", self._unit)

    def describe(self) -> Iterable[Metric]:
        """The family this metric exposes, without samples."""
        return [self._get_metric()]

    def collect(self) -> Iterable[Metric]:
        """The family with one sample per series and suffix."""
        metric = self._get_metric()
        for suffix, labels, value, timestamp, exemplar in self._samples():
            metric.add_sample(self._name + suffix, labels, value, timestamp, exemplar)
        return [metric]

    def __str__(self) -> str:
        return f"{self._type}:{self._name}"

    def __repr__(self) -> str:
        cls = type(self)
        module = cls.__module__.removeprefix("atomicmetrics.")
        return f"{module}.{cls.__name__}({self._name})"

    # ---- children ----------------------------------------------------------

    def labels(self: T, *labelvalues: Any, **labelkwargs: Any) -> T:
        """The child for these label values, created on first use.

        Values by position or by name (not both), converted with ``str``.
        Raises ``ValueError`` for a metric without label names, on a child,
        or for a wrong number or wrong names of labels; ``TypeError`` when a
        value cannot be converted. With ``str`` values and an existing child
        this is one C call and one dict read (see the module docstring).
        """
        return self._child(*labelvalues, **labelkwargs)

    def _child(self: T, *labelvalues: Any, **labelkwargs: Any) -> T:
        if not self._labelnames:
            raise ValueError(f"No label names were set when constructing {self}")
        if self._labelvalues:
            raise ValueError(
                f"{self} already has labels set "
                f"({dict(zip(self._labelnames, self._labelvalues, strict=True))}); "
                "can not chain calls to .labels()"
            )
        if labelvalues and labelkwargs:
            raise ValueError("Can't pass both *args and **kwargs")
        if labelkwargs:
            if sorted(labelkwargs) != sorted(self._labelnames):
                raise ValueError("Incorrect label names")
            values = tuple([str(labelkwargs[n]) for n in self._labelnames])
        else:
            if len(labelvalues) != len(self._labelnames):
                raise ValueError("Incorrect label count")
            values = tuple([str(v) for v in labelvalues])
        child = self._metrics.get(values)
        if child is not None:
            return child  # type: ignore[no-any-return]
        with self._lock:
            child = self._metrics.get(values)
            if child is None:
                child = self.__class__(
                    self._name,
                    documentation=self._documentation,
                    labelnames=self._labelnames,
                    unit=self._unit,
                    _labelvalues=values,
                    **self._kwargs,
                )
                if self._lookup is not self._metrics:
                    self._lookup[values[0]] = child
                self._metrics[values] = child
            return child

    def remove(self, *labelvalues: Any) -> None:
        """Forget the child for these label values (``KeyError`` if absent)."""
        if _multiprocess():
            warnings.warn(
                "Removal of labels has not been implemented in  multi-process mode yet.",
                UserWarning,
                stacklevel=2,
            )
        if not self._labelnames:
            raise ValueError(f"No label names were set when constructing {self}")
        if len(labelvalues) != len(self._labelnames):
            raise ValueError(
                f"Incorrect label count (expected {len(self._labelnames)}, got {labelvalues})"
            )
        values = tuple([str(v) for v in labelvalues])
        with self._lock:
            del self._metrics[values]
            if self._lookup is not self._metrics:
                del self._lookup[values[0]]

    def clear(self) -> None:
        """Forget every child."""
        if _multiprocess():
            warnings.warn(
                "Clearing labels has not been implemented in multi-process mode yet",
                UserWarning,
                stacklevel=2,
            )
        with self._lock:
            self._metrics.clear()  # the same dicts: _FastLookup holds _lookup
            self._lookup.clear()

    def _series(self) -> list[Any]:
        """The series to expose: the children of a parent (a copy), else self."""
        if self._is_parent():
            return list(self._metrics.values())
        return [self]

    # ---- samples (the generic read path, and what subclasses may override) --

    def _samples(self) -> Iterable[Sample]:
        if self._is_parent():
            return self._multi_samples()
        return self._child_samples()

    def _multi_samples(self) -> Iterable[Sample]:
        with self._lock:
            children = self._metrics.copy()
        for values, child in children.items():
            series = dict(zip(self._labelnames, values, strict=True))
            for suffix, labels, value, timestamp, exemplar in child._samples():
                yield Sample(suffix, {**series, **labels}, value, timestamp, exemplar)

    def _child_samples(self) -> Iterable[Sample]:
        raise NotImplementedError(f"_child_samples() must be implemented by {self!r}")

    def _metric_init(self) -> None:
        """Make the cells of one series (an unlabelled metric or a child)."""
        raise NotImplementedError(f"_metric_init() must be implemented by {self!r}")

    # ---- fast exposition (used by the exposition modules for these classes) --

    def _header(self, out: list[str], name: str, typ: str, openmetrics: bool) -> None:
        if openmetrics:
            out.append(f"# HELP {name} {escape(self._documentation)}\n# TYPE {name} {typ}\n")
            if self._unit:
                out.append(f"# UNIT {name} {self._unit}\n")
        else:
            out.append(f"# HELP {name} {escape_help_text(self._documentation)}\n")
            out.append(f"# TYPE {name} {typ}\n")

    def _render(self, out: list[str], openmetrics: bool) -> None:
        """Append this metric's family in one of the two text formats."""
        raise NotImplementedError


def _multiprocess() -> bool:
    return multiprocess.directory() is not None


def _created_section(
    out: list[str], metric: MetricWrapperBase, lines: list[str], openmetrics: bool
) -> None:
    """Text 0.0.4 exposes ``_created`` as a gauge family of its own, after the rest."""
    if lines:
        metric._header(out, metric._name + "_created", "gauge", openmetrics)
        out.extend(lines)


class Counter(MetricWrapperBase):
    """A counter: a total that only goes up (and ``reset()`` back to zero).

    ``inc(amount=1, exemplar=None)``: ``amount`` must be ``>= 0``
    (``ValueError``); an exemplar (label dict, at most 128 characters) is
    checked before anything is added and kept as the series' latest.
    Integral amounts are exact up to 2**63-1 in all, other amounts add as
    floats. ``count_exceptions()`` counts exceptions of a block or function.
    Thread-safe, lock-free; ``inc()`` costs two C calls.
    """

    _type = "counter"

    def _metric_init(self) -> None:
        shared = multiprocess.shared_series("counter", self)
        # Integral amounts, then the others; arena cells in multi-process mode.
        self._int = AtomicCounter() if shared is None else shared._int
        self._float = AtomicFloat() if shared is None else shared._float
        self._exemplar: Exemplar | None = None  # replaced whole, read whole
        self._created = time.time()
        if type(self).inc is Counter.inc:
            self.__dict__["inc"] = _DefaultCall(self._int.inc, self._inc)

    def inc(self, amount: float = 1, exemplar: dict[str, str] | None = None) -> None:
        """Add ``amount`` (>= 0); keep ``exemplar`` as the latest one."""
        self._inc(amount, exemplar)

    def _inc(self, amount: Any = 1, exemplar: dict[str, str] | None = None) -> None:
        self._raise_if_not_observable()
        if amount < 0:
            raise ValueError("Counters can only be incremented by non-negative amounts.")
        if exemplar:
            _validate_exemplar(exemplar)
        try:
            if isinstance(amount, int) or (
                isinstance(amount, float) and amount < 2.0**63 and amount.is_integer()
            ):
                self._int.add(int(amount))
            else:
                self._float.add(_amount(amount))
        except OverflowError:  # past int64: the float part takes it
            self._float.add(_amount(amount))
        if exemplar:
            self._exemplar = Exemplar(exemplar, amount, time.time())

    def _get(self) -> float:
        frac = self._float.load()
        whole = self._int.load()
        return whole + frac if frac else float(whole)

    def reset(self) -> None:
        """Set the counter to zero and its ``_created`` time to now."""
        self._raise_if_not_observable()
        self._int.store(0)
        self._float.store(0.0)
        self._created = time.time()

    def count_exceptions(
        self, exception: type[BaseException] | tuple[type[BaseException], ...] = Exception
    ) -> ExceptionCounter:
        """A context manager and decorator counting the exceptions it sees raised."""
        self._raise_if_not_observable()
        return ExceptionCounter(self, exception)

    def _child_samples(self) -> Iterable[Sample]:
        total = Sample("_total", {}, self._get(), None, self._exemplar)
        if _use_created:
            return (total, Sample("_created", {}, self._created, None, None))
        return (total,)

    def _render(self, out: list[str], openmetrics: bool) -> None:
        name = self._name
        created = _use_created
        fmt = floatToGoString
        if openmetrics:
            self._header(out, name, "counter", True)
        else:
            self._header(out, name + "_total", "counter", False)
        later: list[str] = []
        for child in self._series():
            lt = child._ltext
            line = f"{name}_total{lt} {fmt(child._get())}"
            ex = child._exemplar
            if ex is not None and openmetrics:
                line += exemplar_text(ex, fmt(ex.value))
            out.append(line + "\n")
            if created:
                stamp = f"{name}_created{lt} {fmt(child._created)}\n"
                (out if openmetrics else later).append(stamp)
        _created_section(out, self, later, openmetrics)


class Gauge(MetricWrapperBase):
    """A gauge: a value that goes up and down, or is read from a function.

    ``inc``/``dec`` (amount 1 by default), ``set``, ``set_to_current_time``,
    ``track_inprogress()``, ``time()`` and ``set_function(f)`` (``f()`` is
    read at each scrape instead of the stored value). ``multiprocess_mode``
    takes prometheus_client's ten mode names (``ValueError`` otherwise); in a
    ``*mostrecent`` mode ``inc``/``dec`` raise ``RuntimeError``. Thread-safe,
    lock-free; ``inc()``, ``dec()`` and ``set(x)`` of an int or float are C
    calls.
    """

    _type = "gauge"
    _MULTIPROC_MODES = frozenset(get_args(MultiprocessMode))
    _MOST_RECENT_MODES = frozenset(("mostrecent", "livemostrecent"))

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Iterable[str] = (),
        namespace: str = "",
        subsystem: str = "",
        unit: str = "",
        registry: CollectorRegistry | None = REGISTRY,
        _labelvalues: Sequence[str] | None = None,
        multiprocess_mode: MultiprocessMode = "all",
    ) -> None:
        if multiprocess_mode not in self._MULTIPROC_MODES:
            raise ValueError("Invalid multiprocess mode: " + multiprocess_mode)
        self._multiprocess_mode = multiprocess_mode
        self._is_most_recent = multiprocess_mode in self._MOST_RECENT_MODES
        super().__init__(
            name, documentation, labelnames, namespace, subsystem, unit, registry, _labelvalues
        )
        self._kwargs["multiprocess_mode"] = multiprocess_mode

    def _metric_init(self) -> None:
        mode = self._multiprocess_mode
        shared = multiprocess.shared_series("gauge", self, multiprocess_mode=mode)
        self._value: AtomicFloat | multiprocess.SharedGauge = (
            AtomicFloat() if shared is None else multiprocess.SharedGauge(shared)
        )
        self._function: Callable[[], float] | None = None
        if self._is_most_recent or shared is not None:
            return
        cls = type(self)
        add = self._value.add
        if cls.inc is Gauge.inc:
            self.__dict__["inc"] = _DefaultCall(functools.partial(add, 1.0), self._inc, add)
        if cls.dec is Gauge.dec:
            self.__dict__["dec"] = _DefaultCall(functools.partial(add, -1.0), self._dec)
        if cls.set is Gauge.set:
            # set() without a value goes to _set, which raises TypeError like any call.
            noarg = cast("Callable[[], None]", self._set)
            self.__dict__["set"] = _DefaultCall(noarg, self._set, self._value.store)

    def inc(self, amount: float = 1) -> None:
        """Add ``amount`` (default 1)."""
        self._inc(amount)

    def _inc(self, amount: Any = 1) -> None:
        if self._is_most_recent:
            raise RuntimeError("inc must not be used with the mostrecent mode")
        self._raise_if_not_observable()
        self._value.add(_amount(amount))

    def dec(self, amount: float = 1) -> None:
        """Subtract ``amount`` (default 1)."""
        self._dec(amount)

    def _dec(self, amount: Any = 1) -> None:
        if self._is_most_recent:
            raise RuntimeError("dec must not be used with the mostrecent mode")
        self._raise_if_not_observable()
        self._value.add(-_amount(amount))

    def set(self, value: float) -> None:
        """Set the value to ``float(value)``."""
        self._set(value)

    def _set(self, value: Any) -> None:
        self._raise_if_not_observable()
        self._value.store(float(value))

    def set_to_current_time(self) -> None:
        """Set the value to the current Unix time."""
        self.set(time.time())

    def track_inprogress(self) -> InprogressTracker:
        """A context manager and decorator: +1 on entry, -1 on exit."""
        self._raise_if_not_observable()
        return InprogressTracker(self)

    def time(self) -> Timer:
        """A context manager and decorator that sets the gauge to the block's seconds."""
        return Timer(self, "set")

    def set_function(self, f: Callable[[], float]) -> None:
        """Read the value from ``f()`` at each scrape (it may run on any thread)."""
        self._raise_if_not_observable()
        self._function = f

    def _get(self) -> float:
        f = self._function
        return float(f()) if f is not None else self._value.load()

    def _child_samples(self) -> Iterable[Sample]:
        return (Sample("", {}, self._get(), None, None),)

    def _render(self, out: list[str], openmetrics: bool) -> None:
        name = self._name
        fmt = floatToGoString
        self._header(out, name, "gauge", openmetrics)
        out.extend([f"{name}{child._ltext} {fmt(child._get())}\n" for child in self._series()])


class Summary(MetricWrapperBase):
    """A summary: count and sum of observations (no quantiles, as upstream).

    ``observe(amount)``, ``time()``. The count and the sum live in one
    ``AtomicHistogram`` with a single bucket, so a scrape always sees them
    consistent; ``observe(x)`` of an int or float is one C cell call through
    ``_core._DefaultCall``. ``NaN`` raises ``ValueError`` (as for
    ``Histogram``). Thread-safe and lock-free.
    """

    _type = "summary"
    _reserved_labelnames = ("quantile",)
    _BOUNDS = (0.0,)  # the cell's one bucket bound: only its count and sum are read

    def _metric_init(self) -> None:
        shared = multiprocess.shared_series("histogram", self, buckets=self._BOUNDS)
        if shared is None:
            self._hist = AtomicHistogram(self._BOUNDS)
        else:
            self._hist = shared._cell
            multiprocess.SUMMARIES.add(self._name)
        self._created = time.time()
        if type(self).observe is Summary.observe:
            noarg = cast("Callable[[], None]", self._observe)  # raises TypeError, as any call
            self.__dict__["observe"] = _DefaultCall(noarg, self._observe, self._hist.observe)

    def observe(self, amount: float) -> None:
        """Count one observation of ``amount`` (usually >= 0)."""
        self._observe(amount)

    def _observe(self, amount: Any) -> None:
        self._raise_if_not_observable()
        value = amount if type(amount) is float else _amount(amount)
        if value != value:
            raise ValueError("Summary.observe: NaN would make the sum NaN for good")
        self._hist.observe(value)

    def time(self) -> Timer:
        """A context manager and decorator that observes the block's seconds."""
        return Timer(self, "observe")

    def _counts(self) -> tuple[float, float]:
        _, _, count, total = self._hist._snapshot()  # one consistent reading
        return float(count), total

    def _child_samples(self) -> Iterable[Sample]:
        count, total = self._counts()
        samples = [Sample("_count", {}, count, None, None), Sample("_sum", {}, total, None, None)]
        if _use_created:
            samples.append(Sample("_created", {}, self._created, None, None))
        return tuple(samples)

    def _render(self, out: list[str], openmetrics: bool) -> None:
        name = self._name
        fmt = floatToGoString
        created = _use_created
        self._header(out, name, "summary", openmetrics)
        later: list[str] = []
        for child in self._series():
            lt = child._ltext
            count, total = child._counts()
            out.append(f"{name}_count{lt} {fmt(count)}\n{name}_sum{lt} {fmt(total)}\n")
            if created:
                stamp = f"{name}_created{lt} {fmt(child._created)}\n"
                (out if openmetrics else later).append(stamp)
        _created_section(out, self, later, openmetrics)


class Histogram(MetricWrapperBase):
    """A histogram: observations counted in cumulative buckets, with their sum.

    ``buckets`` must be sorted and strictly increasing (``+Inf`` is added
    when missing; at least one finite bound); a finite bucket bound repeated
    or not a number raises ``ValueError``. ``observe(amount, exemplar=None)``
    counts ``amount`` in the first bucket whose bound is ``>= amount``; an
    exemplar is kept per bucket. ``NaN`` cannot be placed in a bucket and
    raises ``ValueError``. Thread-safe, lock-free, consistent on read (the
    ``+Inf`` bucket always equals ``_count``); ``observe(x)`` of an int or
    float is one C cell call.
    """

    _type = "histogram"
    _reserved_labelnames = ("le",)
    DEFAULT_BUCKETS: tuple[float, ...] = (
        0.005,
        0.01,
        0.025,
        0.05,
        0.075,
        0.1,
        0.25,
        0.5,
        0.75,
        1.0,
        2.5,
        5.0,
        7.5,
        10.0,
        INF,
    )

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Iterable[str] = (),
        namespace: str = "",
        subsystem: str = "",
        unit: str = "",
        registry: CollectorRegistry | None = REGISTRY,
        _labelvalues: Sequence[str] | None = None,
        buckets: Sequence[float | str] = DEFAULT_BUCKETS,
    ) -> None:
        self._prepare_buckets(buckets)
        super().__init__(
            name, documentation, labelnames, namespace, subsystem, unit, registry, _labelvalues
        )
        self._kwargs["buckets"] = buckets

    def _prepare_buckets(self, source_buckets: Sequence[float | str]) -> None:
        bounds = [float(b) for b in source_buckets]
        if bounds != sorted(bounds):
            raise ValueError("Buckets not in sorted order")
        if bounds and bounds[-1] != INF:
            bounds.append(INF)
        if len(bounds) < 2:
            raise ValueError("Must have at least two buckets")
        finite = bounds[:-1]
        if any(b - b != 0.0 for b in finite) or len(set(finite)) != len(finite):
            raise ValueError(
                f"Bucket bounds must be finite and distinct (+Inf last), not {bounds!r}"
            )
        self._upper_bounds = bounds
        self._le = tuple([floatToGoString(b) for b in bounds])

    def _metric_init(self) -> None:
        bounds = self._upper_bounds[:-1]
        shared = multiprocess.shared_series("histogram", self, buckets=bounds)
        self._hist = AtomicHistogram(bounds) if shared is None else shared._cell
        self._exemplars: list[Exemplar | None] = [None] * len(self._upper_bounds)
        self._created = time.time()
        self._bucket_ltexts: tuple[str, ...] | None = None  # read side, made on first scrape
        if type(self).observe is Histogram.observe:
            # observe() without an amount goes to _observe, which raises TypeError.
            noarg = cast("Callable[[], None]", self._observe)
            self.__dict__["observe"] = _DefaultCall(noarg, self._observe, self._hist.observe)

    def observe(self, amount: float, exemplar: dict[str, str] | None = None) -> None:
        """Count ``amount``; keep ``exemplar`` as its bucket's latest."""
        self._observe(amount, exemplar)

    def _observe(self, amount: Any, exemplar: dict[str, str] | None = None) -> None:
        self._raise_if_not_observable()
        if exemplar:
            _validate_exemplar(exemplar)
        value = amount if type(amount) is float else _amount(amount)
        if value != value:
            raise ValueError("Histogram.observe: NaN cannot be placed in a bucket")
        self._hist.observe(value)
        if exemplar:
            index = bisect.bisect_left(self._upper_bounds, value)
            self._exemplars[index] = Exemplar(exemplar, amount, time.time())

    def time(self) -> Timer:
        """A context manager and decorator that observes the block's seconds."""
        return Timer(self, "observe")

    def _child_samples(self) -> Iterable[Sample]:
        _, buckets, _, total = self._hist._snapshot()  # one consistent reading
        samples = []
        acc = 0.0
        for le, count, exemplar in zip(self._le, buckets, self._exemplars, strict=True):
            acc += count
            samples.append(Sample("_bucket", {"le": le}, acc, None, exemplar))
        samples.append(Sample("_count", {}, acc, None, None))
        if self._upper_bounds[0] >= 0:
            samples.append(Sample("_sum", {}, total, None, None))
        if _use_created:
            samples.append(Sample("_created", {}, self._created, None, None))
        return tuple(samples)

    def _bucket_texts(self) -> tuple[str, ...]:
        texts = self._bucket_ltexts
        if texts is None:
            pairs = list(zip(self._labelnames, self._labelvalues, strict=True))
            texts = tuple([label_text([*pairs, ("le", le)]) for le in self._le])
            self._bucket_ltexts = texts
        return texts

    def _render(self, out: list[str], openmetrics: bool) -> None:
        name = self._name
        fmt = floatToGoString
        created = _use_created
        with_sum = self._upper_bounds[0] >= 0
        self._header(out, name, "histogram", openmetrics)
        bucket = name + "_bucket"
        later: list[str] = []
        for child in self._series():
            lt = child._ltext
            _, buckets, _, total = child._hist._snapshot()  # one consistent reading
            acc = 0
            exemplars = child._exemplars
            for i, (text, count) in enumerate(zip(child._bucket_texts(), buckets, strict=True)):
                acc += count
                ex = exemplars[i]
                if ex is not None and openmetrics:
                    out.append(f"{bucket}{text} {fmt(acc)}{exemplar_text(ex, fmt(ex.value))}\n")
                else:
                    out.append(f"{bucket}{text} {fmt(acc)}\n")
            out.append(f"{name}_count{lt} {fmt(acc)}\n")
            if with_sum:
                out.append(f"{name}_sum{lt} {fmt(total)}\n")
            if created:
                stamp = f"{name}_created{lt} {fmt(child._created)}\n"
                (out if openmetrics else later).append(stamp)
        _created_section(out, self, later, openmetrics)


class Info(MetricWrapperBase):
    """An info metric: a set of label pairs exposed as ``<name>_info 1``.

    ``info(dict)`` replaces the pairs; ``ValueError`` when one of them
    overlaps the label names or has a ``None`` value. Not usable in
    multi-process mode (as upstream). Thread-safe (a lock).
    """

    _type = "info"

    def _metric_init(self) -> None:
        self._labelname_set = set(self._labelnames)
        self._lock = threading.Lock()
        self._value: dict[str, str] = {}

    def info(self, val: dict[str, str]) -> None:
        """Set the info pairs."""
        if self._labelname_set.intersection(val.keys()):
            raise ValueError(
                f"Overlapping labels for Info metric, metric: {self._labelnames} child: {val}"
            )
        if any(v is None for v in val.values()):
            raise ValueError("Label value cannot be None")
        with self._lock:
            self._value = dict(val)

    def _child_samples(self) -> Iterable[Sample]:
        with self._lock:
            return (Sample("_info", self._value, 1.0, None, None),)


class Enum(MetricWrapperBase):
    """An enum (OpenMetrics state set): which one of ``states`` is current.

    The first state is current at creation; ``state(s)`` switches
    (``ValueError`` for an unknown state). ``states`` must be non-empty and
    the metric name must not be one of the label names (``ValueError``).
    Thread-safe (a lock).
    """

    _type = "stateset"

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str] = (),
        namespace: str = "",
        subsystem: str = "",
        unit: str = "",
        registry: CollectorRegistry | None = REGISTRY,
        _labelvalues: Sequence[str] | None = None,
        states: Sequence[str] | None = None,
    ) -> None:
        if name in labelnames:
            raise ValueError(f"Overlapping labels for Enum metric: {name}")
        if not states:
            raise ValueError(f"No states provided for Enum metric: {name}")
        self._states = states
        super().__init__(
            name, documentation, labelnames, namespace, subsystem, unit, registry, _labelvalues
        )
        self._kwargs["states"] = states

    def _metric_init(self) -> None:
        self._value = 0
        self._lock = threading.Lock()

    def state(self, state: str) -> None:
        """Make ``state`` the current one."""
        self._raise_if_not_observable()
        with self._lock:
            self._value = self._states.index(state)

    def _child_samples(self) -> Iterable[Sample]:
        with self._lock:
            current = self._value
        return [
            Sample("", {self._name: s}, 1 if i == current else 0, None, None)
            for i, s in enumerate(self._states)
        ]
