"""Registry.histogram(..., native=True): a native histogram per child beside the
classic buckets or instead of them, in every format, in the multi-process
arena, and under concurrent observers and scrapers."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_om
from prometheus_client.parser import text_string_to_metric_families as parse_text

from atomicmetrics import (
    AtomicNativeHistogram,
    Registry,
    generate_openmetrics,
    generate_protobuf,
    generate_text,
)
from atomicmetrics.multiprocess import MultiProcessRegistry
from tests.helpers import THREADS, promtool_check, read_while_writing
from tests.metrics_proto import buckets_of, decode_delimited

VALUES = (0.0004, 0.003, 0.02, 0.02, 0.7, 3.5, 1e-9, 120.0)


def native_of(body: bytes, name: str) -> list[Any]:
    """The Histogram messages of family ``name`` in a protobuf body."""
    (family,) = [f for f in decode_delimited(body) if f.name == name]
    return [m.histogram for m in family.metric]


def test_classic_and_native_side_by_side() -> None:
    with_native, classic_only = Registry(), Registry()
    for reg, native in ((with_native, True), (classic_only, False)):
        fam = reg.histogram("lat_seconds", "Latency.", ["m"], native=native)
        for v in VALUES:
            fam.labels("GET").observe(v)
    # The text formats show the classic buckets only: the same bytes.
    assert generate_text(with_native) == generate_text(classic_only)
    assert generate_openmetrics(with_native) == generate_openmetrics(classic_only)
    child = with_native.histogram("lat_seconds", "Latency.", ["m"], native=True).labels("GET")
    n = child.native_snapshot()
    assert n is not None
    twin = AtomicNativeHistogram()
    for v in VALUES:
        twin.observe(v)
    assert n == twin.snapshot()
    assert child.snapshot().count == n.count == len(VALUES)
    (hist,) = native_of(generate_protobuf(with_native), "lat_seconds")
    assert len(hist.bucket) == 14  # the default bounds, +Inf left out
    assert (hist.schema, hist.sample_count, hist.zero_count) == (3, 8, 0)
    assert buckets_of(hist.positive_span, hist.positive_delta) == n.positive
    (plain,) = native_of(generate_protobuf(classic_only), "lat_seconds")
    assert not plain.HasField("schema")


def test_native_only_families() -> None:
    reg = Registry()
    fam = reg.histogram(
        "rt_seconds", "Native only.", ["rule"], buckets=(), native=True, native_schema=5
    )
    for v in VALUES:
        fam.labels("r1").observe(v)
    fam.labels("empty")
    text = generate_text(reg).decode()
    assert text == (
        "# HELP rt_seconds Native only.\n"
        "# TYPE rt_seconds histogram\n"
        'rt_seconds_bucket{rule="r1",le="+Inf"} 8\n'
        'rt_seconds_count{rule="r1"} 8\n'
        f'rt_seconds_sum{{rule="r1"}} {sum(VALUES)!r}\n'
        'rt_seconds_bucket{rule="empty",le="+Inf"} 0\n'
        'rt_seconds_count{rule="empty"} 0\n'
        'rt_seconds_sum{rule="empty"} 0.0\n'
    )
    assert promtool_check(generate_text(reg)).returncode == 0
    (parsed,) = parse_text(text)
    assert len(parsed.samples) == 6
    (om,) = parse_om(generate_openmetrics(reg).decode())
    assert {s.name for s in om.samples} == {
        "rt_seconds_bucket",
        "rt_seconds_count",
        "rt_seconds_sum",
    }
    snap = fam.labels("r1").snapshot()
    assert (snap.bounds, snap.buckets, snap.count) == ((), [8], 8)
    r1, empty = native_of(generate_protobuf(reg), "rt_seconds")
    assert (r1.schema, r1.sample_count, empty.sample_count) == (5, 8, 0)
    assert not r1.bucket
    n = fam.labels("r1").native_snapshot()
    assert n is not None
    assert buckets_of(r1.positive_span, r1.positive_delta) == n.positive


def test_an_unlabelled_family_records_directly() -> None:
    reg = Registry()
    fam = reg.histogram("solo_seconds", "Solo.", buckets=(), native=True)
    fam.observe(0.5)
    with fam.time():
        pass
    n = fam.native_snapshot()
    assert n is not None
    assert n.count == fam.snapshot().count == 2
    assert reg.histogram("plain_seconds", "Plain.").native_snapshot() is None


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"buckets": ()}, ValueError, "bound"),  # no buckets and no native histogram
        ({"native": True, "native_schema": 9}, ValueError, "native_schema"),
        ({"native": True, "native_schema": 1.5}, TypeError, "native_schema"),
        ({"native": True, "native_zero_threshold": -1.0}, ValueError, "native_zero_threshold"),
        ({"native": True, "native_max_buckets": 0}, ValueError, "native_max_buckets"),
        ({"native": "yes"}, TypeError, "native"),
        ({"native": True, "buckets": (2.0, 1.0)}, ValueError, "increasing"),
    ],
)
def test_bad_arguments_are_refused(
    kwargs: dict[str, Any], exc: type[Exception], match: str
) -> None:
    reg = Registry()
    with pytest.raises(exc, match=match):
        reg.histogram("h", "H.", **kwargs)
    assert list(reg.collect()) == []


def test_asking_twice_needs_the_same_native_settings() -> None:
    reg = Registry()
    fam = reg.histogram("h", "H.", native=True, native_schema=2)
    assert reg.histogram("h", "H.", native=True, native_schema=2) is fam
    for other in ({}, {"native": True}, {"native": True, "native_schema": 2, "buckets": ()}):
        with pytest.raises(ValueError, match="settings"):
            reg.histogram("h", "H.", **other)


def test_scrapes_stay_consistent_while_observers_run(switch_fast: object) -> None:
    reg = Registry()
    fam = reg.histogram("busy_seconds", "Busy.", buckets=(0.01, 1.0), native=True)
    child = fam.labels()
    n = 5_000

    def write(i: int) -> None:
        observe, x = child.observe, VALUES[i % len(VALUES)]
        for _ in range(n):
            observe(x)

    def check() -> object:
        (hist,) = native_of(generate_protobuf(reg), "busy_seconds")
        total = hist.zero_count + sum(buckets_of(hist.positive_span, hist.positive_delta).values())
        cumulative = [b.cumulative_count for b in hist.bucket]
        ok = total == hist.sample_count and all(c <= hist.sample_count for c in cumulative)
        return None if ok else hist

    assert read_while_writing(write, check) == []
    assert child.snapshot().count == (THREADS - 1) * n


def test_native_histograms_in_the_multiprocess_arena(tmp_path: Path) -> None:
    a = MultiProcessRegistry(tmp_path)
    fam = a.histogram("mp_seconds", "MP.", ["k"], buckets=(), native=True, native_max_buckets=20)
    fam.labels("x").observe(0.25)
    pid = os.fork()
    if pid == 0:  # a worker: its own registry object on the same directory
        try:
            child_reg = MultiProcessRegistry(tmp_path)
            mine = child_reg.histogram(
                "mp_seconds", "MP.", ["k"], buckets=(), native=True, native_max_buckets=20
            )
            for k in range(1000):
                mine.labels("x").observe(1.01**k)
            child_reg.histogram("late_seconds", "Made in the child.", native=True).observe(2)
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert status == 0
    b = MultiProcessRegistry(tmp_path)
    (hist,) = native_of(generate_protobuf(b), "mp_seconds")
    assert hist.sample_count == 1001
    n = (
        b.histogram("mp_seconds", "MP.", ["k"], buckets=(), native=True, native_max_buckets=20)
        .labels("x")
        .native_snapshot()
    )
    assert n is not None
    assert len(n.positive) <= 20  # lowered in the arena, across processes
    assert n.count == 1001
    (late,) = native_of(generate_protobuf(b), "late_seconds")  # mirrored with its settings
    assert late.sample_count == 1
    assert late.schema == 3
    with pytest.raises(ValueError, match="settings"):
        b.histogram("late_seconds", "Made in the child.")
