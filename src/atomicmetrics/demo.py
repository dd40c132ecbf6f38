"""``atomicmetrics demo``: a simulated rule engine, instrumented and served.

``--workers`` threads evaluate a stream of events; each event runs through a
few of ``--rules`` rules. Every rule has its own latency distribution
(lognormal: a median between 0.1 and 5 ms, some with heavy tails) and error
rate. Durations are drawn, not slept: the demo spends its CPU on the metrics
path, not on waiting. Each rule execution is recorded into the rule-execution
family ``demo_rule`` (label ``rule``) and each event into the throughput
family ``demo_events`` (with an SLA on the event's total latency), through the
recorder that ``make_recorder`` picks for ``--level`` (itself registered, so
its ``atomicmetrics_recorder_*`` stats are exposed too). ``/metrics`` is served
on 127.0.0.1 and a summary is printed once a second: top rules by p99
(estimated from the buckets), error rates, throughput, SLA violations,
recorder drops.

Ctrl-C (or SIGTERM, or the end of ``--duration``) stops the workers, flushes
the recorder, prints a final summary and exits 0.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import random
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import FrameType
from typing import Any, TextIO

from atomicmetrics import (
    MetricsLevel,
    Registry,
    make_recorder,
    production_metrics_config,
    start_http_server,
)
from atomicmetrics.cli import positive_number, whole_number

__all__ = ["Rule", "add_arguments", "make_rules", "quantile_from_buckets", "run_command"]

#: Upper bounds of the rule duration buckets (ns): 100 us .. 1 s.
BUCKETS_NS = (
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
)
LEVELS = ("off", "basic", "standard", "debug")
TOP = 5


@dataclass(frozen=True)
class Rule:
    """One simulated rule: lognormal duration (``mu``, ``sigma`` of ln ns) and error rate."""

    name: str
    mu: float
    sigma: float
    error_rate: float

    def draw(self, rng: random.Random) -> tuple[int, bool]:
        """One execution: (duration in ns, failed?)."""
        return int(rng.lognormvariate(self.mu, self.sigma)), rng.random() < self.error_rate


def make_rules(n: int, seed: int | None = None) -> list[Rule]:
    """``n`` rules with medians spread log-uniformly over 0.1-5 ms.

    Every seventh rule has a heavy tail, every fifth a high error rate, so the
    summary has something to show.
    """
    rng = random.Random(seed)
    rules = []
    for i in range(n):
        median_ns = math.exp(rng.uniform(math.log(100_000), math.log(5_000_000)))
        sigma = 1.3 if i % 7 == 3 else rng.uniform(0.2, 0.6)
        error_rate = rng.uniform(0.05, 0.15) if i % 5 == 2 else rng.uniform(0.0, 0.01)
        rules.append(Rule(f"rule-{i}", math.log(median_ns), sigma, error_rate))
    return rules


def quantile_from_buckets(bounds: Sequence[float], counts: Sequence[int], q: float) -> float | None:
    """The ``q`` quantile of a histogram, interpolated within its bucket.

    ``counts`` are per bucket (not cumulative) with the +Inf bucket last, as
    ``bucket_counts()`` returns them. Like Prometheus' ``histogram_quantile``:
    linear within a bucket, the first bucket starting at 0, and the highest
    finite bound when the rank falls in +Inf. None when empty.
    """
    total = sum(counts)
    if total == 0:
        return None
    rank = q * total
    seen = 0
    for i, c in enumerate(counts):
        if c and seen + c >= rank:
            if i == len(bounds):
                return float(bounds[-1])
            lower = 0.0 if i == 0 else float(bounds[i - 1])
            return lower + (float(bounds[i]) - lower) * (rank - seen) / c
        seen += c
    return float(bounds[-1])


def _port(text: str) -> int:
    n = whole_number(text, 0)
    if n > 65535:
        raise argparse.ArgumentTypeError(f"a port is 0..65535, got {n}")
    return n


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``atomicmetrics demo``."""
    parser.description = (
        "A simulated rule engine recording into demo_rule (label rule) and demo_events, "
        "serving /metrics on 127.0.0.1 and printing a summary once a second."
    )
    parser.add_argument(
        "--duration",
        type=lambda s: positive_number(s, "number of seconds"),
        metavar="SECONDS",
        help="stop after this long (default: run until Ctrl-C)",
    )
    parser.add_argument(
        "--port",
        type=_port,
        default=8000,
        help="port of the /metrics server on 127.0.0.1 (default 8000; 0 picks a free one)",
    )
    parser.add_argument(
        "--workers", type=lambda s: whole_number(s, 1), default=4, help="worker threads (default 4)"
    )
    parser.add_argument(
        "--rules",
        type=lambda s: whole_number(s, 1),
        default=20,
        help="simulated rules (default 20)",
    )
    parser.add_argument(
        "--level",
        type=str.lower,
        choices=LEVELS,
        default="standard",
        help="metrics level: off records nothing, basic/standard record through the "
        "async recorder, debug records synchronously (default standard)",
    )
    parser.add_argument(
        "--rate",
        type=lambda s: whole_number(s, 0),
        default=5_000,
        help="events per second over all workers (default 5000; 0 = as fast as possible)",
    )
    parser.add_argument(
        "--sla-ms",
        type=lambda s: positive_number(s, "number of seconds"),
        default=20.0,
        metavar="MS",
        help="SLA on an event's total latency, in ms (default 20)",
    )
    parser.add_argument("--seed", type=int, help="seed of the simulation")


