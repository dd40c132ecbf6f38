#!/usr/bin/env bash
# ThreadSanitizer leg: the C module built with -fsanitize=thread
# (ATOMICMETRICS_SANITIZE=thread, setup.py) on a free-threaded CPython that is
# itself built --with-thread-sanitizer, running the concurrency tests with
# the GIL off (every tests/unit test whose name says it is about threads).
# Any TSan report fails the run (halt_on_error, exitcode 66).
#
#   bash scripts/tsan.sh            # builds /opt/python-ft-tsan first if needed
#   bash scripts/tsan.sh -k striped # extra pytest arguments
set -euo pipefail
cd "$(dirname "$0")/.."
export PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
T0=$SECONDS

PY=$(bash scripts/ft-python.sh tsan)
"$PY" -c 'import sysconfig, sys; assert sysconfig.get_config_var("Py_GIL_DISABLED"); \
assert "-fsanitize=thread" in (sysconfig.get_config_var("CONFIG_ARGS") or "") + \
(sysconfig.get_config_var("PY_CFLAGS") or ""), "not a TSan build"'

"$PY" -m venv --clear .venv-tsan
# Only what the tests import: mypy/ruff are not needed here.
.venv-tsan/bin/pip install -q pytest "hypothesis>=6.90" "setuptools>=68" wheel
# Non-editable: the TSan .so stays in .venv-tsan and never replaces src/'s.
ATOMICMETRICS_SANITIZE=thread .venv-tsan/bin/pip install -q --no-deps --no-build-isolation . \
  2>&1 | grep -v 'is ignored' || true
echo "tsan: interpreter and module ready in $((SECONDS - T0))s"

# Suppressions: only CPython's own known races, never atomicmetrics code.
export TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1 suppressions=$PWD/scripts/tsan-suppressions.txt"
.venv-tsan/bin/python -m pytest -q -p no:cacheprovider \
  tests/unit -k "concurrent or thread or race or reader or resets or writers" -m "not stress" "$@"
echo "tsan: done in $((SECONDS - T0))s, no ThreadSanitizer report"
