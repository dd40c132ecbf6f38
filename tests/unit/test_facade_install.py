"""``install()``: every ``import prometheus_client`` in the process gets the facade.

Each case runs in a fresh interpreter: aliasing is process-wide state.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap


def run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_install_aliases_package_and_submodules() -> None:
    proc = run(
        """
        import importlib, sys
        import atomicmetrics.prometheus_client as facade
        facade.install()
        facade.install()  # idempotent
        import prometheus_client
        import prometheus_client.core
        import prometheus_client.openmetrics.parser
        from prometheus_client.exposition import generate_latest
        from prometheus_client import Counter, REGISTRY
        assert prometheus_client is facade
        assert prometheus_client.openmetrics.parser is facade.openmetrics.parser
        assert Counter is facade.metrics.Counter and REGISTRY is facade.REGISTRY
        assert generate_latest is facade.exposition.generate_latest
        # A submodule nobody imported yet comes through the finder, keeping its own spec.
        assert "atomicmetrics.prometheus_client.bridge.graphite" not in sys.modules
        import prometheus_client.bridge.graphite as graphite
        assert graphite is sys.modules["atomicmetrics.prometheus_client.bridge.graphite"]
        assert graphite.__spec__.name == "atomicmetrics.prometheus_client.bridge.graphite"
        assert importlib.reload(graphite) is graphite
        try:
            import prometheus_client.no_such_module
        except ModuleNotFoundError:
            pass
        else:
            raise AssertionError("a missing submodule was found")
        # A library instrumenting through the alias records into the facade's registry.
        c = Counter("lib_calls", "Calls.")
        c.inc()
        assert facade.REGISTRY.get_sample_value("lib_calls_total") == 1.0
        assert facade.installed()
        facade.uninstall()
        assert not facade.installed()
        for name in list(sys.modules):
            if name == "prometheus_client" or name.startswith("prometheus_client."):
                del sys.modules[name]
        import prometheus_client as real
        assert real is not facade and real.__file__ != facade.__file__
        print("ok")
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


def test_install_after_the_real_library_refuses() -> None:
    proc = run(
        """
        import prometheus_client
        import atomicmetrics.prometheus_client as facade
        try:
            facade.install()
        except RuntimeError as exc:
            assert "before" in str(exc)
            print("refused")
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "refused"