class Engine:
    """The simulated rule engine: rules, workers, the metrics they record into."""

    def __init__(self, args: argparse.Namespace, registry: Registry) -> None:
        self.rules = make_rules(args.rules, args.seed)
        self.sla_ns = round(args.sla_ms * 1e6)
        self.family = registry.rule_execution(
            "demo_rule", "Executions of the demo's simulated rules.", ["rule"], buckets=BUCKETS_NS
        )
        self.events = registry.throughput(
            "demo_events",
            "Events through the demo's simulated rule engine.",
            window_s=10.0,
            resolution_s=1.0,
            sla_ns=self.sla_ns,
        )
        self.children = {r.name: self.family.labels(r.name) for r in self.rules}
        config = dataclasses.replace(
            production_metrics_config(), level=MetricsLevel[args.level.upper()]
        )
        self.recorder = make_recorder(config)
        registry.register(self.recorder)  # exposes atomicmetrics_recorder_* (drops, queue)
        self.stop = threading.Event()
        self._rate = args.rate
        self._seed = args.seed
        self._threads = [
            threading.Thread(target=self._work, args=(i, args.workers), name=f"demo-worker-{i}")
            for i in range(args.workers)
        ]

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def join(self) -> None:
        self.stop.set()
        for t in self._threads:
            t.join()

    def _work(self, index: int, workers: int) -> None:
        rng = random.Random(None if self._seed is None else self._seed * 1000 + index)
        record = self.recorder.record
        rules = [(r, self.children[r.name].record) for r in self.rules]
        events = self.events.record
        per_second = self._rate / workers
        started = time.monotonic()
        done = 0
        while not self.stop.is_set():
            due = done + 256 if not per_second else int((time.monotonic() - started) * per_second)
            for _ in range(min(due - done, 256)):
                latency = 0
                for rule, child_record in rng.sample(rules, min(len(rules), rng.randint(2, 6))):
                    duration, failed = rule.draw(rng)
                    record(child_record, duration, failed)
                    latency += duration
                record(events, 1, latency)
                done += 1
            if per_second and done >= due:
                self.stop.wait(0.005)


@dataclass
class _Previous:
    at: float
    executions: dict[str, int]
    errors: dict[str, int]


