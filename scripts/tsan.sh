#!/usr/bin/env bash
# ThreadSanitizer leg: the C module built with -fsanitize=thread
# (ATOMICMETRICS_SANITIZE=thread, setup.py) running every tests/unit test
# whose name says it is about threads (concurrent, thread, race, reader,
# resets, writers) with the GIL off. Not part of .ci/run (budget).
#
#   bash scripts/tsan.sh               # TSAN_MODE=interpreter (default)
#   TSAN_MODE=module bash scripts/tsan.sh
#
# interpreter: a free-threaded CPython itself built --with-thread-sanitizer
#   (scripts/ft-python.sh tsan, /opt/python-ft-tsan; building it took over an
#   hour on 2 shared cores). Every report fails the run (halt_on_error).
# module: the regular 3.13t (/opt/python-ft) with libtsan preloaded; only
#   the module is instrumented, so CPython's own synchronisation (allocation,
#   dict publication, biased refcounting) is invisible to TSan and it reports
#   "races" whose earlier access is an uninstrumented memset/memcpy/malloc
#   inside CPython. Those are listed and ignored; a report whose two accesses
#   are both instrumented code (i.e. atomicmetrics vs atomicmetrics) fails.
set -euo pipefail
cd "$(dirname "$0")/.."
export PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
export ATOMICMETRICS_WERROR=1  # like .ci/run: a compiler warning fails the build
T0=$SECONDS
MODE=${TSAN_MODE:-interpreter}
case $MODE in
  interpreter) PY=$(bash scripts/ft-python.sh tsan); PRELOAD= ;;
  module) PY=$(bash scripts/ft-python.sh ft); PRELOAD=$(gcc -print-file-name=libtsan.so) ;;
  *) echo "TSAN_MODE must be interpreter or module" >&2; exit 2 ;;
esac
"$PY" -c 'import sysconfig; assert sysconfig.get_config_var("Py_GIL_DISABLED")'

VENV=.venv-tsan-$MODE
# Installing runs the interpreter many times (pip, build backends); TSan
# reports in CPython itself must not fail those steps: only the test run
# below counts reports.
export TSAN_OPTIONS="report_bugs=0 exitcode=0"
"$PY" -m venv --clear "$VENV"
# This first install is for the dependencies; its unsanitized build of the
# module (replaced below) gets the interpreter's -fsanitize=thread from
# sysconfig without -Wno-error=tsan, so it must not turn warnings to errors.
ATOMICMETRICS_WERROR= "$VENV/bin/pip" install -q --only-binary :all: ".[test]" "setuptools>=68" wheel 2>&1 \
  | { grep -v 'is ignored' || true; }
# Non-editable, own build tree (build/sanitize-thread): never a plain .so.
ATOMICMETRICS_SANITIZE=thread "$VENV/bin/pip" install -q --no-deps --no-build-isolation \
  --force-reinstall . 2>&1 | { grep -v 'is ignored' || true; }
grep -q __tsan "$VENV"/lib/python*/site-packages/atomicmetrics/_core*.so \
  || { echo "the TSan build of _core is not instrumented" >&2; exit 1; }
echo "tsan ($MODE): interpreter and module ready in $((SECONDS - T0))s"

LOG=$(mktemp -d)/tsan
SUPP=$PWD/scripts/tsan-cpython.supp
if [ "$MODE" = interpreter ]; then
  export TSAN_OPTIONS="halt_on_error=1 exitcode=66 log_path=$LOG suppressions=$SUPP"
else
  # exitcode=0: the reports are judged below, not by the exit status TSan
  # would give the process (66 for any report, uninstrumented ones included)
  export TSAN_OPTIONS="halt_on_error=0 exitcode=0 report_signal_unsafe=0 log_path=$LOG"
fi
rc=0
LD_PRELOAD=$PRELOAD "$VENV/bin/python" -m pytest -q -p no:cacheprovider tests/unit \
  -k "concurrent or thread or race or reader or resets or writers" -m "not stress" "$@" || rc=$?
reports=$( (cat "$LOG".* 2>/dev/null || true) | grep -c 'WARNING: ThreadSanitizer' || true)
# Per report: the top frame of the reported access and of the earlier one.
# Instrumented-vs-instrumented (neither frame inside libsanitizer's
# interceptors) is a real race in code TSan can see.
real=$( (cat "$LOG".* 2>/dev/null || true) | awk '
  /WARNING: ThreadSanitizer/ { n++; want = 1; cur[n] = ""; prev[n] = "" }
  /^  (Read|Write|Atomic)/ && want == 1 { want = 2; next }
  /^  Previous/ { want = 3; next }
  /#0 / && want == 2 { cur[n] = $3; want = 0 }
  /#0 / && want == 3 { prev[n] = $3; want = 0 }
  END { for (i = 1; i <= n; i++) if (cur[i] !~ /libsanitizer/ && prev[i] !~ /libsanitizer/ && prev[i] != "") print cur[i] " vs " prev[i] }')
echo "tsan ($MODE): $reports report(s) in $((SECONDS - T0))s; logs: $LOG.*"
if [ "$MODE" = module ] && [ "$reports" -gt 0 ]; then
  cat "$LOG".* | grep -A3 'WARNING: ThreadSanitizer' | grep ' #0 ' | sed 's/ (.*//' | sort | uniq -c
fi
if [ -n "$real" ]; then
  echo "tsan: races between instrumented accesses:"; echo "$real"; exit 1
fi
if [ "$MODE" = interpreter ] && [ "$reports" -gt 0 ]; then exit 1; fi
exit $rc
