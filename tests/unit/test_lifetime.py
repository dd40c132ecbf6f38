"""Process-lifetime objects (atomicmetrics._lifetime, csrc/lifetime.c).

On free-threaded builds a registry pins each family, child and the objects
on their recording paths when it creates them, so that threads loading them
do not fight over their reference counts: immortal on 3.13t, within a
per-process budget. Checked: what is pinned and what is not, that the
budget bounds the memory of a program creating objects in a loop, and the
configuration. Budget tests run in a subprocess (the budget is per process).
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import textwrap
import threading
from collections.abc import Iterator

import pytest

from atomicmetrics import Registry, _core, _lifetime

FREE_THREADED = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
IMMORTAL = _lifetime.MODE == "immortal"
needs_immortal = pytest.mark.skipif(not IMMORTAL, reason="needs free-threaded CPython 3.13")


@pytest.fixture
def room() -> Iterator[None]:
    """Budget left for this test's pins (earlier tests may have spent it)."""
    used, limit = _lifetime.budget()
    _lifetime.budget(used + 1000)
    yield
    _lifetime.budget(limit)


def _immortal(obj: object) -> bool:
    return sys.getrefcount(obj) >= 2**32 - 1


def _run(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_mode_matches_the_build() -> None:
    if not FREE_THREADED:
        assert _lifetime.MODE == "none"
        assert _lifetime.pin(object()) == 0
    elif sys.version_info < (3, 14):
        assert _lifetime.MODE == "immortal"
    else:
        assert _lifetime.MODE == "deferred"
    assert _core.PIN_MODE == _lifetime.MODE


@needs_immortal
@pytest.mark.usefixtures("room")
def test_a_family_its_children_and_their_recording_paths_are_pinned() -> None:
    reg = Registry()
    requests = reg.counter("requests", "R.")
    hits = reg.counter("hits", "H.", ["method"])
    hist = reg.histogram("latency_seconds", "L.")
    rule = reg.rule_execution("rule", "A rule.")
    child = hits.labels("GET")
    only = requests.labels()
    for obj in (
        requests,
        vars(requests),
        requests.inc,
        requests.labels,
        only,
        hits,
        child,
        hist,
        hist.observe,
        rule,
        rule.record,
        rule.time,
        rule.labels(),
    ):
        assert _immortal(obj), obj
    # A counter child records through its type's method and reaches its
    # cells by C pointers: no per-child object on the path to pin.
    assert type(child).__dict__["inc"].__objclass__ is type(child)


@needs_immortal
@pytest.mark.usefixtures("room")
def test_objects_of_another_thread_or_already_shared_are_not_pinned() -> None:
    made: list[object] = []
    t = threading.Thread(target=lambda: made.append(_core._IntAdder()))
    t.start()
    t.join()
    assert _lifetime.pin(made[0]) == 0  # this thread does not own it
    assert not _immortal(made[0])


def test_bad_budget_values() -> None:
    with pytest.raises(ValueError, match="limit"):
        _lifetime.budget(-1)
    with pytest.raises(TypeError):
        _lifetime.budget("10")  # type: ignore[arg-type]
    used, limit = _lifetime.budget()
    assert 0 <= used <= max(limit, used)


def test_budget_from_the_environment() -> None:
    out = _run(
        "from atomicmetrics import _lifetime; print(*_lifetime.budget())",
        ATOMICMETRICS_IMMORTAL_BUDGET="123",
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[1] == "123"
    bad = _run("import atomicmetrics", ATOMICMETRICS_IMMORTAL_BUDGET="lots")
    assert bad.returncode != 0
    assert "ATOMICMETRICS_IMMORTAL_BUDGET" in bad.stderr
    assert "ValueError" in bad.stderr


@pytest.mark.parametrize("budget", ["300", "0"])
def test_objects_created_in_a_loop_keep_memory_bounded(budget: str) -> None:
    # Label children created and removed, and whole registries created and
    # dropped, in a loop: past the budget nothing more is pinned, so memory
    # stops growing (without the budget: ~0.5 KB per child, kept forever).
    code = """
        import gc, tracemalloc
        from atomicmetrics import Registry, _lifetime
        fam = Registry().counter("c", "", ["k"])
        def churn(n):
            for i in range(n):
                fam.labels(str(i)).inc()
                fam.remove(str(i))
                Registry().counter("r", "").inc()
        churn(2000)  # spends the budget
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        churn(20000)
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
        used, limit = _lifetime.budget()
        print(grown, used, limit)
    """
    out = _run(code, ATOMICMETRICS_IMMORTAL_BUDGET=budget)
    assert out.returncode == 0, out.stderr
    grown, used, limit = map(int, out.stdout.split())
    assert used <= limit == int(budget)
    assert grown < 200_000, grown  # 20,000 children and registries: no per-item growth


@pytest.mark.usefixtures("room")
def test_process_lifetime_returns_the_object_and_pins_where_it_can() -> None:
    from atomicmetrics import StripedCounter, process_lifetime

    c = StripedCounter()
    assert process_lifetime(c) is c
    assert _immortal(c) == IMMORTAL
    c.inc()
    assert c.load() == 1


@needs_immortal
def test_past_the_budget_objects_stay_mortal() -> None:
    used, limit = _lifetime.budget()
    _lifetime.budget(used)  # spent
    try:
        fam = Registry().counter("c", "", ["k"])
        assert not _immortal(fam)
        assert not _immortal(fam.labels("x"))
        assert _lifetime.budget()[0] == used
    finally:
        _lifetime.budget(limit)
