"""What the CLI tests share: the real app through typer's CliRunner (click >= 8.2: output =
stdout + stderr, `result.stderr` separately)."""

from __future__ import annotations

import textwrap
from pathlib import Path

from typer.testing import CliRunner

from ganbench.cli import app

# A wide, colourless console: rich would otherwise wrap messages at 80 columns.
runner = CliRunner(env={"COLUMNS": "400", "NO_COLOR": "1", "TERM": "dumb"})


def invoke(*args: str | Path):
    return runner.invoke(app, [str(a) for a in args])


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def assert_user_error(result, *needles: str) -> str:
    """Exit 2, one `error:` line naming every needle, no traceback; returns that line."""
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    err = result.stderr.strip()
    assert err.startswith("error:"), err
    assert "\n" not in err, f"not one line:\n{err}"
    for needle in needles:
        assert needle in err, f"{needle!r} not in {err!r}"
    return err
