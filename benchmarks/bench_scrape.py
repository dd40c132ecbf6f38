"""What does one scrape of 200 series cost: generate_text vs prometheus_client's generate_latest?

Runs the ``exposition`` group of ``atomicmetrics bench`` (same engine, same method:
see README.md beside this file). Extra arguments go to ``atomicmetrics bench``,
e.g. ``--threads 1,2,4,8 --json out.json``.
"""

import sys

from atomicmetrics.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", "--filter", "^exposition$", *sys.argv[1:]]))
