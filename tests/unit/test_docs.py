"""The user docs stay true: their code runs, their links resolve, the index is complete."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
PAGES = [*sorted(DOCS.glob("*.md")), ROOT / "README.md", ROOT / "benchmarks" / "README.md"]
#: Pages whose ```python blocks are run in a fresh interpreter: all in order as
#: one script (later blocks build on earlier ones), or each block on its own.
RUNNABLE = {"docs/quickstart.md": "together", "docs/migrating.md": "each", "README.md": "together"}
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def _blocks(page: Path) -> list[str]:
    # A fixed port in the prose, a free one here.
    return [
        b.replace("start_http_server(8000)", "start_http_server(0)")
        for b in re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.DOTALL)
    ]


def _python_blocks(page: Path) -> str:
    return "\n".join(_blocks(page))


@pytest.mark.parametrize("name", sorted(RUNNABLE))
def test_code_blocks_run(name: str) -> None:
    blocks = _blocks(ROOT / name)
    assert blocks
    scripts = ["\n".join(blocks)] if RUNNABLE[name] == "together" else blocks
    for code in scripts:
        proc = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
        )
        assert proc.returncode == 0, f"{code}\n{proc.stderr}"


def test_quickstart_shows_real_output() -> None:
    text = (DOCS / "quickstart.md").read_text()
    shown = re.search(r"```text\n(.*?)```", text, flags=re.DOTALL)
    assert shown
    code = _python_blocks(DOCS / "quickstart.md")
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    for line in shown.group(1).splitlines():
        assert line in out.splitlines(), line


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page: Path) -> None:
    for target in LINK.findall(page.read_text()):
        if "://" in target or target.startswith("mailto:"):
            continue
        assert (page.parent / target).exists(), f"{page.name} links to missing {target}"


def test_index_links_every_doc() -> None:
    index = (DOCS / "README.md").read_text()
    linked = set(LINK.findall(index))
    for doc in DOCS.iterdir():
        if doc.name != "README.md" and doc.suffix in (".md", ".json"):
            assert doc.name in linked, f"docs/README.md does not link {doc.name}"


def test_the_layout_map_names_every_module_and_c_file() -> None:
    """docs/layout.md stays the map of the package: every top-level module and
    subpackage of src/atomicmetrics and every file of csrc/ is named in it."""
    text = (DOCS / "layout.md").read_text()
    package = ROOT / "src" / "atomicmetrics"
    names = [p.name + "/" for p in package.iterdir() if (p / "__init__.py").exists()]
    names += [p.name for p in package.glob("*.py") if p.name != "__init__.py"]
    names += [p.name for p in (ROOT / "csrc").iterdir() if p.suffix in (".c", ".h")]
    missing = [n for n in sorted(names) if not re.search(rf"[`/]{re.escape(n)}", text)]
    assert not missing, f"docs/layout.md does not name {missing}"
