"""_core._FastLookup and _core._DefaultCall: the registry's call shortcuts in C."""

from __future__ import annotations

import gc
import sys
import weakref
from typing import Any

import pytest

from atomicmetrics import AtomicCounter, AtomicHistogram
from atomicmetrics._core import _DefaultCall, _FastLookup
from tests.helpers import THREADS, run_threads


def fallback(*args: object, **kwargs: object) -> tuple[str, tuple[object, ...], dict[str, object]]:
    return ("fallback", args, kwargs)


class Shouty(str):
    pass


def test_fast_lookup_hits_only_exact_str_keys() -> None:
    table: dict[Any, Any] = {"a": 1, ("a", "b"): 2, (): 0}
    f = _FastLookup(table, fallback)
    assert f("a") == 1  # one argument: the str itself is the key
    assert f("a", "b") == 2  # several: their tuple
    assert f() == 0
    assert f("z") == ("fallback", ("z",), {})
    assert f(Shouty("a")) == ("fallback", (Shouty("a"),), {})  # equal, but not exact str
    assert f(1) == ("fallback", (1,), {})
    assert f("a", 2) == ("fallback", ("a", 2), {})
    assert f(x="a") == ("fallback", (), {"x": "a"})
    assert f("a", x="b") == ("fallback", ("a",), {"x": "b"})
    table["z"] = 26  # the table is read live, never copied
    assert f("z") == 26


def test_default_call_dispatches_on_arguments() -> None:
    calls: list[str] = []
    d = _DefaultCall(lambda: calls.append("noarg"), fallback)
    assert d() is None
    assert calls == ["noarg"]
    assert d(1) == ("fallback", (1,), {})
    assert d(amount=2) == ("fallback", (), {"amount": 2})


def test_default_call_direct_c_method_path() -> None:
    c = AtomicCounter(2**63 - 2)
    d = _DefaultCall(c.inc, fallback)
    d()
    assert c.load() == 2**63 - 1
    with pytest.raises(OverflowError):  # errors of the direct call propagate
        d()
    assert c.load() == 2**63 - 1


def test_default_call_one_argument_path() -> None:
    h = AtomicHistogram([1.0])
    d = _DefaultCall(fallback, fallback, h.observe)  # METH_O: the direct path
    assert d(0.5) is None
    assert d(2) is None
    assert h.bucket_counts() == [1, 1]
    # The cell refuses NaN and text without changing anything: the fallback answers.
    nan = float("nan")
    assert d(nan) == ("fallback", (nan,), {})  # the same object: tuples compare it by identity
    assert d("x") == ("fallback", ("x",), {})
    assert h.count() == 2
    assert d(1, 2) == ("fallback", (1, 2), {})
    assert d(x=1) == ("fallback", (), {"x": 1})
    seen: list[object] = []
    py_one = _DefaultCall(fallback, fallback, seen.append)  # not a builtin: the general call
    assert py_one(3) is None
    assert seen == [3]


def test_default_call_one_does_not_swallow_base_exceptions() -> None:
    def interrupted(x: object) -> None:
        raise KeyboardInterrupt

    d = _DefaultCall(fallback, fallback, interrupted)
    with pytest.raises(KeyboardInterrupt):
        d(1)


@pytest.mark.parametrize(
    ("cls", "args"),
    [
        (_FastLookup, ({}, 5)),
        (_FastLookup, ([], fallback)),
        (_FastLookup, ({},)),
        (_DefaultCall, (5, fallback)),
        (_DefaultCall, (fallback, 5)),
        (_DefaultCall, (fallback,)),
        (_DefaultCall, (fallback, fallback, 5)),
    ],
)
def test_constructor_type_errors(cls: Any, args: tuple[object, ...]) -> None:
    with pytest.raises(TypeError):
        cls(*args)


def test_no_reference_leaks() -> None:
    key, value = "leak-key", object()
    table = {key: value}
    f = _FastLookup(table, fallback)
    d = _DefaultCall(AtomicCounter().inc, fallback)
    one = _DefaultCall(fallback, fallback, AtomicHistogram([1.0]).observe)
    before = (sys.getrefcount(key), sys.getrefcount(value), sys.getrefcount(fallback))
    for _ in range(1000):
        f(key)
        f(key, key)
        f("missing")
        f(1)
        d()
        d(1)
        one(0.5)
        one("x")
        one(value)
    assert (sys.getrefcount(key), sys.getrefcount(value), sys.getrefcount(fallback)) == before


def test_cycles_through_the_fallback_are_collected() -> None:
    class Owner:
        def me(self, *args: object) -> Owner:
            return self

    owner = Owner()  # owner -> callable -> bound method -> owner
    owner.lookup = _FastLookup({}, owner.me)  # type: ignore[attr-defined]
    owner.call = _DefaultCall(owner.me, owner.me, owner.me)  # type: ignore[attr-defined]
    ref = weakref.ref(owner)
    del owner
    gc.collect()
    assert ref() is None


def test_lookup_on_threads_sees_published_values() -> None:
    table: dict[Any, Any] = {}
    f = _FastLookup(table, lambda *a: None)

    def work(i: int) -> int:
        hits = 0
        for j in range(2_000):
            table[f"{i}-{j}"] = j
            hits += f(f"{i}-{j}") == j
        return hits

    assert run_threads(THREADS, work) == [2_000] * THREADS
