"""prometheus_client.twisted: ``MetricsResource`` for Twisted web servers."""

from atomicmetrics.prometheus_client.twisted._exposition import MetricsResource

__all__ = ["MetricsResource"]
