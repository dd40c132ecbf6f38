"""gunicorn configuration of the integration test (and the recipe of docs/multiprocess.md).

With ``preload_app`` (the default here) the registry is created in the
master before it forks, so every worker records through the same registry
object; without it (``AM_TEST_PRELOAD=0``) each worker opens the arena
itself after the fork. Either way no ``child_exit`` hook is needed: counters
and rule metrics live in shared cells that survive workers, and gauges of
dead workers are dropped by the liveness check at scrape time.
"""

import os

workers = 4
worker_class = "sync"
preload_app = os.environ.get("AM_TEST_PRELOAD", "1") == "1"
graceful_timeout = 5
