"""gunicorn configuration of the integration test -- and the recipe of docs/multiprocess.md.

With ``preload_app`` (the default here) the registry is created in the
master before it forks, so every worker records through the same registry
object; without it (``AM_TEST_PRELOAD=0``) each worker opens the arena
itself after the fork. Either way no ``child_exit`` hook is needed: a new
worker takes over a dead one's process slot (its counts stay in the total)
and gauges of dead workers are sorted out by the liveness check at scrape
time.

The arena of an earlier run is removed here, when gunicorn reads this file:
before the master loads the app with ``preload_app`` (an ``on_starting``
hook would run after, and find the master's own arena), and again on every
reload (SIGHUP re-reads this file), where ``remove_stale_arena`` leaves the
arena alone because live processes -- the master, the old workers -- hold it.
"""

import os

from atomicmetrics.multiprocess import remove_stale_arena

workers = 4
worker_class = "sync"
preload_app = os.environ.get("AM_TEST_PRELOAD", "1") == "1"
graceful_timeout = 5

remove_stale_arena(os.environ["ATOMICMETRICS_MULTIPROC_DIR"])
