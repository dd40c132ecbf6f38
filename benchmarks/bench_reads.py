"""What does one counter read cost: an atomic load vs a mutex-guarded read?

Runs the ``reads`` group of ``atomicmetrics bench`` (same engine, same method:
see README.md beside this file). Extra arguments go to ``atomicmetrics bench``,
e.g. ``--threads 1,2,4,8 --json out.json``.
"""

import sys

from atomicmetrics.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", "--filter", "^reads$", *sys.argv[1:]]))
