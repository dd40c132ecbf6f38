"""atomicmetrics: lock-free, exact metrics for hot Python code paths.

Recording a metric costs about one C method call, takes no lock, and stays
exact under threads (GIL and free-threaded CPython) and forked workers. The
public names of DESIGN §§1-4 are re-exported here; ``atomicmetrics.reference``
(the mutex versions) and ``atomicmetrics.multiprocess`` are modules of their own.
"""

from atomicmetrics._core import AtomicCounter
from atomicmetrics.config import (
    AsyncMetricsConfig,
    MetricsConfig,
    MetricsLevel,
    development_metrics_config,
    production_metrics_config,
)
from atomicmetrics.recorder import (
    AsyncMetricRecorder,
    NullRecorder,
    RecorderStats,
    SyncRecorder,
    make_recorder,
)

__all__ = [
    "AsyncMetricRecorder",
    "AsyncMetricsConfig",
    "AtomicCounter",
    "MetricsConfig",
    "MetricsLevel",
    "NullRecorder",
    "RecorderStats",
    "SyncRecorder",
    "development_metrics_config",
    "make_recorder",
    "production_metrics_config",
]

__version__ = "0.1.0"
