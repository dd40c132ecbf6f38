"""prometheus_client.bridge.graphite: push a registry to Graphite's plaintext port."""

from __future__ import annotations

import logging
import re
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from atomicmetrics.prometheus_client.registry import REGISTRY

__all__ = ["GraphiteBridge"]

# What survives in a Graphite path component (dots separate labels).
_INVALID_GRAPHITE_CHARS = re.compile(r"[^a-zA-Z0-9_-]")

_log = logging.getLogger("atomicmetrics.prometheus_client.bridge.graphite")


def _sanitize(s: str) -> str:
    return _INVALID_GRAPHITE_CHARS.sub("_", s)


class _RegularPush(threading.Thread):
    """Pushes every ``interval`` seconds, skipping pushes it fell behind on."""

    def __init__(self, pusher: GraphiteBridge, interval: float, prefix: str) -> None:
        super().__init__(daemon=True)
        self._pusher = pusher
        self._interval = interval
        self._prefix = prefix

    def run(self) -> None:
        due = time.monotonic()
        while True:
            now = time.monotonic()
            if now < due:
                time.sleep(due - now)  # may return early: check again
                continue
            while due <= now:
                due += self._interval
            try:
                self._pusher.push(prefix=self._prefix)
            except OSError:
                _log.exception("Push failed")


class GraphiteBridge:
    """Sends every sample of ``registry`` to a Graphite plaintext listener.

    Each sample becomes ``[prefix.]name[.label.value...] value timestamp``
    (``name;label=value`` with ``tags=True``), names sanitized to
    ``[a-zA-Z0-9_-]``. ``push()`` sends once (``OSError`` on failure);
    ``start(interval)`` pushes from a daemon thread, logging failures.
    """

    def __init__(
        self,
        address: tuple[str, int],
        registry: Any = REGISTRY,
        timeout_seconds: float = 30,
        _timer: Callable[[], float] = time.time,
        tags: bool = False,
    ) -> None:
        self._address = address
        self._registry = registry
        self._tags = tags
        self._timeout = timeout_seconds
        self._timer = _timer

    def push(self, prefix: str = "") -> None:
        """Send the registry's samples now."""
        now = int(self._timer())
        head = prefix + "." if prefix else ""
        sep, pair = (";", "{0}={1}") if self._tags else (".", "{0}.{1}")
        lines = []
        for metric in self._registry.collect():
            for s in metric.samples:
                labels = "".join(
                    sep + pair.format(_sanitize(k), _sanitize(v))
                    for k, v in sorted(s.labels.items())
                )
                lines.append(f"{head}{_sanitize(s.name)}{labels} {float(s.value)} {now}\n")
        with socket.create_connection(self._address, self._timeout) as conn:
            conn.sendall("".join(lines).encode("ascii"))

    def start(self, interval: float = 60.0, prefix: str = "") -> None:
        """Push every ``interval`` seconds from a daemon thread."""
        _RegularPush(self, interval, prefix).start()