class Summary:
    """Computes and prints the once-a-second summary from the metrics themselves."""

    def __init__(self, engine: Engine, out: TextIO) -> None:
        self._engine = engine
        self._out = out
        self._started = time.monotonic()
        self._prev = _Previous(self._started, {}, {})

    def show(self, final: bool = False) -> None:
        """Print one summary (``final``: counts since the start instead of the last second)."""
        e = self._engine
        now = time.monotonic()
        dt = max(now - self._prev.at, 1e-9)
        rows = []
        executions: dict[str, int] = {}
        errors: dict[str, int] = {}
        for name, child in e.children.items():
            snap = child.snapshot()
            executions[name] = snap.execution_count
            errors[name] = snap.error_count
            p99 = quantile_from_buckets(BUCKETS_NS, snap.bucket_counts, 0.99)
            runs = snap.execution_count - (0 if final else self._prev.executions.get(name, 0))
            errs = snap.error_count - (0 if final else self._prev.errors.get(name, 0))
            rows.append((p99 if p99 is not None else -1.0, name, runs, errs, snap))
        self._prev = _Previous(now, executions, errors)
        rows.sort(reverse=True)

        total_runs = sum(executions.values())
        total_errors = sum(errors.values())
        samples = e.events.sample_count()
        violations = e.events.sla_violations()
        stats = _stats(e.recorder)
        elapsed = now - self._started
        w = self._out.write
        title = "final summary" if final else "summary"
        w(f"-- {title} after {elapsed:.1f}s --\n")
        w(
            f"events: {e.events.events_processed():,} total, {e.events.throughput():,.0f}/s "
            f"(10 s window), peak {e.events.peak_throughput():,.0f}/s; SLA {e.sla_ns / 1e6:g} ms "
            f"violated by {violations:,} ({100 * violations / max(samples, 1):.2f}%)\n"
        )
        w(
            f"rule executions: {total_runs:,}, errors {total_errors:,} "
            f"({100 * total_errors / max(total_runs, 1):.2f}%); recorder: {stats}\n"
        )
        span = "overall" if final else "last second"
        w(
            f"  {'rule':<10} {'p99':>10} {'mean':>10} {'runs/s' if not final else 'runs':>10}"
            f" {'err% ' + span:>18}\n"
        )
        for p99, name, runs, errs, snap in rows[:TOP]:
            rate = runs if final else runs / dt
            w(
                f"  {name:<10} {_ms(p99):>10} {_ms(snap.average_duration_ns):>10} {rate:>10,.0f}"
                f" {100 * errs / max(runs, 1):>17.2f}%\n"
            )
        self._out.flush()


def _ms(ns: float) -> str:
    return "-" if ns < 0 else f"{ns / 1e6:.2f} ms"


def _stats(recorder: Any) -> str:
    stats: Callable[[], Any] | None = getattr(recorder, "stats", None)
    if stats is None:
        return type(recorder).__name__
    s = stats()
    return (
        f"{type(recorder).__name__} queue {s.queue_length:,}/{s.capacity:,}, "
        f"dropped {s.dropped:,}, failed {s.failed:,}"
    )


def run_command(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Run ``atomicmetrics demo`` with parsed arguments; returns the exit code."""
    out = sys.stdout if out is None else out
    registry = Registry()
    engine = Engine(args, registry)
    try:
        server = start_http_server(args.port, addr="127.0.0.1", registry=registry)
    except OSError as e:
        engine.recorder.close()
        print(
            f"atomicmetrics demo: cannot listen on 127.0.0.1:{args.port}: {e.strerror or e} "
            "(try --port 0)",
            file=sys.stderr,
        )
        return 1
    restore = _stop_on_sigterm(engine.stop)
    summary = Summary(engine, out)
    try:
        out.write(f"serving http://127.0.0.1:{server.port}/metrics\n")
        out.write(
            f"{len(engine.rules)} rules on {args.workers} workers, level {args.level}, "
            f"{'unthrottled' if not args.rate else f'{args.rate:,} events/s'}; "
            f"{'Ctrl-C to stop' if args.duration is None else f'{args.duration:g} s'}\n"
        )
        if args.level == "off":
            out.write("level off: every record() is dropped at once, so the metrics stay at 0\n")
        out.flush()
        engine.start()
        deadline = None if args.duration is None else time.monotonic() + args.duration
        try:
            while not engine.stop.is_set():
                left = 1.0 if deadline is None else min(1.0, deadline - time.monotonic())
                if left <= 0 or engine.stop.wait(left):
                    break
                if deadline is not None and time.monotonic() >= deadline:
                    break  # the final summary below covers this last second
                summary.show()
        except KeyboardInterrupt:
            out.write("\ninterrupted, stopping\n")
        engine.join()
        engine.recorder.flush(5.0)
        summary.show(final=True)
    finally:
        engine.stop.set()
        engine.join()
        engine.recorder.close()
        server.close()
        restore()
    return 0


def _stop_on_sigterm(stop: threading.Event) -> Callable[[], None]:
    """Make SIGTERM stop the demo like Ctrl-C; returns the undo (a no-op off the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, handler)

    def restore() -> None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)

    return restore
