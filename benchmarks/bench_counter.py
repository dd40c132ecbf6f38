"""What does one counter increment cost, atomic vs mutex vs prometheus_client vs OTel?

Runs the ``counter`` group of ``atomicmetrics bench`` (same engine, same method:
see README.md beside this file). Extra arguments go to ``atomicmetrics bench``,
e.g. ``--threads 1,2,4,8 --json out.json``.
"""

import sys

from atomicmetrics.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", "--filter", "^counter$", *sys.argv[1:]]))
