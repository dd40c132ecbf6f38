"""gunicorn configuration of the integration test (and the recipe of docs/multiprocess.md).

The registry is created in the master before it forks (``preload_app``), so
every worker records through the same arena; no ``child_exit`` hook is
needed: counters and rule metrics live in shared cells that survive workers,
and gauges of dead workers are dropped by the liveness check at scrape time.
"""

workers = 4
worker_class = "sync"
preload_app = True
graceful_timeout = 5
