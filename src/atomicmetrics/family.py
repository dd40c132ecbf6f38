"""Metric families: one name, one help text, fixed label names, one child per label set.

A family hands out *children* (the objects that record) with ``labels()``:

* ``labels(*values)`` or ``labels(**kv)`` returns the child for those values,
  each converted with ``str``; a wrong number of values, names that are
  not exactly the label names, or a value that is not valid UTF-8 (a lone
  surrogate) raise ``ValueError``.
* A child is created once. Looking up an existing child takes no lock: when
  every value is an exact ``str``, ``labels`` is a C callable
  (``_core._FastLookup``) that reads the children dict with the tuple of the
  values, no Python frame at all; other values (ints, ``str`` subclasses,
  keywords) go through ``Family.labels`` in Python, which converts them with
  ``str`` and reads the same dict. A ``dict`` read is atomic under the GIL and
  on free-threaded CPython. Creation takes the family's lock and checks the
  dict again under it, so concurrent first calls for one label set agree on a
  single child; a child is fully built before it is published in the dict, and
  the dict object is never replaced (``clear`` empties it). The lock is
  reentrant, so a signal handler or a GC finalizer that interrupts a creation
  on the same thread may create children itself (docs/reliability.md).
* ``max_series`` bounds the number of children. Past it, ``labels()`` for a
  new label set raises ``CardinalityError`` (a ``ValueError`` subclass, so
  code that catches label errors catches it too) or, with
  ``on_overflow="collapse"``, returns one shared child whose label values are
  all ``"__overflow__"``. That overflow child does not count against
  ``max_series``: a collapsing family exposes at most ``max_series + 1``
  series. (A child asked for by name with all values ``"__overflow__"``
  while there was room becomes that shared child when the family first
  collapses.) Removing children makes room again. A storage may apply the
  limit more widely (a multi-process registry counts the label sets of every
  process) by refusing a new child with ``CardinalityError``; the family
  then raises it or collapses the same way.
* ``remove(*values)`` forgets a child (absent ones are ignored) and
  ``clear()`` forgets all; a thread still holding a removed child keeps
  recording into it, but it is no longer exposed.
* A family without label names has exactly one child, created with the
  family; the family records directly (``family.inc()``): its recording
  methods are that child's own bound methods, so the call costs what the
  child's costs. ``labels()`` with no values returns that child; ``remove``
  raises ``ValueError`` and ``clear`` does nothing on such a family.
* Free-threaded builds: a family, its children and the objects on their
  recording paths (``labels``, the proxied methods, each child's cells and
  bound methods) are *pinned* (``atomicmetrics._lifetime``: immortal on
  3.13t within a per-process budget) when they are created, before any other
  thread can see them, so that threads recording through one module-level
  family do not fight over its reference counts. A removed child that was
  pinned is never freed; the budget bounds how many there can be
  (docs/freethreading.md).

Families are collectors: ``collect()`` yields the ``MetricFamily`` objects
the family is exposed as, reading one consistent snapshot per child. Reading
takes no lock that recording could wait on.

Counter, gauge and histogram families are ``RenderedFamily``: their children
are the C types ``Counter``, ``Gauge`` and ``Histogram``, one small object
per child that keeps its cells and its label text, rendered once when the
child is made. The text formats write such a family in C without building a
``Sample`` (``atomicmetrics.rendering``), and its ``collect()`` builds the
samples in C. Composite families (rule execution, throughput) hold the C
metrics themselves and are collected in Python, their label texts kept from
one scrape to the next by ``LabelTexts``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MethodType
from typing import Any, ClassVar, Generic, Literal, TypeVar, cast

from atomicmetrics import _fork
from atomicmetrics._core import _FastLookup, _samples
from atomicmetrics._lifetime import pin
from atomicmetrics.exemplars import ExemplarSlots
from atomicmetrics.formatting import render_labels
from atomicmetrics.names import validate_text
from atomicmetrics.samples import Exemplar, LabelPairs, MetricFamily, MetricType, Sample
from atomicmetrics.storage import CellKey, CellStorage

__all__ = [
    "OVERFLOW_LABEL_VALUE",
    "CardinalityError",
    "Family",
    "FamilySpec",
    "LabelTexts",
    "OnOverflow",
    "RenderedFamily",
]

ChildT = TypeVar("ChildT")
OnOverflow = Literal["raise", "collapse"]
OVERFLOW_LABEL_VALUE = "__overflow__"


class CardinalityError(ValueError):
    """``labels()`` was asked for a new label set past the family's ``max_series``.

    A ``ValueError`` subclass: catching ``ValueError`` around ``labels()``
    catches every label error, this one included.
    """


# A label set's rendered texts (its own, then each bucket's) and its buckets'
# label pairs: one LabelTexts entry.
Rendered = tuple[tuple[str, ...], tuple[LabelPairs, ...]]


class LabelTexts:
    """The rendered label text of each label set of one scrape, reused by the next
    (for the composite families, whose children keep no text).

    ``texts(labels, le)`` returns ``render_labels(labels)`` followed by the
    text of ``labels + (("le", b),)`` for each ``b`` of ``le`` -- what the
    samples carry as ``Sample.rendered_labels`` -- taken from the previous
    scrape's when it had that label set, so a steady family renders each
    label set once in its life. ``fresh`` holds only this scrape's label
    sets; the family keeps it for the next one (removed children drop out).
    ``rendered(labels, le)`` also returns each bucket's label pairs
    (``labels + (("le", b),)``), kept the same way, so histograms do not
    rebuild them at every scrape either (benchmarks/bench_exposition.py).
    Read side only: concurrent scrapes each fill their own, the last kept wins.
    """

    __slots__ = ("_previous", "fresh")

    def __init__(self, previous: dict[LabelPairs, Rendered]) -> None:
        self._previous = previous
        self.fresh: dict[LabelPairs, Rendered] = {}

    def texts(self, labels: LabelPairs, le: tuple[str, ...] = ()) -> tuple[str, ...]:
        """``(text of labels, text of labels + le=b for each b in le)``."""
        return self.rendered(labels, le)[0]

    def text(self, labels: LabelPairs) -> str:
        """``texts(labels)[0]`` in one call: the hot path of counters and gauges."""
        found = self._previous.get(labels)
        if found is None or found[1]:
            found = ((render_labels(labels),), ())
        self.fresh[labels] = found
        return found[0][0]

    def rendered(self, labels: LabelPairs, le: tuple[str, ...] = ()) -> Rendered:
        """``texts(labels, le)`` and the label pairs of each bucket."""
        found = self._previous.get(labels)
        if found is None or len(found[1]) != len(le):
            buckets = tuple([(*labels, ("le", b)) for b in le])
            texts = (render_labels(labels), *[render_labels(p) for p in buckets])
            found = (texts, buckets)
        self.fresh[labels] = found
        return found


@dataclass(frozen=True)
class FamilySpec:
    """What every family is made of, whatever its type (the registry builds it).

    ``name``, ``help`` and ``labelnames`` are validated by the registry;
    ``storage`` makes the cells of every child; ``max_series`` and
    ``on_overflow`` bound the children (see the module docstring). A family
    type's own settings (buckets, window, mode) are keyword arguments of its
    constructor, after the spec.
    """

    name: str
    help: str
    labelnames: tuple[str, ...]
    storage: CellStorage
    max_series: int | None = None
    on_overflow: OnOverflow = "raise"


class Family(Generic[ChildT]):
    """Base of the families a ``Registry`` makes; see the module docstring.

    Subclasses set ``_proxied`` (the child methods an unlabelled family
    exposes as its own) and implement ``_new_child`` and ``_collect``.
    Thread-safe; ``labels()`` on an existing child takes no lock.

    Instances have a ``__dict__`` on purpose: ``labels`` is replaced there by
    the C fast path, and an unlabelled family stores its child's bound
    methods there, which shadow the class's delegating methods.
    """

    _proxied: ClassVar[tuple[str, ...]] = ()

    name: str
    help: str
    labelnames: tuple[str, ...]

    def __init__(self, spec: FamilySpec) -> None:
        labelnames = spec.labelnames
        self.name = spec.name
        self.help = spec.help
        self.labelnames = labelnames
        self._storage = spec.storage  # immutable
        self._max_series = spec.max_series  # immutable
        self._on_overflow = spec.on_overflow  # immutable
        # Read without a lock (one dict read on the fast path); written only
        # under _lock, always with a fully built child; never replaced. Keyed
        # by _dict_key(values): the value itself in a one-label family (what
        # _FastLookup looks up without building a tuple), else the tuple.
        self._single = len(labelnames) == 1  # immutable
        self._children: dict[str | tuple[str, ...], ChildT] = {}
        # The collapse child, also stored in _children; set and cleared under _lock.
        self._overflow: ChildT | None = None
        # Guards creation and removal of children. Reentrant: a signal handler
        # or a GC finalizer may ask for a new child on the thread that holds
        # it, in the middle of a creation (a Lock would wait for itself
        # forever; tests/stress/test_reentrancy.py). A creation that was
        # re-entered sees _generation moved and checks again before it
        # publishes anything.
        # Renewed in a fork child (_fork); the storage's own lock if it has one.
        self._lock = spec.storage.creation_lock() or threading.RLock()
        self._generation = 0  # guarded by _lock: bumped on every insert and removal
        self._only: ChildT | None = None  # the child of an unlabelled family
        # Read side of the composite families: rendered label texts of the
        # last scrape (see LabelTexts) and each child's label pairs as of the
        # last scrape, keyed as _children; each replaced by every scrape,
        # never mutated.
        self._texts: dict[LabelPairs, Rendered] = {}
        self._pairs: dict[str | tuple[str, ...], LabelPairs] = {}
        _fork.register(self)
        # labels() with only exact-str values: one C call, one dict read.
        fast = _FastLookup(self._children, MethodType(Family.labels, self))
        self.__dict__["labels"] = fast
        proxied: list[object] = []
        if not labelnames:
            child = self._new_child(())
            self._only = child
            self._children[()] = child
            for attr in self._proxied:
                proxied.append(getattr(child, attr))
                self.__dict__[attr] = proxied[-1]
            proxied += self._child_parts(child)
        # Not published yet (the registry publishes the family after this):
        # every thread that records through it will load these.
        pin(self, self.__dict__, fast, *proxied)

    # ---- children ----------------------------------------------------------

    def labels(self, *values: object, **kv: object) -> ChildT:
        """Return the child for these label values (see the module docstring).

        Raises ``ValueError`` for a wrong number or wrong names of labels,
        ``CardinalityError`` past ``max_series``. Cost of an existing child
        when every value is a ``str``: one C call (``_FastLookup``: one dict
        read), no lock; other values take this Python method,
        which converts them with ``str`` and reads the dict, still lock-free.
        """
        return self._child_for(self._key(values, kv, "labels"))

    def remove(self, *values: object, **kv: object) -> None:
        """Forget the child for these label values; absent ones are ignored.

        Raises ``ValueError`` for a wrong number or names of labels, or on a
        family without labels.
        """
        if not self.labelnames:
            raise ValueError(f"{self.name}: remove() on a family without labels")
        labelvalues = self._key(values, kv, "remove")
        key = self._dict_key(labelvalues)
        with self._lock:
            child = self._children.pop(key, None)
            if child is not None and child is self._overflow:
                self._overflow = None
            self._generation += 1
            self._storage.forget(self.name, labelvalues)

    def clear(self) -> None:
        """Forget every child (does nothing on a family without labels)."""
        if not self.labelnames:
            return
        with self._lock:
            self._children.clear()  # the same dict: _FastLookup holds it
            self._overflow = None
            self._generation += 1
            self._storage.forget(self.name, None)

    def _key(
        self, values: tuple[object, ...], kv: Mapping[str, object], op: str
    ) -> tuple[str, ...]:
        names = self.labelnames
        if kv:
            if values:
                raise ValueError(
                    f"{self.name}: {op}() takes label values by position or by name, not both"
                )
            if len(kv) != len(names) or not all(n in kv for n in names):
                raise ValueError(
                    f"{self.name}: {op}() needs the labels {list(names)}, got {sorted(kv)}"
                )
            return tuple([str(kv[n]) for n in names])
        if len(values) != len(names):
            raise ValueError(
                f"{self.name}: {op}() needs {len(names)} label values {list(names)}, "
                f"got {len(values)}"
            )
        return tuple([str(v) for v in values])

    def _dict_key(self, values: tuple[str, ...]) -> str | tuple[str, ...]:
        return values[0] if self._single else values

    def _values_of(self, key: str | tuple[str, ...]) -> tuple[str, ...]:
        """The label values of a key of ``_children`` (inverse of ``_dict_key``)."""
        return (cast(str, key),) if self._single else cast("tuple[str, ...]", key)

    def _child_for(self, values: tuple[str, ...]) -> ChildT:
        key = self._dict_key(values)
        child = self._children.get(key)
        if child is not None:
            return child
        overflow = self._overflow
        if overflow is not None and self._full():  # collapsed keys stay lock-free
            return overflow
        for value in values:  # only for a child not made yet: never on the fast path
            validate_text(value, f"{self.name}: label value")
        with self._lock:
            while True:
                child = self._children.get(key)
                if child is not None:
                    return child
                if self._full():
                    return self._overflow_child()
                generation = self._generation
                # May run a signal handler or a GC finalizer on this thread that
                # creates or removes children itself (the lock is reentrant).
                try:
                    child = self._new_child(values)
                except CardinalityError:
                    # The storage's own limit (the multi-process arena counts
                    # every process's label sets): as for this family's.
                    if self._on_overflow == "raise":
                        raise
                    return self._overflow_child()
                pin(*self._child_parts(child))  # not published yet: see the module docstring
                # The commit: no call and no allocation of a tracked object
                # between the check and the store, so nothing re-enters there.
                if self._generation == generation:
                    self._children[key] = child
                    self._generation = generation + 1
                    return child
                # A reentrant call changed the children: check again; this
                # child was never published and is dropped.

    def _full(self) -> bool:
        limit = self._max_series
        if limit is None:
            return False
        return len(self._children) - (self._overflow is not None) >= limit

    def _overflow_child(self) -> ChildT:
        """Called under _lock once the family is full."""
        if self._on_overflow == "raise":
            raise CardinalityError(
                f"{self.name}: more than max_series={self._max_series} label sets"
            )
        while True:
            child = self._overflow
            if child is not None:
                return child
            values = (OVERFLOW_LABEL_VALUE,) * len(self.labelnames)
            key = self._dict_key(values)
            child = self._children.get(key)  # asked for by name while there was room?
            if child is not None:
                self._overflow = child
                return child
            generation = self._generation
            child = self._new_child(values)  # may re-enter, as in _child_for
            pin(*self._child_parts(child))
            if self._generation == generation:
                self._children[key] = child
                self._overflow = child
                self._generation = generation + 1
                return child

    def _after_fork_in_child(self) -> None:
        """In a fork child: the parent thread that held ``_lock`` is gone."""
        self._lock = self._storage.creation_lock() or threading.RLock()

    def _discard(self, labelvalues: tuple[str, ...]) -> None:
        """Forget the child of ``labelvalues`` here only, without telling the
        storage: the multi-process registry calls it when another process
        removed that label set, so that ``labels()`` makes it afresh."""
        with self._lock:
            child = self._children.pop(self._dict_key(labelvalues), None)
            if child is not None:
                if child is self._overflow:
                    self._overflow = None
                self._generation += 1

    def _only_child(self) -> ChildT:
        """The child of an unlabelled family; ValueError on a labelled one."""
        if self._only is None:
            raise ValueError(
                f"{self.name} has labels {list(self.labelnames)}: record through labels(...)"
            )
        return self._only

    def _cell_key(self, labelvalues: tuple[str, ...], role: str) -> CellKey:
        return CellKey(self.name, labelvalues, role)

    # ---- reading -----------------------------------------------------------

    def collect(self) -> Iterator[MetricFamily]:
        """Yield the exposed families: one snapshot per child, taken once.

        Copies the children dict (atomic on both GIL and free-threaded
        CPython) and never takes the family lock.
        """
        names = self.labelnames
        children = self._children.copy()
        previous = self._pairs
        fresh: dict[str | tuple[str, ...], LabelPairs] = {}
        items: list[tuple[LabelPairs, ChildT]] = []
        for key, child in children.items():
            pairs = previous.get(key)
            if pairs is None:
                pairs = tuple(zip(names, self._values_of(key), strict=True))
            fresh[key] = pairs
            items.append((pairs, child))
        self._pairs = fresh  # removed children drop out
        return self._collect(items)

    def _label_texts(self) -> LabelTexts:
        """A ``LabelTexts`` for one scrape, seeded with the last scrape's texts."""
        return LabelTexts(self._texts)

    def _keep_texts(self, texts: LabelTexts) -> None:
        """Keep a finished scrape's texts for the next one."""
        self._texts = texts.fresh

    def _part(
        self, suffix: str, kind: MetricType, what: str, samples: list[Sample]
    ) -> MetricFamily:
        """One exposed family of a composite family: ``<name><suffix>``, its help
        the family's help with ``what`` in parentheses (``what`` alone without one)."""
        help = f"{self.help} ({what})" if self.help else what
        return MetricFamily(self.name + suffix, kind, help, tuple(samples))

    def _new_child(self, labelvalues: tuple[str, ...]) -> ChildT:
        raise NotImplementedError

    def _child_parts(self, child: ChildT) -> tuple[object, ...]:
        """``child`` and the objects its recording path loads: what a new
        child pins. The child itself: every child is a C object (a C metric,
        or a ``Counter``/``Gauge``/``Histogram`` that reaches its cells through
        C pointers, taking no reference on the recording path)."""
        return (child,)

    def _collect(self, items: list[tuple[LabelPairs, ChildT]]) -> Iterator[MetricFamily]:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} labels={list(self.labelnames)}>"


