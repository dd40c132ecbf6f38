"""What does handing one record to the async recorder cost, against a plain queue.Queue?

Runs the ``recorder`` group of ``atomicmetrics bench`` (same engine, same method:
see README.md beside this file). Extra arguments go to ``atomicmetrics bench``,
e.g. ``--threads 1,2,4,8 --json out.json``.
"""

import sys

from atomicmetrics.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", "--filter", "^recorder$", *sys.argv[1:]]))
