"""``python -m atomicmetrics`` -- the same as the ``atomicmetrics`` command."""

import sys

from atomicmetrics.cli import main

sys.exit(main())
