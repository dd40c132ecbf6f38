"""What does recording one rule execution cost: one fused C call vs mutex vs libraries?

Runs the ``rule`` group of ``atomicmetrics bench`` (same engine, same method:
see README.md beside this file). Extra arguments go to ``atomicmetrics bench``,
e.g. ``--threads 1,2,4,8 --json out.json``.
"""

import sys

from atomicmetrics.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", "--filter", "^rule$", *sys.argv[1:]]))
