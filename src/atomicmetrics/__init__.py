"""atomicmetrics: lock-free, exact metrics for hot Python code paths.

Recording a metric costs about one C method call, takes no lock, and stays
exact under threads (GIL and free-threaded CPython) and forked workers. The
public names are re-exported here (docs/README.md maps each to its module);
``atomicmetrics.reference`` (the mutex versions), ``atomicmetrics.multiprocess``
and ``atomicmetrics.bench`` are modules of their own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from atomicmetrics._core import (
    AtomicCounter,
    AtomicDuration,
    AtomicFloat,
    AtomicMinMax,
    StripedCounter,
)
from atomicmetrics._lifetime import process_lifetime
from atomicmetrics.atomic_histogram import AtomicHistogram
from atomicmetrics.atomic_native_histogram import AtomicNativeHistogram, NativeHistogramSnapshot
from atomicmetrics.config import (
    AsyncMetricsConfig,
    MetricsConfig,
    MetricsLevel,
    development_metrics_config,
    production_metrics_config,
)
from atomicmetrics.counter import Counter
from atomicmetrics.exposition import generate_text
from atomicmetrics.family import CardinalityError
from atomicmetrics.gauge import Gauge
from atomicmetrics.histogram import Histogram
from atomicmetrics.http_server import MetricsServer, start_http_server
from atomicmetrics.openmetrics import generate_openmetrics
from atomicmetrics.protobuf import generate_protobuf
from atomicmetrics.recorder import (
    AsyncMetricRecorder,
    NullRecorder,
    RecorderStats,
    SyncRecorder,
    make_recorder,
)
from atomicmetrics.registry import REGISTRY, Registry
from atomicmetrics.rule_metric import DEFAULT_DURATION_BUCKETS_NS, RuleExecutionMetric
from atomicmetrics.snapshots import HistogramSnapshot, RuleExecutionSnapshot, ThroughputSnapshot
from atomicmetrics.throughput import ThroughputMetric
from atomicmetrics.wsgi import make_wsgi_app

__all__ = [
    "DEFAULT_DURATION_BUCKETS_NS",
    "REGISTRY",
    "AsyncMetricRecorder",
    "AsyncMetricsConfig",
    "AtomicCounter",
    "AtomicDuration",
    "AtomicFloat",
    "AtomicHistogram",
    "AtomicMinMax",
    "AtomicNativeHistogram",
    "CardinalityError",
    "Counter",
    "Gauge",
    "Histogram",
    "HistogramSnapshot",
    "MetricsConfig",
    "MetricsLevel",
    "MetricsServer",
    "NativeHistogramSnapshot",
    "NullRecorder",
    "RecorderStats",
    "Registry",
    "RuleExecutionMetric",
    "RuleExecutionSnapshot",
    "StripedCounter",
    "SyncRecorder",
    "ThroughputMetric",
    "ThroughputSnapshot",
    "development_metrics_config",
    "generate_openmetrics",
    "generate_protobuf",
    "generate_text",
    "make_asgi_app",
    "make_recorder",
    "make_wsgi_app",
    "process_lifetime",
    "production_metrics_config",
    "start_http_server",
]

__version__ = "0.1.0"  # the one version source: pyproject.toml reads it

if TYPE_CHECKING:
    from atomicmetrics.asgi import make_asgi_app


def __getattr__(name: str) -> object:
    # ASGI support loads on first use only (PEP 562): the core never imports it.
    if name == "make_asgi_app":
        from atomicmetrics.asgi import make_asgi_app

        return make_asgi_app
    raise AttributeError(f"module 'atomicmetrics' has no attribute {name!r}")
