"""prometheus_client's API on atomicmetrics' C cells: change one import, keep your code.

``atomicmetrics.prometheus_client`` mirrors prometheus_client 0.21 module
for module (``core``, ``metrics``, ``metrics_core``, ``registry``,
``samples``, ``exposition``, ``parser``, ``openmetrics.exposition``,
``openmetrics.parser``, ``multiprocess``, ``process_collector``,
``platform_collector``, ``gc_collector``, ``context_managers``,
``decorator``, ``utils``, ``values``, ``asgi``, ``twisted``,
``bridge.graphite``): the same classes, signatures, defaults, errors and
output bytes, with recording done by lock-free C cells. Either import it in
place of prometheus_client, or call :func:`install` once at start-up so that
every ``import prometheus_client`` in the process (frameworks included) gets
this package. What differs is listed in docs/migrating.md.
"""

from atomicmetrics.prometheus_client import (
    exposition,
    gc_collector,
    metrics,
    metrics_core,
    platform_collector,
    process_collector,
    registry,
)
from atomicmetrics.prometheus_client._install import install, installed, uninstall
from atomicmetrics.prometheus_client.exposition import (
    CONTENT_TYPE_LATEST,
    MetricsHandler,
    delete_from_gateway,
    generate_latest,
    instance_ip_grouping_key,
    make_asgi_app,
    make_wsgi_app,
    push_to_gateway,
    pushadd_to_gateway,
    start_http_server,
    start_wsgi_server,
    write_to_textfile,
)
from atomicmetrics.prometheus_client.gc_collector import GC_COLLECTOR, GCCollector
from atomicmetrics.prometheus_client.metrics import (
    Counter,
    Enum,
    Gauge,
    Histogram,
    Info,
    Summary,
    disable_created_metrics,
    enable_created_metrics,
)
from atomicmetrics.prometheus_client.metrics_core import Metric
from atomicmetrics.prometheus_client.platform_collector import (
    PLATFORM_COLLECTOR,
    PlatformCollector,
)
from atomicmetrics.prometheus_client.process_collector import PROCESS_COLLECTOR, ProcessCollector
from atomicmetrics.prometheus_client.registry import REGISTRY, CollectorRegistry

__all__ = [
    "CONTENT_TYPE_LATEST",
    "GC_COLLECTOR",
    "PLATFORM_COLLECTOR",
    "PROCESS_COLLECTOR",
    "REGISTRY",
    "CollectorRegistry",
    "Counter",
    "Enum",
    "GCCollector",
    "Gauge",
    "Histogram",
    "Info",
    "Metric",
    "MetricsHandler",
    "PlatformCollector",
    "ProcessCollector",
    "Summary",
    "delete_from_gateway",
    "disable_created_metrics",
    "enable_created_metrics",
    "exposition",
    "gc_collector",
    "generate_latest",
    "install",
    "installed",
    "instance_ip_grouping_key",
    "make_asgi_app",
    "make_wsgi_app",
    "metrics",
    "metrics_core",
    "platform_collector",
    "process_collector",
    "push_to_gateway",
    "pushadd_to_gateway",
    "registry",
    "start_http_server",
    "start_wsgi_server",
    "uninstall",
    "write_to_textfile",
]
