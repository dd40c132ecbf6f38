"""The /metrics endpoint under 50 concurrent scrapers while 2 threads record.

Half of the scrapers reuse one keep-alive connection (as Prometheus does),
half open a new connection per scrape (as ad-hoc tools do, which is what
fills the listen backlog). Every response must be 200 and parse; each
scraper must see the counter never go backwards; the recording threads'
totals must be exact; the p99 scrape latency is printed (run with ``-s``).
"""

from __future__ import annotations

import http.client
import threading
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from atomicmetrics import Registry, start_http_server
from tests.helpers import scale

SCRAPERS = 50
RECORDERS = 2


def _quantile(sorted_values: list[float], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def _counter_value(body: bytes) -> float:
    for family in text_string_to_metric_families(body.decode()):
        if family.name == "load_events":
            for sample in family.samples:
                if sample.name == "load_events_total":
                    return float(sample.value)
    raise AssertionError("load_events_total missing from a scrape")


@pytest.mark.stress
def test_fifty_scrapers_two_recorders() -> None:
    duration_s = min(30.0, 2.0 * scale())  # ATOMICMETRICS_STRESS_SCALE=15: 30 s
    registry = Registry()
    events = registry.counter("load_events", "Events recorded under load.")
    latency = registry.histogram("load_latency", "Latency.", ("path",))
    for i in range(20):  # a body of realistic size: ~20 histogram children
        latency.labels(f"/p{i}").observe(0.01 * i)
    stop = threading.Event()
    recorded = [0] * RECORDERS
    latencies: list[list[float]] = [[] for _ in range(SCRAPERS)]
    failures: list[str] = []

    def record(i: int) -> None:
        n = 0
        child = latency.labels("/p0")
        while not stop.is_set():
            for _ in range(1000):
                events.inc()
                child.observe(0.001)
            n += 1000
        recorded[i] = n

    def scrape(i: int, port: int) -> None:
        keep_alive = i % 2 == 0
        conn: http.client.HTTPConnection | None = None
        last = -1.0
        try:
            while not stop.is_set():
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                t0 = time.perf_counter()
                conn.request("GET", "/metrics")
                response = conn.getresponse()
                body = response.read()
                latencies[i].append(time.perf_counter() - t0)
                if response.status != 200:
                    failures.append(f"scraper {i}: HTTP {response.status}")
                    return
                value = _counter_value(body)
                if value < last:
                    failures.append(f"scraper {i}: counter went back {last} -> {value}")
                    return
                last = value
                if not keep_alive:
                    conn.close()
                    conn = None
        except Exception as e:  # reported below; the test must not hang on it
            failures.append(f"scraper {i}: {type(e).__name__}: {e}")
        finally:
            if conn is not None:
                conn.close()

    with start_http_server(0, registry=registry) as server:
        threads = [threading.Thread(target=record, args=(i,)) for i in range(RECORDERS)]
        threads += [threading.Thread(target=scrape, args=(i, server.port)) for i in range(SCRAPERS)]
        for t in threads:
            t.start()
        time.sleep(duration_s)
        stop.set()
        for t in threads:
            t.join(60)
        assert not any(t.is_alive() for t in threads), "a thread hung"
    assert not failures, failures[:5]
    assert events.value() == sum(recorded)
    assert latency.labels("/p0").snapshot().count == sum(recorded) + 1
    flat = sorted(x for per in latencies for x in per)
    assert all(per for per in latencies), "every scraper got at least one response"
    p50, p99 = _quantile(flat, 0.50), _quantile(flat, 0.99)
    kept = sorted(x for i, per in enumerate(latencies) if i % 2 == 0 for x in per)
    fresh = sorted(x for i, per in enumerate(latencies) if i % 2 == 1 for x in per)
    print(
        f"\n{len(flat)} scrapes by {SCRAPERS} scrapers in {duration_s:.0f} s "
        f"({len(flat) / duration_s:.0f}/s), recorded {sum(recorded)}: "
        f"p50 {p50 * 1e3:.1f} ms, p99 {p99 * 1e3:.1f} ms, max {flat[-1] * 1e3:.1f} ms; "
        f"p99 keep-alive {_quantile(kept, 0.99) * 1e3:.1f} ms, "
        f"new connection {_quantile(fresh, 0.99) * 1e3:.1f} ms"
    )