class RenderedFamily(Family[ChildT]):
    """A family of C children (``Counter``, ``Gauge``, ``Histogram``) that
    render themselves: see the module docstring.

    Subclasses set ``_kind`` and ``_type`` and pass their sample names to
    ``__init__``: a counter's or gauge's one sample name, or a histogram's
    ``_bucket``, ``_count`` and ``_sum`` names with its ``le`` label values.
    ``_new_child`` makes each child with ``_label_text(values)``; ``_collect``
    (the multi-process registry's entry, with readers that sum a series over
    processes instead of children) stays in Python.
    """

    _kind: ClassVar[int]  # what _core._render and _core._samples know the children by
    _type: ClassVar[MetricType]

    def __init__(
        self,
        spec: FamilySpec,
        sample_names: tuple[str, ...],
        le: tuple[str, ...] = (),
        *,
        render_name: str | None = None,
        negative_bound: bool = False,
    ) -> None:
        self._sample_names = sample_names  # immutable
        self._le = le  # immutable
        # immutable: the family part of _core._render (the children dict
        # goes between kind and name), and its flags in OpenMetrics
        self._render_name = (sample_names[0] if render_name is None else render_name).encode()
        self._render_le = tuple([b.encode() for b in le])
        self._om_flags = 1 if negative_bound else 0  # no _count/_sum: the format forbids them
        # [True] once a child recorded an exemplar (shared with the children's
        # ExemplarSlots; set once, never cleared): OpenMetrics is then written
        # in Python, from collect(), where exemplars are attached.
        self._exemplars_seen: list[bool] = [False]
        super().__init__(spec)

    def collect(self) -> Iterator[MetricFamily]:
        """Yield the exposed family: one reading per child, taken once.

        Copies the children dict under its own lock (a critical section on
        free-threaded CPython) and never takes the family lock.
        """
        samples = _samples(
            self._kind, self._children, self._sample_names, self.labelnames, self._le, Sample
        )
        yield self._with_exemplars(MetricFamily(self.name, self._type, self.help, samples))

    def _exemplar_slots(self) -> ExemplarSlots:
        """The slots a new child gets: one per bucket (``le`` value), or one."""
        return ExemplarSlots(max(1, len(self._le)), self._exemplars_seen)

    def _with_exemplars(self, family: MetricFamily) -> MetricFamily:
        """``family`` with its children's latest exemplars on their first
        sample (a counter's ``_total``, a histogram's ``_bucket``s); the
        family itself until a child recorded one."""
        if not self._exemplars_seen[0]:
            return family
        latest: dict[LabelPairs, list[Exemplar | None]] = {}
        names = self.labelnames
        for key, child in self._children.copy().items():
            slots = cast(Any, child)._exemplar_slots()  # Counter or Histogram: C children
            if slots is not None and any(e is not None for e in slots.latest):
                latest[tuple(zip(names, self._values_of(key), strict=True))] = list(slots.latest)
        if not latest:
            return family
        first = self._sample_names[0]
        bucket_of = {b: i for i, b in enumerate(self._le)}
        samples = []
        for s in family.samples:
            if s.name == first:
                if bucket_of:  # le is last on a bucket
                    ex = latest.get(s.labels[:-1])
                    i = bucket_of.get(s.labels[-1][1], -1)
                else:
                    ex, i = latest.get(s.labels), 0
                if ex is not None and i >= 0 and ex[i] is not None:
                    s = s._replace(exemplar=ex[i])
            samples.append(s)
        return MetricFamily(family.name, family.type, family.help, tuple(samples), family.native)

    def _label_text(self, labelvalues: tuple[str, ...]) -> str:
        """The label text a new child keeps: ``render_labels`` of its pairs."""
        return render_labels(tuple(zip(self.labelnames, labelvalues, strict=True)))

    def _render_part(
        self, openmetrics: bool
    ) -> tuple[int, dict[Any, Any], bytes, tuple[bytes, ...], int] | None:
        """What ``_core._render`` writes this family's sample lines from, or
        None when this family is rendered in Python (from ``collect()``):
        OpenMetrics once a child recorded an exemplar (C does not write them)."""
        if openmetrics and self._exemplars_seen[0]:
            return None
        flags = self._om_flags if openmetrics else 0
        return (self._kind, self._children, self._render_name, self._render_le, flags)
