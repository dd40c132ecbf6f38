"""Coverage-guided fuzzing of the public API with atheris (optional; not in CI).

    pip install atheris          # a manylinux wheel: no clang needed on x86-64
    python scripts/fuzz_api.py -max_total_time=60 [-rss_limit_mb=2048] [corpus_dir]

Each input is a little program decoded from bytes: make a family (any kind,
fuzzed name, help and label names, buckets, max_series, on_overflow), then
ask for children with fuzzed label values and record fuzzed numbers, and
call the primitives with fuzzed arguments. The contract checked is the one
of tests/unit/test_fuzz_api.py: a call succeeds or raises ``TypeError``,
``ValueError`` or ``OverflowError`` (anything else is a crash that atheris
reports with the input that caused it); and every registry renders in both
formats, parses with prometheus_client's parsers, and shows a counter never
below what was added to it. The C extension is instrumented through
``atheris.instrument_imports`` (Python code) plus libFuzzer's comparison
hooks; the C module itself is not built with coverage instrumentation.
"""

from __future__ import annotations

import math
import sys
from typing import Any

import atheris

with atheris.instrument_imports():
    from prometheus_client.openmetrics.parser import (
        text_string_to_metric_families as parse_openmetrics,
    )
    from prometheus_client.parser import text_string_to_metric_families as parse_text

    from atomicmetrics import (
        AtomicCounter,
        AtomicDuration,
        AtomicFloat,
        AtomicHistogram,
        AtomicMinMax,
        Registry,
        RuleExecutionMetric,
        ThroughputMetric,
        generate_openmetrics,
        generate_text,
    )

DOCUMENTED = (TypeError, ValueError, OverflowError)
KINDS = ["counter", "gauge", "histogram", "rule_execution", "throughput"]
SPECIAL_FLOATS = [math.nan, math.inf, -math.inf, -0.0, 5e-324, 1.7976931348623157e308]


def _value(fdp: atheris.FuzzedDataProvider) -> Any:
    """Any of the values the API may be handed."""
    choice = fdp.ConsumeIntInRange(0, 8)
    if choice == 0:
        return fdp.ConsumeInt(9)  # up to 72 bits: past int64 both ways
    if choice == 1:
        return fdp.ConsumeRegularFloat()
    if choice == 2:
        return fdp.PickValueInList(SPECIAL_FLOATS)
    if choice == 3:
        return fdp.ConsumeUnicode(16)
    if choice == 4:
        return fdp.ConsumeBool()
    if choice == 5:
        return None
    if choice == 6:
        return fdp.ConsumeBytes(4)
    if choice == 7:
        return fdp.ConsumeIntInRange(-(2**63), 2**63 - 1)
    return [fdp.ConsumeFloat()]


def _call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except DOCUMENTED:
        return None


def _fuzz_registry(fdp: atheris.FuzzedDataProvider) -> None:
    registry = Registry()
    families = []
    for _ in range(fdp.ConsumeIntInRange(1, 3)):
        kind = fdp.PickValueInList(KINDS)
        kwargs: dict[str, Any] = {}
        if fdp.ConsumeBool():
            kwargs["max_series"] = fdp.ConsumeIntInRange(-1, 5)
            kwargs["on_overflow"] = fdp.PickValueInList(["raise", "collapse", "x"])
        if kind in ("histogram", "rule_execution") and fdp.ConsumeBool():
            kwargs["buckets"] = [fdp.ConsumeFloat() for _ in range(fdp.ConsumeIntInRange(0, 4))]
        name = fdp.ConsumeUnicode(12) if fdp.ConsumeBool() else f"m{len(families)}"
        labelnames = [fdp.ConsumeUnicode(6) for _ in range(fdp.ConsumeIntInRange(0, 2))]
        family = _call(getattr(registry, kind), name, fdp.ConsumeUnicode(20), labelnames, **kwargs)
        if family is not None:
            families.append((kind, family))
    for _ in range(fdp.ConsumeIntInRange(0, 10)):
        if not families:
            break
        index = fdp.ConsumeIntInRange(0, len(families) - 1)
        kind, family = families[index]
        values = [_value(fdp) for _ in range(len(family.labelnames))]
        child = _call(family.labels, *values)
        if child is None:
            continue
        amount = _value(fdp)
        method = {"counter": "inc", "gauge": "set", "histogram": "observe"}.get(kind, "record")
        before = child.value() if kind == "counter" else None
        _call(getattr(child, method), amount)
        if kind == "counter":
            assert child.value() >= before, "a counter went backwards"
    list(parse_text(generate_text(registry).decode()))
    list(parse_openmetrics(generate_openmetrics(registry).decode()))


def _fuzz_primitives(fdp: atheris.FuzzedDataProvider) -> None:
    objects = [
        AtomicCounter(),
        AtomicFloat(),
        AtomicDuration(),
        AtomicMinMax(),
        AtomicHistogram([1.0, 2.0]),
        RuleExecutionMetric(),
        ThroughputMetric(sla_ns=10, clock=lambda: 0),
    ]
    for _ in range(fdp.ConsumeIntInRange(0, 16)):
        obj = objects[fdp.ConsumeIntInRange(0, len(objects) - 1)]
        names = [n for n in dir(obj) if not n.startswith("_")]
        method = getattr(obj, fdp.PickValueInList(names))
        if callable(method):
            _call(method, *[_value(fdp) for _ in range(fdp.ConsumeIntInRange(0, 2))])


def test_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    if fdp.ConsumeBool():
        _fuzz_registry(fdp)
    else:
        _fuzz_primitives(fdp)


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
