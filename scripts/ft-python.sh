#!/usr/bin/env bash
# Print the path of a CPython 3.13 built from source by shared/tools'
# build-freethreaded-python.sh, building it first if needed (~6 min on 2
# cores, then cached under /opt; idempotent and flock-serialised).
#
#   scripts/ft-python.sh ft     free-threaded 3.13t      /opt/python-ft
#   scripts/ft-python.sh gil    its GIL twin (same flags) /opt/python-gil
#   scripts/ft-python.sh tsan   3.13t with ThreadSanitizer /opt/python-ft-tsan
#
# The build script lives in shared/tools beside the repository (CI clones the
# repo next to a copy of shared/; worktrees sit one level deeper), or where
# ATOMICMETRICS_FT_BUILD_SCRIPT points. Missing script = hard error: a leg
# that cannot get its interpreter must fail, never skip.
set -euo pipefail
flavour=${1:?usage: $0 ft|gil|tsan}
repo=$(cd "$(dirname "$0")/.." && pwd)

script=${ATOMICMETRICS_FT_BUILD_SCRIPT:-}
if [ -z "$script" ]; then
  d=$repo
  for _ in 1 2 3; do
    d=$(dirname "$d")
    if [ -f "$d/shared/tools/build-freethreaded-python.sh" ]; then
      script=$d/shared/tools/build-freethreaded-python.sh
      break
    fi
  done
fi
if [ -z "$script" ] || [ ! -f "$script" ]; then
  echo "ERROR: shared/tools/build-freethreaded-python.sh not found beside $repo" \
       "(looked in its 3 parent folders; set ATOMICMETRICS_FT_BUILD_SCRIPT)" >&2
  exit 1
fi

case $flavour in
  ft)   env=(FT_PREFIX=/opt/python-ft) ;;
  gil)  env=(FT_PREFIX=/opt/python-gil FT_DISABLE_GIL=0) ;;
  tsan) env=(FT_PREFIX=/opt/python-ft-tsan FT_CONFIGURE_EXTRA=--with-thread-sanitizer) ;;
  *) echo "ERROR: unknown flavour '$flavour' (ft|gil|tsan)" >&2; exit 2 ;;
esac
# shared/ is read-only in CI: run the script with bash, never rely on its x bit.
py=$(env "${env[@]}" bash "$script" | tail -n 1)
[ -x "$py" ] || { echo "ERROR: $script did not produce an interpreter (got '$py')" >&2; exit 1; }
echo "$py"
