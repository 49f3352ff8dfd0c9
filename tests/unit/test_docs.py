"""The documentation site: generated reference pages are current, list everything registered,
and `mkdocs build --strict` passes (a broken link or a page left out of the nav fails).

The generator runs in a subprocess: other tests load plugins into this process's registries,
and the pages list the built-in entries only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
REF = DOCS / "reference"
GEN = DOCS / "gen_ref.py"
STALE = "run python docs/gen_ref.py"


def _run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("GANBENCH_PLUGINS", None)  # built-ins only, as the committed pages
    env["NO_MKDOCS_2_WARNING"] = "1"  # Material's banner about its successor
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("reference")
    r = _run(str(GEN), "--out", str(out))
    assert r.returncode == 0, r.stderr
    return out


def test_reference_pages_are_current(regenerated: Path) -> None:
    fresh = {p.name: p.read_text(encoding="utf-8") for p in regenerated.glob("*.md")}
    committed = {p.name: p.read_text(encoding="utf-8") for p in REF.glob("*.md")}
    assert sorted(committed) == sorted(fresh), f"reference pages differ in name: {STALE}"
    stale = [n for n in fresh if fresh[n] != committed[n]]
    assert not stale, f"docs/reference/{', '.join(stale)} out of date: {STALE}"


def test_reference_lists_every_registered_name_and_field() -> None:
    r = _run(str(GEN), "--inventory")
    assert r.returncode == 0, r.stderr
    missing = []
    for page, names in json.loads(r.stdout).items():
        text = (REF / page).read_text(encoding="utf-8")
        missing += [f"{page}: {n}" for n in names if f"`{n}`" not in text]
    assert not missing, f"not in the reference ({STALE}): {missing}"


def test_every_page_is_in_the_nav() -> None:
    # mkdocs warns (strict: fails) on an omitted page too; this says which, without mkdocs.
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    pages = [p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")]
    assert [p for p in pages if p not in nav] == []


def test_readme_is_short_and_links_to_the_site() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 200
    for target in ("docs/getting-started.md", "docs/your-trick.md", "docs/reports.md",
                   "results/"):
        assert target in readme
    for link in (t.split(")")[0] for t in readme.split("](")[1:]):
        if not link.startswith(("http", "#")):
            assert (ROOT / link.split("#")[0]).exists(), f"README links to missing {link}"


@pytest.mark.slow  # ~6 s on a loaded 2-core machine
def test_mkdocs_build_strict(tmp_path: Path) -> None:
    try:
        import material  # noqa: F401
        import mkdocs  # noqa: F401
    except ImportError:
        pytest.skip("mkdocs and mkdocs-material are not installed (pip install -e '.[dev]')")
    r = _run("-m", "mkdocs", "build", "--strict", "--quiet", "-f", str(ROOT / "mkdocs.yml"),
             "-d", str(tmp_path / "site"))
    assert r.returncode == 0, r.stdout + r.stderr
    assert (tmp_path / "site" / "index.html").exists()
