"""Build the one C extension, ``atomicmetrics._core``.

Knobs (environment variables read at build time):

* ``ATOMICMETRICS_SANITIZE`` -- ``address`` (ASan + UBSan) or ``thread`` (TSan);
  adds ``-fsanitize=...`` with frame pointers and no optimisation tricks.
* ``ATOMICMETRICS_DEBUG=1`` -- ``-O0 -g`` and assertions on.
* ``ATOMICMETRICS_WERROR=1`` -- ``-Werror``: any compiler warning fails the
  build. ``.ci/run`` sets it; a user's ``pip install`` does not, so that a
  newer compiler's new warning (or ``CFLAGS=-Wpadded``) cannot break it.
"""

import glob
import os

from setuptools import Extension, setup

sanitize = os.environ.get("ATOMICMETRICS_SANITIZE", "").strip()
debug = os.environ.get("ATOMICMETRICS_DEBUG", "") == "1"
werror = os.environ.get("ATOMICMETRICS_WERROR", "") == "1"

compile_args = ["-std=c11", "-Wall", "-Wextra", "-Wno-missing-field-initializers"]
if werror:
    compile_args.append("-Werror")
link_args: list[str] = []
undef_macros: list[str] = []

if debug or sanitize:
    compile_args += ["-O1" if sanitize else "-O0", "-g", "-fno-omit-frame-pointer"]
    undef_macros.append("NDEBUG")
else:
    compile_args += ["-O2"]

if sanitize == "address":
    flags = ["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined"]
    compile_args += flags
    link_args += flags
elif sanitize == "thread":
    # TSan does not model atomic_thread_fence (gcc warns: -Wtsan); the fences
    # in atomics.h (the recorder ring's wake-up protocol) stay, unverified by
    # TSan, and the warning must not fail the sanitizer build.
    compile_args += ["-fsanitize=thread", "-Wno-error=tsan"]
    link_args += ["-fsanitize=thread"]
elif sanitize:
    raise SystemExit(f"ATOMICMETRICS_SANITIZE must be 'address' or 'thread', not {sanitize!r}")

# A sanitized build gets its own build tree: setuptools skips compiling when
# build/lib.<platform>-<tag>/ already holds a newer .so, so a TSan build on
# python3.13t would otherwise reuse a plain 3.13t build's module (same tag).
options = {"build": {"build_base": f"build/sanitize-{sanitize}"}} if sanitize else {}

setup(
    options=options,
    ext_modules=[
        Extension(
            "atomicmetrics._core",
            sources=sorted(glob.glob("csrc/*.c")),
            depends=sorted(glob.glob("csrc/*.h")),
            include_dirs=["csrc"],
            extra_compile_args=compile_args,
            extra_link_args=link_args,
            undef_macros=undef_macros,
        )
    ],
)
