"""MultiProcessRegistry within one process: registries on one directory share it.

Two registry objects on one directory behave like two processes for every
shared cell (the real multi-process tests are in tests/integration).
"""

from __future__ import annotations

import json
import logging
import os
import struct
from pathlib import Path

import pytest

from atomicmetrics import generate_text
from atomicmetrics.multiprocess import ArenaError, MultiProcessRegistry
from atomicmetrics.multiprocess.arena import KIND_FAMILY, KIND_SERIES, KIND_SHARD, Arena, dumps
from atomicmetrics.samples import MetricFamily


def families(reg: MultiProcessRegistry) -> dict[str, MetricFamily]:
    return {f.name: f for f in reg.collect()}


def values(reg: MultiProcessRegistry, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {s.labels: s.value for s in families(reg)[name].samples}


def test_registries_on_one_directory_share_families_and_cells(tmp_path: Path) -> None:
    a, b = MultiProcessRegistry(tmp_path), MultiProcessRegistry(tmp_path)
    a.counter("hits", "Hits.", ("path",)).labels("/x").inc(2)
    assert values(b, "hits") == {(("path", "/x"),): 2}
    fam = b.counter("hits_total", "Other help is ignored.", ("path",))
    fam.labels("/x").inc()
    fam.labels("/y").inc(0.5)
    assert values(a, "hits") == {(("path", "/x"),): 3, (("path", "/y"),): 0.5}
    assert families(a)["hits"].help == "Hits."


def test_every_family_kind_round_trips_through_the_arena(tmp_path: Path) -> None:
    a = MultiProcessRegistry(tmp_path)
    a.histogram("h", "H.", buckets=(1.0, 2.0)).observe(1.5)
    a.rule_execution("r", "R.", buckets=(10, 100)).record(50, error=True)
    a.throughput("t", "T.", window_s=4.0, resolution_s=2.0, sla_ns=5).record(3, latency_ns=9)
    a.gauge("g", "G.", multiprocess_mode="max").set(7)
    b = MultiProcessRegistry(tmp_path)
    got = families(b)
    assert {s.name: s.value for s in got["h"].samples}["h_count"] == 1
    assert got["r_executions"].samples[0].value == 1
    assert got["r_errors"].samples[0].value == 1
    assert got["t_sla_violations"].samples[0].value == 1
    assert got["g"].samples[0].value == 7
    # b mirrors a's families with a's settings: asking with others is refused.
    with pytest.raises(ValueError, match="settings"):
        b.histogram("h", "H.", buckets=(1.0, 3.0))
    assert b.histogram("h", "H.", buckets=(1.0, 2.0)).snapshot().count == 1


def test_same_name_with_other_type_or_labels_is_refused_across_registries(
    tmp_path: Path,
) -> None:
    a, b = MultiProcessRegistry(tmp_path), MultiProcessRegistry(tmp_path)
    a.counter("x", "X.", ("k",))
    with pytest.raises(ValueError, match="x"):
        b.gauge("x", "X.")
    with pytest.raises(ValueError, match="x"):
        b.counter("x", "X.", ("other",))
    a.gauge("g", "G.", multiprocess_mode="livesum")
    with pytest.raises(ValueError, match="g"):
        b.gauge("g", "G.", multiprocess_mode="max")


def test_a_family_published_concurrently_with_other_settings_is_undone(tmp_path: Path) -> None:
    """The arena's record wins when two processes race on one name."""
    a = MultiProcessRegistry(tmp_path)
    b = MultiProcessRegistry(tmp_path)
    b._index_arena()  # b has seen everything so far...
    a.counter("race", "A.")  # ...then a publishes behind b's back
    b._mirrored = len(b._arena_storage.sync())  # b did not mirror it: as if it raced
    with pytest.raises(ValueError, match="already registered in the arena"):
        b.gauge("race", "B.")
    assert "race" not in b._families
    assert a.counter("race", "A.") is not None


def test_gauge_modes_within_one_process(tmp_path: Path) -> None:
    reg = MultiProcessRegistry(tmp_path)
    fam = reg.gauge("g", "G.", ("k",))
    fam.labels("a").set(3)
    assert families(reg)["g"].samples[0].labels == (("k", "a"), ("pid", str(os.getpid())))
    recent = reg.gauge("m", "M.", multiprocess_mode="mostrecent")
    recent.set(4)
    recent.inc(2)
    assert values(reg, "m") == {(): 6}


def test_a_mirrored_gauge_does_not_count_this_process(tmp_path: Path) -> None:
    a = MultiProcessRegistry(tmp_path)
    a.gauge("g", "G.", multiprocess_mode="min").set(5)
    b = MultiProcessRegistry(tmp_path)
    assert values(b, "g") == {(): 5}  # b's own (mirror) cell is not a process value


def test_from_env_requires_the_variable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("ATOMICMETRICS_MULTIPROC_DIR", raising=False)
    with pytest.raises(ValueError, match="ATOMICMETRICS_MULTIPROC_DIR"):
        MultiProcessRegistry.from_env()
    monkeypatch.setenv("ATOMICMETRICS_MULTIPROC_DIR", str(tmp_path))
    assert MultiProcessRegistry.from_env().directory == str(tmp_path)


def test_malformed_records_are_skipped_with_a_warning_naming_the_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A scrape never raises for what it finds in the arena (foreign or corrupt
    records): it shows everything else and warns once, naming the file."""
    reg = MultiProcessRegistry(tmp_path)
    reg.counter("ok", "Fine.").inc(3)
    arena = Arena(tmp_path)
    arena.get_or_create(KIND_FAMILY, "x", json.dumps({"type": "bogus"}))
    arena.get_or_create(KIND_FAMILY, "y", "not json")
    arena.get_or_create(KIND_SERIES, "not json", "", 8)
    arena.get_or_create(KIND_SERIES, dumps(["ok", [], "value", 0, 1, 2]), "", 8)  # wrong size
    arena.get_or_create(KIND_SERIES, dumps(["g", [], "value", 0, 1, 2]), "", 16)  # no label set
    arena.get_or_create(KIND_SHARD, dumps(["ok", [], "counter", 7]), "", 16)  # no such generation
    arena.get_or_create(KIND_SERIES, dumps([1, [], "*", 0]))
    with caplog.at_level(logging.WARNING, logger="atomicmetrics.multiprocess"):
        for _ in range(3):
            assert values(reg, "ok") == {(): 3}
            assert "x" not in families(reg)
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == len(set(warnings)) >= 5  # each problem once
    assert all(str(tmp_path / "atomicmetrics-00.arena") in w for w in warnings)


def test_a_series_cell_of_another_size_raises_from_the_factory(tmp_path: Path) -> None:
    arena = Arena(tmp_path)
    arena.get_or_create(KIND_SERIES, dumps(["c", [], "*", 0]))
    arena.get_or_create(KIND_SHARD, dumps(["c", [], "counter", 0]), "", 16, lambda: bytes(16))
    arena.get_or_create(KIND_SERIES, dumps(["d", [], "*", 0]))
    fine = struct.pack("<2q", 64, 64)  # a valid shard ref, but 64 bytes of cells
    arena.get_or_create(KIND_SHARD, dumps(["d", [], "counter", 0]), "", 16, lambda: fine)
    arena.get_or_create(KIND_SERIES, dumps(["t", [], "*", 0]))
    arena.get_or_create(KIND_SERIES, dumps(["t", [], "throughput", 0]), "", 64)
    reg = MultiProcessRegistry(tmp_path)
    with pytest.raises(ArenaError, match="invalid shard reference"):
        reg.counter("c", "C.")
    with pytest.raises(ArenaError, match="64 bytes of cells, 16 expected"):
        reg.counter("d", "D.")
    with pytest.raises(ArenaError, match="64 bytes"):
        reg.throughput("t", "T.")
    reg.counter("e", "E.").inc()
    assert "e_total 1" in generate_text(reg).decode()  # scrapes still work


def test_a_series_with_the_wrong_number_of_label_values_is_skipped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    reg = MultiProcessRegistry(tmp_path)
    reg.counter("c", "C.", ("k",)).labels("a").inc()
    Arena(tmp_path).get_or_create(KIND_SERIES, dumps(["c", ["a", "b"], "*", 0]))
    with caplog.at_level(logging.WARNING, logger="atomicmetrics.multiprocess"):
        assert values(reg, "c") == {(("k", "a"),): 1}
    assert "2 label values for 1 label names" in caplog.text


def test_remove_and_clear_hide_label_sets_from_every_process(tmp_path: Path) -> None:
    a, b = MultiProcessRegistry(tmp_path), MultiProcessRegistry(tmp_path)
    fa = a.counter("c", "C.", ("k",))
    old = fa.labels("x")
    old.inc(5)
    fa.labels("y").inc()
    fb = b.counter("c", "C.", ("k",))
    assert values(b, "c") == {(("k", "x"),): 5, (("k", "y"),): 1}
    fa.remove("x")
    assert values(b, "c") == {(("k", "y"),): 1}
    old.inc()  # a removed child records into cells nobody exposes
    assert values(a, "c") == {(("k", "y"),): 1}
    fb.labels("x").inc(2)  # asked for again: a fresh series, in every process
    assert values(a, "c") == {(("k", "x"),): 2, (("k", "y"),): 1}
    fb.clear()
    assert values(a, "c") == {}
    fa.labels("y").inc(3)
    assert values(b, "c") == {(("k", "y"),): 3}

    g = a.gauge("g", "G.", ("k",), multiprocess_mode="livesum")
    g.labels("x").set(4)
    assert values(b, "g") == {(("k", "x"),): 4}
    b.gauge("g", "G.", ("k",), multiprocess_mode="livesum").remove("x")
    assert values(a, "g") == {}
    g.labels("x").inc()
    assert values(b, "g") == {(("k", "x"),): 1}


def test_pickles_as_a_registry_on_the_same_arena(tmp_path: Path) -> None:
    """What multiprocessing's spawn and forkserver hand to a child process."""
    import pickle

    reg = MultiProcessRegistry(tmp_path)
    reg.counter("c", "C.").inc(3)
    other = pickle.loads(pickle.dumps(reg))
    assert isinstance(other, MultiProcessRegistry)
    assert other is not reg
    other.counter("c", "C.").inc()
    assert values(reg, "c") == {(): 4}


@pytest.mark.parametrize("mode", ["all", "liveall"])
def test_pid_is_reserved_in_the_modes_that_add_it(tmp_path: Path, mode: str) -> None:
    """A user label ``pid`` in mode "all" gave ``busy{pid="42",pid="11675"}``,
    which promtool rejects with the whole scrape."""
    reg = MultiProcessRegistry(tmp_path)
    with pytest.raises(ValueError, match=f"'pid' is reserved in multiprocess_mode '{mode}'"):
        reg.gauge("busy", "B.", ("pid",), multiprocess_mode=mode)  # type: ignore[arg-type]
    assert "busy" not in families(reg)
    other = reg.gauge("busy", "B.", ("pid",), multiprocess_mode="livesum")
    other.labels("42").set(1)  # modes that add no pid label: a label like any other
    assert values(reg, "busy") == {(("pid", "42"),): 1}


def test_an_unknown_mode_names_the_valid_ones(tmp_path: Path) -> None:
    reg = MultiProcessRegistry(tmp_path)
    with pytest.raises(ValueError, match=r"'all', 'liveall', 'min', .*'livemostrecent'.*'median'"):
        reg.gauge("g", "G.", multiprocess_mode="median")  # type: ignore[arg-type]
