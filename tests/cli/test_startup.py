"""First contact: `--help` and `--version` load no heavy library, cli/ has no import circles
(function-local imports counted), and what the CLI spells out agrees with the library."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

from helpers.cli import invoke

import ganbench
from ganbench.cli import common, weights

CLI = Path(common.__file__).parent
HEAVY = ("torch", "mlflow", "optuna", "pandas", "matplotlib", "scipy")


def _loaded_after(*argv: str) -> tuple[str, set[str]]:
    code = ("import sys\nfrom ganbench.cli import app\ntry:\n"
            f"    app({list(argv)!r}, prog_name='ganbench')\nexcept SystemExit:\n    pass\n"
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    env = {**os.environ, "PYTHONPATH": str(CLI.parent.parent), "COLUMNS": "100"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, timeout=120, check=True).stdout
    *text, loaded = out.strip().splitlines()
    return "\n".join(text), set(ast.literal_eval(loaded))


def test_help_and_version_import_no_heavy_library():
    text, loaded = _loaded_after("--help")
    assert "sweep" in text and "report" in text
    assert loaded == set(), f"--help imported {loaded}"
    text, loaded = _loaded_after("--version")
    assert text.strip() == f"ganbench {ganbench.__version__}"
    assert loaded == set(), f"--version imported {loaded}"
    for sub in (["sweep", "--help"], ["worker", "--help"], ["tricks", "--help"],
                ["weights", "fetch", "--help"], ["run", "--help"]):
        _, loaded = _loaded_after(*sub)
        assert loaded == set(), f"{' '.join(sub)} imported {loaded}"


def test_version_option():
    r = invoke("--version")
    assert r.exit_code == 0 and r.output.strip() == f"ganbench {ganbench.__version__}"


def _cli_imports(path: Path) -> set[str]:
    """Every ganbench.cli module `path` imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "ganbench.cli":
                found |= {f"ganbench.cli.{a.name}" for a in node.names}
            elif node.module.startswith("ganbench.cli."):
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("ganbench.cli.")}
    return found


def test_cli_has_no_import_circles_and_no_private_imports():
    graph = {f"ganbench.cli.{p.stem}": _cli_imports(p) for p in CLI.glob("*.py")
             if p.stem != "__init__"}
    state: dict[str, str] = {}

    def visit(m: str, path: list[str]) -> None:
        state[m] = "open"
        for n in graph.get(m, ()):
            assert state.get(n) != "open", f"import circle: {' -> '.join(path + [n])}"
            if n not in state:
                visit(n, path + [n])
        state[m] = "done"

    for m in graph:
        if m not in state:
            visit(m, [m])
    for p in CLI.glob("*.py"):
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("ganbench.cli"):
                private = [a.name for a in node.names if a.name.startswith("_")]
                assert not private, f"{p.name} imports private {private} from {node.module}"


def test_spelled_out_constants_agree_with_the_library():
    from ganbench.metrics.inception_weights import ENV_WEIGHTS
    from ganbench.specs.sweep import DEFAULT_MAX_RUNS

    assert common.DEFAULT_MAX_RUNS == DEFAULT_MAX_RUNS
    assert weights.ENV_WEIGHTS == ENV_WEIGHTS


def test_tricks_show_prints_constraints_readably():
    r = invoke("tricks", "show", "ema")
    assert r.exit_code == 0, r.output
    assert "> 0, < 1" in r.output and ">= 0" in r.output
    assert "Gt(" not in r.output and "Lt(" not in r.output


def test_ui_port_has_help():
    r = invoke("ui", "--help")
    assert r.exit_code == 0
    line = next(ln for ln in r.output.splitlines() if "--port" in ln)
    assert "port" in line.lower().replace("--port", "")
