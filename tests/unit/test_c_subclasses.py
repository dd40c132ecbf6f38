"""The thin Python subclasses of the C cells, and what the C types give them.

``AtomicHistogram``, ``RuleExecutionMetric``, ``ThroughputMetric`` and
``NullRecorder`` are Python subclasses of C types. Each gets its own method
descriptors of the C methods at class creation (``__init_subclass__``, see
``csrc/module.h``), so that ``obj.method(x)`` keeps CPython's specialized
call of a C method, which requires the descriptor's exact type.
"""

from __future__ import annotations

import inspect
import pickle
import types
from typing import Any

import pytest

from atomicmetrics import (
    AtomicHistogram,
    AtomicNativeHistogram,
    HistogramSnapshot,
    NullRecorder,
    RuleExecutionMetric,
    RuleExecutionSnapshot,
    ThroughputMetric,
    _core,
)

SUBCLASSES: list[tuple[type[Any], type[Any]]] = [
    (AtomicHistogram, _core.AtomicHistogram),
    (AtomicNativeHistogram, _core.AtomicNativeHistogram),
    (RuleExecutionMetric, _core.RuleExecutionMetric),
    (ThroughputMetric, _core.ThroughputCell),
    (NullRecorder, _core.NullSink),
]


def _instance_methods(base: type[Any]) -> list[str]:
    return [
        name
        for name, attr in vars(base).items()
        if isinstance(attr, types.MethodDescriptorType) and name != "__init_subclass__"
    ]


@pytest.mark.parametrize(("cls", "base"), SUBCLASSES, ids=lambda c: c.__name__)
def test_every_c_method_has_a_descriptor_of_the_subclass(cls: type[Any], base: type[Any]) -> None:
    assert issubclass(cls, base)
    assert cls.__dictoffset__ == 0  # no per-instance dict: attribute lookups stay specialized
    names = _instance_methods(base)
    assert names
    for name in names:
        descr = vars(cls)[name]
        assert isinstance(descr, types.MethodDescriptorType), name
        assert descr.__objclass__ is cls, name
        assert descr.__doc__ == vars(base)[name].__doc__, name


def test_an_override_is_kept_and_the_rest_rebound() -> None:
    class Tracing(AtomicHistogram):
        __slots__ = ()

        def observe(self, x: float, /) -> None:
            super().observe(x * 2)

    class Deeper(Tracing):
        __slots__ = ()

    for cls in (Tracing, Deeper):
        h = cls([1.0, 10.0])
        h.observe(1.0)  # the override doubles it
        assert h.bucket_counts() == [0, 1, 0]
        assert isinstance(vars(Tracing)["observe"], types.FunctionType)
        assert "observe" not in vars(Deeper)  # still Tracing's, never the C one
        assert vars(cls)["count"].__objclass__ is cls
        assert isinstance(h.snapshot(), HistogramSnapshot)


def test_a_descriptor_refuses_an_instance_of_another_class() -> None:
    with pytest.raises(TypeError):
        AtomicHistogram.observe(_core.AtomicHistogram([1.0]), 1.0)


def test_init_subclass_takes_no_arguments() -> None:
    with pytest.raises(TypeError, match="takes no arguments"):
        types.new_class("Bad", (AtomicHistogram,), {"kw": 1})


def test_public_classes_keep_their_contract() -> None:
    h = AtomicHistogram([1.0, 2.0])
    r = RuleExecutionMetric()
    assert str(inspect.signature(AtomicHistogram)) == "(bounds)"
    assert list(inspect.signature(RuleExecutionMetric).parameters) == ["buckets"]
    assert str(inspect.signature(AtomicHistogram.observe)) == "(self, x, /)"
    assert (
        str(inspect.signature(RuleExecutionMetric.record)) == "(self, /, duration_ns, error=False)"
    )
    view = memoryview(bytearray(4096))
    assert type(AtomicHistogram._from_buffer(view, 0, [1.0])) is AtomicHistogram
    assert type(RuleExecutionMetric._from_buffer(view, 512, [1.0])) is RuleExecutionMetric
    for obj in (h, r):
        with pytest.raises(TypeError, match="cannot pickle"):
            pickle.dumps(obj)
        with pytest.raises(AttributeError):
            obj.anything = 1
    assert isinstance(r.snapshot(), RuleExecutionSnapshot)
    assert h._snapshot() == ((1.0, 2.0), [0, 0, 0], 0, 0.0)
    assert r._snapshot() == (0, 0, 0, 0.0, None, None, 0.0, [0] * 9)
